// Generated modules of the fixtures: `.ci/run` checks them with `floxide build --check` (examples/ and every fixture
// directory the tests run); the run-time check below them is the fingerprint (graph and merge strategies) plus the
// module's own merge strategies compared with the @merge decorators.
import { describe, expect, it } from 'vitest';
import { bindWorkflow, StaleGeneratedModuleError } from 'floxide';
import { MergeStrategiesWorkflow } from '../fixtures/equivalence/merges.js';
import { MergeStrategiesWorkflowDef } from '../fixtures/equivalence/merges.floxide.js';

describe('a stale generated module', () => {
  // A generated module's contextFields win over the @merge decorators, so a module generated before a field's
  // strategy changed would merge that field the old way: it is refused instead (DESIGN.md 3: a stale module fails
  // loudly at run time).
  it('with other merge strategies than its source is refused when bound (StaleGeneratedModuleError)', () => {
    const stale = { ...MergeStrategiesWorkflowDef, contextFields: { ...MergeStrategiesWorkflowDef.contextFields, low: 'max' as const } };
    expect(() => bindWorkflow(stale, new MergeStrategiesWorkflow())).toThrow(StaleGeneratedModuleError);
    expect(() => bindWorkflow(stale, new MergeStrategiesWorkflow())).toThrow(/context field low: max -> min/);
  });

  it('the fresh module is bound', () => {
    expect(() => bindWorkflow(MergeStrategiesWorkflowDef, new MergeStrategiesWorkflow())).not.toThrow();
  });
});

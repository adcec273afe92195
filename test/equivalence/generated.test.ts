// The generated modules of every fixture the equivalence suite runs are up to date (`floxide build --check` on their
// directories; `.ci/run` checks only examples/). A stale module whose graph changed fails at bind time
// (fingerprint), but one whose merge strategies changed does not (see the second test): this check catches both.
// Regenerate with `node dist/cli/cli.js build <the directory named in the failure>`.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bindWorkflow, StaleGeneratedModuleError } from 'floxide';
import { buildProject, formatBuildResult } from 'floxide/compiler';
import { MergeStrategiesWorkflow } from '../fixtures/equivalence/merges.js';
import { MergeStrategiesWorkflowDef } from '../fixtures/equivalence/merges.floxide.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE_DIRS = ['test/fixtures/equivalence', 'test/fixtures/distributed', 'test/fixtures/crash', 'test/runtime/flows', 'bench/flows'];

describe('the equivalence fixtures', () => {
  it('have up-to-date generated modules (floxide build --check)', { timeout: 120_000 }, async () => {
    const r = await buildProject({ cwd: ROOT, paths: FIXTURE_DIRS, check: true });
    const report = formatBuildResult(r, { cwd: ROOT, color: false, check: true });
    expect(r.exitCode, `${report.stderr}${report.stdout}`).toBe(0);
  });

  // Not in issue 8 (found by this suite): the fingerprint covers the graph only, and a generated module's
  // contextFields win over the @merge decorators, so a module generated before a field's strategy changed is bound
  // without a word and merges that field the old way (DESIGN.md 3: a stale module fails loudly at run time).
  it.fails('a generated module with stale merge strategies is refused when bound (StaleGeneratedModuleError)', () => {
    const stale = { ...MergeStrategiesWorkflowDef, contextFields: { ...MergeStrategiesWorkflowDef.contextFields, low: 'max' as const } };
    expect(() => bindWorkflow(stale, new MergeStrategiesWorkflow())).toThrow(StaleGeneratedModuleError);
  });
});

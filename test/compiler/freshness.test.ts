// The editor's freshness check (FLX040) against modules `floxide build` writes: a module whose definition accepts
// older graph versions (the build's versions check decides that, an editor keystroke does not run it) is fresh
// while its graph is unchanged, and stale, with the changed node named, once the graph changes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generatedModuleFreshness } from '../../compiler/freshness.js';
import { renderModule } from '../../compiler/render.js';
import { emptyRecord, recordVersions, renderRecord, versionsPathFor } from '../../compiler/versions/record.js';
import { articleWorkflow } from './emit-models.js';

// a project root of its own: the versions on record next to the module are the ones a test writes there
const layout = { rootDir: mkdtempSync(path.join(tmpdir(), 'floxide-freshness-')) };
afterAll(() => rmSync(layout.rootDir, { recursive: true, force: true }));
const source = 'examples/article.ts';

describe('generatedModuleFreshness', () => {
  it('calls a module that accepts older versions fresh while its graph is unchanged, and keeps the list in the fix', () => {
    const built = renderModule(source, [{ ...articleWorkflow, compatible: ['0123456789abcdef'] }], layout);
    expect(built).toContain("accepts: ['0123456789abcdef'],");
    const f = generatedModuleFreshness(source, [articleWorkflow], layout, built);
    expect(f.state).toBe('fresh');
    expect(f.expected).toBe(built);
  });

  it('calls it stale once the graph changes, naming the node', () => {
    const built = renderModule(source, [{ ...articleWorkflow, compatible: ['0123456789abcdef'] }], layout);
    const [first, ...rest] = articleWorkflow.nodes;
    const changed = { ...articleWorkflow, fingerprint: 'fedcba9876543210', nodes: [{ ...first!, retry: { maxAttempts: 5, backoff: 'linear' as const, initialDelayMs: 1 } }, ...rest] };
    const f = generatedModuleFreshness(source, [changed], layout, built);
    expect(f.state).toBe('stale');
    expect(f.changed.get(articleWorkflow.name)).toContain(first!.name);
    expect(f.expected).not.toContain('accepts:');
  });

  it('calls a module without the list fresh, and a missing one missing', () => {
    const built = renderModule(source, [articleWorkflow], layout);
    expect(generatedModuleFreshness(source, [articleWorkflow], layout, built).state).toBe('fresh');
    expect(generatedModuleFreshness(source, [articleWorkflow], layout, undefined).state).toBe('missing');
  });

  it('expects the versions the build lists from the record next to the module: an older one superseded', () => {
    // an older graph with a node the current one lost: not accepted (its items at that node could not continue)
    const gone = { ...articleWorkflow.nodes[0]!, name: 'gone' };
    const older = { ...articleWorkflow, fingerprint: '0123456789abcdef', nodes: [...articleWorkflow.nodes, gone] };
    const file = versionsPathFor(source, layout);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, renderRecord(recordVersions(recordVersions(emptyRecord(), [older]), [articleWorkflow])));
    try {
      const withList = renderModule(source, [{ ...articleWorkflow, superseded: ['0123456789abcdef'] }], layout);
      expect(generatedModuleFreshness(source, [articleWorkflow], layout, withList).state).toBe('fresh');
      const without = renderModule(source, [articleWorkflow], layout);
      const f = generatedModuleFreshness(source, [articleWorkflow], layout, without);
      expect([f.state, f.expected]).toEqual(['stale', withList]);
    } finally {
      rmSync(file);
    }
  });
});

/**
 * The freshness check behind floxide/register and floxide/vite: which source a generated module comes from, one
 * build for concurrent checks of a module, and no build at all once the stamps say nothing changed.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureGenerated, sourceOfGenerated } from '../../tooling/regenerate.js';
import { flow, makeProject, NODES } from './project.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ensureGenerated', () => {
  it('maps a generated module to the source next to it', () => {
    const dir = makeProject('regenerate-names', { 'a.ts': '', 'b.mts': '' });
    dirs.push(dir);
    expect(sourceOfGenerated(path.join(dir, 'a.floxide.js'))).toBe(path.join(dir, 'a.ts'));
    expect(sourceOfGenerated(path.join(dir, 'a.floxide.ts'))).toBe(path.join(dir, 'a.ts'));
    expect(sourceOfGenerated(path.join(dir, 'b.floxide.mjs'))).toBe(path.join(dir, 'b.mts'));
    expect(sourceOfGenerated(path.join(dir, 'c.floxide.js'))).toBe(undefined);
    expect(sourceOfGenerated(path.join(dir, 'a.js'))).toBe(undefined);
  });

  it('builds once for concurrent checks, then not again until the source changes', async () => {
    const dir = makeProject('regenerate', { 'nodes.ts': NODES, 'flow.ts': flow() });
    dirs.push(dir);
    const generated = path.join(dir, 'flow.floxide.js');
    const first = ensureGenerated(generated);
    const second = ensureGenerated(generated);
    expect(second).toBe(first);
    expect(await first).toEqual({ ok: true, built: true });
    expect(existsSync(path.join(dir, 'flow.floxide.ts'))).toBe(true);
    expect(await ensureGenerated(generated)).toEqual({ ok: true, built: false });
    // A change that leaves the module as it was: checked (a build), nothing written.
    writeFileSync(path.join(dir, 'flow.ts'), `${flow()}// edited\n`);
    expect(await ensureGenerated(generated)).toEqual({ ok: true, built: false });
    writeFileSync(path.join(dir, 'flow.ts'), flow('print', 'print'));
    expect(await ensureGenerated(generated)).toEqual({ ok: true, built: true });
  });
});

/**
 * `floxide/vite` in a user project's vitest (a child `vitest run`, the built package): a missing generated module is
 * built before the test imports it; one that cannot be built fails the import with `StaleGeneratedModuleError` and
 * the diagnostics. Its watch hook rebuilds a module when its source changes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProject } from '../../compiler/build.js';
import { floxide } from '../../tooling/vite/index.js';
import { flow, makeProject, NODES, repo } from './project.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const CONFIG = `import { defineConfig } from 'vitest/config';
import { floxide } from 'floxide/vite';

export default defineConfig({ plugins: [floxide()], test: { include: ['*.test.ts'] } });
`;

const TEST = `import { expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { Flow } from './flow.js';
import { FlowDef } from './flow.floxide.js';

it('runs the workflow', async () => {
  expect(await bindWorkflow(FlowDef, new Flow()).run(undefined, '4')).toBe('got 4');
});
`;

function project(flowText = flow()): string {
  const dir = makeProject('vite', { 'nodes.ts': NODES, 'flow.ts': flowText, 'flow.test.ts': TEST, 'vitest.config.ts': CONFIG }, { links: '*' });
  dirs.push(dir);
  return dir;
}

function vitest(dir: string) {
  const r = spawnSync(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '1' }, timeout: 180_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('floxide/vite', () => {
  it('builds a missing generated module before a test imports it', () => {
    const dir = project();
    const r = vitest(dir);
    expect(r.out).toContain('1 passed');
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, 'flow.floxide.ts'))).toBe(true);
  });

  it('fails the import with StaleGeneratedModuleError and the diagnostics when the workflow has errors', () => {
    const dir = project(flow('shout'));
    const r = vitest(dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain('StaleGeneratedModuleError: floxide build of flow.ts failed, so flow.floxide.ts is missing:');
    expect(r.out).toContain("flow.ts:6:9 - error FLX011: parse's output number is not assignable to shout's input string");
  });

  it('rebuilds a generated module when its source changes (the watch hook)', async () => {
    const dir = project();
    const plugin = floxide();
    const resolveId = plugin.resolveId as (source: string, importer: string) => Promise<string | null>;
    expect(await resolveId('./flow.floxide.js', path.join(dir, 'flow.test.ts'))).toBe(null);
    expect(readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8')).toContain("successors: ['show']");
    writeFileSync(path.join(dir, 'flow.ts'), flow('print', 'print'));
    await (plugin.watchChange as (id: string) => Promise<void>)(path.join(dir, 'flow.ts'));
    expect(readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8')).toContain("successors: ['print']");
  });

  it('with regenerate: false, resolves a module floxide build wrote, and reports one that went stale', async () => {
    const dir = project();
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    const resolveId = floxide({ regenerate: false }).resolveId as (source: string, importer: string) => Promise<string | null>;
    expect(await resolveId('./flow.floxide.js', path.join(dir, 'flow.test.ts'))).toBe(null);
    writeFileSync(path.join(dir, 'flow.ts'), flow('print', 'print'));
    expect(await resolveId('./flow.floxide.js', path.join(dir, 'flow.test.ts'))).toMatch(/^\0floxide-stale:/);
  });
});

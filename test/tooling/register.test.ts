/**
 * `floxide/register`: `node --import tsx --import floxide/register main.ts` in a user project, with the built package
 * (dist/). A missing or stale generated module is rebuilt before it is imported; one that cannot be built fails the
 * import with floxide's own `StaleGeneratedModuleError`, naming the source, with the diagnostics.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { flow, makeProject, NODES, repo } from './project.js';

const tsx = pathToFileURL(path.join(repo, 'node_modules/tsx/dist/loader.mjs')).href;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Imports the generated module dynamically, so the test can look at the error it fails with.
const MAIN = `import { bindWorkflow, StaleGeneratedModuleError } from 'floxide';
import { Flow } from './flow.js';
try {
  const { FlowDef } = await import('./flow.floxide.js');
  console.log(await bindWorkflow(FlowDef, new Flow()).run(undefined, '20'));
} catch (err) {
  console.log(err instanceof StaleGeneratedModuleError ? \`StaleGeneratedModuleError \${(err as StaleGeneratedModuleError).code}\` : 'other error');
  console.log((err as Error).message);
}
`;

function run(dir: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', tsx, '--import', 'floxide/register', 'main.ts'], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function project(flowText = flow()): string {
  const dir = makeProject('register', { 'nodes.ts': NODES, 'flow.ts': flowText, 'main.ts': MAIN });
  dirs.push(dir);
  return dir;
}

describe('floxide/register', () => {
  it('generates a missing module before it is imported, and rebuilds it when the graph changes', () => {
    const dir = project();
    const first = run(dir);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe('got 20\n');
    expect(existsSync(path.join(dir, 'flow.floxide.ts'))).toBe(true);
    const stamps = JSON.parse(readFileSync(path.join(dir, 'node_modules/.cache/floxide/generated.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(stamps)).toEqual(['flow.ts']);
    // Rename the terminal node: without a rebuild, binding would throw StaleGeneratedModuleError.
    writeFileSync(path.join(dir, 'flow.ts'), flow('print', 'print'));
    const second = run(dir);
    expect(second.stdout).toBe('got 20\n');
    expect(readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8')).toContain("print: { name: 'print'");
  });

  it('fails the import with StaleGeneratedModuleError and the diagnostics when the workflow has errors', () => {
    const dir = project(flow('shout'));
    const r = run(dir);
    expect(r.stdout).toContain('StaleGeneratedModuleError FLOXIDE_STALE_GENERATED\nfloxide build of flow.ts failed, so flow.floxide.ts is missing:\n');
    expect(r.stdout).toContain("flow.ts:6:9 - error FLX011: parse's output number is not assignable to shout's input string");
    expect(existsSync(path.join(dir, 'flow.floxide.ts'))).toBe(false);
  });

  it('a static named import of a module that cannot be built fails with that StaleGeneratedModuleError too, not a link error', () => {
    const dir = makeProject('register', {
      'nodes.ts': NODES,
      'flow.ts': flow('shout'),
      'main.ts': `import { bindWorkflow } from 'floxide';\nimport { Flow } from './flow.js';\nimport { FlowDef, type FlowInput } from './flow.floxide.js';\nconst input: FlowInput = '20';\nconsole.log(await bindWorkflow(FlowDef, new Flow()).run(undefined, input));\n`,
    });
    dirs.push(dir);
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('does not provide an export named');
    expect(r.stderr).toContain('StaleGeneratedModuleError: floxide build of flow.ts failed, so flow.floxide.ts is missing:\n');
    expect(r.stderr).toContain("flow.ts:6:9 - error FLX011: parse's output number is not assignable to shout's input string");
    // Thrown from a stand-in module with a short URL: no URL-encoded module source in the output.
    expect(r.stderr).not.toContain('data:');
    expect(r.stderr).toContain('\nthrow new StaleGeneratedModuleError(message);\n');
    expect(r.stderr).toMatch(/\n {4}at floxide-stale:\/[^\n]*\/flow\.floxide\.js\?FlowDef:\d+:\d+\n/);
  });

  it('with FLOXIDE_REGENERATE=0, a module floxide build wrote is imported, also with no cache (a fresh clone)', () => {
    const dir = project();
    const build = spawnSync(process.execPath, [path.join(repo, 'dist/cli/cli.js'), 'build'], { cwd: dir, encoding: 'utf8' });
    expect(build.status).toBe(0);
    expect(run(dir, { FLOXIDE_REGENERATE: '0' }).stdout).toBe('got 20\n');
    rmSync(path.join(dir, 'node_modules/.cache'), { recursive: true, force: true });
    expect(run(dir, { FLOXIDE_REGENERATE: '0' }).stdout).toBe('got 20\n');
  });

  it('with FLOXIDE_REGENERATE=0, a missing module is a StaleGeneratedModuleError naming its source', () => {
    const dir = project();
    const r = run(dir, { FLOXIDE_REGENERATE: '0' });
    expect(r.stdout).toBe('StaleGeneratedModuleError FLOXIDE_STALE_GENERATED\nflow.floxide.ts is not generated from flow.ts yet: run floxide build\n');
  });
});

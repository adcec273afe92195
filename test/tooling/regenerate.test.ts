/**
 * The freshness check behind floxide/register and floxide/vite: which source a generated module comes from, one
 * build for concurrent checks of a module, and no build at all once the stamps say nothing changed.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProject } from '../../compiler/build.js';
import { compiledFrom } from '../../tooling/compiled.js';
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

  it('with regenerate: false, accepts a module floxide build wrote (the build records its stamps)', async () => {
    const dir = makeProject('regenerate-built', { 'nodes.ts': NODES, 'flow.ts': flow() });
    dirs.push(dir);
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(path.join(dir, 'node_modules/.cache/floxide/generated.json'), 'utf8')) as object)).toEqual(['flow.ts']);
    expect(await ensureGenerated(path.join(dir, 'flow.floxide.js'), { regenerate: false })).toEqual({ ok: true, built: false });
  });

  it('with regenerate: false and no stamps (a fresh clone), checks the module against its source without writing it', async () => {
    const built = makeProject('regenerate-origin', { 'nodes.ts': NODES, 'flow.ts': flow() });
    dirs.push(built);
    expect((await buildProject({ cwd: built })).exitCode).toBe(0);
    const module = readFileSync(path.join(built, 'flow.floxide.ts'), 'utf8');
    const dir = makeProject('regenerate-clone', { 'nodes.ts': NODES, 'flow.ts': flow(), 'flow.floxide.ts': module, 'flow.floxide.versions.json': readFileSync(path.join(built, 'flow.floxide.versions.json'), 'utf8') });
    dirs.push(dir);
    const generated = path.join(dir, 'flow.floxide.js');
    expect(await ensureGenerated(generated, { regenerate: false })).toEqual({ ok: true, built: false });
    writeFileSync(path.join(dir, 'flow.ts'), flow('print', 'print'));
    expect(await ensureGenerated(generated, { regenerate: false })).toEqual({ ok: false, message: 'flow.floxide.ts is stale: flow.ts (or a file it imports) changed since it was generated; run floxide build' });
    expect(readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8')).toBe(module);
    // a source with errors: nothing was built, the check says what stops it
    writeFileSync(path.join(dir, 'flow.ts'), flow('nowhere'));
    const broken = await ensureGenerated(generated, { regenerate: false });
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.message).toMatch(/^flow\.floxide\.ts cannot be checked against flow\.ts, which has errors \(floxide build would stop at them too\):\nflow\.ts:\d+:\d+ - error FLX/);
    expect(readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8')).toBe(module);
  });

  it('sees a change in a file the source imports through a barrel', async () => {
    const dir = makeProject('regenerate-barrel', { 'flow.ts': flow().replace("'./nodes.js'", "'./nodes/index.js'") });
    dirs.push(dir);
    mkdirSync(path.join(dir, 'nodes'));
    writeFileSync(path.join(dir, 'nodes/index.ts'), "export * from './a.js';\n");
    writeFileSync(path.join(dir, 'nodes/a.ts'), NODES);
    writeFileSync(path.join(dir, 'tsconfig.json'), readFileSync(path.join(dir, 'tsconfig.json'), 'utf8').replace('"*.ts"', '"**/*.ts"'));
    const generated = path.join(dir, 'flow.floxide.js');
    expect(await ensureGenerated(generated)).toEqual({ ok: true, built: true });
    expect(await ensureGenerated(generated)).toEqual({ ok: true, built: false });
    // Show's input becomes a string: parse's number no longer fits it.
    writeFileSync(path.join(dir, 'nodes/a.ts'), NODES.replace('implements Node<number, string>', 'implements Node<string, string>').replace('n: number', 'n: string'));
    const answer = await ensureGenerated(generated);
    expect(answer.ok).toBe(false);
    expect(!answer.ok && answer.message).toContain("flow.ts:6:9 - error FLX011: parse's output number is not assignable to show's input string");
  });

  describe('compiled output (tsconfig rootDir src, outDir dist)', () => {
    const tsconfig = `{
  // floxide init writes these
  "compilerOptions": { "experimentalDecorators": true, "useDefineForClassFields": false, "strict": true, "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022", "skipLibCheck": true, "types": ["node"], "rootDir": "src", "outDir": "dist", },
  "include": ["src"],
}
`;
    async function compiledProject(): Promise<string> {
      const dir = makeProject('regenerate-compiled', {});
      dirs.push(dir);
      writeFileSync(path.join(dir, 'tsconfig.json'), tsconfig);
      mkdirSync(path.join(dir, 'src'));
      mkdirSync(path.join(dir, 'dist'));
      writeFileSync(path.join(dir, 'src/nodes.ts'), NODES);
      writeFileSync(path.join(dir, 'src/flow.ts'), flow());
      expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
      // What tsc would emit; only its existence and age matter here.
      writeFileSync(path.join(dir, 'dist/flow.floxide.js'), '// compiled\n');
      return dir;
    }
    const origin = 'dist/flow.floxide.js is compiled from src/flow.floxide.ts (generated from src/flow.ts)';
    const advice = 'compiled output is not rebuilt on import: run floxide build && tsc';

    it('maps compiled output to its TypeScript file through rootDir and outDir, also from an extended tsconfig', () => {
      const dir = makeProject('regenerate-extends', {
        'tsconfig.base.json': '{ "$schema": "https://json.schemastore.org/tsconfig", /* shared */ "compilerOptions": { "rootDir": "./src", "outDir": "build/out", }, }',
      });
      dirs.push(dir);
      writeFileSync(path.join(dir, 'tsconfig.json'), '{ "extends": "./tsconfig.base.json" }');
      const project = path.join(dir, 'tsconfig.json');
      expect(compiledFrom(project, path.join(dir, 'build/out/a/x.floxide.js'))).toBe(path.join(dir, 'src/a/x.floxide.ts'));
      expect(compiledFrom(project, path.join(dir, 'build/out/x.floxide.mjs'))).toBe(path.join(dir, 'src/x.floxide.mts'));
      expect(compiledFrom(project, path.join(dir, 'dist/x.floxide.js'))).toBe(undefined);
    });

    it('is imported as it is when it is newer than the generated module it comes from, which matches its source', async () => {
      const dir = await compiledProject();
      expect(await ensureGenerated(path.join(dir, 'dist/flow.floxide.js'))).toEqual({ ok: true, built: false });
    });

    it('is reported, with its origin and the commands that rebuild it, when missing, older than the module, or the module is stale', async () => {
      const dir = await compiledProject();
      const compiled = path.join(dir, 'dist/flow.floxide.js');
      utimesSync(compiled, new Date(2000, 0, 1), new Date(2000, 0, 1));
      expect(await ensureGenerated(compiled)).toEqual({ ok: false, message: `${origin}, but it is older than src/flow.floxide.ts; ${advice}` });
      writeFileSync(compiled, '// compiled\n');
      writeFileSync(path.join(dir, 'src/flow.ts'), flow('print', 'print'));
      expect(await ensureGenerated(compiled)).toEqual({
        ok: false,
        message: `${origin}, which is not up to date; ${advice}\nsrc/flow.floxide.ts is stale: src/flow.ts (or a file it imports) changed since it was generated; run floxide build`,
      });
      rmSync(compiled);
      expect(await ensureGenerated(compiled)).toEqual({ ok: false, message: `${origin}, but it does not exist; ${advice}` });
      // Nothing is written: the generated module is still the one the build wrote.
      expect(readFileSync(path.join(dir, 'src/flow.floxide.ts'), 'utf8')).toContain("successors: ['show']");
    });
  });
});


/**
 * `floxide/ts-plugin` in a real tsserver (node_modules/typescript/lib/tsserver.js over its stdio protocol), loading
 * the built plugin (dist/) the way an editor does: from a project's node_modules, named in its tsconfig.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeProject, buildProject } from '../../compiler/index.js';
import { makeProject, repo } from './project.js';
import { TsServer, type TsCodeFix, type TsDiagnostic } from './tsserver-client.js';

const FLX = (n: number) => 951000 + n;

const NODES = `import { node, Transition, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Parse implements Node<string, number> {
  process(_ctx: WorkflowCtx, s: string): Transition<number> {
    return Transition.next(Number(s));
  }
}

@node()
export class Shout implements Node<string, string> {
  process(_ctx: WorkflowCtx, s: string): Transition<string> {
    return Transition.next(s.toUpperCase());
  }
}

@node()
export class Show implements Node<number, string> {
  process(_ctx: WorkflowCtx, n: number): Transition<string> {
    return Transition.next(String(n));
  }
}

export type Size = { kind: 'small'; n: number } | { kind: 'big'; n: number };

@node()
export class Classify implements Node<number, Size> {
  process(_ctx: WorkflowCtx, n: number): Transition<Size> {
    return Transition.next(n < 10 ? { kind: 'small', n } : { kind: 'big', n });
  }
}

@node()
export class Report implements Node<Size, string> {
  process(_ctx: WorkflowCtx, s: Size): Transition<string> {
    return Transition.next(\`\${s.kind} \${s.n}\`);
  }
}
`;

// An edge mismatch: parse outputs a number, shout takes a string (line 6, column 9: the 'shout' literal).
const MISMATCH = `import { edge, workflow } from 'floxide';
import { Parse, Shout } from './nodes.js';

@workflow({ start: 'parse' })
export class Mismatch {
  @edge('shout') parse = new Parse();
  shout = new Shout();
}
`;

const BRANCH = `import { edge, workflow } from 'floxide';
import { Classify, Parse, Report } from './nodes.js';

@workflow({ start: 'parse' })
export class Branch {
  @edge('classify') parse = new Parse();
  @edge.when('small', 'report')
  classify = new Classify();
  report = new Report();
}
`;

const GOOD = `import { edge, workflow } from 'floxide';
import { Parse, Show } from './nodes.js';

@workflow({ start: 'parse' })
export class Good {
  @edge('show') parse = new Parse();
  show = new Show();
}
`;

let dir: string;
let server: TsServer;
const logFile = () => path.join(dir, 'tsserver.log');
const file = (name: string) => path.join(dir, name).split(path.sep).join('/');

beforeAll(async () => {
  expect(existsSync(path.join(repo, 'dist/tooling/ts-plugin/index.cjs')), 'npm run build:dist first').toBe(true);
  dir = makeProject('tsplugin', { 'nodes.ts': NODES, 'mismatch.ts': MISMATCH, 'branch.ts': BRANCH, 'good.ts': GOOD, 'main.ts': `import { GoodDef } from './good.floxide.js';\nconsole.log(GoodDef.name);\n` }, { plugin: true });
  server = new TsServer({ probeLocations: [dir], logFile: logFile() });
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const floxideOnly = (diags: TsDiagnostic[]) => diags.filter((d) => d.source === 'floxide');

/** Applies a code fix's changes to open files through tsserver (last change first, so positions stay valid). */
async function applyFix(fix: TsCodeFix): Promise<void> {
  for (const change of fix.changes) {
    const sorted = [...change.textChanges].sort((a, b) => b.start.line - a.start.line || b.start.offset - a.start.offset);
    await server.request('updateOpen', { changedFiles: [{ fileName: change.fileName, textChanges: sorted }] });
  }
}

describe('floxide/ts-plugin in tsserver', () => {
  it('reports FLX011 at the position and with the text of floxide build', async () => {
    await server.open(file('mismatch.ts'));
    const diags = floxideOnly(await server.semanticDiagnostics(file('mismatch.ts')));
    expect(diags.map((d) => [d.code, d.start.line, d.start.offset, d.end.offset])).toEqual([[FLX(11), 6, 9, 16]]);
    expect(diags[0].category).toBe('error');
    // The same diagnostic floxide build reports, word for word.
    const build = analyzeProject({ cwd: dir }).diagnostics.find((d) => d.code === 'FLX011')!;
    expect(build.position).toEqual({ file: 'mismatch.ts', line: 6, column: 9 });
    expect(diags[0].text).toBe(`FLX011: ${build.message}\n  hint: ${build.hint}`);
  });

  it('applies the code fix for a non-exhaustive branch, and FLX014 goes', async () => {
    await server.open(file('branch.ts'));
    const [d] = floxideOnly(await server.semanticDiagnostics(file('branch.ts')));
    expect([d.code, d.start.line, d.start.offset]).toEqual([FLX(14), 8, 3]);
    expect(d.text).toContain('branch arms of classify are not exhaustive: missing "big"');
    const fixes = await server.codeFixes(file('branch.ts'), d);
    expect(fixes.map((f) => f.description)).toEqual(['Add the missing arm "big" -> report']);
    await applyFix(fixes[0]);
    // Only the flag that the module was never generated is left.
    const after = floxideOnly(await server.semanticDiagnostics(file('branch.ts')));
    expect(after.map((x) => [x.code, x.text.split('\n')[0]])).toEqual([[FLX(40), 'FLX040: the generated module branch.floxide.ts of Branch does not exist yet: run floxide build']]);
  });

  it('flags a stale generated module on the workflow class after a node is renamed, and offers to regenerate it', async () => {
    const built = await buildProject({ cwd: dir, paths: ['good.ts'] });
    expect(built.errors).toEqual([]);
    expect(built.modules.written.map((f) => path.basename(f))).toEqual(['good.floxide.ts']);
    await server.open(file('good.ts'));
    expect(floxideOnly(await server.semanticDiagnostics(file('good.ts')))).toEqual([]);
    // Rename the node `show` to `print` (the field and its edge).
    await server.edit(file('good.ts'), { line: 6, offset: 10 }, { line: 6, offset: 14 }, 'print');
    await server.edit(file('good.ts'), { line: 7, offset: 3 }, { line: 7, offset: 7 }, 'print');
    const diags = floxideOnly(await server.semanticDiagnostics(file('good.ts')));
    // the rename breaks runs in flight on the version on record, as floxide build warns too (FLX050 at the new name)
    expect(diags.map((d) => [d.code, d.category, d.start.line, d.start.offset])).toEqual([
      [FLX(50), 'warning', 7, 3],
      [FLX(40), 'warning', 5, 14],
    ]);
    expect(diags[1].text).toBe('FLX040: the generated module good.floxide.ts of Good is stale (changed: parse, print, show): run floxide build\n  hint: run `floxide build` (floxide/register and floxide/vite regenerate it before it is imported)');
    const [fix] = await server.codeFixes(file('good.ts'), diags[1]);
    // the versions file records the new graph too: floxide build --check would fail on it
    expect(fix.description).toBe('Regenerate good.floxide.ts and good.floxide.versions.json (as floxide build would)');
    expect(fix.changes.map((c) => c.fileName)).toEqual([file('good.floxide.ts'), file('good.floxide.versions.json')]);
    expect(fix.changes[0].textChanges[0].newText).toContain("successors: ['print']");
    expect(fix.changes[1].textChanges[0].newText).toContain('"name": "print"');
  });

  it('flags a versions file the build would write otherwise (missing here) though the module is fresh, and its fix writes it as the build does', async () => {
    const built = await buildProject({ cwd: dir, paths: ['good.ts'] });
    expect(built.errors).toEqual([]);
    const versions = path.join(dir, 'good.floxide.versions.json');
    const recorded = readFileSync(versions, 'utf8');
    rmSync(versions);
    await server.open(file('good.ts'), readFileSync(path.join(dir, 'good.ts'), 'utf8'));
    const [d] = floxideOnly(await server.semanticDiagnostics(file('good.ts')));
    expect(d?.text.split('\n')[0]).toBe('FLX040: the versions file good.floxide.versions.json of Good is missing: run floxide build');
    const [fix] = await server.codeFixes(file('good.ts'), d!);
    expect(fix!.description).toBe('Regenerate good.floxide.versions.json (as floxide build would)');
    expect(fix!.changes.map((c) => [c.fileName, c.textChanges[0]!.newText])).toEqual([[file('good.floxide.versions.json'), recorded]]);
    // written as floxide build (run in a terminal) writes it: the flag goes, though tsserver's program is the same
    writeFileSync(versions, recorded);
    expect(floxideOnly(await server.semanticDiagnostics(file('good.ts')))).toEqual([]);
    await server.request('updateOpen', { closedFiles: [file('good.ts')] });
  });

  it('a module floxide build wrote after a graph change (two versions on record) is fresh; a change not built yet is regenerated as the build writes it', async () => {
    const v1 = GOOD.replace(/Good/g, 'Deploy');
    const v2 = v1.replace("@edge('show')", "@edge('print')").replace('  show = new Show();', '  print = new Show();');
    const v3 = v2.replace("@edge('print')", "@edge('out')").replace('  print = new Show();', '  out = new Show();');
    const build = async (text: string) => {
      writeFileSync(path.join(dir, 'deploy.ts'), text);
      const r = await buildProject({ cwd: dir, paths: ['deploy.ts'] });
      expect([r.errors, r.exitCode]).toEqual([[], 0]);
      return readFileSync(path.join(dir, 'deploy.floxide.ts'), 'utf8');
    };
    await build(v1);
    const built = await build(v2);
    expect(built).toMatch(/\n {2}supersedes: \['[0-9a-f]{16}'\],\n/);
    await server.open(file('deploy.ts'), v2);
    // not stale; the rename from v1 (on record) is the build's warning FLX050 here too
    expect(floxideOnly(await server.semanticDiagnostics(file('deploy.ts'))).map((d) => d.code)).toEqual([FLX(50)]);
    // the next change, in the editor only: its fix writes the module `floxide build` then writes
    const lines = v2.split('\n');
    await server.edit(file('deploy.ts'), { line: 1, offset: 1 }, { line: lines.length, offset: lines.at(-1)!.length + 1 }, v3);
    const stale = floxideOnly(await server.semanticDiagnostics(file('deploy.ts'))).find((d) => d.code === FLX(40));
    expect(stale?.code).toBe(FLX(40));
    const [fix] = await server.codeFixes(file('deploy.ts'), stale!);
    expect(fix!.changes[0]!.textChanges[0]!.newText).toBe(await build(v3));
    expect(fix!.changes[1]!.textChanges[0]!.newText).toBe(readFileSync(path.join(dir, 'deploy.floxide.versions.json'), 'utf8'));
  });

  it('offers to regenerate a module the project excludes (it exists on disk, tsserver does not know it) without failing the request', async () => {
    const other = makeProject('tsplugin-excluded', { 'nodes.ts': NODES, 'good.ts': GOOD }, { plugin: true });
    try {
      const config = JSON.parse(readFileSync(path.join(other, 'tsconfig.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(path.join(other, 'tsconfig.json'), JSON.stringify({ ...config, exclude: ['*.floxide.ts'] }));
      expect((await buildProject({ cwd: other, paths: ['good.ts'] })).exitCode).toBe(0);
      const source = path.join(other, 'good.ts').split(path.sep).join('/');
      await server.open(source, GOOD.replace("@edge('show')", "@edge('print')").replace('  show = new Show();', '  print = new Show();'));
      const stale = floxideOnly(await server.semanticDiagnostics(source)).find((d) => d.code === FLX(40));
      expect(stale?.code).toBe(FLX(40));
      const fixes = await server.codeFixes(source, stale!);
      expect(fixes.map((f) => [f.description, f.changes[0]!.fileName])).toEqual([
        ['Regenerate good.floxide.ts and good.floxide.versions.json (as floxide build would)', `${path.dirname(source)}/good.floxide.ts`],
      ]);
      // the edit replaces the module's text (it is no new file)
      const module = readFileSync(path.join(other, 'good.floxide.ts'), 'utf8');
      expect(fixes[0]!.changes[0]!.textChanges[0]!.end).toEqual({ line: module.split('\n').length, offset: module.split('\n').at(-1)!.length + 1 });
    } finally {
      await server.request('updateOpen', { closedFiles: [path.join(other, 'good.ts').split(path.sep).join('/')] });
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('reports the versions check of floxide build (FLX050-FLX056) at the same positions and with the same text, before the build records the change', async () => {
    const fixtures = path.join(repo, 'test/fixtures/versions');
    // the fixtures' own tsconfig maps floxide by a paths entry: the project's is the one an installed floxide gets
    const files = readdirSync(fixtures).filter((f) => f !== 'tsconfig.json');
    const other = makeProject('tsplugin-versions', Object.fromEntries(files.map((f) => [f, readFileSync(path.join(fixtures, f), 'utf8')])), { plugin: true });
    const sources = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.floxide.ts'));
    const abs = (f: string) => path.join(other, f).split(path.sep).join('/');
    try {
      // --check writes nothing: the versions files stay as they were recorded, before these changes
      const built = await buildProject({ cwd: other, check: true });
      const expected = built.diagnostics
        .filter((d) => /^FLX05/.test(d.code))
        .map((d) => `${d.position!.file}:${d.position!.line}:${d.position!.column} ${d.severity} ${d.code}: ${d.message}\n  hint: ${d.hint}`);
      expect(new Set(expected.map((e) => / (FLX05\d):/.exec(e)![1]))).toEqual(new Set(['FLX050', 'FLX051', 'FLX052', 'FLX053', 'FLX055', 'FLX056']));
      const shown: string[] = [];
      for (const f of sources) {
        await server.open(abs(f), readFileSync(abs(f), 'utf8'));
        for (const d of floxideOnly(await server.semanticDiagnostics(abs(f)))) {
          if (d.code >= FLX(50) && d.code <= FLX(56)) shown.push(`${f}:${d.start.line}:${d.start.offset} ${d.category} ${d.text}`);
        }
      }
      expect(shown.sort()).toEqual(expected.sort());
      // an unreadable versions file: the build's FLX054 (on the file) goes on the workflow class
      writeFileSync(path.join(other, 'safe.floxide.versions.json'), '{ "format": 1,');
      const unreadable = (await buildProject({ cwd: other, check: true })).diagnostics.find((d) => d.code === 'FLX054')!;
      expect(unreadable.position?.file).toBe('safe.floxide.versions.json');
      await server.edit(abs('safe.ts'), { line: 1, offset: 1 }, { line: 1, offset: 1 }, ' ');
      const [d] = floxideOnly(await server.semanticDiagnostics(abs('safe.ts'))).filter((x) => x.code === FLX(54));
      expect([d?.category, d?.start.line, d?.start.offset, d?.text]).toEqual(['error', 6, 14, `FLX054: ${unreadable.message}\n  hint: ${unreadable.hint}`]);
    } finally {
      await server.request('updateOpen', { closedFiles: sources.map(abs) });
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('shows the build\'s FLX001 on the workflow class of a project without experimentalDecorators, not FLX040 (the build writes nothing there)', async () => {
    const other = makeProject('tsplugin-nodecorators', { 'nodes.ts': NODES, 'good.ts': GOOD }, { plugin: true });
    const source = path.join(other, 'good.ts').split(path.sep).join('/');
    try {
      const config = JSON.parse(readFileSync(path.join(other, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
      delete config.compilerOptions.experimentalDecorators;
      writeFileSync(path.join(other, 'tsconfig.json'), JSON.stringify(config, null, 2));
      const built = await buildProject({ cwd: other });
      expect(built.exitCode).toBe(1);
      const [flx001] = built.diagnostics;
      expect(flx001?.code).toBe('FLX001');
      await server.open(source, GOOD);
      const diags = floxideOnly(await server.semanticDiagnostics(source));
      expect(diags.map((d) => [d.code, d.category, d.start.line, d.start.offset, d.text])).toEqual([[FLX(1), 'error', 5, 14, `FLX001: ${flx001!.message}\n  hint: ${flx001!.hint}`]]);
    } finally {
      await server.request('updateOpen', { closedFiles: [source] });
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('turns "Cannot find module" of a generated module into FLX040', async () => {
    rmSync(path.join(dir, 'good.floxide.ts'));
    await server.open(file('main.ts'));
    const diags = await server.semanticDiagnostics(file('main.ts'));
    expect(diags.map((d) => [d.code, d.start.line, d.start.offset])).toEqual([[FLX(40), 1, 25]]);
    expect(diags[0].text).toMatch(/^FLX040: \.\/good\.floxide\.js is not generated yet \(from \.\/good\.ts\): run floxide build/);
  });

  it('stays idle in a project without workflows: no analysis is loaded, the diagnostics are TypeScript\'s', async () => {
    const plain = makeProject('tsplugin-plain', { 'a.ts': `export const n: number = 'x';\n` }, { plugin: true });
    try {
      const log = path.join(plain, 'tsserver.log');
      const other = new TsServer({ probeLocations: [plain], logFile: log });
      try {
        await other.open(path.join(plain, 'a.ts'));
        const diags = await other.semanticDiagnostics(path.join(plain, 'a.ts'));
        expect(diags.map((d) => d.code)).toEqual([2322]);
      } finally {
        await other.close();
      }
      const text = readFileSync(log, 'utf8');
      expect(text).toContain('Plugin validation succeeded');
      expect(text).not.toContain('floxide/ts-plugin: analysis loaded');
      expect(text).not.toContain('floxide/ts-plugin: diagnostics failed');
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });

  it('never fails a request: the log holds no plugin error', () => {
    const text = readFileSync(logFile(), 'utf8');
    expect(text).toContain('floxide/ts-plugin: analysis loaded');
    expect(text).not.toMatch(/floxide\/ts-plugin: .* failed/);
  });
});

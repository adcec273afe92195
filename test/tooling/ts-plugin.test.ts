/**
 * `floxide/ts-plugin` in a real tsserver (node_modules/typescript/lib/tsserver.js over its stdio protocol), loading
 * the built plugin (dist/) the way an editor does: from a project's node_modules, named in its tsconfig.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
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
    expect(diags.map((d) => [d.code, d.category, d.start.line, d.start.offset])).toEqual([[FLX(40), 'warning', 5, 14]]);
    expect(diags[0].text).toBe('FLX040: the generated module good.floxide.ts of Good is stale (changed: parse, print, show): run floxide build\n  hint: run `floxide build` (floxide/register and floxide/vite regenerate it before it is imported)');
    const [fix] = await server.codeFixes(file('good.ts'), diags[0]);
    expect(fix.description).toBe('Regenerate good.floxide.ts (as floxide build would)');
    expect(fix.changes[0].fileName).toBe(file('good.floxide.ts'));
    expect(fix.changes[0].textChanges[0].newText).toContain("successors: ['print']");
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

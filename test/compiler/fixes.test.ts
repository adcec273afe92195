/**
 * The fixes checks attach to their diagnostics (FLX010 misspelt target, FLX014 missing arms, FLX020 nodes that disagree on the context):
 * each is applied to a temporary project, and the analysis of the result is clean.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeProject, type Diagnostic, type DiagnosticFix } from '../../compiler/index.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// The fixtures' shared node classes, plus a node that needs a context class and one that needs an interface the
// class satisfies: the nodes disagree, so no context is inferred, and the class fits both.
const NODES = `${readFileSync(path.join(repo, 'test/fixtures/invalid/nodes.ts'), 'utf8')}
export class Counter {
  count = 0;
}

export interface HasCount {
  readonly count: number;
}

@node()
export class Peek {
  process(ctx: WorkflowCtx<HasCount>, n: number): Transition<number> {
    return Transition.next(ctx.store.count + n);
  }
}

@node()
export class Count {
  process(ctx: WorkflowCtx<Counter>, n: number): Transition<number> {
    ctx.store.count += n;
    return Transition.next(ctx.store.count);
  }
}
`;

function project(flows: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'floxide-fixes-'));
  dirs.push(dir);
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: ['node'],
    typeRoots: [path.join(repo, 'node_modules/@types')],
    strict: true,
    experimentalDecorators: true,
    useDefineForClassFields: false,
    skipLibCheck: true,
    noEmit: true,
    paths: { floxide: [path.join(repo, 'runtime/index.ts')] },
  };
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2));
  writeFileSync(path.join(dir, 'nodes.ts'), NODES);
  for (const [name, text] of Object.entries(flows)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const analyse = (dir: string) => analyzeProject({ cwd: dir }).diagnostics;

/** Applies a fix's edits (positions are 1-based line/column, relative to the project root). */
function apply(dir: string, fix: DiagnosticFix): void {
  const byFile = new Map<string, DiagnosticFix['edits']>();
  for (const e of fix.edits) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  for (const [file, edits] of byFile) {
    const abs = path.join(dir, file);
    let text = readFileSync(abs, 'utf8');
    const offset = (at: { line: number; column: number }) => text.split('\n').slice(0, at.line - 1).reduce((n, l) => n + l.length + 1, 0) + at.column - 1;
    // Last edit first, so earlier offsets stay valid.
    for (const e of [...edits].sort((a, b) => b.start.line - a.start.line || b.start.column - a.start.column)) {
      text = text.slice(0, offset(e.start)) + e.newText + text.slice(offset(e.end));
    }
    writeFileSync(abs, text);
  }
}

// One project holds the three cases, so the whole test costs two analyses (before and after the fixes).
const FLX010 = `import { edge, workflow } from 'floxide';
import { StrToStr } from './nodes.js';

@workflow({ start: 'draft' })
export class Flow {
  @edge("reviw") draft = new StrToStr();
  review = new StrToStr();
}
`;

// Two adjacent letters swapped in a short name: one edit, as a transposition counts.
const FLX010_SWAPPED = `import { edge, workflow } from 'floxide';
import { StrToStr } from './nodes.js';

@workflow({ start: 'draft' })
export class Shouting {
  @edge('shuot') draft = new StrToStr();
  shout = new StrToStr();
}
`;

const FLX014 = `import { edge, workflow } from 'floxide';
import { Classify, TakeBig, TakeHuge, TakeSmall } from './nodes.js';

@workflow({ start: 'classify' })
export class Branches {
  @edge.when('small', 'small')
  classify = new Classify();
  small = new TakeSmall();
  large = new TakeHuge();
  big = new TakeBig();
}
`;

const FLX020 = `import { edge, workflow } from 'floxide';
import { Count, Peek } from './nodes.js';

@workflow({ start: 'count' })
export class Counting {
  @edge('peek') count = new Count();
  peek = new Peek();
}
`;

// the context class imported as a type only: `context:` needs it as a value
const FLX020_TYPE_CLAUSE = FLX020.replace("import { Count, Peek } from './nodes.js';", "import { Count, Peek } from './nodes.js';\nimport type { HasCount, Counter } from './nodes.js';").replace(/Counting/g, 'CountingA');
const FLX020_TYPE_SPECIFIER = FLX020.replace("import { Count, Peek } from './nodes.js';", "import { Count, Peek, type Counter } from './nodes.js';").replace(/Counting/g, 'CountingB');

// the same in files with CRLF line breaks: the lines a fix adds break as the file's do
const crlf = (text: string) => text.replace(/\n/g, '\r\n');
const FLX014_CRLF = crlf(FLX014.replace(/Branches/g, 'BranchesCrlf'));
const FLX020_CRLF = crlf(FLX020.replace(/Counting/g, 'CountingCrlf'));

let dir: string;
let before: Diagnostic[];
beforeAll(() => {
  dir = project({ 'flx010.ts': FLX010, 'flx010-swapped.ts': FLX010_SWAPPED, 'flx014.ts': FLX014, 'flx020.ts': FLX020, 'flx020-type-clause.ts': FLX020_TYPE_CLAUSE, 'flx020-type-specifier.ts': FLX020_TYPE_SPECIFIER, 'flx014-crlf.ts': FLX014_CRLF, 'flx020-crlf.ts': FLX020_CRLF });
  before = analyse(dir).filter((d) => d.code !== 'FLX030');
}, 180_000);

const inFile = (file: string) => {
  const diags = before.filter((d) => d.position?.file === file);
  expect(diags).toHaveLength(1);
  return diags[0];
};

describe('fixes attached to diagnostics', () => {
  it('FLX010: changes a misspelt edge target to the close field name', () => {
    const d = inFile('flx010.ts');
    expect(d.code).toBe('FLX010');
    expect(d.fixes?.map((f) => f.description)).toEqual(['Change "reviw" to "review"']);
    expect(d.fixes![0].edits).toEqual([{ file: 'flx010.ts', start: { line: 6, column: 9 }, end: { line: 6, column: 16 }, newText: '"review"' }]);
  });

  it('FLX010: suggests and fixes a name with two adjacent letters swapped', () => {
    const d = inFile('flx010-swapped.ts');
    expect(d.hint).toBe('did you mean "shout"?');
    expect(d.fixes?.map((f) => f.description)).toEqual(['Change "shuot" to "shout"']);
  });

  it('FLX014: adds an arm per missing tag, to the node that accepts the variant', () => {
    const d = inFile('flx014.ts');
    expect(d.code).toBe('FLX014');
    expect(d.fixes?.map((f) => f.description)).toEqual(['Add the missing arms "big" -> big, "huge" -> large']);
  });

  it('FLX020: declares the one context every node accepts, importing its class', () => {
    const d = inFile('flx020.ts');
    expect(d.code).toBe('FLX020');
    expect(d.fixes?.map((f) => f.description)).toEqual(["Declare the workflow's context: add context: Counter to @workflow"]);
  });

  it('applied, the fixes leave a project without diagnostics', () => {
    for (const d of before) apply(dir, d.fixes![0]);
    expect(readFileSync(path.join(dir, 'flx010.ts'), 'utf8')).toContain(`@edge("review") draft`);
    expect(readFileSync(path.join(dir, 'flx010-swapped.ts'), 'utf8')).toContain(`@edge('shout') draft`);
    expect(readFileSync(path.join(dir, 'flx014.ts'), 'utf8')).toContain(`  @edge.when('small', 'small')\n  @edge.when('big', 'big')\n  @edge.when('huge', 'large')\n  classify = new Classify();`);
    const ctx = readFileSync(path.join(dir, 'flx020.ts'), 'utf8');
    expect(ctx).toContain(`import { Count, Peek } from './nodes.js';\nimport { Counter } from './nodes.js';`);
    expect(ctx).toContain(`@workflow({ start: 'count', context: Counter })`);
    expect(readFileSync(path.join(dir, 'flx020-type-clause.ts'), 'utf8')).toContain(`import { Count, Peek } from './nodes.js';\nimport { type HasCount, Counter } from './nodes.js';\n`);
    expect(readFileSync(path.join(dir, 'flx020-type-specifier.ts'), 'utf8')).toContain(`import { Count, Peek, Counter } from './nodes.js';\n`);
    const arms = readFileSync(path.join(dir, 'flx014-crlf.ts'), 'utf8');
    expect(arms).toContain(`  @edge.when('small', 'small')\r\n  @edge.when('big', 'big')\r\n  @edge.when('huge', 'large')\r\n  classify = new Classify();`);
    const imported = readFileSync(path.join(dir, 'flx020-crlf.ts'), 'utf8');
    expect(imported).toContain(`import { Count, Peek } from './nodes.js';\r\nimport { Counter } from './nodes.js';\r\n`);
    for (const text of [arms, imported]) expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    expect(analyse(dir)).toEqual([]);
  }, 180_000);
});

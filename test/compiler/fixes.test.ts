/**
 * The fixes checks attach to their diagnostics (FLX010 misspelt target, FLX014 missing arms, FLX020 missing context):
 * each is applied to a temporary project, and the analysis of the result is clean.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeProject, type Diagnostic, type DiagnosticFix } from '../../compiler/index.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// The fixtures' shared node classes, plus a node that needs a context class.
const NODES = `${readFileSync(path.join(repo, 'test/fixtures/invalid/nodes.ts'), 'utf8')}
export class Counter {
  count = 0;
}

@node()
export class Count {
  process(ctx: WorkflowCtx<Counter>, n: number): Transition<number> {
    ctx.store.count += n;
    return Transition.next(ctx.store.count);
  }
}
`;

function project(flow: string): string {
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
  writeFileSync(path.join(dir, 'flow.ts'), flow);
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

const only = (diags: Diagnostic[], code: string) => {
  expect(diags.map((d) => d.code)).toEqual([code]);
  return diags[0];
};

describe('fixes attached to diagnostics', () => {
  it('FLX010: changes a misspelt edge target to the close field name', () => {
    const dir = project(`import { edge, workflow } from 'floxide';
import { StrToStr } from './nodes.js';

@workflow({ start: 'draft' })
export class Flow {
  @edge("reviw") draft = new StrToStr();
  review = new StrToStr();
}
`);
    const d = only(analyse(dir).filter((x) => x.code !== 'FLX030'), 'FLX010');
    expect(d.fixes?.map((f) => f.description)).toEqual(['Change "reviw" to "review"']);
    expect(d.fixes![0].edits).toEqual([{ file: 'flow.ts', start: { line: 6, column: 9 }, end: { line: 6, column: 16 }, newText: '"review"' }]);
    apply(dir, d.fixes![0]);
    expect(readFileSync(path.join(dir, 'flow.ts'), 'utf8')).toContain(`@edge("review") draft`);
    expect(analyse(dir)).toEqual([]);
  });

  it('FLX014: adds an arm per missing tag, to the node that accepts the variant', () => {
    const dir = project(`import { edge, workflow } from 'floxide';
import { Classify, TakeBig, TakeHuge, TakeSmall } from './nodes.js';

@workflow({ start: 'classify' })
export class Flow {
  @edge.when('small', 'small')
  classify = new Classify();
  small = new TakeSmall();
  large = new TakeHuge();
  big = new TakeBig();
}
`);
    const d = only(analyse(dir).filter((x) => x.code !== 'FLX030'), 'FLX014');
    expect(d.fixes?.map((f) => f.description)).toEqual(['Add the missing arms "big" -> big, "huge" -> large']);
    apply(dir, d.fixes![0]);
    expect(readFileSync(path.join(dir, 'flow.ts'), 'utf8')).toContain(`  @edge.when('small', 'small')\n  @edge.when('big', 'big')\n  @edge.when('huge', 'large')\n  classify = new Classify();`);
    expect(analyse(dir)).toEqual([]);
  });

  it('FLX020: declares the context the nodes need, importing its class', () => {
    const dir = project(`import { workflow } from 'floxide';
import { Count } from './nodes.js';

@workflow({ start: 'count' })
export class Flow {
  count = new Count();
}
`);
    const d = only(analyse(dir), 'FLX020');
    expect(d.fixes?.map((f) => f.description)).toEqual(["Declare the workflow's context: add context: Counter to @workflow"]);
    apply(dir, d.fixes![0]);
    const text = readFileSync(path.join(dir, 'flow.ts'), 'utf8');
    expect(text).toContain(`import { Count } from './nodes.js';\nimport { Counter } from './nodes.js';`);
    expect(text).toContain(`@workflow({ start: 'count', context: Counter })`);
    expect(analyse(dir)).toEqual([]);
  });
});

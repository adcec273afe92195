import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeProject, DIAGNOSTIC_CODES, formatDiagnostics, type AnalysisResult, type Diagnostic } from '../../compiler/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const invalidDir = 'test/fixtures/invalid';

let invalid: AnalysisResult;
beforeAll(() => {
  invalid = analyzeProject({ cwd: repo, project: `${invalidDir}/tsconfig.json` });
});

/** Diagnostics of one fixture (positions are relative to the fixture project's root, its tsconfig dir). */
function diagsOf(file: string): Diagnostic[] {
  return invalid.diagnostics.filter((d) => d.position?.file === file);
}

// One compile-fail fixture per code: [fixture, code, line, column].
const cases: Array<[string, string, number, number]> = [
  ['FLX002-ts-error.ts', 'FLX002', 7, 11],
  ['FLX002-decorator-syntax.ts', 'FLX002', 9, 9],
  ['FLX003-non-literal.ts', 'FLX003', 9, 9],
  ['FLX003-non-literal-start.ts', 'FLX003', 7, 20],
  ['FLX005-bad-retry.ts', 'FLX005', 7, 10],
  ['FLX005-retry-options.ts', 'FLX005', 7, 10],
  ['FLX010-unknown-target.ts', 'FLX010', 7, 9],
  ['FLX010-arm-target.ts', 'FLX010', 7, 23],
  ['FLX011-edge-type.ts', 'FLX011', 7, 9],
  ['FLX011-aliased-import.ts', 'FLX011', 8, 9],
  ['FLX012-fallback-type.ts', 'FLX012', 7, 19],
  ['FLX013-arm-type.ts', 'FLX013', 8, 21],
  ['FLX014-not-exhaustive.ts', 'FLX014', 8, 3],
  ['FLX015-not-discriminated.ts', 'FLX015', 8, 3],
  ['FLX015-unknown-tag.ts', 'FLX015', 8, 14],
  ['FLX016-duplicate-edge.ts', 'FLX016', 8, 9],
  ['FLX017-start-not-field.ts', 'FLX017', 5, 20],
  ['FLX018-duplicate-start.ts', 'FLX018', 6, 1],
  ['FLX019-no-terminal.ts', 'FLX019', 6, 14],
  ['FLX019-closed-cycle.ts', 'FLX019', 8, 14],
  ['FLX020-context.ts', 'FLX020', 30, 3],
  ['FLX021-not-a-node.ts', 'FLX021', 8, 14],
  ['FLX021-no-follow-on.ts', 'FLX021', 8, 9],
  ['FLX021-target-not-a-node.ts', 'FLX021', 14, 14],
  ['FLX022-no-process.ts', 'FLX022', 5, 14],
  ['FLX022-process-arity.ts', 'FLX022', 6, 14],
  ['FLX022-process-arity.ts', 'FLX022', 13, 14],
  ['FLX023-private-field.ts', 'FLX023', 8, 11],
  ['FLX023-not-exported.ts', 'FLX023', 6, 7],
  ['FLX023-anonymous-context.ts', 'FLX023', 14, 14],
  ['FLX024-join.ts', 'FLX024', 21, 9],
  ['FLX024-join.ts', 'FLX024', 23, 11],
  ['FLX025-mixed.ts', 'FLX025', 10, 3],
  ['FLX026-misplaced.ts', 'FLX026', 9, 3],
  ['FLX026-timeout-on-wait.ts', 'FLX026', 10, 32],
  ['FLX026-timeout-on-wait.ts', 'FLX026', 11, 31],
  ['FLX027-cycle.ts', 'FLX027', 8, 3],
  ['FLX028-signal-name.ts', 'FLX028', 10, 17],
  ['FLX029-unstorable.ts', 'FLX029', 32, 3],
  ['FLX029-class-instance.ts', 'FLX029', 46, 17],
  ['FLX029-class-private.ts', 'FLX029', 38, 37],
  ['FLX029-error-context.ts', 'FLX029', 19, 38],
  ['FLX029-error-input.ts', 'FLX029', 27, 3],
  ['FLX029-error-output.ts', 'FLX029', 13, 3],
  ['FLX030-unreachable.ts', 'FLX030', 9, 3],
  ['FLX031-merge-type.ts', 'FLX031', 7, 3],
  ['FLX031-merge-type.ts', 'FLX031', 8, 3],
  ['FLX031-merge-type.ts', 'FLX031', 9, 3],
];

describe('compile-fail fixtures', () => {
  it.each(cases)('%s reports %s at %i:%i', (fixture, code, line, column) => {
    const diags = diagsOf(`${fixture}`);
    expect(diags.map((d) => `${d.code}@${d.position!.line}:${d.position!.column}`)).toContain(`${code}@${line}:${column}`);
    const d = diags.find((x) => x.code === code && x.position!.line === line)!;
    expect(d.severity).toBe(code === 'FLX030' ? 'warning' : 'error');
    expect(d.message.length).toBeGreaterThan(10);
    expect(d.hint).toBeTruthy();
  });

  it('one mistake, one diagnostic: no FLX017 after an unreadable start, no TypeScript error beside a decorator argument floxide reported, no FLX021 at an edge to a field that has its own', () => {
    const codes = (file: string) => diagsOf(file).map((d) => `${d.code}@${d.position!.line}:${d.position!.column}`);
    expect(codes('FLX003-non-literal-start.ts')).toEqual(['FLX003@7:20']);
    expect(codes('FLX005-retry-options.ts')).toEqual(['FLX005@7:10']);
    expect(diagsOf('FLX005-retry-options.ts')[0]!.message).toBe(
      '@retry: unknown options "attempts", "backof": the options are maxAttempts, backoff, initialDelayMs, maxDelayMs, jitterMs, retryOn',
    );
    expect(codes('FLX021-target-not-a-node.ts')).toEqual(['FLX021@14:14']);
  });

  it('FLX005 for a first retry delay above the cap on every delay (maxDelayMs, given or its default)', () => {
    expect(diagsOf('FLX005-retry-delay.ts').map((d) => `${d.code}@${d.position!.line}:${d.position!.column} ${d.message}`)).toEqual([
      'FLX005@7:10 @retry: initialDelayMs 3600000 is more than maxDelayMs 30000 (its default), the cap on every delay: each would be cut to 30000 ms. Set maxDelayMs to the longest delay you want',
      'FLX005@10:10 @retry: initialDelayMs 500 is more than maxDelayMs 100, the cap on every delay: each would be cut to 100 ms. Set maxDelayMs to the longest delay you want',
    ]);
  });

  it('FLX031 only where a strategy cannot merge the field: the numbers, Sets and arrays of the same context pass', () => {
    expect(diagsOf('FLX031-merge-type.ts').map((d) => [d.code, d.message.split(':')[0]])).toEqual([
      ['FLX031', 'context field big is bigint'],
      ['FLX031', 'context field latest is Date'],
      ['FLX031', 'context field tags is Set<string>'],
    ]);
  });

  it('has a fixture for every code in the table (except FLX001/FLX004/FLX006, tested separately, the editor-only FLX040 and the build-time FLX05x of test/compiler/versions.test.ts)', () => {
    const covered = new Set(cases.map((c) => c[1]));
    for (const code of Object.keys(DIAGNOSTIC_CODES)) if (code !== 'FLX001' && code !== 'FLX004' && code !== 'FLX006' && code !== 'FLX040' && !code.startsWith('FLX05')) expect(covered, code).toContain(code);
  });

  it('reports branch arms to a missing field or a method once each, and still checks the arms that reach a node', () => {
    expect(diagsOf('FLX010-arm-target.ts').map((d) => [d.code, d.position!.line, d.position!.column, d.message])).toEqual([
      ['FLX010', 7, 23, 'branch "small" edge target "smal" is not a field of ArmTargetWorkflow'],
      ['FLX013', 8, 21, 'arm "big" of classify: variant Big is not assignable to small\'s input Small'],
      ['FLX021', 9, 19, 'otherwise edge target "helper" of ArmTargetWorkflow is not a node: it is a method or accessor'],
    ]);
    expect(diagsOf('FLX010-arm-target.ts')[0].hint).toBe('did you mean "small"?');
  });

  it('FLX019 names a cycle with no way out once, and not a cycle with one', () => {
    expect(diagsOf('FLX019-closed-cycle.ts').map((d) => [d.code, d.message])).toEqual([
      ['FLX019', 'nodes b, c of ClosedCycleWorkflow form a cycle with no way out to a terminal node: a run that enters it never completes'],
    ]);
  });

  it('the shared node classes are clean', () => {
    expect(diagsOf(`nodes.ts`)).toEqual([]);
  });

  it('reports a type mismatch and a non-exhaustive branch in one workflow, each at its position', () => {
    const diags = diagsOf(`combined-edge-and-branch.ts`);
    expect(diags.map((d) => [d.code, d.position!.line, d.position!.column])).toEqual([
      ['FLX011', 7, 21],
      ['FLX014', 9, 3],
    ]);
    expect(diags[0].message).toBe("start's output number is not assignable to shout's input string");
    expect(diags[1].message).toBe('branch arms of classify are not exhaustive: missing "big", "huge"');
  });

  it('reports the root cause once: no FLX019 after an FLX021, no floxide diagnostic in a file that does not parse', () => {
    expect(diagsOf('FLX021-no-follow-on.ts').map((d) => [d.code, d.message])).toEqual([
      ['FLX021', 'success edge target "b" of MissingNodeWorkflow is not a node: its type string is not a @node class'],
    ]);
    expect(diagsOf('FLX002-decorator-syntax.ts').map((d) => [d.code, d.message])).toEqual([['FLX002', 'TS1135: Argument expression expected.']]);
  });

  it('FLX029: names the path of each value storage does not carry, and nothing it carries (Date, Map, Set, bigint, EventLog, the context class\'s methods)', () => {
    const tail = 'which a stored run (checkpointed or distributed) does not read back as such';
    expect(diagsOf('FLX029-unstorable.ts').map((d) => [d.code, d.position!.line, d.position!.column, d.message])).toEqual([
      ['FLX029', 30, 38, `Handlers.onDone (the context of UnstorableWorkflow) is a function, ${tail}`],
      ['FLX029', 32, 3, `input.total (of node price) is Money, an object with methods (format()), ${tail}`],
      ['FLX029', 32, 3, `output.tag (of terminal node price) is a symbol, ${tail}`],
    ]);
  });

  it('FLX029: an instance of a class is reported even without methods (no prototype once stored), and so are private fields and getters; interfaces, type aliases and the context class are not', () => {
    const tail = 'which a stored run (checkpointed or distributed) does not read back as such';
    expect(diagsOf('FLX029-class-instance.ts').map((d) => [d.code, d.position!.line, d.position!.column, d.message])).toEqual([
      ['FLX029', 46, 17, `input (of node check) is Order, an instance of a class (without its prototype once stored), ${tail}`],
      ['FLX029', 48, 3, `output (of terminal node confirm) is Confirmation, an instance of a class (without its prototype once stored), ${tail}`],
    ]);
    expect(diagsOf('FLX029-class-private.ts').map((d) => [d.code, d.position!.line, d.position!.column, d.message])).toEqual([
      ['FLX029', 38, 37, `Vault.span (the context of VaultWorkflow) is Span, an object with methods (get length), ${tail}`],
      ['FLX029', 38, 37, `Vault.token (the context of VaultWorkflow) is Token, an instance of a class (without its prototype once stored), ${tail}`],
    ]);
    expect(diagsOf('FLX029-class-instance.ts').every((d) => d.hint!.includes('interface or a type alias'))).toBe(true);
  });

  it("FLX029: an Error (an interface in lib.d.ts) is reported in a context field, an input and an output: its message and stack are not stored; the error as an interface of data is not", () => {
    const tail = 'which a stored run (checkpointed or distributed) does not read back as such';
    const error = (name: string) => `${name}, an error object (its message and stack are not stored: JSON keeps only an object's own enumerable fields), ${tail}`;
    const of = (file: string) => diagsOf(file).map((d) => [d.code, d.position!.line, d.position!.column, d.message]);
    expect(of('FLX029-error-context.ts')).toEqual([['FLX029', 19, 38, `Attempts.lastError (the context of ErrorContextWorkflow) is ${error('Error')}`]]);
    expect(of('FLX029-error-input.ts')).toEqual([['FLX029', 27, 3, `input.cause (of node report) is ${error('TypeError')}`]]);
    expect(of('FLX029-error-output.ts')).toEqual([['FLX029', 13, 3, `output (of terminal node check) is ${error('Error')}`]]);
  });

  it('FLX022: a process that cannot be called as process(ctx, input), reported once at its class', () => {
    expect(diagsOf('FLX022-process-arity.ts').map((d) => [d.code, d.position!.line, d.message])).toEqual([
      ['FLX022', 6, 'node class OneParam has process whose first parameter (n: number) cannot take the context: a node is called as process(ctx, input)'],
      ['FLX022', 13, 'node class ThreeParams has process with 3 required parameters, but a node is called as process(ctx, input)'],
    ]);
  });

  it('FLX020 and FLX023 on contexts say what to write, once per workflow', () => {
    expect(diagsOf('FLX020-context.ts').map((d) => [d.code, d.message, d.hint])).toEqual([
      [
        'FLX020',
        'the nodes of workflow ContextWorkflow need different contexts (count needs Counter, label needs Labelled), so its context cannot be inferred',
        "declare a context class every node accepts and name it: `export class ContextWorkflowContext implements Counter, Labelled { ... }` and @workflow({ start: 'count', context: ContextWorkflowContext })",
      ],
    ]);
    expect(diagsOf('FLX023-anonymous-context.ts').map((d) => [d.code, d.message, d.hint])).toEqual([
      [
        'FLX023',
        'the context type { n: number; } that the nodes of AnonymousContextWorkflow declare has no name the generated module can import',
        "declare it by name (`export interface AnonymousContextWorkflowContext { ... }`, a type alias or a class) and use that name in the nodes' WorkflowCtx<...>",
      ],
    ]);
  });

  it('names the narrowed variant and the missing tags', () => {
    const [arm] = diagsOf(`FLX013-arm-type.ts`);
    expect(arm.message).toBe('arm "big" of classify: variant Big is not assignable to small\'s input Small');
    const otherwise = diagsOf(`FLX011-aliased-import.ts`).find((d) => d.code === 'FLX013')!;
    expect(otherwise.message).toBe("otherwise arm of classify: variant Huge is not assignable to small's input Small");
    expect(diagsOf(`FLX010-unknown-target.ts`)[0].hint).toBe('did you mean "review"?');
  });

  it('still builds the model of the valid workflows next to invalid ones', () => {
    const names = invalid.model.workflows.map((w) => w.name);
    expect(names).toContain('UnreachableWorkflow');
    expect(names).toEqual([...names].sort((a, b) => {
      const fa = invalid.model.workflows.find((w) => w.name === a)!.class.file;
      const fb = invalid.model.workflows.find((w) => w.name === b)!.class.file;
      return fa < fb ? -1 : fa > fb ? 1 : a < b ? -1 : 1;
    }));
  });

  it('restricts to the given paths', () => {
    const r = analyzeProject({ cwd: repo, project: `${invalidDir}/tsconfig.json`, paths: [`${invalidDir}/FLX011-edge-type.ts`] });
    expect(r.model.workflows.map((w) => w.name)).toEqual(['EdgeTypeWorkflow']);
    expect(r.rootDir).toBe(path.join(repo, invalidDir));
    expect(r.diagnostics.map((d) => [d.code, d.position?.file])).toEqual([['FLX011', 'FLX011-edge-type.ts']]);
  });
});

describe('project problems', () => {
  it('FLX001: tsconfig without experimentalDecorators, with the line to add', () => {
    const r = analyzeProject({ cwd: repo, project: `${invalidDir}/FLX001-no-decorators/tsconfig.json` });
    expect(r.diagnostics).toHaveLength(1);
    const [d] = r.diagnostics;
    expect(d.code).toBe('FLX001');
    expect(d.position).toEqual({ file: 'tsconfig.json', line: 2, column: 3 });
    expect(d.hint).toContain('"experimentalDecorators": true');
    expect(r.model.workflows.map((w) => w.name)).toEqual(['NoDecoratorsWorkflow']);
  });

  it('FLX002: every error tsc reports, also those that depend on the module format (TS1295 in a CommonJS package under verbatimModuleSyntax)', () => {
    const r = analyzeProject({ cwd: repo, project: `${invalidDir}/FLX002-commonjs-verbatim/tsconfig.json` });
    expect(r.diagnostics.map((d) => `${d.code} ${d.message.slice(0, 6)}@${d.position!.file}:${d.position!.line}:${d.position!.column}`)).toEqual([
      'FLX002 TS1295@flow.ts:3:10',
      'FLX002 TS1295@flow.ts:3:16',
      'FLX002 TS1295@flow.ts:3:22',
      'FLX002 TS1295@flow.ts:3:34',
      'FLX002 TS1287@flow.ts:6:1',
      'FLX002 TS1287@flow.ts:13:1',
      'FLX002 TS1287@flow.ts:20:1',
    ]);
  });

  it('FLX004: a missing tsconfig is a diagnostic, not a crash', () => {
    const r = analyzeProject({ cwd: repo, project: 'test/fixtures/nope/tsconfig.json' });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['FLX004']);
    expect(r.model.workflows).toEqual([]);
  });
});

describe('formatDiagnostics', () => {
  const diags: Diagnostic[] = [
    { code: 'FLX011', severity: 'error', message: "a's output number is not assignable to b's input string", hint: 'fix it', position: { file: 'src/flow.ts', line: 7, column: 9 } },
    { code: 'FLX030', severity: 'warning', message: 'node c is unreachable', hint: 'remove it', position: { file: 'src/flow.ts', line: 9, column: 3 } },
  ];

  it('prints path:line:col - severity code: message, the hint, and the counts', () => {
    expect(formatDiagnostics(diags, { color: false, cwd: '/p', rootDir: '/p' })).toBe(
      [
        "src/flow.ts:7:9 - error FLX011: a's output number is not assignable to b's input string",
        '    hint: fix it',
        'src/flow.ts:9:3 - warning FLX030: node c is unreachable',
        '    hint: remove it',
        '',
        'Found 1 error and 1 warning.',
        '',
      ].join('\n'),
    );
  });

  it('prints paths relative to cwd and pluralises', () => {
    const out = formatDiagnostics([diags[0], { ...diags[0], position: { file: 'src/b.ts', line: 1, column: 1 } }], { color: false, cwd: '/p/src', rootDir: '/p' });
    expect(out).toContain('flow.ts:7:9 - error FLX011');
    expect(out).toContain('b.ts:1:1 - error');
    expect(out.trimEnd().endsWith('Found 2 errors.')).toBe(true);
  });

  it('colours only when asked', () => {
    expect(formatDiagnostics(diags, { color: true, cwd: '/p' })).toContain('\u001b[');
    expect(formatDiagnostics(diags, { color: false, cwd: '/p' })).not.toContain('\u001b[');
    expect(formatDiagnostics([], { color: false, cwd: '/p' })).toBe('');
  });
});

describe('a project where floxide does not resolve (Yarn PnP: no node_modules/floxide)', () => {
  it('says so (TS2307 at the import) instead of finding no workflow and succeeding', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-unresolved-'));
    try {
      writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, experimentalDecorators: true, types: [] }, include: ['src'] }));
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(
        path.join(dir, 'src/flow.ts'),
        `import { edge, node, Transition, workflow, type WorkflowCtx } from 'floxide';

@node()
export class A {
  process(_ctx: WorkflowCtx, s: string) {
    return Transition.next(s);
  }
}

@workflow({ start: 'a' })
export class Flow {
  @edge('b') a = new A();
  b = new A();
}
`,
      );
      writeFileSync(path.join(dir, 'src/other.ts'), 'export const x = 1;\n');
      const r = analyzeProject({ cwd: dir });
      expect(r.model.workflows).toEqual([]);
      expect(r.diagnostics.map((d) => [d.code, d.message, d.position])).toEqual([
        ['FLX002', "TS2307: Cannot find module 'floxide' or its corresponding type declarations.", { file: 'src/flow.ts', line: 1, column: 68 }],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

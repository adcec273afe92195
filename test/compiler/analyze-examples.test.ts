import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf, graphShapeOf, workflowMetaOf } from 'floxide';
import { analyzeProject, shapeOfModel, type AnalysisResult, type WorkflowModel } from '../../compiler/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function summary(wf: WorkflowModel) {
  return {
    start: wf.start,
    input: wf.inputType,
    output: wf.outputType,
    context: wf.contextType,
    terminals: wf.terminals,
    nodes: wf.nodes.map((n) => `${n.name}:${n.kind}:${n.class.name}:${n.inputType}->${n.outputType}${n.join ? ':join' : ''}`),
    edges: wf.edges.map((e) => `${e.from}-${e.kind}${e.tag ? `(${e.tag})` : ''}->${e.to}`),
  };
}

/** The run-time fingerprint, from the decorator registry of the imported class. */
async function runtimeShape(rootDir: string, wf: WorkflowModel) {
  const mod = (await import(pathToFileURL(path.join(rootDir, wf.class.file)).href)) as Record<string, abstract new (...a: any[]) => unknown>;
  const meta = workflowMetaOf(mod[wf.class.name]);
  expect(meta, wf.name).toBeDefined();
  // A context class inferred from the nodes (no `context:` option) is the one the generated module names.
  const ctx = wf.context?.kind === 'class' ? ((await import(pathToFileURL(path.join(rootDir, wf.context.file)).href)) as typeof mod)[wf.context.name] : undefined;
  return graphShapeOf(meta!, meta!.options.context ?? ctx);
}

describe('the model of examples/*.ts', () => {
  let r: AnalysisResult;
  beforeAll(() => {
    r = analyzeProject({ cwd: repo, paths: ['examples'] });
  });
  const byName = (name: string) => r.model.workflows.find((w) => w.name === name)!;

  it('has no diagnostics and every workflow, sorted by (file, name)', () => {
    expect(r.diagnostics).toEqual([]);
    expect(r.rootDir).toBe(repo);
    const ids = r.model.workflows.map((w) => `${w.class.file}#${w.name}`);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(
      expect.arrayContaining([
        'examples/article.ts#ArticleWorkflow',
        'examples/branching.ts#ThresholdWorkflow',
        'examples/fallback.ts#FallbackWorkflow',
        'examples/nested.ts#InnerWorkflow',
        'examples/nested.ts#OuterWorkflow',
        'examples/retry.ts#ExponentialRetryWorkflow',
        'examples/retry.ts#RetryWorkflow',
      ]),
    );
    expect(ids.every((id) => !id.includes('.floxide.'))).toBe(true);
  });

  it('approval and reminder: the WaitFor node carries its signal, the Sleep node is marked (floxide\'s own classes)', () => {
    const approval = byName('ApprovalWorkflow');
    expect(approval.nodes.map((n) => [n.name, n.class.name, n.outputType, n.wait ?? null, n.sleep ?? null])).toEqual([
      ['submit', 'Submit', 'Expense', null, null],
      ['approval', 'WaitFor', 'Decision', { signal: 'approval' }, null],
      ['record', 'RecordDecision', 'string', null, null],
      ['escalate', 'Escalate', 'string', null, null],
    ]);
    const reminder = byName('ReminderWorkflow');
    expect(reminder.nodes.map((n) => [n.name, n.wait ?? null, n.sleep ?? null])).toEqual([
      ['schedule', null, null],
      ['wait', null, true],
      ['send', null, null],
    ]);
  });

  it('article: retry, fallback, context class and merge strategies', () => {
    const wf = byName('ArticleWorkflow');
    expect(summary(wf)).toEqual({
      start: 'outline',
      input: 'string',
      output: 'string',
      context: 'ArticleCtx',
      terminals: ['review', 'apology'],
      nodes: ['outline:node:Outline:string->string', 'draft:node:Draft:string->string', 'review:node:Review:string->string', 'apology:node:Apology:string->string'],
      edges: ['outline-success->draft', 'draft-success->review', 'draft-fallback->apology'],
    });
    expect(wf.context).toEqual({ name: 'ArticleCtx', file: 'examples/article.ts', kind: 'class' });
    expect(wf.contextFields).toMatchObject([
      { name: 'log', strategy: 'append', position: { file: 'examples/article.ts' } },
      { name: 'llmCalls', strategy: 'sum' },
    ]);
    expect(wf.nodes[1].retry).toEqual({ maxAttempts: 3, backoff: 'exponential', initialDelayMs: 10 });
    expect(wf.nodes[0].contextType).toBe('ArticleCtx');
    const lines = fs.readFileSync(path.join(repo, 'examples/article.ts'), 'utf8').split('\n');
    const line = lines.findIndex((l) => l.startsWith('export class ArticleWorkflow')) + 1;
    expect(wf.position).toEqual({ file: 'examples/article.ts', line, column: 14 });
    // The hand-written reference module carries this fingerprint.
    expect(wf.fingerprint).toBe('7c0e40b241f166c2');
  });

  it('branching: arms carry their tags and each target gets its variant', () => {
    expect(summary(byName('ThresholdWorkflow'))).toEqual({
      start: 'classify',
      input: 'number',
      output: 'string',
      context: 'undefined',
      terminals: ['small', 'big'],
      nodes: ['classify:node:Classify:number->Size', 'small:node:SmallNode:Small->string', 'big:node:BigNode:Big->string'],
      edges: ['classify-branch(small)->small', 'classify-branch(big)->big'],
    });
  });

  it('fallback: a failure-only node is a terminal too', () => {
    expect(summary(byName('FallbackWorkflow')).terminals).toEqual(['fail', 'recovery']);
  });

  it('nested: the inner workflow is a node of kind workflow with its start input and terminal output', () => {
    const outer = summary(byName('OuterWorkflow'));
    expect(outer.nodes).toEqual(['inner:workflow:InnerWorkflow:number->number', 'print:node:PrintNode:number->number']);
    expect(outer.terminals).toEqual(['print']);
    expect(byName('OuterWorkflow').nodes[0].class).toEqual({ name: 'InnerWorkflow', file: 'examples/nested.ts' });
  });

  it('retry: undecorated-by-edge nodes with @retry only', () => {
    const wf = byName('RetryWorkflow');
    expect(summary(wf).nodes).toEqual(['flaky:node:FlakyNode:void->string']);
    expect(wf.nodes[0].retry).toEqual({ maxAttempts: 3, backoff: 'linear', initialDelayMs: 50 });
    expect(wf.terminals).toEqual(['flaky']);
  });

  it('shapeOfModel equals graphShapeOf(workflowMetaOf(C)) at run time, and so do the fingerprints', async () => {
    for (const wf of r.model.workflows) {
      const shape = await runtimeShape(repo, wf);
      expect(shapeOfModel(wf), wf.name).toEqual(shape);
      expect(wf.fingerprint, wf.name).toBe(fingerprintOf(shape));
    }
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(r.model))).toEqual(r.model);
  });
});

describe('the valid fixtures (aliases, joins, otherwise, nested with context, generic node)', () => {
  let r: AnalysisResult;
  beforeAll(() => {
    r = analyzeProject({ cwd: repo, project: 'test/fixtures/valid/tsconfig.json' });
  });

  it('has no diagnostics', () => {
    expect(r.diagnostics).toEqual([]);
  });

  it('reads an unannotated process that mixes next with hold or abort as Transition<O> (FLX022 before)', () => {
    const wf = r.model.workflows.find((w) => w.name === 'UnannotatedWorkflow')!;
    expect(summary(wf)).toMatchObject({ output: 'string', nodes: ['maybe:node:Maybe:number->number', 'refuse:node:Refuse:number->string'] });
  });

  it('recognises aliased and namespace-imported decorators, and ignores a local decorator named edge', () => {
    const wf = r.model.workflows.find((w) => w.name === 'AliasedWorkflow')!;
    expect(summary(wf)).toMatchObject({
      edges: ['a-success->b', 'a-fallback->c'],
      terminals: ['b', 'c'],
      nodes: ['a:node:Inc:number->number', 'b:node:Show:number->string', 'c:node:Show:number->string'],
    });
    expect(wf.nodes[0].retry).toEqual({ maxAttempts: 2, backoff: 'linear' });
  });

  it('reads joins, timeouts, a custom discriminant, otherwise arms and a nested workflow with a context', () => {
    const sum = r.model.workflows.find((w) => w.name === 'SumWorkflow')!;
    expect(summary(sum)).toEqual({
      start: 'split',
      input: 'number',
      output: 'string',
      context: 'Tally',
      terminals: ['even', 'describe'],
      nodes: [
        'split:node:Split:number->number',
        'collect:node:Collect:readonly number[]->number:join',
        'check:node:Check:number->Parity',
        "even:node:Even:{ tag: 'even'; n: number; }->string",
        'describe:node:Describe:Parity->string',
      ],
      edges: ['split-success->collect', 'collect-success->check', 'check-branch(even)->even', 'check-otherwise->describe'],
    });
    expect(sum.discriminant).toBe('tag');
    expect(sum.nodes[1].timeoutMs).toBe(500);
    expect(sum.contextFields).toMatchObject([
      { name: 'seen', strategy: 'sum' },
      { name: 'note', strategy: 'lastWrite' },
    ]);
    const outer = r.model.workflows.find((w) => w.name === 'OuterSumWorkflow')!;
    expect(summary(outer).nodes).toEqual(['inner:workflow:SumWorkflow:number->string', 'last:node:Describe2:string->string']);
  });

  it('fingerprints agree with the run-time registry', async () => {
    for (const wf of r.model.workflows) {
      const shape = await runtimeShape(r.rootDir, wf);
      expect(wf.fingerprint, wf.name).toBe(fingerprintOf(shape));
    }
  });
});

describe('a first build', () => {
  it('accepts a workflow file importing its own not-yet-generated module', () => {
    const r = analyzeProject({ cwd: repo, project: 'test/fixtures/bootstrap/tsconfig.json' });
    expect(r.diagnostics).toEqual([]);
    expect(r.model.workflows.map((w) => w.name)).toEqual(['SelfImportWorkflow']);
  });
});


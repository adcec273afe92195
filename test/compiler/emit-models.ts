/** Hand-built FlowModels for the emitter and writer tests (STYLE rule 2/8: emitters are tested without analysis). */
import type { EdgeModel, FlowModel, NodeModel, WorkflowModel } from '../../compiler/model.js';

const pos = (file: string, line = 1, column = 1) => ({ file, line, column });

export function nodeModel(file: string, name: string, cls: string, extra: Partial<NodeModel> = {}): NodeModel {
  return {
    name,
    kind: 'node',
    class: { name: cls, file },
    inputType: 'unknown',
    outputType: 'unknown',
    contextType: 'unknown',
    join: false,
    position: pos(file),
    ...extra,
  };
}

export function edgeModel(file: string, from: string, to: string, kind: EdgeModel['kind'] = 'success', tag?: string): EdgeModel {
  return tag === undefined ? { from, to, kind, position: pos(file) } : { from, to, kind, tag, position: pos(file) };
}

export function workflowModel(file: string, name: string, parts: Pick<WorkflowModel, 'start' | 'nodes' | 'edges' | 'terminals'> & Partial<WorkflowModel>): WorkflowModel {
  return {
    name,
    class: { name, file },
    position: pos(file),
    discriminant: 'kind',
    contextType: 'undefined',
    contextFields: [],
    inputType: 'unknown',
    outputType: 'unknown',
    fingerprint: '0000000000000000',
    ...parts,
  };
}

const A = 'examples/article.ts';
/** examples/article.ts, as analysis describes it. */
export const articleWorkflow: WorkflowModel = workflowModel(A, 'ArticleWorkflow', {
  start: 'outline',
  context: { name: 'ArticleCtx', file: A, kind: 'class' },
  contextType: 'ArticleCtx',
  contextFields: [
    { name: 'log', strategy: 'append' },
    { name: 'llmCalls', strategy: 'sum' },
  ],
  inputType: 'string',
  outputType: 'string',
  nodes: [
    nodeModel(A, 'outline', 'Outline'),
    nodeModel(A, 'draft', 'Draft', { retry: { maxAttempts: 3, backoff: 'exponential', initialDelayMs: 10 } }),
    nodeModel(A, 'review', 'Review'),
    nodeModel(A, 'apology', 'Apology'),
  ],
  edges: [edgeModel(A, 'outline', 'draft'), edgeModel(A, 'draft', 'review'), edgeModel(A, 'draft', 'apology', 'fallback')],
  terminals: ['review', 'apology'],
  fingerprint: '7c0e40b241f166c2',
});

const N = 'examples/nested.ts';
export const innerWorkflow = workflowModel(N, 'InnerWorkflow', {
  start: 'double',
  nodes: [nodeModel(N, 'double', 'Double'), nodeModel(N, 'addTen', 'AddTen')],
  edges: [edgeModel(N, 'double', 'addTen')],
  terminals: ['addTen'],
});
export const outerWorkflow = workflowModel(N, 'OuterWorkflow', {
  start: 'inner',
  nodes: [nodeModel(N, 'inner', 'InnerWorkflow', { kind: 'workflow' }), nodeModel(N, 'print', 'PrintNode')],
  edges: [edgeModel(N, 'inner', 'print')],
  terminals: ['print'],
});

const B = 'src/flows/branch.ts';
/** A branch with an `otherwise` arm, a join, a timeout and a nested workflow declared in another file. */
export const branchWorkflow = workflowModel(B, 'Router', {
  start: 'classify',
  discriminant: 'type',
  nodes: [
    nodeModel(B, 'classify', 'Classify', { timeoutMs: 250 }),
    nodeModel(B, 'small', 'Small'),
    nodeModel(B, 'other', 'Other', { retry: { maxAttempts: 2, retryOn: ['NodeTimeoutError'] } }),
    nodeModel(B, 'sub', 'SubFlow', { kind: 'workflow', class: { name: 'SubFlow', file: 'src/sub/sub.ts' } }),
    nodeModel(B, 'collect', 'Collect', { join: true }),
  ],
  edges: [
    edgeModel(B, 'classify', 'small', 'branch', 'small'),
    edgeModel(B, 'classify', 'sub', 'branch', 'big "one"'),
    edgeModel(B, 'classify', 'other', 'otherwise'),
    edgeModel(B, 'small', 'collect'),
    edgeModel(B, 'sub', 'collect'),
    edgeModel(B, 'other', 'collect'),
  ],
  terminals: ['collect'],
});

export const flowModel = (...workflows: WorkflowModel[]): FlowModel => ({ version: 1, workflows });

const S = 'src/approval.ts';
/** A wait with a timeout route and a sleep: ask -> approval (WaitFor 'approval') -> remind (Sleep) -> decide; approval's fallback escalate. */
export const waitingWorkflow = workflowModel(S, 'Approval', {
  start: 'ask',
  nodes: [
    nodeModel(S, 'ask', 'Ask'),
    nodeModel(S, 'approval', 'WaitFor', { wait: { signal: 'approval' } }),
    nodeModel(S, 'remind', 'Sleep', { sleep: true }),
    nodeModel(S, 'decide', 'Decide'),
    nodeModel(S, 'escalate', 'Escalate'),
  ],
  edges: [edgeModel(S, 'ask', 'approval'), edgeModel(S, 'approval', 'remind'), edgeModel(S, 'approval', 'escalate', 'fallback'), edgeModel(S, 'remind', 'decide')],
  terminals: ['decide', 'escalate'],
});

/** Type expressions shared by the emitters: a node's input and output, written without printing user types. */
import type { EdgeModel, NodeModel, WorkflowModel } from '../model.js';
import type { SignalOfModel } from '../signals.js';
import { tsString } from './literals.js';
import type { ImportList } from './scope.js';

/** The input type of node `n` of `wf`: `InputOf<W['n']>`, or `WorkflowInputOf<typeof InnerDef>` for a nested workflow. */
export function nodeInputType(wf: WorkflowModel, n: NodeModel, imports: ImportList): string {
  if (n.kind === 'workflow') return `${imports.runtime('WorkflowInputOf', true)}<typeof ${imports.workflowDef(n.class, true)}>`;
  return `${imports.runtime('InputOf', true)}<${imports.userClass(wf.class, true)}[${tsString(n.name)}]>`;
}

/** The output type of node `n` of `wf` (see {@link nodeInputType}). */
export function nodeOutputType(wf: WorkflowModel, n: NodeModel, imports: ImportList): string {
  if (n.kind === 'workflow') return `${imports.runtime('WorkflowOutputOf', true)}<typeof ${imports.workflowDef(n.class, true)}>`;
  return `${imports.runtime('OutputOf', true)}<${imports.userClass(wf.class, true)}[${tsString(n.name)}]>`;
}

/** The node named `name`; the model is inconsistent when it is missing (analysis reports that before emission). */
export function nodeOrThrow(wf: WorkflowModel, name: string): NodeModel {
  const n = wf.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`workflow ${wf.name} has no node ${JSON.stringify(name)}`);
  return n;
}

/**
 * The payload type of a signal where `source` waits for it: what the `WaitFor` node's check takes
 * (`SignalPayloadOf`: a schema's input, a type guard's type), or the nested workflow's signal type.
 */
export function signalPayloadType(wf: WorkflowModel, source: SignalOfModel['nodes'][number], imports: ImportList): string {
  if (source.inner === undefined) return `${imports.runtime('SignalPayloadOf', true)}<${imports.userClass(wf.class, true)}[${tsString(source.node.name)}]>`;
  return `${imports.runtime('WorkflowSignalsOf', true)}<typeof ${imports.workflowDef(source.node.class, true)}>[${tsString(source.inner)}]`;
}

/**
 * What the graphs print with a node that parks its item: the signal a `WaitFor` waits for, or that a `Sleep` sleeps
 * (words, not symbols: Graphviz and the fonts an SVG is shown with often lack clock glyphs); undefined otherwise.
 */
export function parkingLabel(n: Pick<NodeModel, 'wait' | 'sleep'>): string | undefined {
  if (n.wait) return `waits for signal ${n.wait.signal}`;
  if (n.sleep) return 'sleeps on a durable timer';
  return undefined;
}

/** True for the fallback edge of a `WaitFor` node: the route its timeout takes (a wait fails only by timing out). */
export function isTimeoutRoute(wf: { readonly nodes: ReadonlyArray<Pick<NodeModel, 'name' | 'wait'>> }, e: Pick<EdgeModel, 'kind' | 'from'>): boolean {
  return e.kind === 'fallback' && wf.nodes.some((n) => n.name === e.from && n.wait !== undefined);
}

/** Type expressions shared by the emitters: a node's input and output, written without printing user types. */
import type { NodeModel, WorkflowModel } from '../model.js';
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

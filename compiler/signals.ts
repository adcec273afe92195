/**
 * A workflow's signal map, as names (the one rule for it, used by the analysis for a nested workflow's summary and by
 * the emitters for `XSignals`, `XSignalNames` and the definition's `signals`; the runtime's `signalNodesOf` in
 * runtime/nodes/wait.ts makes the same names from an instance).
 */
import type { NodeModel, WorkflowModel } from './model.js';

/**
 * One signal of a workflow: its name and where it is waited for (declaration order): a `WaitFor` node, or a nested
 * workflow node with the name the signal has in the nested workflow's own map (`inner`).
 */
export interface SignalOfModel {
  name: string;
  nodes: Array<{ node: NodeModel; inner?: string }>;
}

/**
 * The signals a workflow waits for, sorted by name (the one rule for its signal map): its `WaitFor` nodes' names,
 * and each nested workflow's signals as `<node>.<name>` (the runtime's `signalNodesOf` makes the same names).
 */
export function signalsOf(wf: WorkflowModel): SignalOfModel[] {
  const byName = new Map<string, SignalOfModel['nodes']>();
  const add = (name: string, source: SignalOfModel['nodes'][number]) => {
    const list = byName.get(name) ?? [];
    list.push(source);
    byName.set(name, list);
  };
  for (const n of wf.nodes) {
    if (n.wait) add(n.wait.signal, { node: n });
    for (const inner of n.signals ?? []) add(`${n.name}.${inner}`, { node: n, inner });
  }
  return [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, nodes]) => ({ name, nodes }));
}

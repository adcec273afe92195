/**
 * Checks of the graph's shape (on graphlib's algorithms: `../graph-checks.ts`): the workflow has a terminal node
 * (FLX019), the start reaches every node (FLX030), and no cycle the start reaches lacks a way out to a terminal
 * (FLX019). Not reported when an edge leads to a field that is not a node: that (FLX010/FLX021) is the root cause
(and it may be a node's way out, or the way to a node that looks unreachable).
 */
import { graphProblems } from '../graph-checks.js';
import type { ResolvedWorkflow } from '../resolve.js';
import type { CheckContext } from './report.js';

export function checkReachability(w: ResolvedWorkflow, { report }: CheckContext): void {
  const { raw, nodes, order, terminals, start, danglingEdge } = w;
  const wfName = raw.name;
  if (nodes.size > 0 && terminals.length === 0 && !danglingEdge) report('FLX019', raw.nameNode, `workflow ${wfName} has no terminal node (every node has success edges or branch arms)`);
  const shape = graphProblems({
    nodes: order.map((f) => f.name),
    edges: order.flatMap((f) => f.edges.filter((e) => nodes.has(e.to)).map((e) => ({ from: f.name, to: e.to }))),
    start: nodes.has(start) ? start : undefined,
    terminals,
  });
  // an edge to a field that is not a node (or to no field) may be the way to a node that looks unreachable
  if (!danglingEdge) for (const f of order) if (shape.unreachable.includes(f.name)) report('FLX030', f.nameNode, `node ${f.name} of ${wfName} is unreachable from the start ${start}`);
  if (terminals.length > 0 && !danglingEdge) {
    for (const cycle of shape.closedCycles) {
      report('FLX019', w.fieldsByName.get(cycle[0])!.nameNode, `nodes ${cycle.join(', ')} of ${wfName} form a cycle with no way out to a terminal node: a run that enters it never completes`, 'give a node of the cycle an edge (or a branch arm) that leads to a terminal node');
    }
  }
}

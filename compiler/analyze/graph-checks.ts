/**
 * The checks of a workflow's graph shape, on graphlib's algorithms: which nodes the start reaches (FLX030 for the
 * others), and the cycles a run can enter but never leave for a terminal (FLX019). Edges of every kind count as a
 * way on (a fallback too: a run that fails out of a loop still finishes).
 */
import { alg, Graph } from '@dagrejs/graphlib';

/** A workflow graph: node names in declaration order, edges between nodes, the start and the terminals. */
export interface GraphShape {
  nodes: readonly string[];
  edges: ReadonlyArray<{ from: string; to: string }>;
  start: string | undefined;
  terminals: readonly string[];
}

export interface GraphProblems {
  /** Nodes the start does not reach (declaration order); empty without a start. */
  unreachable: string[];
  /**
   * Cycles the start reaches that have no edge out and no terminal: a run that enters one never completes. Each
   * lists its nodes in declaration order.
   */
  closedCycles: string[][];
}

export function graphProblems(shape: GraphShape): GraphProblems {
  const g = new Graph({ directed: true });
  for (const n of shape.nodes) g.setNode(n);
  for (const e of shape.edges) g.setEdge(e.from, e.to);
  if (shape.start === undefined || !g.hasNode(shape.start)) return { unreachable: [], closedCycles: [] };
  const reached = new Set(alg.preorder(g, [shape.start]));
  const order = new Map(shape.nodes.map((n, i) => [n, i]));
  const terminals = new Set(shape.terminals);
  const closedCycles: string[][] = [];
  for (const component of alg.tarjan(g)) {
    const members = new Set(component);
    const isCycle = component.length > 1 || g.hasEdge(component[0], component[0]);
    if (!isCycle || !reached.has(component[0]) || component.some((n) => terminals.has(n))) continue;
    if (component.some((n) => (g.successors(n) ?? []).some((w) => !members.has(w)))) continue;
    closedCycles.push(component.sort((a, b) => order.get(a)! - order.get(b)!));
  }
  closedCycles.sort((a, b) => order.get(a[0])! - order.get(b[0])!);
  return { unreachable: shape.nodes.filter((n) => !reached.has(n)), closedCycles };
}

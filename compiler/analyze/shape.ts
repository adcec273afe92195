/**
 * The graph shape of a workflow model: what `graphShapeOf(workflowMetaOf(Class))` computes at run time from the
 * decorator registry, computed from the static model instead. Both feed `fingerprintOf`; they must agree.
 */
import { canonicalShape, normalizeRetry, type GraphShape } from '../../runtime/graph/shape.js';
import type { WorkflowModel } from '../model.js';

/**
 * The canonical graph shape of `wf`. Like the runtime registry, the node list holds the start, every field that
 * carries a floxide field decorator (an edge source, or `@retry`/`@timeout`/`@join`) and every edge target; an
 * undecorated, unreferenced field is not part of the shape.
 */
export function shapeOfModel(wf: WorkflowModel): GraphShape {
  const nodes = [wf.start];
  for (const n of wf.nodes) if (n.retry || n.timeoutMs !== undefined || n.join) nodes.push(n.name);
  for (const e of wf.edges) nodes.push(e.from, e.to);
  return canonicalShape({
    workflow: wf.name,
    start: wf.start,
    discriminant: wf.discriminant,
    nodes,
    edges: wf.edges.map((e) => (e.tag === undefined ? { from: e.from, to: e.to, kind: e.kind } : { from: e.from, to: e.to, kind: e.kind, tag: e.tag })),
    retry: wf.nodes.filter((n) => n.retry).map((n) => [n.name, normalizeRetry(n.retry!)] as GraphShape['retry'][number]),
    timeouts: wf.nodes.filter((n) => n.timeoutMs !== undefined).map((n) => [n.name, n.timeoutMs!] as [string, number]),
    joins: wf.nodes.filter((n) => n.join).map((n) => n.name),
    merges: wf.contextFields.map((f) => [f.name, f.strategy]),
  });
}

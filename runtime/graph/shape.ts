/**
 * The canonical shape of a workflow graph and its fingerprint. The compiler computes it from the static model,
 * the runtime from the decorator registry; a generated module whose fingerprint differs from its source's is
 * stale, and a checkpoint written under another fingerprint belongs to another graph.
 */
import { createHash } from 'node:crypto';
import { mergeStrategiesOf, type MergeStrategyName, type RetryOptions, type WorkflowMeta } from './decorators.js';

export type EdgeKind = 'success' | 'fallback' | 'branch' | 'otherwise';

export interface EdgeShape {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The branch tag, for `branch` edges. */
  tag?: string;
}

/** Everything that makes two graphs the same graph, in a canonical order. */
export interface GraphShape {
  workflow: string;
  start: string;
  discriminant: string;
  /** Sorted: the start, every decorated field and every edge target. */
  nodes: string[];
  /** Sorted by (from, kind, tag, to). */
  edges: EdgeShape[];
  /** Sorted by node; options normalised with their defaults. */
  retry: Array<[string, Required<Omit<RetryOptions, 'retryOn'>> & { retryOn: string[] | null }]>;
  timeouts: Array<[string, number]>;
  joins: string[];
  /**
   * The context fields' merge strategies, sorted by field; `lastWrite` (a field's default) is left out, and so is
   * the whole entry when no field has another strategy (such graphs keep the fingerprints they had before it).
   */
  merges?: Array<[string, MergeStrategyName]>;
}

/** Fills a retry policy's defaults (the values the engine uses when an option is omitted). */
export function normalizeRetry(r: Omit<RetryOptions, 'retryOn'> & { retryOn?: string[] | null }): Required<Omit<RetryOptions, 'retryOn'>> & { retryOn: string[] | null } {
  return {
    maxAttempts: r.maxAttempts,
    backoff: r.backoff ?? 'exponential',
    initialDelayMs: r.initialDelayMs ?? 100,
    maxDelayMs: r.maxDelayMs ?? 30_000,
    jitterMs: r.jitterMs ?? 0,
    retryOn: r.retryOn ? [...r.retryOn] : null,
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Puts a shape's parts in canonical order (idempotent). */
export function canonicalShape(s: GraphShape): GraphShape {
  const kindOrder: Record<EdgeKind, number> = { success: 0, fallback: 1, branch: 2, otherwise: 3 };
  return {
    workflow: s.workflow,
    start: s.start,
    discriminant: s.discriminant,
    nodes: [...new Set(s.nodes)].sort(cmp),
    edges: [...s.edges]
      .map((e) => (e.tag === undefined ? { from: e.from, to: e.to, kind: e.kind } : { from: e.from, to: e.to, kind: e.kind, tag: e.tag }))
      .sort((a, b) => cmp(a.from, b.from) || kindOrder[a.kind] - kindOrder[b.kind] || cmp(a.tag ?? '', b.tag ?? '') || cmp(a.to, b.to)),
    retry: [...s.retry].map(([n, r]) => [n, normalizeRetry(r)] as GraphShape['retry'][number]).sort((a, b) => cmp(a[0], b[0])),
    timeouts: [...s.timeouts].sort((a, b) => cmp(a[0], b[0])),
    joins: [...s.joins].sort(cmp),
    ...mergesPart(s.merges ?? []),
  };
}

/** The `merges` entry of a canonical shape: the strategies other than `lastWrite`, by field; none when there are none. */
function mergesPart(merges: ReadonlyArray<readonly [string, MergeStrategyName]>): Pick<GraphShape, 'merges'> {
  const kept = merges.filter(([, s]) => s !== 'lastWrite').map(([n, s]) => [n, s] as [string, MergeStrategyName]);
  return kept.length > 0 ? { merges: kept.sort((a, b) => cmp(a[0], b[0])) } : {};
}

/** The graph fingerprint: 16 hex digits of the SHA-256 of the canonical shape. */
export function fingerprintOf(shape: GraphShape): string {
  return createHash('sha256').update(JSON.stringify(canonicalShape(shape))).digest('hex').slice(0, 16);
}

/**
 * The shape as the decorators recorded it at run time. `context` is the context class whose `@merge.*` strategies
 * count: the `context:` option's by default; a context class inferred from the nodes' types (no option) is known only
 * to the compiler, so the engine passes the generated module's `contextClass`.
 */
export function graphShapeOf(meta: WorkflowMeta, context: WorkflowMeta['options']['context'] = meta.options.context): GraphShape {
  const nodes = [meta.options.start];
  const edges: EdgeShape[] = [];
  const retry: GraphShape['retry'] = [];
  const timeouts: GraphShape['timeouts'] = [];
  const joins: string[] = [];
  for (const [name, f] of meta.fields) {
    nodes.push(name);
    for (const to of f.success) edges.push({ from: name, to, kind: 'success' });
    for (const to of f.fallbacks) edges.push({ from: name, to, kind: 'fallback' });
    for (const arm of f.arms) for (const to of arm.targets) edges.push({ from: name, to, kind: 'branch', tag: arm.tag });
    for (const to of f.otherwise) edges.push({ from: name, to, kind: 'otherwise' });
    if (f.retry) retry.push([name, normalizeRetry(f.retry)]);
    if (f.timeoutMs !== undefined) timeouts.push([name, f.timeoutMs]);
    if (f.join) joins.push(name);
  }
  for (const e of edges) nodes.push(e.to);
  return canonicalShape({
    workflow: meta.name,
    start: meta.options.start,
    discriminant: meta.options.discriminant ?? 'kind',
    nodes,
    edges,
    retry,
    timeouts,
    joins,
    merges: context ? [...mergeStrategiesOf(context)].map(([n, m]) => [n, m.strategy]) : [],
  });
}

/**
 * What a change of graph does to in-flight runs: a pure comparison of a recorded version with another (the graph
 * being built, or a migration's target). A run of the old version holds items queued for its nodes (with inputs of
 * the old types), join arrivals parked for its join nodes (counted by the old fan-out), and a context whose stored
 * deltas were written under the old merge strategies. A change is safe when all of that still means the same in the
 * new graph: node code changed, a node or edge added, an input type widened, the start moved. It is not when a
 * node that may hold queued items is gone (removed, or renamed without saying so), an input type is narrowed, a
 * join's fan-out changed, a context field's merge strategy changed, a `WaitFor` node whose items may be parked
 * waiting for a signal waits for another one, or no longer waits, or a nested workflow node whose items may hold a
 * parked nested run (its workflow waits or sleeps) runs another workflow, or none, or its workflow's graph changed
 * unsafely for the nested runs parked there (versions recorded before the record kept node kinds, or nested
 * workflows' classes and versions, say nothing of them: no such change is found against them).
 */
import type { GraphVersion, VersionNode } from './record.js';
import { inputDiffers, inputsShown } from './graph-version.js';

export type VersionChangeKind =
  /** A node of the old version is not in the new one (removed, or renamed without a rename given). */
  | 'node-removed'
  /** A node of the new version was not in the old one. */
  | 'node-added'
  /** A node's input type changed: `safe` when every old input is still accepted (widened). */
  | 'input-changed'
  /** A join node's incoming edges, or whether the node is a join, changed. */
  | 'join-changed'
  /** A context field's merge strategy changed. */
  | 'merge-changed'
  /** A `WaitFor` node of the old version waits for another signal, or no longer waits. */
  | 'wait-changed'
  /**
   * A nested workflow node of the old version whose runs can park runs another workflow, or none, or its workflow's
   * graph changed in a way that breaks the nested runs parked there.
   */
  | 'nested-changed'
  /** A context field was added or removed. */
  | 'field-changed'
  /** The workflow starts at another node (runs in flight have started). */
  | 'start-changed'
  | 'edge-added'
  | 'edge-removed';

/** One difference between two versions, judged for the runs in flight on the old one. */
export interface VersionChange {
  kind: VersionChangeKind;
  /** True when runs of the old version can continue on the new graph despite it. */
  safe: boolean;
  /** The node it is about, named as in the new version (as in the old one for `node-removed`). */
  node?: string;
  /** The context field it is about. */
  field?: string;
  /** For `node-removed`: a node of the new version that looks like its new name (same input type, added). */
  renameGuess?: string;
  /** One clause, e.g. `node draft removed`. */
  text: string;
}

/** Answers whether a node's old input type is assignable to its new one (only asked when the texts differ). */
export type InputCompatibility = (oldNode: VersionNode, newNode: VersionNode) => boolean;

/**
 * The changes between two versions of nested workflow `workflow` (its class in `file`), or undefined when one of them
 * is not known (not on record).
 */
export type NestedVersions = (workflow: string, file: string, from: string, to: string) => readonly VersionChange[] | undefined;

export interface CompareOptions {
  /** Old node name -> new node name, for nodes renamed between the versions. */
  renames?: ReadonlyMap<string, string>;
  accepts: InputCompatibility;
  /**
   * Judges a nested workflow that can park whose graph changed: its unsafe changes break the nested runs parked in
   * the outer items (which stay on the outer version, whose id does not cover the nested graph). Without it, such a
   * change is not judged.
   */
  nested?: NestedVersions;
}

const edgeKey = (e: { from: string; to: string; kind: string; tag?: string }) =>
  e.kind === 'success' ? `${e.from} -> ${e.to}` : `${e.from} -${e.kind === 'branch' ? `when ${e.tag}` : e.kind}-> ${e.to}`;

/**
 * The added node that most likely is `old` under a new name: one with the same input type, preferring the one that
 * keeps most of `old`'s edges; undefined when there is no single best.
 */
function renameGuess(old: VersionNode, added: readonly VersionNode[], from: GraphVersion, to: GraphVersion): string | undefined {
  const newEdges = new Set(to.edges.map(edgeKey));
  const scored = added
    .filter((n) => n.input === old.input)
    .map((n) => {
      const as = (x: string) => (x === old.name ? n.name : x);
      return { name: n.name, kept: from.edges.filter((e) => (e.from === old.name || e.to === old.name) && newEdges.has(edgeKey({ ...e, from: as(e.from), to: as(e.to) }))).length };
    })
    .sort((a, b) => b.kept - a.kept);
  if (scored.length === 0 || (scored.length > 1 && scored[0].kept === scored[1].kept)) return undefined;
  return scored[0].name;
}

/**
 * What breaks the nested runs parked at a node whose old version nests a workflow that can park (the text of its
 * `nested-changed` change), or undefined: the node runs another workflow or none, or its workflow's graph changed
 * unsafely (judged by `nested`, when the versions are known).
 */
function nestedChange(old: VersionNode, now: VersionNode, label: string, nested: NestedVersions | undefined): string | undefined {
  if (old.kind !== 'workflow' || !old.parks || old.workflow === undefined) return undefined;
  if (now.kind !== 'workflow') return `${label} no longer runs nested workflow ${old.workflow}`;
  if (now.workflow !== old.workflow) return `${label} runs nested workflow ${now.workflow}, not ${old.workflow}`;
  if (old.version === undefined || now.version === undefined || now.version === old.version) return undefined;
  const unsafe = nested?.(old.workflow, now.file, old.version, now.version)?.filter((c) => !c.safe) ?? [];
  if (unsafe.length === 0) return undefined;
  return `${label}: nested workflow ${old.workflow} changed from version ${old.version} to ${now.version} (${unsafe.map((c) => c.text).join('; ')})`;
}

/** Every difference between `from` (recorded, with runs in flight) and `to`, in a stable order. */
export function compareVersions(from: GraphVersion, to: GraphVersion, opts: CompareOptions): VersionChange[] {
  const renames = opts.renames ?? new Map<string, string>();
  const rename = (n: string) => renames.get(n) ?? n;
  const toNodes = new Map(to.nodes.map((n) => [n.name, n]));
  const mapped = new Set(from.nodes.map((n) => rename(n.name)));
  const changes: VersionChange[] = [];

  if (rename(from.start) !== to.start) changes.push({ kind: 'start-changed', safe: true, node: to.start, text: `start changed from ${from.start} to ${to.start}` });
  const added = to.nodes.filter((n) => !mapped.has(n.name));
  for (const old of from.nodes) {
    const now = toNodes.get(rename(old.name));
    if (!now) {
      const guess = renameGuess(old, added, from, to);
      changes.push({
        kind: 'node-removed',
        safe: false,
        node: old.name,
        ...(guess ? { renameGuess: guess } : {}),
        text: `node ${old.name} ${guess ? `removed (renamed to ${guess}?)` : 'removed'}`,
      });
      continue;
    }
    const label = now.name === old.name ? `node ${now.name}` : `node ${old.name} (now ${now.name})`;
    if (inputDiffers(old, now)) {
      const widened = opts.accepts(old, now);
      const [was, is] = inputsShown(old, now);
      changes.push({
        kind: 'input-changed',
        safe: widened,
        node: now.name,
        text: `${label}: input ${widened ? 'widened' : 'changed'} from ${was} to ${is}`,
      });
    }
    if (Boolean(now.join) !== Boolean(old.join)) {
      changes.push({ kind: 'join-changed', safe: false, node: now.name, text: `${label} ${now.join ? 'became' : 'is no longer'} a @join()` });
    }
    if (old.kind === 'wait' && (now.kind !== 'wait' || now.signal !== old.signal)) {
      const text = now.kind === 'wait' ? `${label} waits for signal ${now.signal}, not ${old.signal}` : `${label} no longer waits for signal ${old.signal}`;
      changes.push({ kind: 'wait-changed', safe: false, node: now.name, text });
    }
    const nested = nestedChange(old, now, label, opts.nested);
    if (nested !== undefined) changes.push({ kind: 'nested-changed', safe: false, node: now.name, text: nested });
  }
  for (const n of added) changes.push({ kind: 'node-added', safe: true, node: n.name, text: `node ${n.name} added` });

  const oldEdges = new Map(from.edges.map((e) => [edgeKey({ ...e, from: rename(e.from), to: rename(e.to) }), e]));
  const newEdges = new Map(to.edges.map((e) => [edgeKey(e), e]));
  for (const j of to.nodes.filter((n) => n.join)) {
    const wasJoin = from.nodes.some((n) => n.join && rename(n.name) === j.name);
    if (!wasJoin) continue;
    const into = (edges: Map<string, unknown>) => [...edges.keys()].filter((k) => k.endsWith(`-> ${j.name}`)).sort();
    const before = into(oldEdges);
    const after = into(newEdges);
    if (before.join('\n') !== after.join('\n')) {
      changes.push({ kind: 'join-changed', safe: false, node: j.name, text: `the fan-out into @join() ${j.name} changed (edges in were ${before.join(', ') || 'none'}, now ${after.join(', ') || 'none'})` });
    }
  }
  for (const k of [...newEdges.keys()].filter((k) => !oldEdges.has(k)).sort()) changes.push({ kind: 'edge-added', safe: true, text: `edge ${k} added` });
  for (const k of [...oldEdges.keys()].filter((k) => !newEdges.has(k)).sort()) changes.push({ kind: 'edge-removed', safe: true, text: `edge ${k} removed` });

  const oldFields = new Map(from.context.map((f) => [f.name, f.strategy]));
  const newFields = new Map(to.context.map((f) => [f.name, f.strategy]));
  for (const [name, strategy] of newFields) {
    const was = oldFields.get(name);
    if (was === undefined) changes.push({ kind: 'field-changed', safe: true, field: name, text: `context field ${name} added` });
    else if (was !== strategy) changes.push({ kind: 'merge-changed', safe: false, field: name, text: `context field ${name}: merge strategy ${was} -> ${strategy}` });
  }
  for (const name of oldFields.keys()) if (!newFields.has(name)) changes.push({ kind: 'field-changed', safe: true, field: name, text: `context field ${name} removed` });
  return changes;
}

/**
 * The {@link NestedVersions} judge over the versions `find` knows (`(workflow, file of its class, id)`): compares
 * two known versions of a nested workflow (its own nested workflows judged the same way).
 */
export function nestedJudge(find: (workflow: string, file: string, id: string) => GraphVersion | undefined, accepts: InputCompatibility): NestedVersions {
  const judge: NestedVersions = (workflow, file, from, to) => {
    const a = find(workflow, file, from);
    const b = find(workflow, file, to);
    return a && b ? compareVersions(a, b, { accepts, nested: judge }) : undefined;
  };
  return judge;
}

/** True when runs of `from` can continue on `to` (no unsafe change). */
export function isCompatible(changes: readonly VersionChange[]): boolean {
  return changes.every((c) => c.safe);
}

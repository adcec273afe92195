/**
 * Join settlement, the one rule for every mode and store (see docs/ARCHITECTURE.md "Step semantics"). A store parks
 * join arrivals and, when a group's count reaches its size, enqueues ONE settlement item (id `<group>:join`) that
 * carries the parked arrivals as stored ({@link settlementItemJson}); it decides nothing else. When the engine
 * processes that item, the step core calls {@link settle}: a group with values becomes the join item, run at once
 * under the same id (no extra step); a group whose arrivals all held becomes an empty arrival of the enclosing group
 * (committed like any `continue` outcome), or nothing at the top level (then the no-terminal rule applies).
 */
import { CorruptStateError } from '../core/errors.js';
import type { EngineItem, JoinArrival, JoinFrame } from './types.js';

/**
 * The node name a settlement item shows (in `itemStates`, `pendingWork`) when none of its group's arrivals carried a
 * value: the group becomes an empty arrival of its enclosing group, or nothing. Not an identifier, so no node has it.
 */
export const HELD_GROUP_NODE = '#held';

const JOIN_SUFFIX = ':join';

/** The id of the settlement item (and of the join item it becomes) of fan-out group `group`. */
export function settlementId(group: string): string {
  return group + JOIN_SUFFIX;
}

/** The empty arrival a held item (or one that produced nothing) makes in the innermost group of its frames. */
export function heldArrival(frames: readonly JoinFrame[]): JoinArrival {
  const top = frames[frames.length - 1];
  return { group: top.g, index: top.i, size: top.n, node: undefined, held: true, outer: frames.slice(0, -1) };
}

/** The join item of a group: input = values in index order (holds omitted), the outer frames. `sorted` by index. */
function joinItemFor(node: string, group: string, sorted: readonly JoinArrival[]): EngineItem {
  const outer = sorted[0]?.outer ?? [];
  const input: unknown[] = [];
  for (const a of sorted) if (!a.held) input.push(a.value);
  return outer.length > 0 ? { node, id: settlementId(group), input, join: outer } : { node, id: settlementId(group), input };
}

/**
 * What a complete group of arrivals becomes: the join item (the join node of the first valued arrival in index
 * order, input = the values in index order with holds omitted, id `<group>:join`, the outer frames), or, when every
 * arrival held, an empty arrival for the enclosing group (undefined at the top level).
 */
export function settleJoinGroup(group: string, arrivals: readonly JoinArrival[]): EngineItem | JoinArrival | undefined {
  const sorted = inIndexOrder(arrivals) ? arrivals : [...arrivals].sort((a, b) => a.index - b.index);
  const node = sorted.find((a) => !a.held)?.node;
  if (node !== undefined) return joinItemFor(node, group, sorted);
  const outer = sorted[0]?.outer ?? [];
  return outer.length > 0 ? heldArrival(outer) : undefined;
}

function inIndexOrder(arrivals: readonly JoinArrival[]): boolean {
  for (let i = 1; i < arrivals.length; i++) if (arrivals[i - 1]!.index > arrivals[i]!.index) return false;
  return true;
}

/**
 * {@link settleJoinGroup} for a settlement item as a store handed it back (its id checked by the store).
 * `CorruptStateError` when it carries no arrivals, or one that is not an arrival of its group.
 */
export function settle(item: EngineItem): EngineItem | JoinArrival | undefined {
  const arrivals = item.settle;
  if (!Array.isArray(arrivals) || arrivals.length === 0 || !item.id.endsWith(JOIN_SUFFIX)) {
    throw new CorruptStateError(`settlement item ${JSON.stringify(item.id)} carries no join arrivals`);
  }
  const group = item.id.slice(0, -JOIN_SUFFIX.length);
  for (let i = 0; i < arrivals.length; i++) {
    const a = arrivals[i] as Partial<JoinArrival> | null;
    if (a === null || typeof a !== 'object' || a.group !== group || !Number.isSafeInteger(a.index) || !Array.isArray(a.outer) || (a.held !== true && (a.held !== false || typeof a.node !== 'string'))) {
      throw new CorruptStateError(`settlement item ${item.id}: arrival ${i} is not a join arrival of group ${group}`);
    }
  }
  return settleJoinGroup(group, arrivals);
}

/**
 * The settlement item of a completed group as JSON text, built from the parked arrivals exactly as stored
 * (canonical JSON, `arrivalJson` in commit.ts), concatenated in index order, never decoded:
 * `{"id":"<group>:join","node":...,"settle":[...]}` (canonical: keys in order). `node`: the join node of the first
 * valued arrival parked, or undefined when every arrival held ({@link HELD_GROUP_NODE}). The Lua and SQL stores build
 * the same text (redis/lua/commit-2.lua, postgres/sql/functions/commit_one.sql).
 */
export function settlementItemJson(group: string, node: string | undefined, parked: readonly string[]): string {
  return `{"id":${JSON.stringify(settlementId(group))},"node":${JSON.stringify(node ?? HELD_GROUP_NODE)},"settle":[${parked.join(',')}]}`;
}

/** Parks join arrivals in memory and creates the settlement item when a group completes (the in-memory loop). */
export class JoinBook {
  private readonly groups = new Map<string, { slots: (JoinArrival | undefined)[]; count: number; node: string | undefined }>();

  /** Parks `arrival` (a repeat of a parked index is ignored); returns the settlement item when its group completes. */
  park(a: JoinArrival): EngineItem | undefined {
    let g = this.groups.get(a.group);
    if (!g) {
      g = { slots: new Array<JoinArrival | undefined>(a.size), count: 0, node: undefined };
      this.groups.set(a.group, g);
    }
    if (a.index < 0 || a.index >= g.slots.length) throw new CorruptStateError(`join arrival ${a.index} out of range for group ${a.group}`);
    if (g.slots[a.index] !== undefined) return undefined;
    g.slots[a.index] = a;
    if (!a.held) g.node ??= a.node;
    if (++g.count < g.slots.length) return undefined;
    this.groups.delete(a.group);
    return { node: g.node ?? HELD_GROUP_NODE, id: settlementId(a.group), input: undefined, settle: g.slots as JoinArrival[] };
  }

  /** The arrivals parked in groups that have not completed (what a parked nested run keeps: park them again to restore). */
  arrivals(): JoinArrival[] {
    const out: JoinArrival[] = [];
    for (const g of this.groups.values()) for (const a of g.slots) if (a !== undefined) out.push(a);
    return out;
  }

  /** Arrivals parked in groups that have not completed. */
  get pending(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.count;
    return n;
  }
}

/**
 * Parked arrivals kept as stored JSON text, for the stores that keep them in process memory (the local memory
 * checkpoint store, the distributed memory backend): count per group, and the settlement item's JSON when a group
 * completes. The SQLite, Redis and Postgres stores do the same in SQL and Lua.
 */
export class ParkedGroups {
  private readonly groups = new Map<string, { readonly size: number; node: string | undefined; readonly parked: Map<number, string> }>();

  /** The size of `group` when it has parked arrivals. */
  sizeOf(group: string): number | undefined {
    return this.groups.get(group)?.size;
  }

  /**
   * Parks an arrival (`node`: its join node, undefined for a hold; `json`: its stored form). A repeat of a parked
   * index is ignored. Returns the settlement item's JSON when this arrival completed its group.
   */
  park(a: { readonly group: string; readonly index: number; readonly size: number; readonly node: string | undefined; readonly json: string }): string | undefined {
    let g = this.groups.get(a.group);
    if (!g) {
      g = { size: a.size, node: undefined, parked: new Map() };
      this.groups.set(a.group, g);
    }
    if (g.parked.has(a.index)) return undefined;
    g.parked.set(a.index, a.json);
    if (a.node !== undefined) g.node ??= a.node;
    if (g.parked.size < g.size) return undefined;
    this.groups.delete(a.group);
    const parked = [...g.parked.entries()].sort((x, y) => x[0] - y[0]).map((e) => e[1]);
    return settlementItemJson(a.group, g.node, parked);
  }

  /** Every parked arrival's JSON, by group then index. */
  parkedJson(): string[] {
    const out: string[] = [];
    for (const g of this.groups.values()) for (const [, j] of [...g.parked.entries()].sort((x, y) => x[0] - y[0])) out.push(j);
    return out;
  }

  /** Each parked arrival's group and join node (the group's, undefined while only holds are parked), by group then index. */
  groupNodes(): Array<{ group: string; node: string | undefined }> {
    const out: Array<{ group: string; node: string | undefined }> = [];
    for (const [group, g] of this.groups) for (let i = 0; i < g.parked.size; i++) out.push({ group, node: g.node });
    return out;
  }

  clear(): void {
    this.groups.clear();
  }
}

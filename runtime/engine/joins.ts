/**
 * Join settlement: when every arrival of a fan-out group is parked, what the group becomes. One rule for every
 * mode and store (see docs/ARCHITECTURE.md "Step semantics").
 */
import { CorruptStateError } from '../core/errors.js';
import type { EngineItem, JoinArrival, JoinFrame } from './types.js';

/** The empty arrival a held item (or one that produced nothing) makes in the innermost group of its frames. */
export function heldArrival(frames: readonly JoinFrame[]): JoinArrival {
  const top = frames[frames.length - 1];
  return { group: top.g, index: top.i, size: top.n, node: undefined, held: true, outer: frames.slice(0, -1) };
}

/** The join item created once every arrival of a group is parked: input = values in index order, holds omitted. */
export function joinItemFor(node: string, group: string, arrivals: readonly JoinArrival[]): EngineItem {
  const sorted = [...arrivals].sort((a, b) => a.index - b.index);
  const outer = sorted[0]?.outer ?? [];
  const input = sorted.filter((a) => !a.held).map((a) => a.value);
  const item: EngineItem = outer.length > 0 ? { node, id: `${group}:join`, input, join: outer } : { node, id: `${group}:join`, input };
  return item;
}


/**
 * What a complete group of arrivals becomes: the join item (values in index order, holds omitted, the outer
 * frames), or, when every arrival held, an empty arrival for the enclosing group (undefined at the top level).
 */
export function settleJoinGroup(group: string, arrivals: readonly JoinArrival[]): EngineItem | JoinArrival | undefined {
  const node = arrivals.find((a) => !a.held)?.node;
  if (node !== undefined) return joinItemFor(node, group, arrivals);
  const outer = arrivals[0]?.outer ?? [];
  return outer.length > 0 ? heldArrival(outer) : undefined;
}

/** Parks join arrivals in memory and creates join items when groups complete (memory loop and memory store). */
export class JoinBook {
  private readonly groups = new Map<string, { slots: (JoinArrival | undefined)[]; count: number }>();

  /** Parks `arrival`; returns the join item when its group (or an enclosing one, through holds) completes. */
  park(arrival: JoinArrival): EngineItem | undefined {
    let cur: JoinArrival | undefined = arrival;
    while (cur) {
      let g = this.groups.get(cur.group);
      if (!g) {
        g = { slots: new Array<JoinArrival | undefined>(cur.size), count: 0 };
        this.groups.set(cur.group, g);
      }
      if (cur.index < 0 || cur.index >= g.slots.length) throw new CorruptStateError(`join arrival ${cur.index} out of range for group ${cur.group}`);
      if (g.slots[cur.index] !== undefined) return undefined;
      g.slots[cur.index] = cur;
      g.count++;
      if (g.count < g.slots.length) return undefined;
      this.groups.delete(cur.group);
      const r = settleJoinGroup(cur.group, g.slots as JoinArrival[]);
      if (r === undefined) return undefined;
      if (!('group' in r)) return r;
      cur = r;
    }
    return undefined;
  }

  /** Arrivals parked in groups that have not completed. */
  get pending(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.count;
    return n;
  }

  /** The parked arrivals (for persistence). */
  arrivals(): JoinArrival[] {
    const out: JoinArrival[] = [];
    for (const g of this.groups.values()) for (const a of g.slots) if (a) out.push(a);
    return out;
  }
}


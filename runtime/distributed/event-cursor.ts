/**
 * Event cursors of the stores that keep events in groups (a Redis stream entry per script call, a Postgres row per
 * run and transaction): an event's cursor is its group's position when it is the group's last event, else the
 * position and its index in the group (`<position>.<k>`, from 0), so that a subscription resumed there delivers the
 * rest of that group first. A position is the store's own text (a stream entry id, `<tx>-<pos>`).
 */
import { InvalidArgumentError } from '../core/errors.js';

/** The cursor of event `k` of the `count` events of the group at `position`. */
export function groupCursor(position: string, k: number, count: number): string {
  return k === count - 1 ? position : `${position}.${k}`;
}

/** Where a cursor points: a group's position and, inside it, the index of the last event delivered. */
export interface GroupCursor {
  readonly position: string;
  /** Absent: after the whole group. */
  readonly inGroup?: number;
}

/**
 * Parses a cursor whose position matches `position` (a pattern without anchors); anything else is
 * `InvalidArgumentError` naming it.
 */
export function parseGroupCursor(cursor: unknown, position: RegExp): GroupCursor {
  const m = typeof cursor === 'string' ? new RegExp(`^(${position.source})(?:\\.([0-9]{1,6}))?$`).exec(cursor) : null;
  if (!m) throw new InvalidArgumentError(`not an event cursor of this store: ${JSON.stringify(cursor)}`);
  const k = m[m.length - 1];
  return k === undefined ? { position: m[1]! } : { position: m[1]!, inGroup: Number(k) };
}

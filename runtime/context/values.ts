/**
 * The value types a context field can hold with a merge of their own: {@link EventLog} (an append-only, idempotent
 * log) and {@link Fixed} (set once when the run starts).
 */
import { randomUUID } from 'node:crypto';
import { CorruptStateError } from '../core/errors.js';

/** One event of an {@link EventLog}. */
export interface LoggedEvent<E> {
  /** Unique within the log; appending an id twice keeps the first. */
  readonly id: string;
  readonly event: E;
}

/**
 * An append-only event log for a context field (Floxide's `EventLog<E>`), idempotent by event id.
 *
 * Order is deterministic and never depends on a wall clock: events appear in the order their steps committed,
 * and within one step by id. Without an explicit id, an event appended during a step gets the id `<item id>#<n>`
 * (so a replayed step appends nothing new; in a nested workflow, `<outer item id>/<item id>#<n>`); outside a step
 * it gets a random UUID.
 */
export class EventLog<E> {
  private entries: LoggedEvent<E>[];
  private ids: Set<string>;
  /** Set by the engine on a step's working copy: the item id used for default event ids. */
  private stamp: string | undefined = undefined;
  private appended = 0;

  constructor(entries: Iterable<LoggedEvent<E>> = []) {
    this.entries = [];
    this.ids = new Set();
    for (const e of entries) this.add(e);
  }

  /** Appends `event` unless an event with the same id exists. Returns the event's id. */
  append(event: E, id?: string): string {
    const key =
      id ?? (this.stamp !== undefined ? `${this.stamp}#${String(this.appended++).padStart(6, '0')}` : randomUUID());
    this.add({ id: key, event });
    return key;
  }

  /** True when an event with this id was appended. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.entries.length;
  }

  /** A copy of the logged events, in order. */
  iter(): LoggedEvent<E>[] {
    return this.entries.slice();
  }

  /** The bare events, in order. */
  events(): E[] {
    return this.entries.map((e) => e.event);
  }

  /** Folds the events over `initial` in order (Floxide's `apply_all`). */
  applyAll<S>(initial: S, reducer: (state: S, event: E) => S): S {
    let s = initial;
    for (const e of this.entries) s = reducer(s, e.event);
    return s;
  }

  [Symbol.iterator](): Iterator<E> {
    return this.events()[Symbol.iterator]();
  }

  toJSON(): LoggedEvent<E>[] {
    return this.iter();
  }

  private add(e: LoggedEvent<E>): void {
    if (typeof e?.id !== 'string') throw new CorruptStateError('an EventLog entry needs a string id');
    if (this.ids.has(e.id)) return;
    this.ids.add(e.id);
    this.entries.push({ id: e.id, event: e.event });
  }

  /** @internal A copy whose default ids derive from `stamp`. */
  cloneForStep(stamp: string | undefined): EventLog<E> {
    const c = new EventLog<E>();
    c.entries = this.entries.slice();
    c.ids = new Set(this.ids);
    c.stamp = stamp;
    return c;
  }

  /** @internal The entries this log has that `before` lacks, sorted by id (one step's delta). */
  entriesSince(before: EventLog<E> | undefined): LoggedEvent<E>[] {
    const out = before ? this.entries.filter((e) => !before.ids.has(e.id)) : this.entries.slice();
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** @internal Applies one step's delta (already in order). */
  applyEntries(entries: readonly LoggedEvent<E>[]): void {
    for (const e of entries) this.add(e);
  }
}

/** A value set once when the run starts; later writes are ignored by merges (Floxide's `Fixed<T>`). */
export class Fixed<T> {
  constructor(readonly value: T) {}
  get(): T {
    return this.value;
  }
  toJSON(): T {
    return this.value;
  }
}


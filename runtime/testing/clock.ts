/**
 * Virtual time for tests: a {@link Clock} that moves only when the test moves it, so a workflow that retries with a
 * one-hour backoff, times out a node after a minute or has a day-long deadline runs in milliseconds. Pass it as the
 * `clock` option of `run`, `runWithCheckpoint`, `resume`, `stepDistributed` or a `Worker`.
 */
import type { Clock } from '../core/time.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** The clock's start, epoch ms or a Date (default 2026-01-01T00:00:00Z: the same in every run of a test). */
  readonly start?: number | Date;
}

/** Lets the callbacks of settled promises and of I/O that already completed run: a few turns of the event loop. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A clock whose time moves only through {@link advance}, {@link runAll} or {@link until}. Timers fire in time order
 * (then in the order they were set), each followed by a few event-loop turns so the work they wake up runs before
 * the next one fires.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(options: VirtualClockOptions = {}) {
    const start = options.start ?? Date.UTC(2026, 0, 1);
    this.t = start instanceof Date ? start.getTime() : start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  /** Timers set and not yet fired or cancelled. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.t + Math.max(0, ms);
    await settle();
    while (this.fireNext(end)) await settle();
    this.t = end;
  }

  /** Fires timers in time order until none is left (timers they set included), at most `limit` of them. */
  async runAll(limit = 100_000): Promise<void> {
    await settle();
    for (let n = 0; n < limit && this.fireNext(Infinity); n++) await settle();
  }

  /**
   * Awaits `work` (a run, a resume...), moving time to the next timer whenever the process is otherwise idle, and
   * resolves or rejects as `work` does. Time jumps only after a few event-loop turns with nothing else to do, so it
   * suits nodes that compute or use in-memory fakes; with real I/O in flight (a database, the network) a timer could
   * fire before the I/O completes: drive those tests with {@link advance}.
   */
  async until<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const watched = work.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done) {
      await settle();
      if (done) break;
      // Nothing due in virtual time: the work waits on something real (I/O), so give it real time.
      if (!this.fireNext(Infinity)) await Promise.race([watched, new Promise<void>((resolve) => setTimeout(resolve, 1))]);
    }
    return work;
  }

  /** Fires the earliest timer due at or before `end`; false when there is none. */
  private fireNext(end: number): boolean {
    let next: Timer | undefined;
    for (const x of this.timers) if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
    if (!next) return false;
    this.timers = this.timers.filter((x) => x !== next);
    this.t = Math.max(this.t, next.at);
    next.fn();
    return true;
  }
}

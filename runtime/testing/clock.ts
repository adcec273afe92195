/**
 * Virtual time for tests: a {@link Clock} that moves only when the test moves it, so a workflow that retries with a
 * one-hour backoff, times out a node after a minute or has a day-long deadline runs in milliseconds. Pass it as the
 * `clock` option of `run`, `runWithCheckpoint`, `resume`, `stepDistributed` or a `Worker`.
 */
import { FloxideError, InvalidArgumentError } from '../core/errors.js';
import { isEpochMs, type Clock } from '../core/time.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** The clock's start, epoch ms or a Date (default 2026-01-01T00:00:00Z: the same in every run of a test). */
  readonly start?: number | Date;
  /**
   * How long {@link VirtualClock.until} lets a run be idle in real time before it moves virtual time to the next
   * timer (default 0: after a few event-loop turns). Nodes that do real I/O (a database, the network) under a
   * virtual clock need it longer than their I/O takes: otherwise a timer (a node's `@timeout`, a backoff) fires
   * while the query is in flight. Each jump of virtual time then costs up to this much real time.
   */
  readonly idleMs?: number;
}

/** The epoch ms of a start option, or InvalidArgumentError. */
function startOf(start: number | Date | undefined): number {
  const t = start === undefined ? Date.UTC(2026, 0, 1) : start instanceof Date ? start.getTime() : start;
  if (!isEpochMs(t)) throw new InvalidArgumentError(`VirtualClock: start must be epoch ms a Date can hold (|ms| <= 8.64e15) or a valid Date, not ${String(start)}`);
  return t;
}

/** A duration argument, or InvalidArgumentError (a NaN or an Infinity would stop the clock for good). */
function durationOf(what: string, ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new InvalidArgumentError(`VirtualClock.${what}: ms must be a finite number >= 0, not ${String(ms)}`);
  return ms;
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
  private readonly start: number;
  private readonly idleMs: number;
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(options: VirtualClockOptions = {}) {
    this.start = startOf(options.start);
    this.idleMs = options.idleMs === undefined ? 0 : durationOf('idleMs', options.idleMs);
    this.t = this.start;
  }

  /**
   * Back to the start, every timer dropped: a clock as new, for the next scenario of a test (`crashAtEveryStep`
   * resets the clock of its `options` before each scenario, so that every one starts at the same time).
   */
  reset(): void {
    this.t = this.start;
    this.timers = [];
  }

  now(): number {
    return this.t;
  }

  /** `ms` that is not a finite number fires at once (as `setTimeout` does with NaN). */
  setTimer(fn: () => void, ms: number): () => void {
    const timer: Timer = { at: this.t + (Number.isFinite(ms) ? Math.max(0, ms) : 0), seq: this.seq++, fn };
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
    const end = this.t + durationOf('advance', ms);
    await settle();
    while (this.fireNext(end)) await settle();
    this.t = end;
  }

  /**
   * Fires timers in time order until none is left (timers they set included). Throws when `limit` timers fired and
   * some are still left (a timer that sets another forever).
   */
  async runAll(limit = 100_000): Promise<void> {
    await settle();
    for (let n = 0; this.timers.length > 0; n++) {
      if (n >= limit) throw new FloxideError('FLOXIDE_CLOCK_LIMIT', `VirtualClock.runAll fired ${limit} timers and ${this.timers.length} are still pending (a timer that sets another, forever?)`);
      this.fireNext(Infinity);
      await settle();
    }
  }

  /**
   * Awaits `work` (a run, a resume...), moving time to the next timer whenever the process is otherwise idle, and
   * resolves or rejects as `work` does. Time jumps only after a few event-loop turns with nothing else to do, so it
   * suits nodes that compute or use in-memory fakes; with real I/O in flight (a database, the network) a timer could
   * fire before the I/O completes: give the clock an `idleMs` longer than the I/O takes (time then jumps only after
   * that much real time in which no timer was set or cancelled), or drive those tests with {@link advance}.
   */
  async until<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const watched = work.then(
      () => (done = true),
      () => (done = true),
    );
    // (its timer is cleared when the work ends first: a pending one kept the process up for idleMs after the work)
    const realWait = async (ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([watched, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
      clearTimeout(timer);
    };
    while (!done) {
      await settle();
      if (done) break;
      if (this.idleMs > 0 && this.timers.length > 0) {
        // time jumps only once the work has been idle that long: a timer set or cancelled meanwhile (a node that
        // finished its I/O and ended its timeout) shows it was not
        const seq = this.seq;
        const count = this.timers.length;
        await realWait(this.idleMs);
        if (done || this.seq !== seq || this.timers.length !== count) continue;
      }
      // Nothing due in virtual time: the work waits on something real (I/O), so give it real time.
      if (!this.fireNext(Infinity)) await realWait(1);
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

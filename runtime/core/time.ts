/**
 * The one place the engine reads time and waits: a {@link Clock}. Retry backoff, node timeouts, run deadlines and
 * durable sleeps all go through the clock a run is given (default {@link systemClock}), so a test kit can drive
 * virtual time by passing its own. Leases and heartbeats are infrastructure between a worker and its store: they
 * keep wall-clock time.
 */
import { abortReason, InvalidArgumentError } from './errors.js';

/** Reads time and schedules callbacks. */
export interface Clock {
  /** Now, in epoch ms. */
  now(): number;
  /** Calls `fn` once after `ms` (any length: longer than a 32-bit timer is split). Returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** Node's longest single timer (a longer `setTimeout` fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ms` (else `fallback`) as the period of a repeating timer (`setInterval`, a re-read, a heartbeat), which
 * {@link systemClock} cannot stretch: `InvalidArgumentError` unless it is a positive number that, `times` times over,
 * fits one Node timer (0, a negative one or NaN repeated at once, and one past 2^31 - 1 ms after 1 ms: non-stop).
 */
export function timerPeriodMs(ms: number | undefined, fallback: number, what: string, times = 1): number {
  if (ms === undefined) return fallback;
  if (typeof ms !== 'number' || !(ms >= 1) || ms * times > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`${what} must be a number of ms from 1 to ${Math.floor(MAX_TIMER_MS / times)}, got ${String(ms)}`);
  }
  return ms;
}

/** The last time a `Date` can hold (+275760-09-13), in epoch ms: the latest wake-up a store keeps. */
export const MAX_EPOCH_MS = 8.64e15;

/** Whether `ms` is an epoch-millisecond time a `Date` can hold (finite, within +-8.64e15: what every store can read back). */
export function isEpochMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Math.abs(ms) <= MAX_EPOCH_MS;
}

/** How long a run's loop may keep the event loop before it lets timers and I/O callbacks run (see {@link Breath}). */
export const BREATH_MS = 20;

/**
 * A loop of steps that never waits for I/O (nodes that compute, or await only settled promises; better-sqlite3's
 * commits are synchronous) would keep the event loop for the whole run: no timer would fire meanwhile, not the run's
 * deadline, not the claim's heartbeat of a checkpointed run, not the caller's own. A loop asks {@link due} every so
 * many steps (it reads the time) and, when {@link BREATH_MS} have passed since the last breath, awaits {@link take}:
 * one turn of the event loop (expired timers, I/O, then the loop again). Wall-clock time, whatever the run's clock:
 * this is about the process, not the workflow.
 */
export class Breath {
  private last = performance.now();

  due(): boolean {
    return performance.now() - this.last >= BREATH_MS;
  }

  async take(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/** Wall-clock time: `Date.now` and `setTimeout`. */
export const systemClock: Clock = {
  now: Date.now,
  setTimer(fn: () => void, ms: number): () => void {
    let timer: NodeJS.Timeout;
    const arm = (left: number) => {
      timer = left > MAX_TIMER_MS ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    };
    arm(ms);
    return () => clearTimeout(timer);
  },
};

/**
 * Sleeps `ms` on `clock`, or rejects as soon as the signal aborts (the timer is cancelled): with what `reason` makes of
 * the signal, by default {@link abortReason} (a run's cancel, deadline or timeout).
 */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock, reason: (signal: AbortSignal) => Error = abortReason): Promise<void> {
  if (signal?.aborted) return Promise.reject(reason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      cancel();
      reject(reason(signal!));
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `clock` set to read `now` at this instant (its timers unchanged): now() is `clock.now()` plus the difference. A
 * distributed step reads the store's clock this way, from its lease (the store's time of the claim).
 */
export function clockAt(clock: Clock, now: number): Clock {
  const offset = now - clock.now();
  if (offset === 0 || !Number.isFinite(offset)) return clock;
  return { now: () => clock.now() + offset, setTimer: (fn, ms) => clock.setTimer(fn, ms) };
}

/** Calls `fn` once at epoch ms `at` on `clock` (at once, synchronously, when `at` has passed). Returns a canceller. */
export function atTime(clock: Clock, at: number, fn: () => void): () => void {
  const left = at - clock.now();
  if (left <= 0) {
    fn();
    return noop;
  }
  return clock.setTimer(fn, left);
}

function noop(): void {}

/**
 * Argument checks shared by every store and backend (each rejects exactly the same input with the same
 * {@link InvalidArgumentError}).
 */
import { InvalidArgumentError, type SerializedError } from './errors.js';

export function assertPositiveInt(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got ${String(v)}`);
}

export function assertPositiveMs(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive number of milliseconds, got ${String(v)}`);
}

/** Throws {@link InvalidArgumentError} unless `v` is a finite number of milliseconds >= 0. */
export function assertNonNegativeMs(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${what} must be a non-negative number of milliseconds, got ${String(v)}`);
}

/** Default retention of finished runs: 7 days (Redis expires them then; Postgres and a SQLite file purge them). */
export const DEFAULT_RETAIN_FINISHED_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Options of a store's `purgeFinished` (Postgres's `FinishedRunPurger`, a SQLite checkpoint file): which finished runs
 * it deletes, and how many per call.
 */
export interface PurgeOptions {
  /** Delete runs finished at least this long ago (ms, the store's clock). Default: the store's retention (7 days). */
  readonly olderThanMs?: number;
  /** At most this many runs per call (default 1000), so a purge never holds locks for long. */
  readonly limit?: number;
}

/** The checked `olderThanMs` (whole ms, `retainFinishedMs` by default) and `limit` of a `purgeFinished` call. */
export function purgeBounds(options: PurgeOptions, retainFinishedMs: number): { readonly olderThanMs: number; readonly limit: number } {
  const olderThanMs = options.olderThanMs ?? retainFinishedMs;
  assertNonNegativeMs(olderThanMs, 'olderThanMs');
  const limit = options.limit ?? 1000;
  assertPositiveInt(limit, 'limit');
  return { olderThanMs: Math.floor(olderThanMs), limit };
}

/**
 * Options of a read of one of a run's append-only lists (step history, errors, dead letters, context deltas): what a
 * page shows of a long run without reading all of it.
 */
export interface TailOptions {
  /** Only the newest `limit` records (still oldest first); every record when omitted. A positive integer. */
  readonly limit?: number;
}

/** The checked `limit` of a {@link TailOptions} (undefined: every record); `InvalidArgumentError` for any other value. */
export function tailLimit(options: TailOptions | undefined): number | undefined {
  const limit = options?.limit;
  if (limit !== undefined) assertPositiveInt(limit, 'limit');
  return limit;
}

/** The newest `limit` entries of `list`, oldest first (all of them when `limit` is undefined). */
export function tailOf<T>(list: readonly T[], limit: number | undefined): T[] {
  return limit === undefined || limit >= list.length ? list.slice() : list.slice(list.length - limit);
}

export function assertString(v: unknown, what: string): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgumentError(`${what} must be a non-empty string`);
}

/** True when `e` has the shape of a {@link SerializedError}: an object with a string `name` and `message`. */
export function isSerializedError(e: unknown): e is SerializedError {
  return typeof e === 'object' && e !== null && typeof (e as SerializedError).name === 'string' && typeof (e as SerializedError).message === 'string';
}

export function assertSerializedError(e: unknown, what: string): asserts e is SerializedError {
  if (!isSerializedError(e)) throw new InvalidArgumentError(`${what} must be a SerializedError ({ name, message })`);
}

/**
 * Retry policy math and the workflow deadline. Backoff values match Floxide's unit tests (linear 100 ms: 100, 200,
 * 300..., capped; exponential 50 ms: 50, 100, 200, 400, capped) plus a uniform random jitter in [0, jitterMs].
 */
import type { NormalizedRetry } from '../graph/definition.js';
import { InvalidArgumentError, UnrecoverableError, isRunAbortError } from '../core/errors.js';
import { MAX_EPOCH_MS, isEpochMs, systemClock, type Clock } from '../core/time.js';

/**
 * The delay before retrying after failed attempt `attempt` (1-based), in ms.
 * `random` returns a number in [0, 1) (defaults to `Math.random`); the jitter added is `random() * jitterMs`,
 * rounded, so it stays within [0, jitterMs].
 */
export function backoffDelay(policy: NormalizedRetry, attempt: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const base =
    policy.backoff === 'linear' ? policy.initialDelayMs * n : policy.initialDelayMs * 2 ** Math.min(n - 1, 32);
  const capped = Math.min(base, policy.maxDelayMs);
  const jitter = policy.jitterMs > 0 ? Math.round(random() * policy.jitterMs) : 0;
  // no longer than the span a Date holds (a store adds the delay to its now): a longer one waits that long
  return Math.min(capped + jitter, MAX_EPOCH_MS);
}

/** Whether failed attempt `attempt` (1-based) of a node with `policy` should be retried. */
export function shouldRetry(policy: NormalizedRetry | undefined, err: unknown, attempt: number): boolean {
  if (!policy || attempt >= policy.maxAttempts) return false;
  if (isRunAbortError(err) || err instanceof UnrecoverableError) return false;
  if (policy.retryOn === null) return true;
  const name = err instanceof Error ? err.name : undefined;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  return policy.retryOn.some((r) => r === name || r === code);
}

/**
 * The absolute workflow deadline (epoch ms) from run options: `deadline` (epoch ms or Date) wins over `timeoutMs`
 * (from `clock`'s now); undefined when neither is given. Throws {@link InvalidArgumentError} for a non-finite deadline or a
 * negative timeout.
 */
export function absoluteDeadline(options: { deadline?: number | Date; timeoutMs?: number } | undefined, clock: Clock = systemClock): number | undefined {
  if (options?.deadline !== undefined) {
    const d = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
    if (!isEpochMs(d)) throw new InvalidArgumentError(`deadline must be an epoch ms a Date can hold (|ms| <= 8.64e15) or a valid Date, got ${String(d)}`);
    return d;
  }
  if (options?.timeoutMs !== undefined) {
    const d = clock.now() + options.timeoutMs;
    if (!(options.timeoutMs >= 0) || !isEpochMs(d)) throw new InvalidArgumentError(`timeoutMs must be >= 0 and end at a time a Date can hold, got ${String(options.timeoutMs)}`);
    return d;
  }
  return undefined;
}

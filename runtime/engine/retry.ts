/**
 * Retry policy math and cancellable sleeps. Backoff values match Floxide's unit tests (linear 100 ms: 100, 200,
 * 300..., capped; exponential 50 ms: 50, 100, 200, 400, capped) plus a uniform random jitter in [0, jitterMs].
 */
import type { NormalizedRetry } from '../definition.js';
import { CancelledError, DeadlineExceededError, InvalidArgumentError, NodeTimeoutError, UnrecoverableError } from '../errors.js';

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
  return capped + jitter;
}

/** True for the failures that end a run at once: cancellation and the workflow deadline. */
export function isRunAbortError(err: unknown): err is CancelledError | DeadlineExceededError {
  return err instanceof CancelledError || err instanceof DeadlineExceededError;
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
 * Sleeps `ms`, or rejects with `signal.reason` as soon as the signal aborts (the timer is cleared).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The error an abort surfaces as: the signal's reason when it is ours (cancel, deadline, node timeout), else a
 * {@link CancelledError} caused by the foreign reason.
 */
export function abortReason(signal: { readonly reason: unknown }): Error {
  const r: unknown = signal.reason;
  if (isRunAbortError(r) || r instanceof NodeTimeoutError) return r;
  return new CancelledError('the run was cancelled', r === undefined ? undefined : { cause: r });
}

/**
 * The absolute workflow deadline (epoch ms) from run options: `deadline` (epoch ms or Date) wins over `timeoutMs`
 * (from now); undefined when neither is given. Throws {@link InvalidArgumentError} for a non-finite deadline or a
 * negative timeout.
 */
export function absoluteDeadline(options: { deadline?: number | Date; timeoutMs?: number } | undefined): number | undefined {
  if (options?.deadline !== undefined) {
    const d = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
    if (!Number.isFinite(d)) throw new InvalidArgumentError('deadline must be a finite epoch ms or a valid Date');
    return d;
  }
  if (options?.timeoutMs !== undefined) {
    if (!(options.timeoutMs >= 0)) throw new InvalidArgumentError('timeoutMs must be >= 0');
    return Date.now() + options.timeoutMs;
  }
  return undefined;
}

import { describe, expect, it } from 'vitest';
import { backoffDelay, CancelledError, normalizeRetry, runBatch, shouldRetry, sleep, UnrecoverableError } from 'floxide';

describe('retry backoff (values of Floxide retry.rs unit tests)', () => {
  it('linear 100 ms: 100, 200, 300..., capped at the max delay', () => {
    const p = normalizeRetry({ maxAttempts: 20, backoff: 'linear', initialDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 10, 20].map((a) => backoffDelay(p, a))).toEqual([100, 200, 300, 1000, 1000]);
  });
  it('exponential 50 ms: 50, 100, 200, 400, capped at 400', () => {
    const p = normalizeRetry({ maxAttempts: 9, backoff: 'exponential', initialDelayMs: 50, maxDelayMs: 400 });
    expect([1, 2, 3, 4, 5, 60].map((a) => backoffDelay(p, a))).toEqual([50, 100, 200, 400, 400, 400]);
  });
  it('adds a uniform random jitter in [0, jitterMs]', () => {
    const p = normalizeRetry({ maxAttempts: 3, backoff: 'linear', initialDelayMs: 100, jitterMs: 25 });
    expect(backoffDelay(p, 2, () => 0)).toBe(200);
    expect(backoffDelay(p, 2, () => 0.999999)).toBe(225);
    expect(backoffDelay(p, 2, () => 0.5)).toBe(213);
  });
  it('a delay no store could add to its now (Postgres refused the commit) is the longest span a Date holds', () => {
    const p = normalizeRetry({ maxAttempts: 3, initialDelayMs: 1e300, maxDelayMs: 1e300, jitterMs: 25 });
    expect(backoffDelay(p, 1)).toBe(8.64e15);
  });
  it('never retries cancellation or unrecoverable errors; retryOn filters by name or code', () => {
    const p = normalizeRetry({ maxAttempts: 3 });
    expect(shouldRetry(p, new Error('x'), 1)).toBe(true);
    expect(shouldRetry(p, new Error('x'), 3)).toBe(false);
    expect(shouldRetry(p, new CancelledError('c'), 1)).toBe(false);
    expect(shouldRetry(p, new UnrecoverableError('u'), 1)).toBe(false);
    const only = normalizeRetry({ maxAttempts: 3, retryOn: ['TypeError', 'E_BUSY'] });
    expect(shouldRetry(only, new TypeError('t'), 1)).toBe(true);
    expect(shouldRetry(only, Object.assign(new Error('b'), { code: 'E_BUSY' }), 1)).toBe(true);
    expect(shouldRetry(only, new Error('other'), 1)).toBe(false);
  });
  it('sleeps are cancellable', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 5);
    const t = Date.now();
    await expect(sleep(5000, ac.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - t).toBeLessThan(1000);
  });
});

describe('runBatch', () => {
  it('keeps input order with a sliding window of bounded concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const starts: number[] = [];
    const out = await runBatch(
      [30, 5, 5, 5, 5, 5],
      async (ms, i) => {
        starts.push(i);
        peak = Math.max(peak, ++inFlight);
        await sleep(ms);
        inFlight--;
        return i * 10;
      },
      { concurrency: 2 },
    );
    expect(out).toEqual([0, 10, 20, 30, 40, 50]);
    expect(peak).toBe(2);
    // Sliding window: items 2..5 start while item 0 (30 ms) is still running.
    expect(starts).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('the first failure cancels the others and starts no new ones', async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    const err = await runBatch(
      [0, 1, 2, 3, 4, 5],
      async (x, _i, signal) => {
        started.push(x);
        if (x === 1) throw new Error('bad 1');
        await sleep(50, signal).catch(() => aborted.push(x));
        return x;
      },
      { concurrency: 2 },
    ).catch((e: Error) => e);
    expect((err as Error).message).toBe('bad 1');
    expect(started).toEqual([0, 1]);
    expect(aborted).toEqual([0]);
  });
});

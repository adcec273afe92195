/**
 * `Retention`: keeps what a store holds bounded, from a worker process. Every `everyMs` a pass
 * - deletes the finished runs past the store's retention when the store deletes them only when asked
 *   ({@link FinishedRunPurger}: Postgres; Redis expires them by itself): `purgeFinished`, again while a call deleted a
 *   full batch, at most {@link MAX_BATCHES_PER_PASS} batches per pass, so a backlog is worked off over a few passes
 *   without one long transaction;
 * - removes the liveness records of workers unseen for {@link DEAD_WORKER_RETENTION_MS} (by the store's clock): a
 *   worker that stops gracefully removes its own, one that is killed leaves it, and every process start has a new
 *   worker id, so they would pile up for ever.
 * Any number of workers may run passes at once: the store skips the runs another purge is deleting, and removing a
 * record twice is harmless.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { systemClock } from '../core/time.js';
import { supportsPurge, type DistributedBackend, type FinishedRunPurger } from './contracts.js';

/** Default period of the passes (ms). */
export const DEFAULT_PURGE_EVERY_MS = 60_000;
/** How long the record of a worker nobody has heard of is kept (ms): it shows as `dead` meanwhile. */
export const DEAD_WORKER_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Runs per `purgeFinished` call. */
const BATCH = 1000;
/** Calls per pass at most: a pass deletes at most this many batches of runs. */
const MAX_BATCHES_PER_PASS = 10;

/** What one {@link Retention.runOnce} pass deleted. */
export interface RetentionPass {
  readonly runs: number;
  readonly workers: number;
}

/**
 * Deletes finished runs past the store's retention (or `olderThanMs`) in batches of {@link BATCH} runs, one
 * `purgeFinished` call each (one transaction on Postgres; a SQLite file splits a call into transactions of bounded
 * size), until a batch is not full or `maxBatches` were made (default: no
 * limit). Returns how many runs were deleted. (`floxide runs purge` and the workers' passes.)
 */
export async function purgeInBatches(purger: FinishedRunPurger, options: { readonly olderThanMs?: number; readonly maxBatches?: number } = {}): Promise<number> {
  let runs = 0;
  for (let i = 0; i < (options.maxBatches ?? Infinity); i++) {
    const n = await purger.purgeFinished({ ...(options.olderThanMs === undefined ? {} : { olderThanMs: options.olderThanMs }), limit: BATCH });
    runs += n;
    if (n < BATCH) break;
  }
  return runs;
}

/** See the module comment. */
export class Retention {
  /** Cancels the timer of the next pass. */
  private timer: (() => void) | undefined;
  private pass: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly backend: DistributedBackend,
    private readonly everyMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    if (!Number.isFinite(everyMs) || everyMs <= 0) throw new InvalidArgumentError(`purgeEveryMs must be a positive number of ms, got ${String(everyMs)}`);
  }

  /** Starts the passes, the first after one period. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops the passes and waits for one in progress. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.();
    this.timer = undefined;
    await this.pass;
  }

  /** One pass (what the timer runs). */
  async runOnce(): Promise<RetentionPass> {
    const runs = supportsPurge(this.backend) ? await purgeInBatches(this.backend, { maxBatches: MAX_BATCHES_PER_PASS }) : 0;
    // 'dead' against a threshold of a third of the retention: unseen for the whole retention, by the store's clock
    const gone = (await this.backend.listWorkers({ thresholdMs: DEAD_WORKER_RETENTION_MS / 3 })).filter((w) => w.liveness === 'dead');
    let workers = 0;
    for (const w of gone) if (await this.backend.removeWorker(w.workerId)) workers++;
    return { runs, workers };
  }

  private schedule(): void {
    // (the clock's timer: node's fires a period past 2^31 - 1 ms after 1 ms, and the passes ran back to back)
    this.timer = systemClock.setTimer(() => {
      this.timer = undefined;
      if (!this.running) return;
      this.pass = this.runOnce().then(
        () => undefined,
        (err: unknown) => this.onError(err),
      );
      void this.pass.then(() => {
        if (this.running) this.schedule();
      });
    }, this.everyMs);
  }
}

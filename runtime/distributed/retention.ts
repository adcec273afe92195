/**
 * `FinishedRunPurge`: keeps a store that deletes finished runs only when asked ({@link FinishedRunPurger}: Postgres)
 * bounded by its retention, from a worker process. Every `everyMs` it calls `purgeFinished` (runs finished at least
 * the backend's `retainFinishedMs` ago), again while a call deleted a full batch, at most {@link MAX_BATCHES_PER_PASS}
 * batches per pass, so a backlog is worked off over a few passes without one long transaction. Any number of workers
 * may purge at once: the store skips the runs another purge is deleting.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { FinishedRunPurger } from './contracts.js';

/** Default period of the purge (ms). */
export const DEFAULT_PURGE_EVERY_MS = 60_000;
/** Runs per `purgeFinished` call. */
const BATCH = 1000;
/** Calls per pass at most: a pass deletes at most this many batches of runs. */
const MAX_BATCHES_PER_PASS = 10;

/** See the module comment. */
export class FinishedRunPurge {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly backend: FinishedRunPurger,
    private readonly everyMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    if (!Number.isFinite(everyMs) || everyMs <= 0) throw new InvalidArgumentError(`purgeEveryMs must be a positive number of ms, got ${String(everyMs)}`);
  }

  /** Starts the passes: the first after a random part of the period (a fleet started at once spreads out). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(Math.random() * this.everyMs);
  }

  /** Stops purging and waits for a pass in progress. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  /** One pass: batches of finished runs past the retention, while a batch came back full. Returns how many it deleted. */
  async runOnce(): Promise<number> {
    let purged = 0;
    for (let i = 0; i < MAX_BATCHES_PER_PASS; i++) {
      const n = await this.backend.purgeFinished({ limit: BATCH });
      purged += n;
      if (n < BATCH) break;
    }
    return purged;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      this.pass = this.runOnce().then(
        () => undefined,
        (err: unknown) => this.onError(err),
      );
      void this.pass.then(() => {
        if (this.running) this.schedule(this.everyMs);
      });
    }, delay);
  }
}

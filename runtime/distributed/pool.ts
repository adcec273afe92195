/**
 * `WorkerPool`: N {@link Worker}s of one workflow in one process, with unique ids across processes, a combined
 * graceful stop, and optional SIGTERM/SIGINT handling (graceful stop, then exit code 0).
 */
import type { AnyWorkflowDef } from '../graph/definition.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { DistributedBackend } from './contracts.js';
import { Worker, graceMsOf, newWorkerId, type WorkerOptions, type WorkerStats } from './worker.js';

/** Options of {@link WorkerPool}: the worker options plus the pool size. */
export interface WorkerPoolOptions extends Omit<WorkerOptions, 'workerId'> {
  /** Number of workers (default 1). Each has `concurrency` items in flight at most. */
  readonly size?: number;
  /** Start this workflow's scheduled runs from this pool (default true): its first worker runs the scheduler. */
  readonly schedules?: boolean;
  /** Prefix of the worker ids (default `host:pid:random`); worker i gets `<prefix>-<i>`. */
  readonly idPrefix?: string;
}

/** A set of workers sharing one backend and one workflow instance. */
export class WorkerPool {
  readonly workers: readonly Worker[];
  private stopping: Promise<void> | undefined;
  private signalCleanup: (() => void) | undefined;
  private resolveDone!: () => void;
  /** Resolves once the pool has stopped (after {@link stop}, or a signal). */
  readonly done: Promise<void> = new Promise((r) => (this.resolveDone = r));

  constructor(backend: DistributedBackend, def: AnyWorkflowDef, instance: object, options: WorkerPoolOptions = {}) {
    const size = options.size ?? 1;
    if (!Number.isSafeInteger(size) || size <= 0) throw new InvalidArgumentError(`pool size must be a positive integer, got ${String(size)}`);
    const prefix = options.idPrefix ?? newWorkerId();
    const { size: _size, idPrefix: _prefix, ...workerOptions } = options;
    this.workers = Array.from({ length: size }, (_, i) => new Worker(backend, def, instance, { ...workerOptions, workerId: `${prefix}-${i}`, schedules: i === 0 && options.schedules !== false, ...(i === 0 ? {} : { purgeEveryMs: 0 }) }));
  }

  /** Starts every worker. */
  async start(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.start()));
  }

  /** Graceful stop of every worker (see {@link Worker.stop}). Idempotent. */
  stop(graceMs?: number): Promise<void> {
    if (!this.stopping) {
      // refused before it is remembered: a later stop() must still stop the workers
      if (graceMs !== undefined) {
        try {
          graceMsOf(graceMs);
        } catch (err) {
          return Promise.reject(err);
        }
      }
      this.stopping = Promise.all(this.workers.map((w) => w.stop(graceMs))).then(() => {
        this.signalCleanup?.();
        this.resolveDone();
      });
    }
    return this.stopping;
  }

  /** Sums of the workers' counters. */
  stats(): WorkerStats {
    const out: WorkerStats = { processed: 0, errors: 0, released: 0, refused: 0 };
    for (const w of this.workers) {
      out.processed += w.stats.processed;
      out.errors += w.stats.errors;
      out.released += w.stats.released;
      out.refused += w.stats.refused;
    }
    return out;
  }

  /**
   * On SIGTERM or SIGINT: graceful stop, then `process.exitCode = 0` and `onStopped` (default: nothing, the
   * process ends once its handles close). A second signal exits at once with code 130. Returns a disposer.
   */
  stopOnSignals(onStopped?: () => void): () => void {
    let seen = 0;
    const handler = () => {
      seen += 1;
      if (seen > 1) process.exit(130);
      void this.stop().then(() => {
        process.exitCode = 0;
        onStopped?.();
      });
    };
    process.on('SIGTERM', handler).on('SIGINT', handler);
    const cleanup = () => {
      process.off('SIGTERM', handler).off('SIGINT', handler);
    };
    this.signalCleanup = cleanup;
    return cleanup;
  }
}

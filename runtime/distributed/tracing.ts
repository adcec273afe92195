/**
 * A traced worker's spans: the {@link StepCallbacks} it runs before the caller's start one span per leased attempt
 * (when it starts; ended at its commit or release), a child of the span whose `traceparent` the lease carries, so
 * every worker process that touched a run adds to the one trace; the attempt's node code runs in that span
 * ({@link WorkerTracing.attemptOf}) when a context manager is registered; and the worker whose commit finishes a run
 * records the run's span, from what the commit answers (`CommitResult.finished`: no read). The spans
 * themselves are made by runtime/engine/tracing.ts; those of attempts and runs that are over are made together on
 * the next turn of the event loop (`Tracing.later`), and at once by {@link WorkerTracing.flush}. A run whose trace
 * was not sampled where it started gets none of these (see `Tracing.startAttempt`).
 */
import { serializeError, type SerializedError } from '../core/errors.js';
import { ATTR, Tracing, type AttemptSpan, type StepSpanOutcome, type StepTracing, type TracingOption } from '../engine/tracing.js';
import type { LeasedItem, RunEnd } from './contracts.js';
import type { StepCallbacks } from './callbacks.js';

/** The spans of one traced worker (or `stepDistributed` call). */
export class WorkerTracing {
  /**
   * The span of each attempt in progress, by its lease: the object the worker hands to every callback of the
   * attempt (its token, though unique per claim, is the store's to make).
   */
  private readonly attempts = new Map<LeasedItem, AttemptSpan>();

  private constructor(
    private readonly tracing: Tracing,
    private readonly workerId: string,
  ) {}

  /** The tracing of a worker when `option` turns it on, else undefined. */
  static of(option: TracingOption | undefined, workerId: string): WorkerTracing | undefined {
    const tracing = Tracing.of(option);
    return tracing && new WorkerTracing(tracing, workerId);
  }

  /**
   * The span of the attempt running `lease`, in which its node code runs (undefined before it started, and for an
   * attempt with nothing to record or carry: see `Tracing.startAttempt`).
   */
  attemptOf(lease: LeasedItem): StepTracing | undefined {
    return this.attempts.get(lease);
  }

  /** `inner` with the spans recorded first. */
  callbacks(inner: StepCallbacks | undefined): StepCallbacks {
    return {
      onStarted: (lease) => {
        const span = this.tracing.startAttempt(lease.traceparent, () => ({
          workflow: lease.workflow,
          runId: lease.runId,
          node: lease.item.node,
          itemId: lease.item.id,
          attempt: lease.attempt,
          workerId: this.workerId,
          startedAt: Date.now(),
        }));
        if (span !== undefined) this.attempts.set(lease, span);
        inner?.onStarted?.(lease);
      },
      onCommitted: (lease, outcome, result) => {
        const error = outcome.type === 'retry' || outcome.type === 'failed' ? outcome.error : undefined;
        const finished = result.status === 'applied' ? result.finished : undefined;
        // The commit that finished the run ends its attempt no later than the run (the store's time of the commit).
        const ended = this.end(lease, outcome.type, error, result.status === 'applied' ? undefined : { [ATTR.commit]: result.status }, finished?.finishedAt);
        // This commit finished the run: its span is recorded here, from what the commit answered of the run (ending
        // no earlier than its last attempt, which a nested run's span under it may have made later: see AttemptSpan.end).
        if (finished !== undefined && result.status === 'applied') {
          this.finished(lease, result.runStatus, ended !== undefined && finished.finishedAt !== undefined && ended > finished.finishedAt ? { ...finished, finishedAt: ended } : finished);
        }
        inner?.onCommitted?.(lease, outcome, result);
      },
      onReleased: (lease, reason, error) => {
        this.end(lease, 'released', error === undefined ? undefined : serializeError(error), { [ATTR.released]: reason });
        inner?.onReleased?.(lease, reason, error);
      },
      onMigrated: (lease, to) => inner?.onMigrated?.(lease, to),
    };
  }

  /**
   * Ends the attempt's span now, or at `notAfter` when that is earlier, and returns when it ended (see
   * `AttemptSpan.end`); undefined when it has none (an item given back before it ran, e.g. of another graph version).
   */
  private end(lease: LeasedItem, outcome: StepSpanOutcome, error: SerializedError | undefined, extra: Readonly<Record<string, string>> | undefined, notAfter?: number): number | undefined {
    const span = this.attempts.get(lease);
    if (span === undefined) return undefined;
    this.attempts.delete(lease);
    const now = Date.now();
    return span.end(outcome, error, extra, notAfter !== undefined && notAfter < now ? notAfter : now);
  }

  /**
   * Records the span of the run of `lease`, which a commit of this worker finished, with the attempts' spans queued
   * before it (a run stored without a trace, or whose trace is not sampled: none, `Tracing.finishedRun` decides).
   */
  private finished(lease: LeasedItem, status: string, end: RunEnd): void {
    const run = { runId: lease.runId, workflow: lease.workflow, status, createdAt: end.createdAt, finishedAt: end.finishedAt, error: end.error, traceparent: lease.traceparent };
    this.tracing.finishedRun(run, this.workerId, 'later');
  }

  /** Makes the spans queued for later now (see {@link Tracing.flush}): before a worker's `stop()` or a `stepDistributed` resolves. */
  flush(): void {
    this.tracing.flush();
  }
}

/**
 * A traced worker's spans: the {@link StepCallbacks} it runs before the caller's start one span per leased attempt
 * (when it starts; ended at its commit or release), a child of the span whose `traceparent` the lease carries, so
 * every worker process that touched a run adds to the one trace; the attempt's node code runs in that span
 * ({@link WorkerTracing.attemptOf}); and the worker whose commit finishes a run records the run's span. The spans
 * themselves are made by runtime/engine/tracing.ts.
 */
import { serializeError, type SerializedError } from '../core/errors.js';
import { ATTR, Tracing, type AttemptSpan, type StepSpanOutcome, type StepTracing, type TracingOption } from '../engine/tracing.js';
import { isFinalRunStatus, type LeasedItem, type RunInfoStore } from './contracts.js';
import type { StepCallbacks } from './callbacks.js';

/** The spans of one traced worker (or `stepDistributed` call). */
export class WorkerTracing {
  /** The span of each attempt in progress, by lease token (unique per claim). */
  private readonly attempts = new Map<string, AttemptSpan>();

  private constructor(
    private readonly tracing: Tracing,
    private readonly workerId: string,
    private readonly runs: Pick<RunInfoStore, 'getRun'>,
  ) {}

  /** The tracing of a worker when `option` turns it on, else undefined. `runs`: where a finished run is read. */
  static of(option: TracingOption | undefined, workerId: string, runs: Pick<RunInfoStore, 'getRun'>): WorkerTracing | undefined {
    const tracing = Tracing.of(option);
    return tracing && new WorkerTracing(tracing, workerId, runs);
  }

  /** The span of the attempt running `lease`, in which its node code runs (undefined before it started). */
  attemptOf(lease: LeasedItem): StepTracing | undefined {
    return this.attempts.get(lease.leaseToken);
  }

  /** `inner` with the spans recorded first. */
  callbacks(inner: StepCallbacks | undefined): StepCallbacks {
    return {
      onStarted: (lease) => {
        const a = { workflow: lease.workflow, runId: lease.runId, node: lease.item.node, itemId: lease.item.id, attempt: lease.attempt, workerId: this.workerId, startedAt: Date.now() };
        this.attempts.set(lease.leaseToken, this.tracing.startAttempt(a, lease.traceparent));
        inner?.onStarted?.(lease);
      },
      onCommitted: (lease, outcome, result) => {
        const error = outcome.type === 'retry' || outcome.type === 'failed' ? outcome.error : undefined;
        this.end(lease, outcome.type, error, result.status === 'applied' ? undefined : { [ATTR.commit]: result.status });
        // This commit finished the run: its span is recorded here, from the run record (creation time, error).
        if (result.status === 'applied' && isFinalRunStatus(result.runStatus) && lease.traceparent !== undefined) void this.finished(lease.runId);
        inner?.onCommitted?.(lease, outcome, result);
      },
      onReleased: (lease, reason, error) => {
        this.end(lease, 'released', error === undefined ? undefined : serializeError(error), { [ATTR.released]: reason });
        inner?.onReleased?.(lease, reason, error);
      },
    };
  }

  /** Ends the attempt's span (an item given back before it ran, e.g. of another graph version, has none). */
  private end(lease: LeasedItem, outcome: StepSpanOutcome, error: SerializedError | undefined, extra: Readonly<Record<string, string>>| undefined): void {
    const span = this.attempts.get(lease.leaseToken);
    if (span === undefined) return;
    this.attempts.delete(lease.leaseToken);
    span.end(outcome, error, extra, Date.now());
  }

  /** Records the span of run `runId`, which a commit of this worker finished (best effort: a failed read records none). */
  private async finished(runId: string): Promise<void> {
    try {
      const run = await this.runs.getRun(runId);
      if (run !== undefined && isFinalRunStatus(run.status)) this.tracing.finishedRun(run, this.workerId);
    } catch {
      // Tracing is an observer: the store's trouble shows elsewhere.
    }
  }
}

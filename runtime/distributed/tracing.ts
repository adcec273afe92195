/**
 * Tracing a worker's steps: the {@link StepCallbacks} a traced worker runs before the caller's, which record one span
 * per leased attempt (from its start to its commit or release), a child of the run's span through the `traceparent`
 * the lease carries, so every worker process that touched a run adds to the one trace. The spans themselves are
 * made by runtime/engine/tracing.ts.
 */
import { serializeError } from '../core/errors.js';
import { ATTR, type StepSpanData, type Tracing } from '../engine/tracing.js';
import type { LeasedItem } from './contracts.js';
import type { StepCallbacks } from './callbacks.js';

/** `inner` with a span recorded per attempt when `tracing` is on (`inner` itself when it is off). */
export function tracedCallbacks(tracing: Tracing | undefined, workerId: string, inner: StepCallbacks | undefined): StepCallbacks | undefined {
  if (!tracing) return inner;
  // When each leased attempt started, by lease token (unique per claim).
  const started = new Map<string, number>();
  const record = (lease: LeasedItem, end: Pick<StepSpanData, 'outcome' | 'error' | 'extra'>): void => {
    const startedAt = started.get(lease.leaseToken);
    // An item given back before it ran (another graph version) made no attempt: no span.
    if (startedAt === undefined) return;
    started.delete(lease.leaseToken);
    tracing.step(
      {
        workflow: lease.workflow,
        runId: lease.runId,
        node: lease.item.node,
        itemId: lease.item.id,
        attempt: lease.attempt,
        workerId,
        startedAt,
        finishedAt: Date.now(),
        ...end,
      },
      lease.traceparent,
    );
  };
  return {
    onStarted(lease) {
      started.set(lease.leaseToken, Date.now());
      inner?.onStarted?.(lease);
    },
    onCommitted(lease, outcome, result) {
      const error = outcome.type === 'retry' || outcome.type === 'failed' ? outcome.error : undefined;
      record(lease, { outcome: outcome.type, error, ...(result.status === 'applied' ? {} : { extra: { [ATTR.commit]: result.status } }) });
      inner?.onCommitted?.(lease, outcome, result);
    },
    onReleased(lease, reason, error) {
      record(lease, { outcome: 'released', error: error === undefined ? undefined : serializeError(error), extra: { [ATTR.released]: reason } });
      inner?.onReleased?.(lease, reason, error);
    },
  };
}

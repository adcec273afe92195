/**
 * A leased item while a worker processes it ({@link InFlight}), and its heartbeat ({@link extendInFlight}): the lease
 * is extended while the node runs and a lost lease or a cancelled run aborts the node's signal.
 */
import { CancelledError } from '../core/errors.js';
import { AbortSource } from '../engine/abort.js';
import { isFinalRunStatus, type DistributedBackend, type LeasedItem, type RunStatus } from './contracts.js';

/** Default lease length: how long a worker may go without a heartbeat before its items are redelivered. */
export const DEFAULT_LEASE_MS = 30_000;

/** The heartbeat period for a lease length: often enough to survive two lost heartbeats, at most every 2 s. */
export function defaultHeartbeatMs(leaseMs: number): number {
  return Math.max(10, Math.min(2_000, Math.floor(leaseMs / 3)));
}

/** One leased item while it is processed. The heartbeat updates it; the step reads it before committing. */
export class InFlight {
  /** Aborts the node's `ctx.signal`: cancel, deadline, lost lease, hard stop. */
  readonly abort = new AbortSource();
  /** Local estimate of when the lease ends (local clock, conservative: taken before the request). */
  localExpiry: number;
  /** The lease is gone (expired, taken over, or the run finished): do not commit. */
  lost = false;
  /** The worker gives the item back (graceful stop): do not commit, release. */
  releasing = false;
  /** The run status last reported by the store. */
  runStatus: RunStatus | undefined = undefined;
  readonly startedAt = Date.now();

  /**
   * @param claimedAt local time just before the claim (or the commit that handed the item off) was sent.
   * @param handoffs how many successor hand-offs in a row led to this item (0 for a claimed item).
   * @param clockAtClaim the steps' clock just before that claim or commit was sent (`WorkerOptions.clock`; without one,
   *   this machine's: `claimedAt`): the step's clock is the store's time of the claim plus what that clock counted since.
   */
  constructor(
    readonly lease: LeasedItem,
    leaseMs: number,
    readonly claimedAt: number,
    readonly handoffs = 0,
    readonly clockAtClaim: number = claimedAt,
  ) {
    this.localExpiry = claimedAt + leaseMs;
  }

  get key(): string {
    return `${this.lease.runId}\u0000${this.lease.item.id}`;
  }
}

/**
 * Extends the lease of `f` and learns the run's status. A lost lease (or a finished run) aborts the node's signal:
 * on cancel the node sees `ctx.signal` abort with a `CancelledError`. Connection errors are ignored (the next
 * heartbeat retries; the lease length covers a few misses).
 */
export async function extendInFlight(backend: DistributedBackend, f: InFlight, leaseMs: number): Promise<void> {
  if (f.lost) return;
  const sentAt = Date.now();
  let ext;
  try {
    ext = await backend.extendLease(f.lease.runId, f.lease.item.id, f.lease.leaseToken, leaseMs);
  } catch {
    return;
  }
  f.runStatus = ext.runStatus;
  if (ext.status === 'extended') {
    f.localExpiry = sentAt + leaseMs;
    return;
  }
  f.lost = true;
  const status = ext.runStatus;
  const why =
    status === undefined
      ? `run ${f.lease.runId} no longer exists`
      : isFinalRunStatus(status)
        ? `run ${f.lease.runId} is ${status}`
        : `the lease on item ${f.lease.item.id} of run ${f.lease.runId} was lost`;
  f.abort.abort(new CancelledError(why));
}


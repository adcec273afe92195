/**
 * Group commit for a worker: the commits of steps that finish while a batch is on its way go together as the next
 * batch ({@link BatchStepCommitter.commitSteps}).
 */
import { Coalescer, type Settled } from './coalesce.js';
import type { BatchCommitResult, BatchStepCommitter, CommitResult, StepCommit } from './contracts.js';

/**
 * Group commit: the commits of steps that finish while a batch is on its way are queued and sent together as the
 * next batch ({@link BatchStepCommitter.commitSteps}: one round trip, one script or transaction), so a busy worker
 * pays one request per batch instead of one per step. Each commit still succeeds or fails on its own; a batch the
 * store could not take rejects every commit in it (they are retried one by one, each retry being idempotent).
 */
export class CommitBatcher {
  private readonly batches: Coalescer<StepCommit, CommitResult>;

  /**
   * @param backend a backend with `commitSteps`.
   * @param maxBatch most commits per request.
   * @param maxInFlight batches on their way at once; further commits wait for one to return.
   */
  constructor(backend: BatchStepCommitter, maxBatch = 128, maxInFlight = 2) {
    // One macrotask of delay gathers the steps that finish in the same turn of the event loop.
    this.batches = new Coalescer((commits) => backend.commitSteps(commits).then((rs) => rs.map(settledOf)), { maxBatch, maxInFlight, gather: 'tick' });
  }

  /** Queues one commit; resolves with its own result (or rejects with its own error). */
  commit(commit: StepCommit): Promise<CommitResult> {
    return this.batches.submit(commit);
  }
}

function settledOf(r: BatchCommitResult): Settled<CommitResult> {
  return r.ok ? { ok: true, value: r.result } : { ok: false, error: r.error };
}


/**
 * Cancellation (reference: cancellation_example.rs): the caller aborts the run's signal while a slow node works.
 * The node sees `ctx.signal` and stops; the run fails with CancelledError (never retried, never a fallback).
 */
import { node, sleep, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class SlowNode implements Node<number, number> {
  constructor(readonly workMs = 2000) {}
  async process(ctx: WorkflowCtx, n: number): Promise<Transition<number>> {
    await sleep(this.workMs, ctx.signal); // rejects as soon as the run is cancelled
    return Transition.next(n);
  }
}

@workflow({ start: 'slow' })
export class CancellableWorkflow {
  slow: SlowNode;
  constructor(workMs = 2000) {
    this.slow = new SlowNode(workMs);
  }
}

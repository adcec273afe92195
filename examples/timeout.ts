/**
 * Workflow deadline (reference: timeout_example.rs): the caller gives the whole run 500 ms; a node that needs 2 s
 * is cut off and the run fails with DeadlineExceededError (never retried, never a fallback). Per-node limits are
 * `@timeout(ms)` instead.
 */
import { node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class TwoSecondNode implements Node<string, string> {
  constructor(readonly workMs = 2000) {}
  async process(_ctx: WorkflowCtx, input: string): Promise<Transition<string>> {
    await new Promise((resolve) => setTimeout(resolve, this.workMs)); // ignores the signal on purpose
    return Transition.next(`${input} done`);
  }
}

@workflow({ start: 'slow' })
export class DeadlineWorkflow {
  slow: TwoSecondNode;
  constructor(workMs = 2000) {
    this.slow = new TwoSecondNode(workMs);
  }
}

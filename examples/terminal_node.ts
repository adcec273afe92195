/** A single node that is both start and terminal (reference: terminal_node_example.rs). 7 gives 21. */
import { node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Triple implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n * 3);
  }
}

@workflow({ start: 'triple' })
export class TerminalWorkflow {
  triple = new Triple();
}

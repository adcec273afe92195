/**
 * Split then print then terminal (reference: split_example.rs): 10 fans out into 9, 10, 11; each is printed, and
 * the first terminal output (9) completes the run. The two branches still queued are reported as dropped.
 */
import { edge, node, SplitNode, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class PrintValue implements Node<number, number> {
  readonly printed: number[] = [];
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    this.printed.push(n);
    return Transition.next(n);
  }
}

@node()
export class Done implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n);
  }
}

@workflow({ start: 'split' })
export class SplitWorkflow {
  @edge('print') split = new SplitNode((n: number) => [n - 1, n, n + 1]);
  @edge('done') print = new PrintValue();
  done = new Done();
}

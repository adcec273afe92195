/**
 * Split and join (reference: merge_example.rs): `split` fans n out into [n-1, n, n+1]; each value is incremented
 * then decremented on its own branch, and the `@join()` node runs once with every branch's value, in fan-out
 * order. 10 gives [9, 10, 11]. No shared state and no Hold tricks: the engine parks arrivals until all are in.
 */
import { edge, join, node, SplitNode, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Shift implements Node<number, number> {
  constructor(readonly by: number) {}
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n + this.by);
  }
}

@node()
export class Collect implements Node<number[], number[]> {
  process(_ctx: WorkflowCtx, values: number[]): Transition<number[]> {
    return Transition.next(values);
  }
}

@workflow({ start: 'split' })
export class MergeWorkflow {
  @edge('up') split = new SplitNode((n: number) => [n - 1, n, n + 1]);
  @edge('down') up = new Shift(1);
  @edge('collect') down = new Shift(-1);
  @join() collect = new Collect();
}

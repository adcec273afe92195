/**
 * Batches (reference: batch_example.rs): a BatchNode runs Multiply2 over [1..5] two at a time (a sliding window,
 * input order kept), then `route` sends the sum to LargeNode (> 20) or SmallNode. [1, 2, 3, 4, 5] gives
 * [2, 4, 6, 8, 10], sum 30: "large batch: 30".
 */
import { BatchNode, edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Multiply2 implements Node<number, number> {
  async process(_ctx: WorkflowCtx, n: number): Promise<Transition<number>> {
    return Transition.next(n * 2);
  }
}

export type BatchAction = { kind: 'large'; values: number[]; sum: number } | { kind: 'small'; values: number[]; sum: number };

@node()
export class RouteBySum implements Node<number[], BatchAction> {
  process(_ctx: WorkflowCtx, values: number[]): Transition<BatchAction> {
    const sum = values.reduce((a, b) => a + b, 0);
    return Transition.next({ kind: sum > 20 ? 'large' : 'small', values, sum });
  }
}

@node()
export class LargeNode implements Node<BatchAction, string> {
  process(_ctx: WorkflowCtx, batch: BatchAction): Transition<string> {
    return Transition.next(`large batch: ${batch.sum}`);
  }
}

@node()
export class SmallNode implements Node<BatchAction, string> {
  process(_ctx: WorkflowCtx, batch: BatchAction): Transition<string> {
    return Transition.next(`small batch: ${batch.sum}`);
  }
}

@workflow({ start: 'multiply' })
export class BatchWorkflow {
  @edge('route') multiply = new BatchNode(new Multiply2(), 2);
  @edge.when('large', 'large')
  @edge.when('small', 'small')
  route = new RouteBySum();
  large = new LargeNode();
  small = new SmallNode();
}

/**
 * Threshold branching (reference: branching_example.rs): `classify` returns a discriminated union and each arm
 * receives its narrowed variant. 5 gives "SmallNode: 5 <= 10", 42 gives "BigNode: 84".
 */
import { edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export type Small = { kind: 'small'; value: number };
export type Big = { kind: 'big'; value: number };
export type Size = Small | Big;

@node()
export class Classify implements Node<number, Size> {
  constructor(private readonly threshold = 10) {}
  process(_ctx: WorkflowCtx, n: number): Transition<Size> {
    return Transition.next(n <= this.threshold ? { kind: 'small', value: n } : { kind: 'big', value: n });
  }
}

@node()
export class SmallNode implements Node<Small, string> {
  process(_ctx: WorkflowCtx, input: Small): Transition<string> {
    return Transition.next(`SmallNode: ${input.value} <= 10`);
  }
}

@node()
export class BigNode implements Node<Big, string> {
  process(_ctx: WorkflowCtx, input: Big): Transition<string> {
    return Transition.next(`BigNode: ${input.value * 2}`);
  }
}

@workflow({ start: 'classify' })
export class ThresholdWorkflow {
  @edge.when('small', 'small')
  @edge.when('big', 'big')
  classify = new Classify();
  small = new SmallNode();
  big = new BigNode();
}

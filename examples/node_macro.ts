/**
 * Nodes with and without fields (reference: node_macro_example.rs): Multiply holds a factor of 4, Print has no
 * state. 3 gives 12, printed.
 */
import { edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Multiply implements Node<number, number> {
  constructor(readonly factor: number) {}
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n * this.factor);
  }
}

@node()
export class Print implements Node<number, number> {
  readonly printed: number[] = [];
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    this.printed.push(n);
    return Transition.next(n);
  }
}

@workflow({ start: 'multiply' })
export class MultiplyWorkflow {
  @edge('print') multiply = new Multiply(4);
  print = new Print();
}

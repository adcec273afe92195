/**
 * Nested workflows (reference: nested_workflow_example.rs): the inner workflow doubles then adds 10; the outer
 * one uses it as a node and prints the result. 5 gives 20.
 */
import { edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Double implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n * 2);
  }
}

@node()
export class AddTen implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n + 10);
  }
}

@node()
export class PrintNode implements Node<number, number> {
  readonly printed: string[] = [];
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    this.printed.push(`final output = ${n}`);
    return Transition.next(n);
  }
}

@workflow({ start: 'double' })
export class InnerWorkflow {
  @edge('addTen') double = new Double();
  addTen = new AddTen();
}

@workflow({ start: 'inner' })
export class OuterWorkflow {
  @edge('print') inner = new InnerWorkflow();
  print = new PrintNode();
}

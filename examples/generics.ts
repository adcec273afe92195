/**
 * Generic node classes (reference: generics_example.rs): FooNode<T> and BarNode<T> are ordinary generic classes;
 * the generated types use indexed access, so no type printing is needed. 123 gives "foo-42", which gives 6.
 */
import { edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class FooNode<T> implements Node<number, string> {
  constructor(readonly value: T) {}
  process(_ctx: WorkflowCtx, _input: number): Transition<string> {
    return Transition.next(`foo-${String(this.value)}`);
  }
}

@node()
export class BarNode<T extends { length: number }> implements Node<T, number> {
  process(_ctx: WorkflowCtx, input: T): Transition<number> {
    return Transition.next(input.length);
  }
}

@workflow({ start: 'foo' })
export class GenericsWorkflow {
  @edge('bar') foo = new FooNode<number>(42);
  bar = new BarNode<string>();
}

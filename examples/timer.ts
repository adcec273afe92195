/**
 * One run per event (reference: timer_example.rs): a timer source emits 0..9; `runSource` drives one run of
 * Double -> PrintDoubled per tick, in order, and yields each output: 0, 2, ..., 18.
 */
import { edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

/** Emits 0..count-1, one every `intervalMs`. */
export async function* ticks(count: number, intervalMs: number): AsyncGenerator<number> {
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    yield i;
  }
}

@node()
export class DoubleTick implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n * 2);
  }
}

@node()
export class PrintDoubled implements Node<number, number> {
  readonly printed: number[] = [];
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    this.printed.push(n);
    return Transition.next(n);
  }
}

@workflow({ start: 'double' })
export class TimerWorkflow {
  @edge('print') double = new DoubleTick();
  print = new PrintDoubled();
}

/**
 * Checkpoints (reference: checkpoint_example.rs): a counter loops through a branch until it reaches 5. Every step
 * is committed to the checkpoint store, so a run that fails at x == 2 resumes where it stopped, and a completed run is
 * never executed again: `runWithCheckpoint` and `resume` of it both return its stored output.
 */
import { edge, merge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export class CounterCtx {
  /** Every step the counter made, in order. */
  @merge.append() visits: number[] = [];
  /** How many counter steps committed (exactly once each, even across a crash and resume). */
  @merge.sum() steps = 0;
}

export type Count = { kind: 'continue'; n: number } | { kind: 'done'; n: number };

@node()
export class CounterNode implements Node<number, Count, CounterCtx> {
  /** When set, the node fails once on this value (to show a resume). */
  failAt: number | undefined;
  executions = 0;
  constructor(readonly target = 5) {}
  process(ctx: WorkflowCtx<CounterCtx>, x: number): Transition<Count> {
    this.executions++;
    if (x === this.failAt) {
      this.failAt = undefined;
      throw new Error('test error');
    }
    ctx.store.visits.push(x);
    ctx.store.steps += 1;
    const n = x + 1;
    return Transition.next(n < this.target ? { kind: 'continue', n } : { kind: 'done', n });
  }
}

@node()
export class Unwrap implements Node<Count, number> {
  process(_ctx: WorkflowCtx, count: Count): Transition<number> {
    return Transition.next(count.n);
  }
}

@node()
export class FinishNode implements Node<Count, number, CounterCtx> {
  executions = 0;
  process(_ctx: WorkflowCtx<CounterCtx>, count: Count): Transition<number> {
    this.executions++;
    return Transition.next(count.n);
  }
}

@workflow({ start: 'counter', context: CounterCtx })
export class CounterWorkflow {
  @edge.when('continue', 'next')
  @edge.when('done', 'finish')
  counter: CounterNode;
  @edge('counter') next = new Unwrap();
  finish = new FinishNode();
  constructor(target = 5) {
    this.counter = new CounterNode(target);
  }
}

/**
 * Distributed steps with an event-sourced context (reference: distributed_example.rs). `initial -> split ->
 * {a, b} -> finish`: the context is an `EventLog` of counter events; two worker loops call `stepDistributed`
 * until the run completes. Replaying the log gives counter 27 and the four log lines
 * `InitialNode: ...`, `SplitNode: ...`, `BranchA executed`, `BranchB executed`.
 *
 * Difference from Floxide: there, `a` and `b` were both terminals and distributed mode ran both; here the first
 * terminal completes a run (and drops what is still queued), so the branches meet in a `@join` terminal that
 * returns both branch results: both branches' events are always logged, exactly once each.
 *
 * Run it: `tsx examples/distributed/run.ts event-log redis://127.0.0.1:6379` (or a postgres:// URL).
 */
import { edge, EventLog, join, merge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

/** One event of the run's log. */
export interface CounterEvent {
  readonly add: number;
  readonly message: string;
}

export class EventCtx {
  @merge.eventLog() log = new EventLog<CounterEvent>();
}

/** The counter and log lines a replay of the event log gives. */
export function replay(ctx: EventCtx): { counter: number; lines: string[] } {
  return { counter: ctx.log.applyAll(0, (n, e) => n + e.add), lines: ctx.log.events().map((e) => e.message) };
}

@node()
export class InitialNode implements Node<number, number, EventCtx> {
  process(ctx: WorkflowCtx<EventCtx>, n: number): Transition<number> {
    ctx.store.log.append({ add: n, message: `InitialNode: started with ${n}` });
    return Transition.next(n);
  }
}

@node()
export class SplitNode implements Node<number, number, EventCtx> {
  process(ctx: WorkflowCtx<EventCtx>, n: number): Transition<number> {
    ctx.store.log.append({ add: 5, message: `SplitNode: ${n} goes to branch a and branch b` });
    return Transition.next(n);
  }
}

@node()
export class BranchA implements Node<number, string, EventCtx> {
  process(ctx: WorkflowCtx<EventCtx>): Transition<string> {
    ctx.store.log.append({ add: 5, message: 'BranchA executed' });
    return Transition.next('branch_a_success');
  }
}

@node()
export class BranchB implements Node<number, string, EventCtx> {
  process(ctx: WorkflowCtx<EventCtx>): Transition<string> {
    ctx.store.log.append({ add: 7, message: 'BranchB executed' });
    return Transition.next('branch_b_success');
  }
}

@node()
export class Finish implements Node<string[], string[], EventCtx> {
  process(_ctx: WorkflowCtx<EventCtx>, results: string[]): Transition<string[]> {
    return Transition.next(results);
  }
}

@workflow({ start: 'initial', context: EventCtx })
export class EventLogWorkflow {
  @edge('split') initial = new InitialNode();
  @edge('a', 'b') split = new SplitNode();
  @edge('finish') a = new BranchA();
  @edge('finish') b = new BranchB();
  @join() finish = new Finish();
}

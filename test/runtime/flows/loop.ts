// Test workflows for the runtime engine (generated modules: `floxide build test/runtime/flows`).
import { edge, EventLog, Fixed, join, merge, node, retry, sleep, timeout, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export class LoopCtx {
  @merge.sum() count = 0;
  @merge.max() peak = 0;
  @merge.append() trail: number[] = [];
  @merge.eventLog() events = new EventLog<string>();
  @merge.fixed() config = new Fixed({ blob: '' });
}

export interface Tick {
  i: number;
  limit: number;
}
export type TickResult = { kind: 'more'; i: number; limit: number } | { kind: 'done'; i: number; limit: number };

/** Counts one per step until `limit` steps ran. Optional hooks let tests fail or pause a given step. */
@node()
export class StepNode implements Node<Tick, TickResult, LoopCtx> {
  executions = 0;
  hook: ((ctx: WorkflowCtx<LoopCtx>, i: number) => Promise<void> | void) | undefined;
  async process(ctx: WorkflowCtx<LoopCtx>, t: Tick): Promise<Transition<TickResult>> {
    this.executions++;
    ctx.store.count += 1;
    ctx.store.peak = Math.max(ctx.store.peak, t.i);
    if (t.i < 3) ctx.store.trail.push(t.i);
    if (t.i % 100 === 0) ctx.store.events.append(`at ${t.i}`);
    if (this.hook) await this.hook(ctx, t.i);
    const i = t.i + 1;
    return Transition.next(i < t.limit ? { kind: 'more', i, limit: t.limit } : { kind: 'done', i, limit: t.limit });
  }
}

@node()
export class EndNode implements Node<TickResult, number, LoopCtx> {
  process(ctx: WorkflowCtx<LoopCtx>, r: TickResult): Transition<number> {
    return Transition.next(r.i * 10 + (ctx.store.count === r.i ? 0 : 1));
  }
}

@workflow({ start: 'step', context: LoopCtx })
export class LoopWorkflow {
  @edge.when('more', 'step')
  @edge.when('done', 'end')
  step = new StepNode();
  end = new EndNode();
}

/** Fans n out into 0..n-1; multiples of `holdEvery` hold; the join gets the rest in order. */
@node()
export class FanOut implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.nextAll(Array.from({ length: n }, (_, i) => i));
  }
}

@node()
export class MaybeHold implements Node<number, number> {
  constructor(readonly holdEvery: number) {}
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return this.holdEvery > 0 && n % this.holdEvery === 0 ? Transition.hold() : Transition.next(n);
  }
}

@node()
export class Gather implements Node<number[], number[]> {
  calls = 0;
  process(_ctx: WorkflowCtx, values: number[]): Transition<number[]> {
    this.calls++;
    return Transition.next(values);
  }
}

@workflow({ start: 'fan' })
export class JoinWorkflow {
  @edge('maybe') fan = new FanOut();
  @edge('gather') maybe: MaybeHold;
  @join() gather = new Gather();
  constructor(holdEvery = 0) {
    this.maybe = new MaybeHold(holdEvery);
  }
}

/** Holds everything: the run drains with no terminal. */
@node()
export class AlwaysHold implements Node<number, number> {
  process(): Transition<number> {
    return Transition.hold();
  }
}

@workflow({ start: 'hold' })
export class HoldWorkflow {
  @edge('after') hold = new AlwaysHold();
  after = new MaybeHold(0);
}

/** Sleeps `ms[attempt-1]` (honouring its signal) then answers; used for @timeout, retries and fallbacks. */
@node()
export class Sleepy implements Node<string, string> {
  seen: Array<{ attempt: number; itemId: string; runId: string; aborted: boolean }> = [];
  constructor(readonly ms: number[]) {}
  async process(ctx: WorkflowCtx, input: string): Promise<Transition<string>> {
    this.seen.push({ attempt: ctx.attempt, itemId: ctx.itemId, runId: ctx.runId, aborted: ctx.signal.aborted });
    await sleep(this.ms[Math.min(ctx.attempt, this.ms.length) - 1], ctx.signal);
    return Transition.next(`${input} after attempt ${ctx.attempt}`);
  }
}

@node()
export class Rescue implements Node<string, string> {
  process(ctx: WorkflowCtx, input: string): Transition<string> {
    return Transition.next(`rescued ${input}: ${ctx.failure?.name} x${ctx.failure?.attempts}`);
  }
}

@workflow({ start: 'slow' })
export class TimeoutWorkflow {
  @timeout(30)
  @retry({ maxAttempts: 2, backoff: 'linear', initialDelayMs: 1, retryOn: ['NodeTimeoutError'] })
  @edge.onFailure('rescue')
  slow: Sleepy;
  rescue = new Rescue();
  constructor(ms: number[]) {
    this.slow = new Sleepy(ms);
  }
}

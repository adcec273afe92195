// Workflows measured by bench/local.ts (generated module: `floxide build bench/flows`).
import { edge, join, merge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export class BenchCtx {
  @merge.sum() steps = 0;
  /** Ballast that no step touches: sizes the context (1 KB vs 1 MB) for the bytes-written-per-step figure. */
  payload = '';
}

export type Loop = { kind: 'again'; n: number } | { kind: 'done'; n: number };

@node()
export class Inc implements Node<{ n: number }, number, BenchCtx> {
  process(_ctx: WorkflowCtx<BenchCtx>, input: { n: number }): Transition<number> {
    return Transition.next(input.n + 1);
  }
}

@node()
export class Check implements Node<number, Loop, BenchCtx> {
  constructor(readonly limit: number) {}
  process(ctx: WorkflowCtx<BenchCtx>, n: number): Transition<Loop> {
    ctx.store.steps += 1;
    return Transition.next(n < this.limit ? { kind: 'again', n } : { kind: 'done', n });
  }
}

@node()
export class Finish implements Node<Loop, number> {
  process(_ctx: WorkflowCtx, input: Loop): Transition<number> {
    return Transition.next(input.n);
  }
}

/** A 2-node loop: inc -> check -> inc ... until `limit`, then finish. */
@workflow({ start: 'inc', context: BenchCtx })
export class LoopBench {
  @edge('check') inc = new Inc();
  @edge.when('again', 'inc')
  @edge.when('done', 'finish')
  check: Check;
  finish = new Finish();
  constructor(limit: number) {
    this.check = new Check(limit);
  }
}

@node()
export class Spread implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.nextAll(Array.from({ length: n }, (_, i) => i));
  }
}

@node()
export class Sum implements Node<number[], number> {
  process(_ctx: WorkflowCtx, values: number[]): Transition<number> {
    return Transition.next(values.reduce((a, b) => a + b, 0));
  }
}

/** n items fanned out straight into one join. */
@workflow({ start: 'spread' })
export class FanInBench {
  @edge('sum') spread = new Spread();
  @join() sum = new Sum();
}

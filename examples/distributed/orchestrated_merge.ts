/**
 * Orchestrated fan-out and join with flaky nodes (reference: distributed_orchestrated_merge_example.rs).
 * `split(10)` produces 10 items; each `scale`s its value by 10; the `@join()` node `merge` gets all ten values
 * once they have all arrived (no Hold race: the store parks arrivals inside each step's commit); `merge` and the
 * terminal `sortValues` fail 30 % of their attempts and are retried durably (delayed re-enqueues in the store).
 * A `WorkerPool(3)` runs it; the output is `[0, 10, 20, ..., 90]`.
 *
 * Run it: `tsx examples/distributed/run.ts merge postgres://postgres@127.0.0.1:5432/test`.
 */
import { edge, join, merge, node, retry, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export class MergeCtx {
  /** Set when the run starts; steps cannot change it. */
  @merge.fixed() failureRate = 0.3;
  /** Failed attempts are discarded with their context writes, so this counts successful steps only. */
  @merge.sum() steps = 0;
}

function maybeFail(ctx: WorkflowCtx<MergeCtx>, what: string): void {
  if (Math.random() < ctx.store.failureRate) throw new Error(`${what}: random failure (attempt ${ctx.attempt})`);
}

@node()
export class SplitTen implements Node<number, number, MergeCtx> {
  process(ctx: WorkflowCtx<MergeCtx>, n: number): Transition<number> {
    ctx.store.steps += 1;
    return Transition.nextAll(Array.from({ length: n }, (_, i) => i));
  }
}

@node()
export class Scale implements Node<number, number, MergeCtx> {
  process(ctx: WorkflowCtx<MergeCtx>, v: number): Transition<number> {
    ctx.store.steps += 1;
    return Transition.next(v * 10);
  }
}

@node()
export class MergeValues implements Node<number[], number[], MergeCtx> {
  process(ctx: WorkflowCtx<MergeCtx>, values: number[]): Transition<number[]> {
    maybeFail(ctx, 'merge');
    ctx.store.steps += 1;
    return Transition.next(values);
  }
}

@node()
export class SortValues implements Node<number[], number[], MergeCtx> {
  process(ctx: WorkflowCtx<MergeCtx>, values: number[]): Transition<number[]> {
    maybeFail(ctx, 'terminal');
    ctx.store.steps += 1;
    return Transition.next([...values].sort((a, b) => a - b));
  }
}

@workflow({ start: 'split', context: MergeCtx })
export class OrchestratedMergeWorkflow {
  @edge('scale') split = new SplitTen();
  @edge('merge') scale = new Scale();
  @retry({ maxAttempts: 12, backoff: 'exponential', initialDelayMs: 5, maxDelayMs: 100 })
  @join()
  @edge('sortValues')
  merge = new MergeValues();
  @retry({ maxAttempts: 12, backoff: 'exponential', initialDelayMs: 5, maxDelayMs: 100 })
  sortValues = new SortValues();
}

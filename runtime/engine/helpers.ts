/**
 * Building blocks around nodes: bounded-concurrency batches ({@link runBatch}, {@link BatchNode}), splitting
 * ({@link SplitNode}) and driving one run per event of an async iterable ({@link runSource}).
 */
import { node } from '../decorators.js';
import { InvalidArgumentError } from '../errors.js';
import type { Node, WorkflowCtx } from '../node.js';
import { Transition } from '../transition.js';
import { abortReason } from './retry.js';

/**
 * Maps `inputs` through `fn` with at most `concurrency` calls in flight (a sliding window: a new call starts as
 * soon as one finishes). Results keep input order. The first failure aborts the signal passed to the other calls,
 * starts no new ones and rejects with that failure. An aborted `signal` rejects with its reason.
 */
export async function runBatch<I, O>(
  inputs: readonly I[],
  fn: (input: I, index: number, signal: AbortSignal) => Promise<O> | O,
  options: { concurrency: number; signal?: AbortSignal },
): Promise<O[]> {
  const concurrency = Math.floor(options.concurrency);
  if (!(concurrency >= 1)) throw new InvalidArgumentError(`batch concurrency must be >= 1, got ${options.concurrency}`);
  const results = new Array<O>(inputs.length);
  if (inputs.length === 0) return results;
  const ac = new AbortController();
  const outer = options.signal;
  const onOuter = () => ac.abort(abortReason(outer!));
  if (outer) {
    if (outer.aborted) throw abortReason(outer);
    outer.addEventListener('abort', onOuter, { once: true });
  }
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (!failed && next < inputs.length && !ac.signal.aborted) {
      const i = next++;
      try {
        results[i] = await fn(inputs[i], i, ac.signal);
      } catch (err) {
        if (!failed) {
          failed = true;
          failure = err;
          ac.abort(err);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
  } finally {
    outer?.removeEventListener('abort', onOuter);
  }
  if (failed) throw failure;
  if (ac.signal.aborted) throw abortReason(ac.signal);
  return results;
}

/**
 * Runs an inner node over every element of its input array with bounded concurrency (Floxide's `BatchNode`, with
 * a sliding window instead of chunks). `next(o)` contributes `o`, `nextAll(os)` contributes every `o`; a `hold` or
 * `abort` of any element fails the whole batch (a batch needs a result per element), cancelling the others.
 */
@node()
export class BatchNode<I, O, C = unknown> implements Node<I[], O[], C> {
  constructor(
    readonly inner: Node<I, O, C>,
    readonly concurrency: number,
  ) {
    if (!(Math.floor(concurrency) >= 1)) throw new InvalidArgumentError(`BatchNode concurrency must be >= 1, got ${concurrency}`);
  }

  async process(ctx: WorkflowCtx<C>, inputs: I[]): Promise<Transition<O[]>> {
    const parts = await runBatch(
      inputs,
      async (x, i, signal) => {
        const t = await this.inner.process({ ...ctx, signal }, x);
        if (t.type === 'next') return [t.value];
        if (t.type === 'nextAll') return t.values;
        if (t.type === 'abort') throw t.error;
        throw new Error(`BatchNode: element ${i} held; every element of a batch must produce a value`);
      },
      { concurrency: this.concurrency, signal: ctx.signal },
    );
    return Transition.next(parts.flat() as O[]);
  }
}

/** Fans an input out into several values: `nextAll(split(input))` (Floxide's `SplitNode`). */
@node()
export class SplitNode<I, O> implements Node<I, O> {
  constructor(readonly split: (input: I) => readonly O[]) {}
  process(_ctx: WorkflowCtx, input: I): Transition<O> {
    return Transition.nextAll(this.split(input));
  }
}

/** Something that runs a workflow once per input (a bound workflow). */
export interface Runnable<I, O, C> {
  run(ctx: C, input: I, options?: { signal?: AbortSignal }): Promise<O>;
}

/**
 * Drives one run per event of `events`, one at a time, in order, and yields each run's output (Floxide's
 * `Source::run`). `context` makes the context of each run. The first failing run ends the iteration with its
 * error; `signal` stops it (and cancels the run in flight).
 */
export async function* runSource<I, O, C>(
  workflow: Runnable<I, O, C>,
  events: AsyncIterable<I> | Iterable<I>,
  context: () => C,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<O, void, undefined> {
  for await (const event of events) {
    if (options.signal?.aborted) throw abortReason(options.signal);
    yield await workflow.run(context(), event, options.signal ? { signal: options.signal } : undefined);
  }
}

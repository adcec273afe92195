/**
 * Bounded-concurrency batches: {@link runBatch} and the {@link BatchNode} helper node (Floxide's `BatchNode`).
 */
import { node } from '../graph/decorators.js';
import { InvalidArgumentError, abortReason } from '../core/errors.js';
import type { Node, WorkflowCtx } from '../core/node.js';
import { Transition } from '../core/transition.js';

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
 *
 * @floxideNode (stands for `@node()` in the published .d.ts, which keeps no decorators)
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

/** Driving one run per event of an async iterable ({@link runSource}, Floxide's `Source::run`). */
import { abortReason } from '../core/errors.js';

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

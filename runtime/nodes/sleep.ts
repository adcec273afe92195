/** The {@link Sleep} helper node: a durable timer. */
import { node } from '../graph/decorators.js';
import type { Node, WorkflowCtx } from '../core/node.js';
import type { Transition } from '../core/transition.js';
import { InvalidArgumentError } from '../core/errors.js';
import { isEpochMs } from '../core/time.js';

/**
 * How long a {@link Sleep} waits: `{ ms }` from when it starts, or `{ until }` a time (a valid `Date`, or epoch ms a
 * `Date` can hold). A sleep that would end after the last time a `Date` holds (year 275760) ends then: never, in practice.
 */
export type SleepFor = { readonly ms: number } | { readonly until: Date | number };

/**
 * Passes its input on after a delay, or at a time. The timer lives in the store (the SQLite journal, the
 * distributed backends' delayed queue): a restart or a worker crash keeps it and it fires once; `resume` waits only
 * for what is left. Give a fixed duration or a function of the input.
 *
 * ```ts
 * wait = new Sleep<Reminder>({ ms: 2_000 });
 * until = new Sleep<Reminder>((r) => ({ until: r.remindAt }));
 * ```
 *
 * @floxideNode (stands for `@node()` in the published .d.ts, which keeps no decorators)
 */
@node()
export class Sleep<T> implements Node<T, T> {
  /** A fixed duration is checked here, at the call that makes the node (a function's result, when the node runs). */
  constructor(readonly duration: SleepFor | ((input: T) => SleepFor)) {
    if (typeof duration !== 'function') sleepOf(duration);
  }

  process(_ctx: WorkflowCtx, input: T): Transition<T> {
    return { type: 'sleep', value: input, ...sleepOf(typeof this.duration === 'function' ? this.duration(input) : this.duration) };
  }
}

/** The `ms` or `until` (epoch ms) of a {@link SleepFor}, or {@link InvalidArgumentError}. */
function sleepOf(d: SleepFor): { ms: number; until: undefined } | { ms: undefined; until: number } {
  if (typeof d === 'object' && d !== null && 'until' in d) {
    const until = d.until instanceof Date ? d.until.getTime() : d.until;
    if (!isEpochMs(until)) throw new InvalidArgumentError(`Sleep until must be a valid Date or an epoch ms a Date can hold (|ms| <= 8.64e15), got ${String(until)}`);
    return { ms: undefined, until };
  }
  const ms = (d as { ms?: unknown } | null)?.ms;
  if (!(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) throw new InvalidArgumentError(`Sleep ms must be a non-negative number, got ${String(ms)}`);
  return { ms, until: undefined };
}

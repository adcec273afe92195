/**
 * What a node's `process` returns: where its output goes next.
 *
 * - `Transition.next(v)`: every success successor gets `v` (a node with none is terminal: `v` is the run's output).
 * - `Transition.nextAll([v, ...])`: fan-out; every successor gets every value, item-major, in order.
 * - `Transition.hold()`: park this item; it contributes no value (a join waiting on it counts it as arrived, empty).
 * - `Transition.abort(err)`: a failure, exactly like throwing `err` (goes to `@edge.onFailure` or fails the run).
 *
 * Two more are made by the helper nodes `WaitFor` and `Sleep` (runtime/nodes), never by hand, so that every wait is
 * a declared, typed signal and every timer is drawn as one:
 * - `{ type: 'wait', name, timeoutMs }`: park this item until the run receives signal `name` (its payload is this
 *   node's output) or until `timeoutMs` passes (then the node fails with a `SignalTimeoutError`).
 * - `{ type: 'sleep', value, ms, until }`: park this item for `ms` (or until epoch ms `until`), then send `value` on
 *   as `next` would.
 */
export type Transition<O> =
  | { readonly type: 'next'; readonly value: O }
  | { readonly type: 'nextAll'; readonly values: readonly O[] }
  | { readonly type: 'hold' }
  | { readonly type: 'abort'; readonly error: Error }
  | { readonly type: 'wait'; readonly name: string; readonly timeoutMs: number | undefined }
  | { readonly type: 'sleep'; readonly value: O; readonly ms: number | undefined; readonly until: number | undefined };

const HOLD: Transition<never> = Object.freeze({ type: 'hold' });

export const Transition = {
  /** Send `value` to every success successor (or complete the run when the node is terminal). */
  next<O>(value: O): Transition<O> {
    return { type: 'next', value };
  },
  /** Fan out: every successor receives every value, in order. */
  nextAll<O>(values: readonly O[]): Transition<O> {
    return { type: 'nextAll', values };
  },
  /** Park this item: it emits nothing. A join waiting on it counts it as arrived with no value. */
  hold<O = never>(): Transition<O> {
    return HOLD as Transition<O>;
  },
  /** Fail this item with `error` (same as throwing it). */
  abort<O = never>(error: Error | string): Transition<O> {
    return { type: 'abort', error: typeof error === 'string' ? new Error(error) : error };
  },
} as const;

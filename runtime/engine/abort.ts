/**
 * How a run's cancellation reaches its steps without paying for an `AbortSignal` on every step.
 *
 * An `AbortSignal` is an `EventTarget`: creating one, and adding and removing the listener that races a node call
 * against it, costs a few microseconds per step. The distributed worker needs a cancellable scope for every item it
 * leases (cancel, deadline, lost lease, graceful stop), so it paid that on every step. {@link AbortSource} keeps
 * the engine's own listeners as plain callbacks and creates the `AbortSignal` only when node code reads
 * `ctx.signal` (then it is a real signal, already aborted if the source was).
 */

/** A cancellation source: an `AbortController` whose signal is created on first use. */
export class AbortSource {
  private controller: AbortController | undefined = undefined;
  private listeners: Array<() => void> | undefined = undefined;
  private abortedWith: { reason: unknown } | undefined = undefined;

  /** A source that follows an existing signal (aborted when it is, with its reason). */
  static of(signal: AbortSignal): AbortSource {
    return new SignalSource(signal);
  }

  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  /** Why it aborted (undefined while not aborted). */
  get reason(): unknown {
    return this.abortedWith?.reason;
  }

  /** An `AbortSignal` that aborts with this source (created on first read). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  /** Aborts once (later calls are ignored): the signal, if created, aborts and every listener is called. */
  abort(reason: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
    const ls = this.listeners;
    this.listeners = undefined;
    if (ls) for (const fn of ls) fn();
  }

  /** Calls `fn` once when the source aborts (never if it already has). Returns a function that unsubscribes. */
  onAbort(fn: () => void): () => void {
    if (this.abortedWith) return noop;
    (this.listeners ??= []).push(fn);
    return () => {
      const ls = this.listeners;
      if (!ls) return;
      const i = ls.indexOf(fn);
      if (i >= 0) ls.splice(i, 1);
    };
  }
}

function noop(): void {}

/** {@link AbortSource.of}: delegates to a signal someone else owns. */
class SignalSource extends AbortSource {
  constructor(private readonly external: AbortSignal) {
    super();
  }

  override get aborted(): boolean {
    return this.external.aborted;
  }

  override get reason(): unknown {
    return this.external.reason;
  }

  override get signal(): AbortSignal {
    return this.external;
  }

  override abort(): void {
    throw new TypeError('AbortSource.of(signal) follows a signal it does not own: abort its controller instead');
  }

  override onAbort(fn: () => void): () => void {
    if (this.external.aborted) return noop;
    this.external.addEventListener('abort', fn, { once: true });
    return () => this.external.removeEventListener('abort', fn);
  }
}

/**
 * One way to turn many concurrent calls into few requests, shared by the worker's commit batching and the backends'
 * createRun batching: calls made while requests are on their way queue up and go together in the next request.
 */
import { StoreError } from '../core/errors.js';

/** The outcome of one call of a batch: its value, or the error that call alone gets. */
export type Settled<O> = { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: unknown };

export interface CoalescerOptions<I> {
  /** Most calls per request. */
  readonly maxBatch: number;
  /** Requests on their way at once (default 1); further calls wait for one to return. */
  readonly maxInFlight?: number;
  /**
   * `'now'` (default): an idle coalescer sends a call at once. `'tick'`: every request waits one macrotask
   * (`setImmediate`), gathering the calls made in the same turn of the event loop.
   */
  readonly gather?: 'now' | 'tick';
  /** Calls with the same key never share a request (the later one waits for the next). */
  readonly keyOf?: (input: I) => string;
}

/**
 * Coalesces calls of `send`: `send(inputs)` makes one request for many inputs and answers one {@link Settled} per
 * input, in order. A request that rejects (or throws) rejects every call in it; an answer missing for a call rejects
 * that call with `StoreError`.
 */
export class Coalescer<I, O> {
  private queue: Array<{ readonly input: I; readonly resolve: (o: O) => void; readonly reject: (e: unknown) => void }> = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxInFlight: number;

  constructor(
    private readonly send: (inputs: I[]) => Promise<ReadonlyArray<Settled<O>>>,
    private readonly options: CoalescerOptions<I>,
  ) {
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  /** Queues one call; settles with its own result. */
  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.options.gather === 'tick') this.schedule();
      else this.flush();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight += 1;
      let sent: Promise<ReadonlyArray<Settled<O>>>;
      try {
        sent = this.send(batch.map((b) => b.input));
      } catch (err) {
        sent = Promise.reject(err);
      }
      void sent
        .then(
          (results) => {
            batch.forEach((b, i) => {
              const r = results[i];
              if (r === undefined) b.reject(new StoreError('the store answered fewer results than calls sent'));
              else if (r.ok) b.resolve(r.value);
              else b.reject(r.error);
            });
          },
          (err: unknown) => {
            for (const b of batch) b.reject(err);
          },
        )
        .finally(() => {
          this.inFlight -= 1;
          if (this.options.gather === 'tick') this.schedule();
          else this.flush();
        });
    }
  }

  /** The next request's calls: up to `maxBatch`, in order, at most one per key. */
  private take(): typeof this.queue {
    const { maxBatch, keyOf } = this.options;
    if (!keyOf) return this.queue.splice(0, maxBatch);
    const batch: typeof this.queue = [];
    const rest: typeof this.queue = [];
    const keys = new Set<string>();
    for (const q of this.queue) {
      const k = keyOf(q.input);
      if (batch.length < maxBatch && !keys.has(k)) {
        keys.add(k);
        batch.push(q);
      } else rest.push(q);
    }
    this.queue = rest;
    return batch;
  }
}

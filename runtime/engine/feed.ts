/**
 * {@link EventFeed}: an in-process event feed with a retention, the {@link EventSubscriber} of the in-memory stores.
 * Events are kept as JSON text and parsed per delivery, so subscribers never share an object with the store or with
 * each other. Cursors are the decimal sequence numbers of the events (1, 2, 3...).
 */
import { EventsLostError, InvalidArgumentError } from '../core/errors.js';
import { safeJsonParse, toJson } from '../core/json.js';
import type { EventEnvelope, EventSubscriber, SubscribeOptions, WorkflowEvent } from './events.js';

export interface EventFeedOptions {
  /** How many of the newest events the feed keeps (default 100,000). Older ones are trimmed. */
  readonly retention?: number;
}

/** Default {@link EventFeedOptions.retention}. */
export const DEFAULT_EVENT_RETENTION = 100_000;

/** Parses a cursor of this feed: a non-negative integer in decimal. */
function seqOf(cursor: string): number {
  if (typeof cursor !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(cursor)) throw new InvalidArgumentError(`not an event cursor of this store: ${JSON.stringify(cursor)}`);
  return Number(cursor);
}

/**
 * The refusal of a well-formed cursor after the newest event a store made: no store issued it (mistyped, or of
 * another store), and reading from it would skip every event until the stream caught up with it, silently.
 */
export function aheadError(cursor: string, newest: string): InvalidArgumentError {
  return new InvalidArgumentError(`cursor ${cursor} is ahead of every event this store made (the newest is ${newest}): it was not issued by this store`);
}

export class EventFeed implements EventSubscriber {
  private readonly retention: number;
  /** Retained events as [runId, json], oldest first; `events[0]` has sequence number `first`. */
  private events: Array<readonly [string, string]> = [];
  private first = 1;
  private wake: Array<() => void> = [];

  constructor(options: EventFeedOptions = {}) {
    const retention = options.retention ?? DEFAULT_EVENT_RETENTION;
    if (!Number.isSafeInteger(retention) || retention < 1) throw new InvalidArgumentError(`retention must be a positive integer, got ${String(retention)}`);
    this.retention = retention;
  }

  /** The cursor of the newest event ('0' when none was appended yet). */
  get head(): string {
    return String(this.first + this.events.length - 1);
  }

  /** Appends an event (stored as every store stores values: Date, Map, Set and bigint read back as such). */
  append(event: WorkflowEvent): void {
    this.events.push([event.runId, toJson(event, 'an event')]);
    if (this.events.length > this.retention + Math.max(1024, this.retention >> 3)) {
      const cut = this.events.length - this.retention;
      this.events = this.events.slice(cut);
      this.first += cut;
    }
    const wake = this.wake;
    if (wake.length === 0) return;
    this.wake = [];
    for (const w of wake) w();
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<EventEnvelope> {
    const after = options.after === undefined ? this.first - 1 : options.after === 'now' ? Number(this.head) : seqOf(options.after);
    if (after > Number(this.head)) throw aheadError(String(after), this.head);
    return { [Symbol.asyncIterator]: () => this.iterate(after, options.runId, options.signal) };
  }

  private async *iterate(after: number, runId: string | undefined, signal: AbortSignal | undefined): AsyncGenerator<EventEnvelope> {
    let next = after + 1;
    while (!signal?.aborted) {
      if (next < this.first) throw new EventsLostError(`events after cursor ${next - 1} are no longer retained (the oldest retained is ${this.first})`);
      const end = this.first + this.events.length;
      if (next < end) {
        const [run, json] = this.events[next - this.first];
        const seq = next++;
        if (runId === undefined || run === runId) yield { cursor: String(seq), event: safeJsonParse<WorkflowEvent>(json, 'an event') };
        continue;
      }
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.wake.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
  }
}

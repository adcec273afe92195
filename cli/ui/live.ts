/**
 * Live updates as server-sent events, driven by the store's event stream.
 *
 * - A run page's stream (`/api/runs/<id>/live`) gets a `run` event with the page's data ({@link runView}) at once and
 *   whenever it changed. One watcher per open run, shared by every browser showing it.
 * - The runs list's stream (`/api/runs/live`) gets a `runs` event when a run was created or changed status (at most
 *   one per {@link MIN_READ_GAP_MS}: a busy store's hundreds of run events a second are one reload), and the page
 *   reloads its rows.
 *
 * With a store that publishes events (`RunObserver`: memory, Redis), ONE subscription serves every stream: an event
 * of a watched run re-reads that run (reads of one run are coalesced, and the next starts no sooner after the last ended
 * than {@link MIN_READ_GAP_MS} or {@link READ_GAP_FACTOR} times as long as the last took: a run whose read takes a
 * second, a run of 100,000 items on Redis, whose reads block every other client of the server meanwhile, is read at
 * most a fifth of the time, not back to back nor half the time, so its workers keep going), and
 * a slow re-read every `safetyMs` covers an event missed while the subscription (re)connected. A store without events
 * is re-read every `pollMs` instead. A finished run is read once more and then no longer: it cannot change.
 *
 * Every event carries a whole state (a run page's data; a list's "reload"), so a stream whose client reads slower
 * than its events come (or not at all) skips the intermediate ones ({@link deliver}): while its client has not read
 * what was written, only the newest event waits for it, written once the client has read the rest. The server holds
 * at most two events for a client, and a slow one (a run page of megabytes on a busy run) stays connected and sees
 * the newest state each time it has read the last.
 */
import type { ServerResponse } from 'node:http';
import { RunNotFoundError } from '../../runtime/core/errors.js';
import { isFinalRunStatus, supportsObservation, type RunObserver } from '../../runtime/distributed/contracts.js';
import type { RunsStore } from '../store/runs-store.js';
import type { WorkflowEvent } from '../../runtime/engine/events.js';
import { answerWithin } from './store-deadline.js';
import { runView } from './views.js';
import { valueText } from '../values-text.js';

/** A comment line keeps idle streams open through proxies. */
const KEEPALIVE_MS = 15_000;
/** The shortest time between two reads of one run (a busy run's events arrive far faster than a page can use). */
const MIN_READ_GAP_MS = 150;
/**
 * A run's next read starts no sooner after its last read ended than this many times as long as that read took: the
 * store spends at most 1 / (1 + this) of its time on one open run page however busy the run (a Redis script that
 * counts a run's 100,000 item states holds the server for its whole length).
 */
const READ_GAP_FACTOR = 4;
/** The live streams open at once by default ({@link LiveOptions.maxStreams}). */
export const MAX_LIVE_STREAMS = 100;
/** When a client refused for the cap is told to try again (s). */
const RETRY_AFTER_S = 10;

interface Watch {
  readonly subscribers: Set<ServerResponse>;
  last: string | undefined;
  final: boolean;
  timer: NodeJS.Timeout | undefined;
  reading: boolean;
  again: boolean;
  /** When the last read ended, and how long it took (ms). */
  readEndedAt: number;
  readMs: number;
}

export interface LiveOptions {
  /** Re-read period of a store without events (ms). */
  readonly pollMs: number;
  /** Re-read period of a store with events (ms), a safety net only. */
  readonly safetyMs: number;
  /** How long a read waits for the store before the page is told it did not answer (ms; store-deadline.ts). */
  readonly storeTimeoutMs: number;
  /**
   * The most streams open at once (run pages' and runs lists' together): beyond it a stream is answered 503 with a
   * `Retry-After`, so a client opening streams in a loop cannot hold the server's sockets and the store's reads.
   */
  readonly maxStreams: number;
}

function send(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
  res.write('retry: 2000\n\n');
}

/** The newest event waiting for a stream whose client has not read what was written before ({@link deliver}). */
const waiting = new WeakMap<ServerResponse, string>();

/**
 * Writes an event to a stream, now when the stream has room (`writableNeedDrain` unset), else once its client has read
 * what waits: only the newest event waits (it replaces an older one, which is useless once a newer state exists), so
 * the server never holds more than two events for one client, however slowly it reads. A keepalive (`keepalive`) is
 * written only to a stream with room.
 */
function deliver(res: ServerResponse, text: string, keepalive = false): void {
  if (res.destroyed) return;
  if (!res.writableNeedDrain) return void res.write(text);
  if (keepalive) return;
  const queued = waiting.has(res);
  waiting.set(res, text);
  if (queued) return;
  res.once('drain', () => {
    const next = waiting.get(res);
    waiting.delete(res);
    if (next !== undefined) deliver(res, next);
  });
}

export class LiveRuns {
  private readonly watches = new Map<string, Watch>();
  private readonly lists = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;
  private readonly observer: (RunsStore & RunObserver) | undefined;
  private feed: AbortController | undefined;
  private listTimer: NodeJS.Timeout | undefined;
  /** When the lists were last told, and the timer of the next time when a change came sooner than the gap after. */
  private listToldAt = 0;
  private listNext: NodeJS.Timeout | undefined;
  private closed = false;
  /** Streams open now: admitted and not yet closed ({@link admit}). */
  private open = 0;

  constructor(
    private readonly backend: RunsStore,
    private readonly options: LiveOptions,
  ) {
    this.observer = supportsObservation(backend) ? backend : undefined;
    this.keepalive = setInterval(() => {
      for (const w of this.watches.values()) for (const res of w.subscribers) deliver(res, ': keepalive\n\n', true);
      for (const res of this.lists) deliver(res, ': keepalive\n\n', true);
    }, KEEPALIVE_MS).unref();
  }

  /** True when updates come from the store's event stream (else from re-reading it). */
  get pushed(): boolean {
    return this.observer !== undefined;
  }

  /** Answers a run's `/live` request: the current data at once, then every change until the browser goes away. */
  streamRun(runId: string, res: ServerResponse, headers: Record<string, string>): void {
    if (!this.admit(res, headers)) return;
    send(res, headers);
    let w = this.watches.get(runId);
    if (!w) {
      w = { subscribers: new Set(), last: undefined, final: false, timer: undefined, reading: false, again: false, readEndedAt: 0, readMs: 0 };
      this.watches.set(runId, w);
    }
    const watch = w;
    watch.subscribers.add(res);
    if (watch.last !== undefined) deliver(res, watch.last);
    res.on('close', () => {
      watch.subscribers.delete(res);
      if (watch.subscribers.size === 0) this.stop(runId, watch);
      this.release();
    });
    this.ensureFeed();
    if (watch.timer === undefined && !watch.reading) void this.read(runId, watch);
  }

  /** Answers the runs list's `/live` request: a `runs` event whenever a run was created or changed status. */
  streamList(res: ServerResponse, headers: Record<string, string>): void {
    if (!this.admit(res, headers)) return;
    send(res, headers);
    this.lists.add(res);
    res.on('close', () => {
      this.lists.delete(res);
      this.release();
    });
    this.ensureFeed();
    if (!this.observer && this.listTimer === undefined) {
      this.listTimer = setInterval(() => this.notifyLists(), this.options.pollMs * 4);
    }
  }

  /**
   * Counts a new stream until its connection closes (the client went away, or {@link close}), or answers it 503 with
   * a `Retry-After` when {@link LiveOptions.maxStreams} are open (false: it is answered).
   */
  private admit(res: ServerResponse, headers: Record<string, string>): boolean {
    const max = this.options.maxStreams;
    if (this.closed || this.open >= max) {
      res.writeHead(503, { ...headers, 'content-type': 'application/json; charset=utf-8', 'retry-after': String(RETRY_AFTER_S) });
      res.end(JSON.stringify({ error: `too many live streams open (${max}, the most this dashboard serves: floxide ui --max-live-streams): try again later` }));
      return false;
    }
    this.open += 1;
    res.once('close', () => (this.open -= 1));
    return true;
  }

  /** Re-reads `runId` now (after an action), if someone watches it. */
  poke(runId: string): void {
    const w = this.watches.get(runId);
    if (!w) return;
    w.final = false;
    if (w.reading) return void (w.again = true);
    clearTimeout(w.timer);
    w.timer = undefined;
    const wait = Math.max(MIN_READ_GAP_MS, READ_GAP_FACTOR * w.readMs) - (Date.now() - w.readEndedAt);
    if (wait > 0) w.timer = setTimeout(() => void this.read(runId, w), wait);
    else void this.read(runId, w);
  }

  /** Ends every stream and the subscription. */
  close(): void {
    this.closed = true;
    clearInterval(this.keepalive);
    clearInterval(this.listTimer);
    clearTimeout(this.listNext);
    this.listNext = undefined;
    this.feed?.abort();
    for (const [runId, w] of this.watches) {
      for (const res of w.subscribers) res.end();
      this.stop(runId, w);
    }
    for (const res of this.lists) res.end();
    this.lists.clear();
  }

  /** Tells every runs list to reload: now, or once {@link MIN_READ_GAP_MS} has passed since it was last told. */
  private notifyLists(): void {
    if (this.listNext !== undefined || this.lists.size === 0) return;
    const wait = MIN_READ_GAP_MS - (Date.now() - this.listToldAt);
    if (wait > 0) {
      this.listNext = setTimeout(() => {
        this.listNext = undefined;
        this.notifyLists();
      }, wait);
      return;
    }
    this.listToldAt = Date.now();
    for (const res of this.lists) deliver(res, 'event: runs\ndata: {}\n\n');
  }

  private onEvent(event: WorkflowEvent): void {
    if (this.watches.has(event.runId)) this.poke(event.runId);
    if (event.type.startsWith('run.')) this.notifyLists();
  }

  /** Starts the one subscription while anything is watched (a store without events has none). */
  private ensureFeed(): void {
    if (!this.observer || this.feed || this.closed) return;
    const feed = new AbortController();
    this.feed = feed;
    const observer = this.observer;
    void (async () => {
      while (!feed.signal.aborted) {
        try {
          for await (const { event } of observer.subscribe({ after: 'now', signal: feed.signal })) this.onEvent(event);
        } catch {
          // A lost connection or trimmed events: re-read everything watched (what was missed shows), then listen again.
          if (feed.signal.aborted) break;
          await new Promise((r) => setTimeout(r, 1_000));
        }
        if (feed.signal.aborted) break;
        for (const runId of this.watches.keys()) this.poke(runId);
        this.notifyLists();
      }
    })();
  }

  /** Ends the subscription when nothing is watched any more. */
  private release(): void {
    if (this.watches.size > 0 || this.lists.size > 0) return;
    this.feed?.abort();
    this.feed = undefined;
    clearInterval(this.listTimer);
    this.listTimer = undefined;
    clearTimeout(this.listNext);
    this.listNext = undefined;
  }

  private stop(runId: string, w: Watch): void {
    clearTimeout(w.timer);
    w.timer = undefined;
    if (this.watches.get(runId) === w) this.watches.delete(runId);
  }

  private async read(runId: string, w: Watch): Promise<void> {
    w.reading = true;
    w.timer = undefined;
    const startedAt = Date.now();
    let event: string;
    try {
      const view = await answerWithin(runView(this.backend, runId), this.options.storeTimeoutMs, `run ${runId}`);
      event = `event: run\ndata: ${valueText(view)}\n\n`;
      w.final = isFinalRunStatus(view.run.status);
    } catch (err) {
      event = `event: failure\ndata: ${JSON.stringify({ error: (err as Error).message })}\n\n`;
      // no such run: nothing to re-read until an event of it says it exists now (a store without events: a reload)
      w.final = err instanceof RunNotFoundError;
    }
    w.reading = false;
    w.readEndedAt = Date.now();
    w.readMs = w.readEndedAt - startedAt;
    if (this.watches.get(runId) !== w) return;
    if (event !== w.last) {
      w.last = event;
      for (const res of w.subscribers) deliver(res, event);
    }
    if (w.again) {
      w.again = false;
      return this.poke(runId);
    }
    if (!w.final) w.timer = setTimeout(() => void this.read(runId, w), this.observer ? this.options.safetyMs : this.options.pollMs);
  }
}

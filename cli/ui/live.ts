/**
 * Live updates of the run page as server-sent events. One watcher per open run, shared by every browser showing it:
 * it re-reads the run page's data ({@link runView}) every `pollMs` and after an action, and sends a `run` event to
 * each subscriber when the data changed. A finished run is read once more and then no longer: it cannot change.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFinalRunStatus, type DistributedBackend } from '../../runtime/distributed/contracts.js';
import { runView } from './views.js';

/** A comment line keeps idle streams open through proxies. */
const KEEPALIVE_MS = 15_000;

interface Watch {
  readonly subscribers: Set<ServerResponse>;
  last: string | undefined;
  final: boolean;
  timer: NodeJS.Timeout | undefined;
  reading: boolean;
  again: boolean;
}

export class LiveRuns {
  private readonly watches = new Map<string, Watch>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    private readonly backend: DistributedBackend,
    private readonly pollMs: number,
  ) {
    this.keepalive = setInterval(() => {
      for (const w of this.watches.values()) for (const res of w.subscribers) res.write(': keepalive\n\n');
    }, KEEPALIVE_MS).unref();
  }

  /** Answers a `/live` request: the current data at once, then every change until the browser goes away. */
  stream(runId: string, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    let w = this.watches.get(runId);
    if (!w) {
      w = { subscribers: new Set(), last: undefined, final: false, timer: undefined, reading: false, again: false };
      this.watches.set(runId, w);
    }
    w.subscribers.add(res);
    if (w.last !== undefined) res.write(w.last);
    req.on('close', () => {
      w.subscribers.delete(res);
      if (w.subscribers.size === 0) this.stop(runId, w);
    });
    if (w.timer === undefined && !w.reading) void this.read(runId, w);
  }

  /** Re-reads `runId` now (after an action), if someone watches it. */
  poke(runId: string): void {
    const w = this.watches.get(runId);
    if (!w) return;
    w.final = false;
    if (w.reading) w.again = true;
    else {
      clearTimeout(w.timer);
      void this.read(runId, w);
    }
  }

  /** Ends every stream. */
  close(): void {
    clearInterval(this.keepalive);
    for (const [runId, w] of this.watches) {
      for (const res of w.subscribers) res.end();
      this.stop(runId, w);
    }
  }

  private stop(runId: string, w: Watch): void {
    clearTimeout(w.timer);
    w.timer = undefined;
    if (this.watches.get(runId) === w) this.watches.delete(runId);
  }

  private async read(runId: string, w: Watch): Promise<void> {
    w.reading = true;
    w.timer = undefined;
    let event: string;
    try {
      const view = await runView(this.backend, runId);
      event = `event: run\ndata: ${JSON.stringify(view)}\n\n`;
      w.final = isFinalRunStatus(view.run.status);
    } catch (err) {
      event = `event: failure\ndata: ${JSON.stringify({ error: (err as Error).message })}\n\n`;
    }
    w.reading = false;
    if (this.watches.get(runId) !== w) return;
    if (event !== w.last) {
      w.last = event;
      for (const res of w.subscribers) res.write(event);
    }
    if (w.again) {
      w.again = false;
      return this.read(runId, w);
    }
    if (!w.final) w.timer = setTimeout(() => void this.read(runId, w), this.pollMs);
  }
}

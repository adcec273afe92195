/**
 * {@link SqliteRunFeed}: the events of the runs in a SQLite checkpoint file, for `floxide runs watch` and the
 * dashboard's live updates, derived from what the file keeps (run records, the step history of migration 006).
 *
 * SQLite has no notification another process can listen to (its update hook only reports the same connection's
 * writes), so the feed checks `PRAGMA data_version` every `pollMs`: an in-memory comparison that reads no page and
 * changes only when another connection committed. Only then does it read: the runs created since, and for each run
 * it follows, the history rows after the ones it delivered (one scan of that run's journal keys in SQLite) and its
 * status, and its version moves since. Per run the events come in the store's order: `run.created`, per attempt
 * `step.started` then `step.finished` or `step.retry`, each `run.migrated` (migration 011) among them, and the final
 * event. Cursors are `<run number>.<event number>`, ordered per run;
 * a subscription starts from the oldest event (`after` omitted) or from now (`'now'`), not after a cursor.
 */
import { InvalidArgumentError, RunNotFoundError } from '../core/errors.js';
import { sleep } from '../core/time.js';
import type { EventEnvelope, EventSubscriber, RunMigratedEvent, StepRecord, SubscribeOptions, WorkflowEvent } from '../engine/events.js';
import type { CheckpointStatus } from './contract.js';
import { SqliteHistory, type HistoryPosition } from './sqlite-history.js';
import type { ListedRun, SqliteRunReader } from './sqlite-inspect.js';
import type { SqliteCheckpointStore } from './sqlite.js';

/** Default {@link SqliteRunFeed} check period (ms). */
export const DEFAULT_FEED_POLL_MS = 200;
/**
 * How far back a pass looks for run-level writes before the newest it saw (ms): a writer whose clock is a little
 * behind, or whose commit took its time after reading the clock, is still seen. Re-reading a run that did not change
 * delivers nothing.
 */
const CLOCK_MARGIN_MS = 10_000;

interface Followed {
  readonly runId: string;
  status: CheckpointStatus;
  position: HistoryPosition | undefined;
  events: number;
  /** The last version move delivered (floxide_moves). */
  move: number;
}

export class SqliteRunFeed implements EventSubscriber {
  private readonly history: SqliteHistory;
  private ownWrites = 0;

  constructor(
    private readonly store: SqliteCheckpointStore,
    private readonly reader: SqliteRunReader,
    private readonly pollMs = DEFAULT_FEED_POLL_MS,
  ) {
    this.history = new SqliteHistory(store.db);
  }

  /** Tells the feed this connection wrote (its own commits do not change `data_version`). */
  noteWrite(): void {
    this.ownWrites++;
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<EventEnvelope> {
    if (options.after !== undefined && options.after !== 'now') {
      throw new InvalidArgumentError(`a SQLite file's event feed starts from its oldest event or from now, not after a cursor (${JSON.stringify(options.after)})`);
    }
    return { [Symbol.asyncIterator]: () => this.iterate(options) };
  }

  private async *iterate(options: SubscribeOptions): AsyncGenerator<EventEnvelope> {
    const followed = new Map<number, Followed>();
    const fromNow = options.after === 'now';
    let lastRunNo = 0;
    if (options.runId !== undefined) {
      const run = this.reader.run(options.runId);
      if (!run) throw new RunNotFoundError(`no run with id ${JSON.stringify(options.runId)}`);
      lastRunNo = Infinity;
      followed.set(run.runNo, fromNow ? this.current(run) : { runId: run.runId, status: 'running', position: undefined, events: 0, move: 0 });
    } else if (fromNow) {
      lastRunNo = this.reader.lastRunNo();
      for (const status of ['running', 'failed'] as const) for (const run of this.reader.listRuns({ status })) followed.set(run.runNo, this.current(run));
    }
    let seen: number | undefined;
    // A failed run changes only through a run-level write (a resume, a cancel, a version move), which sets its
    // updated_at: each pass reads the failed runs written since the last one (less a margin for writers' clocks and
    // commits in flight), not every failed run the file ever had (they are never deleted: each one read on every
    // change cost a watch of a file with 20,000 failed runs most of a core).
    let horizon = Date.now() - CLOCK_MARGIN_MS;
    while (!options.signal?.aborted) {
      const version = this.reader.dataVersion() + this.ownWrites;
      if (version !== seen) {
        seen = version;
        const written = new Set<number>();
        for (const r of this.reader.runsUpdatedSince(horizon)) {
          written.add(r.runNo);
          horizon = Math.max(horizon, r.updatedAt - CLOCK_MARGIN_MS);
        }
        const out: EventEnvelope[] = [];
        if (lastRunNo !== Infinity) {
          for (const run of this.reader.runsAfter(lastRunNo)) {
            lastRunNo = run.runNo;
            const f: Followed = { runId: run.runId, status: 'running', position: undefined, events: 0, move: 0 };
            followed.set(run.runNo, f);
            out.push(this.envelope(run.runNo, f, { type: 'run.created', runId: run.runId, at: run.createdAt, workflow: run.workflow }));
          }
        }
        for (const [runNo, f] of followed) {
          if (f.status === 'failed' && !written.has(runNo)) continue;
          for (const e of this.changes(runNo, f)) out.push(this.envelope(runNo, f, e));
          if (f.status === 'completed' || f.status === 'cancelled') followed.delete(runNo);
        }
        for (const e of out) {
          if (options.signal?.aborted) return;
          yield e;
        }
        if (options.runId !== undefined && followed.size === 0) return;
      }
      await sleep(this.pollMs, options.signal).catch(() => undefined);
    }
  }

  /** A run followed from its state now (nothing of its past is delivered). */
  private current(run: ListedRun): Followed {
    const moves = this.reader.movesAfter(run.runNo, run.runId, 0);
    return { runId: run.runId, status: run.status, position: this.history.read(run.runNo, run.runId, run.status === 'completed').position, events: 0, move: moves.at(-1)?.move ?? 0 };
  }

  /**
   * What changed in a followed run since the feed last read it: its new history records with its version moves among
   * them (a move before the steps committed after it), then a status change.
   */
  private changes(runNo: number, f: Followed): WorkflowEvent[] {
    const read = this.store.db.transaction(() => {
      const run = this.reader.runByNo(runNo);
      return run ? { run, moves: this.reader.movesAfter(runNo, run.runId, f.move), ...this.history.read(runNo, run.runId, run.status === 'completed', f.position) } : undefined;
    })();
    if (!read) return [];
    const { run, moves, records, position } = read;
    f.position = position;
    f.move = moves.at(-1)?.move ?? f.move;
    const events = stepEvents(records, moves.map((m) => m.event));
    if (run.status !== f.status) {
      f.status = run.status;
      const at = run.updatedAt;
      if (run.status === 'completed') events.push({ type: 'run.completed', runId: run.runId, at, output: run.output, dropped: run.dropped.map((d) => ({ id: d.id, node: d.node, reason: 'terminal' })) });
      else if (run.status === 'failed' && run.error) events.push({ type: 'run.failed', runId: run.runId, at, error: run.error });
      else if (run.status === 'cancelled' && run.error) events.push({ type: 'run.cancelled', runId: run.runId, at, error: run.error });
    }
    return events;
  }

  private envelope(runNo: number, f: Followed, event: WorkflowEvent): EventEnvelope {
    return { cursor: `${runNo}.${++f.events}`, event };
  }
}

/**
 * `step.started` and the attempt's end (`step.finished` / `step.retry`) per history record, in order, each version
 * move (oldest first) before the first record that finished after it.
 */
function stepEvents(records: readonly StepRecord[], moves: readonly RunMigratedEvent[]): WorkflowEvent[] {
  const out: WorkflowEvent[] = [];
  let m = 0;
  records.forEach((r, i) => {
    while (m < moves.length && moves[m]!.at < r.finishedAt) out.push(moves[m++]!);
    const base = { runId: r.runId, node: r.node, itemId: r.itemId, attempt: r.attempt, workerId: r.workerId };
    out.push({ type: 'step.started', ...base, at: r.startedAt });
    if (r.outcome === 'retry') {
      const next = records[i + 1];
      const delayMs = next && next.itemId === r.itemId ? Math.max(0, next.startedAt - r.finishedAt) : 0;
      out.push({ type: 'step.retry', ...base, at: r.finishedAt, startedAt: r.startedAt, delayMs, error: r.error! });
    } else {
      out.push({ type: 'step.finished', ...base, at: r.finishedAt, startedAt: r.startedAt, outcome: r.outcome, error: r.error });
    }
  });
  out.push(...moves.slice(m));
  return out;
}

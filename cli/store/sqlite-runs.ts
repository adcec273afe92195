/**
 * {@link SqliteRunsStore}: a SQLite checkpoint file (`runWithCheckpoint`, `resume`) as a {@link RunsStore}, so every
 * `floxide runs` command and `floxide ui` work on `sqlite:<file>`. Runs are read from the file as the store wrote
 * them: the run records, the journal (items, context deltas), the step history and the signal mailbox.
 *
 * How a local durable run maps onto the distributed view:
 * - statuses are the same words; a `failed` checkpointed run can still be resumed (or cancelled);
 * - errors are the history's failed attempts (`retry`, `failure`), dead letters the item that failed the run while
 *   it is still pending; metrics are counted from the journal and the history (a running run's from its journal folded
 *   and kept between reads, {@link SqliteFolds}: a long run's page decodes only the steps committed since its last read);
 * - there are no workers (a run is executed by the process that calls `runWithCheckpoint` / `resume`: the history
 *   names it) and so no holders, no leases, no `in_progress` items; a running run's record names that process
 *   (`owner`: its claim, with its last heartbeat) and says whether it is `orphaned` (no live process holds it);
 * - cancel marks the run cancelled (final: `resume` refuses it; a process still executing it ends with `CancelledError`
 *   at its next commit or poll, or when its claim's heartbeat, every 10 s, reads the run cancelled: its node's
 *   `ctx.signal` aborts); pause and resume are `UnsupportedOperationError`: stop the process and call `resume`;
 * - signals go to the run's mailbox, where the process running it reads them (`signalPollMs`);
 * - events come from {@link SqliteRunFeed} (the file polled through `data_version`: SQLite notifies no other process).
 */
import { existsSync } from 'node:fs';
import { CancelledError, CorruptStateError, InvalidArgumentError, RunNotFoundError, RunStateError, StoreError, UnsupportedOperationError, continuedErrorKind, serializeError } from '../../runtime/core/errors.js';
import { assertRunId } from '../../runtime/core/ids.js';
import {
  assertRunCursor,
  assertRunStatus,
  countItem,
  emptyMetrics,
  type ItemCounts,
  type TailOptions,
  type ContextSnapshot,
  type DeadLetter,
  type ErrorRecord,
  type ListRunsFilter,
  type PendingWork,
  type RunMetrics,
  type RunObserver,
  type RunRecord,
  type RunTransition,
  type SignalReceiver,
  type WorkItemState,
  type PendingWorkOptions,
  pendingWorkFilter,
  isOutstanding,
  type WorkItemStatus,
  type WorkerRecord,
} from '../../runtime/distributed/contracts.js';
import type { EventEnvelope, StepRecord, SubscribeOptions } from '../../runtime/engine/events.js';
import { DUPLICATE_SIGNAL, deliveredTo, isParked, type PendingSignal, type SignalReceipt } from '../../runtime/engine/parked.js';
import type { EngineItem } from '../../runtime/engine/types.js';
import { versionMovesOf } from '../../runtime/engine/migration.js';
import { tailLimit, tailOf, type PurgeOptions } from '../../runtime/core/validate.js';
import { SqliteRunFeed } from '../../runtime/stores/sqlite-feed.js';
import { SqliteRunReader, type ListedRun } from '../../runtime/stores/sqlite-inspect.js';
import { SqliteHistory } from '../../runtime/stores/sqlite-history.js';
import { SqliteCheckpointStore } from '../../runtime/stores/sqlite.js';
import { claimLives } from '../../runtime/stores/ownership.js';
import type { RunsStore } from './runs-store.js';
import { SqliteFolds, type Folded } from './sqlite-folds.js';

/**
 * The checkpoint store of an existing file, as the CLI opens one (a missing file is a `StoreError`: a misspelt path
 * must not answer "no runs" from a new empty file it leaves behind; the store itself refuses, writing nothing, another
 * application's database and a file of a newer floxide).
 */
export function openCheckpointFile(file: string, options: { busyTimeoutMs?: number } = {}): SqliteCheckpointStore {
  if (file === '' || !existsSync(file)) throw new StoreError(`no SQLite checkpoint file at ${JSON.stringify(file)}`);
  return new SqliteCheckpointStore(file, { ...options, checkpoints: 'inline' });
}

export class SqliteRunsStore implements RunsStore, RunObserver, SignalReceiver {
  readonly kind = 'sqlite';
  private readonly reader: SqliteRunReader;
  private readonly history: SqliteHistory;
  private readonly feed: SqliteRunFeed;
  /** The runs' folds kept between reads ({@link fold}). */
  private readonly folds: SqliteFolds;
  /** The folds in flight, by run id ({@link fold}). */
  private readonly folding = new Map<string, Promise<Folded>>();

  private constructor(private readonly store: SqliteCheckpointStore) {
    this.reader = new SqliteRunReader(store.db);
    this.history = new SqliteHistory(store.db);
    this.feed = new SqliteRunFeed(store, this.reader);
    this.folds = new SqliteFolds(this.reader, this.history);
  }

  /**
   * Opens an existing checkpoint file (a missing file is a `StoreError`, not a new empty file). `busyTimeoutMs`: how long
   * a write waits for another connection's lock in all (default 5000; `SqliteCheckpointStore.whenUnlocked`).
   */
  static open(file: string, options: { busyTimeoutMs?: number } = {}): SqliteRunsStore {
    return new SqliteRunsStore(openCheckpointFile(file, options));
  }

  /** Deletes the file's finished runs (see `SqliteCheckpointStore.purgeFinished`). */
  purgeFinished(options?: PurgeOptions): Promise<number> {
    return this.store.purgeFinished(options);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    assertRunId(runId);
    const run = this.reader.run(runId);
    return run ? recordOf(run) : undefined;
  }

  async listRuns(filter: ListRunsFilter = {}): Promise<RunRecord[]> {
    if (filter.status !== undefined) assertRunStatus(filter.status);
    if (filter.limit !== undefined && (!Number.isSafeInteger(filter.limit) || filter.limit <= 0)) throw new InvalidArgumentError(`limit must be a positive integer, got ${String(filter.limit)}`);
    if (filter.after !== undefined) assertRunCursor(filter.after);
    if (filter.status === 'paused') return [];
    return this.reader
      .listRuns({
        ...(filter.status !== undefined ? { status: filter.status } : {}),
        ...(filter.workflow !== undefined ? { workflow: filter.workflow } : {}),
        ...(filter.limit !== undefined ? { limit: filter.limit } : {}),
        ...(filter.after !== undefined ? { after: filter.after } : {}),
      })
      .map(recordOf);
  }

  async cancelRun(runId: string, reason?: string): Promise<RunTransition> {
    const f = await this.fold(runId);
    const status = f.journal.run.status;
    if (status === 'cancelled') return { applied: false, status, dropped: [] };
    if (status === 'completed') throw new RunStateError(`run ${runId} is completed: a finished run's status is final`);
    const applied = await this.store.whenUnlocked(() => this.store.cancel(runId, serializeError(new CancelledError(reason ?? 'the run was cancelled'))));
    this.feed.noteWrite();
    if (!applied) return this.cancelRun(runId, reason);
    return { applied, status: 'cancelled', dropped: f.pending.map((it) => ({ id: it.id, node: it.node, reason: 'cancelled' })) };
  }

  async pauseRun(runId: string): Promise<RunTransition> {
    return this.unsupported(runId, 'paused');
  }

  async resumeRun(runId: string): Promise<RunTransition> {
    return this.unsupported(runId, 'resumed');
  }

  /**
   * A finished run's are counted by SQLite from the journal once and kept ({@link SqliteRunReader.finishedCounts}), a
   * running run's counted by SQLite at each read unless its fold is kept ({@link readsInPlace}; a long run's items are
   * not decoded), except for a run with a step's items that are not a JSON array; a failed run's from its fold (its
   * dead letter is there).
   */
  async metrics(runId: string): Promise<RunMetrics> {
    const listed = this.runOrThrow(runId);
    const t = isFinished(listed) ? this.reader.finishedCounts(listed)?.totals : this.readsInPlace(listed) ? this.reader.journalTotals(listed.runNo) : undefined;
    if (t !== undefined) {
      const dropped = listed.status === 'completed' ? listed.dropped.length : listed.status === 'cancelled' ? t.enqueued - t.steps : 0;
      return { ...emptyMetrics(), enqueued: t.enqueued, completed: t.steps, retries: t.retries, failed: t.failures, dropped };
    }
    const f = await this.fold(runId);
    const run = f.journal.run;
    const count = (o: StepRecord['outcome']) => f.history.filter((h) => h.outcome === o).length;
    return {
      ...emptyMetrics(),
      enqueued: f.enqueued.length,
      completed: f.journal.steps.length,
      retries: count('retry'),
      failed: count('failed'),
      deadLettered: this.deadLettersOf(f).length,
      dropped: run.status === 'completed' ? run.dropped.length : run.status === 'cancelled' ? f.pending.length : 0,
    };
  }

  async errors(runId: string, options?: TailOptions): Promise<ErrorRecord[]> {
    const limit = tailLimit(options);
    const listed = this.runOrThrow(runId);
    // (a running run's from its fold when one is kept, as its metrics)
    const records = limit === undefined || (listed.status === 'running' && !this.readsInPlace(listed)) ? tailOf((await this.fold(runId)).history.filter((h) => h.error !== undefined), limit) : this.history.errorTail(listed.runNo, runId, limit);
    return records.map((h) => ({ itemId: h.itemId, node: h.node, attempt: h.attempt, error: h.error!, kind: h.outcome === 'retry' ? 'retry' : h.outcome === 'failed' ? 'failure' : continuedErrorKind(h.error), at: h.finishedAt }));
  }

  async deadLetters(runId: string, options?: TailOptions): Promise<DeadLetter[]> {
    const limit = tailLimit(options);
    // only a failed run has one (deadLettersOf)
    if (this.runOrThrow(runId).status !== 'failed') return [];
    return tailOf(this.deadLettersOf(await this.fold(runId)), limit);
  }

  /**
   * Throws the journal's `CorruptStateError` when the initial context or a delta cannot be read (with a limit, one of
   * those it reads). A running run's deltas come from its fold when one is kept, as its metrics (unless one of them
   * cannot be read with a limit: then SQLite reads the newest, which may all be readable); else they are read as such,
   * all of them without a limit (a run's deltas are its steps' few fields, not the items they enqueued).
   */
  async readContext(runId: string, sinceVersion?: number, options?: TailOptions): Promise<ContextSnapshot> {
    const limit = tailLimit(options);
    const listed = this.runOrThrow(runId);
    if (this.readsInPlace(listed)) return this.contextTail(runId, sinceVersion, limit ?? Number.MAX_SAFE_INTEGER);
    const f = limit === undefined || listed.status === 'running' ? await this.fold(runId) : undefined;
    if (limit !== undefined && (f === undefined || f.journal.contextCorrupt)) return this.contextTail(runId, sinceVersion, limit);
    if (f!.journal.contextCorrupt) throw f!.journal.contextCorrupt;
    const steps = f!.journal.steps;
    let version = 0;
    for (const st of steps) if (st.delta !== undefined) version++;
    if (limit !== undefined && sinceVersion !== undefined && (!Number.isSafeInteger(sinceVersion) || sinceVersion < 0)) {
      throw new InvalidArgumentError(`sinceVersion must be a non-negative integer, got ${String(sinceVersion)}`);
    }
    if (sinceVersion !== undefined && (!Number.isSafeInteger(sinceVersion) || sinceVersion < 0 || sinceVersion > version)) {
      throw new InvalidArgumentError(`sinceVersion must be an integer from 0 to ${version}, got ${String(sinceVersion)}`);
    }
    // the deltas after version `from` (the newest `limit` after `sinceVersion` with a limit)
    const since = sinceVersion ?? 0;
    const from = limit === undefined ? since : Math.max(since, version - limit);
    const deltas: ContextSnapshot['deltas'][number][] = [];
    let v = 0;
    for (const st of steps) if (st.delta !== undefined && ++v > from) deltas.push({ version: v, itemId: st.itemId, delta: st.delta });
    return sinceVersion === undefined ? { initial: f!.journal.context, deltas, version } : { deltas, version };
  }

  /** No workers serve a checkpoint file. */
  async listWorkers(): Promise<WorkerRecord[]> {
    return [];
  }

  async itemStates(runId: string): Promise<WorkItemState[]> {
    return this.statesOf(await this.fold(runId));
  }

  /** {@link itemStates} of the run folded as `f`: of `items` of it (default: all). */
  private statesOf(f: Folded, items: readonly EngineItem[] = f.enqueued): WorkItemState[] {
    const statusOf = this.statusRule(f);
    return items.map((it) => itemState(f.journal.run, it, statusOf(it), f.attempts.get(it.id) ?? 1));
  }

  /** The status of an item of the run folded as `f` ({@link itemStates}). */
  private statusRule(f: Folded): (it: EngineItem) => WorkItemStatus {
    const run = f.journal.run;
    const dead = new Set(this.deadLettersOf(f).map((d) => d.item.id));
    const finished = run.status === 'completed' || run.status === 'cancelled';
    return (it) => (f.consumed.has(it.id) ? 'completed' : dead.has(it.id) ? 'dead_lettered' : finished ? 'dropped' : isParked(it) ? 'parked' : 'pending');
  }

  /**
   * As {@link itemStates} gives them, counted by SQLite without decoding the items (a run with items SQLite cannot read
   * as JSON is folded): a finished run's once, then kept ({@link SqliteRunReader.finishedCounts}); a running run's at
   * each read, unless its fold is kept ({@link readsInPlace}: a later read extends it by the new rows only, where
   * SQLite counts every row each time); a failed run's from its fold, which has its dead letter.
   */
  async itemCounts(runId: string): Promise<ItemCounts> {
    const listed = this.runOrThrow(runId);
    const groups = isFinished(listed) ? this.reader.finishedCounts(listed)?.groups : this.readsInPlace(listed) ? this.reader.itemGroups(listed) : undefined;
    const counts: ItemCounts = {};
    if (groups === undefined) {
      const f = await this.fold(runId);
      const statusOf = this.statusRule(f);
      // (the consumed items counted per node as the fold was extended, when it could: then the others are the pending
      // ones, but in a completed run, which has none)
      const completed = f.journal.run.status === 'completed' ? undefined : f.completed;
      for (const [node, n] of completed ?? []) countItem(counts, node, 'completed', n);
      for (const it of completed ? f.pending : f.enqueued) countItem(counts, it.node, statusOf(it));
      return counts;
    }
    const finished = isFinished(listed);
    for (const g of groups) countItem(counts, g.node, g.consumed ? 'completed' : finished ? 'dropped' : g.parked ? 'parked' : 'pending', g.n);
    return counts;
  }

  async pendingWork(runId: string, options?: PendingWorkOptions): Promise<PendingWork[]> {
    const { statuses, limit } = pendingWorkFilter(options);
    // a completed or cancelled run's items are all completed or dropped (itemStates)
    const listed = this.runOrThrow(runId);
    if (isFinished(listed)) return [];
    // (every outstanding item, `floxide runs show`: from the fold its other reads make)
    const selected = this.readsInPlace(listed) && (limit !== undefined || !statuses.includes('pending')) ? this.selectInPlace(listed, statuses, limit) : undefined;
    if (selected !== undefined) return selected;
    const f = await this.fold(runId);
    // (the states of its outstanding items only: a long run's consumed items are not gone through)
    const states = this.statesOf(f, f.pending);
    const byId = new Map(f.pending.map((it) => [it.id, it]));
    return states
      .filter((s) => isOutstanding(s.status) && statuses.includes(s.status))
      .slice(0, limit)
      .map((state) => {
        const corrupt = f.corrupt.get(state.itemId);
        return { item: byId.get(state.itemId)!, state, ...(corrupt ? { corrupt } : {}) };
      });
  }

  /** Every attempt, or the newest `limit`: of a running run whose fold is kept from it, as its metrics; else read by the store. */
  async stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]> {
    const limit = tailLimit(options);
    if (limit !== undefined) {
      const listed = this.runOrThrow(runId);
      if (listed.status !== 'running' || this.readsInPlace(listed)) return this.store.stepHistory(runId, options);
    }
    return tailOf((await this.fold(runId)).history, limit);
  }

  subscribe(options?: SubscribeOptions): AsyncIterable<EventEnvelope> {
    return this.feed.subscribe(options);
  }

  /** A checkpoint file keeps every signal in the run's mailbox, which the process running the run reads (`kept`). */
  async signal(runId: string, name: string, payload: unknown, key?: string): Promise<SignalReceipt> {
    const r = await this.store.whenUnlocked(() => this.store.signal(runId, name, payload, key));
    this.feed.noteWrite();
    return r === 'duplicate' ? DUPLICATE_SIGNAL : deliveredTo(undefined);
  }

  async pendingSignals(runId: string): Promise<PendingSignal[]> {
    return this.store.pendingSignals(runId);
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /**
   * Whether the reads of running run `run` go to the file as it lies (SQLite selects and counts its items, reads its
   * newest deltas and attempts) rather than to its fold: yes unless this store keeps its fold ({@link fold}: a full read
   * made one, which a later read extends by the new rows). So `floxide runs list`, `runs show --limit` and a run page
   * of a run with 100,000 items waiting decode the items they show, not every item of the run.
   */
  private readsInPlace(run: ListedRun): boolean {
    return run.status === 'running' && !this.folds.has(run.runId);
  }

  /**
   * {@link pendingWork} of a running run, its items selected by SQLite ({@link SqliteRunReader.outstanding}); undefined
   * when they cannot be read that way (fold the journal instead).
   */
  private selectInPlace(run: ListedRun, statuses: readonly WorkItemStatus[], limit: number | undefined): PendingWork[] | undefined {
    // (a checkpointed run's outstanding items are pending or parked: statusRule)
    const pending = statuses.includes('pending');
    const parked = statuses.includes('parked');
    if (!pending && !parked) return [];
    const items = this.reader.outstanding(run, { ...(pending && parked ? {} : { parked }), ...(limit !== undefined ? { limit } : {}) });
    if (items === undefined) return undefined;
    const attempts = this.reader.failedAttempts(run.runNo);
    return items.map((item) => ({ item, state: itemState(run, item, isParked(item) ? 'parked' : 'pending', attempts.get(item.id) ?? 1) }));
  }

  /** The run's row; `RunNotFoundError` for an unknown run. */
  private runOrThrow(runId: string): ListedRun {
    assertRunId(runId);
    const run = this.reader.run(runId);
    if (!run) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
    return run;
  }

  /** {@link readContext} with a limit: the newest deltas read as such (the initial context and the deltas read are checked). */
  private contextTail(runId: string, sinceVersion: number | undefined, limit: number): ContextSnapshot {
    const listed = this.runOrThrow(runId);
    const since = sinceVersion ?? 0;
    if (sinceVersion !== undefined && (!Number.isSafeInteger(sinceVersion) || sinceVersion < 0)) {
      throw new InvalidArgumentError(`sinceVersion must be a non-negative integer, got ${String(sinceVersion)}`);
    }
    const { context, version, deltas } = this.reader.deltaTail(listed, since, limit);
    if (since > version) throw new InvalidArgumentError(`sinceVersion must be an integer from 0 to ${version}, got ${String(sinceVersion)}`);
    return sinceVersion === undefined ? { initial: context, deltas, version } : { deltas, version };
  }

  private async unsupported(runId: string, verb: string): Promise<never> {
    await this.fold(runId);
    throw new UnsupportedOperationError(`run ${runId} is checkpointed in a SQLite file: a local durable run is not ${verb} from outside; stop the process running it and continue it later with resume(store, runId)`);
  }

  /** The item that failed a `failed` run, while it is still pending (resume runs it again). */
  private deadLettersOf(f: Folded): DeadLetter[] {
    if (f.journal.run.status !== 'failed') return [];
    const last = [...f.history].reverse().find((h) => h.outcome === 'failed');
    const item = last && f.pending.find((it) => it.id === last.itemId);
    return last && item ? [{ item, attempts: last.attempt, error: last.error!, at: last.finishedAt }] : [];
  }

  /**
   * The run's journal folded ({@link Folded}), extended by what was committed since its last fold ({@link SqliteFolds}).
   * Calls made while a fold of the run is in flight share it: the reads of one run page (metrics, items, pending work,
   * context, dead letters: `runView`, `floxide runs show`), started together, all show the same commit. A call after
   * the fold settled reads the file again (its new rows).
   */
  private fold(runId: string): Promise<Folded> {
    let folding = this.folding.get(runId);
    if (!folding) {
      folding = this.foldNow(runId);
      this.folding.set(runId, folding);
      // (attached before any caller awaits it: the entry is gone before a caller resumes)
      const done = () => void this.folding.delete(runId);
      folding.then(done, done);
    }
    return folding;
  }

  private async foldNow(runId: string): Promise<Folded> {
    assertRunId(runId);
    const f = this.folds.fold(runId);
    if (!f) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
    return f;
  }
}

/** A completed or cancelled run: its journal never changes again (a failed run can be resumed). */
function isFinished(run: ListedRun): boolean {
  return run.status === 'completed' || run.status === 'cancelled';
}

/** The state of item `it` of checkpointed run `run` (no workers, no leases: {@link SqliteRunsStore}). */
function itemState(run: ListedRun, it: EngineItem, status: WorkItemStatus, attempt: number): WorkItemState {
  return { runId: run.runId, itemId: it.id, node: it.node, status, attempt, workerId: undefined, leaseExpiresAt: undefined, notBefore: it.notBefore, updatedAt: run.updatedAt };
}

/**
 * A checkpointed run as a {@link RunRecord} (with the fields of its row that cannot be read, if any); a running run
 * with its owner and whether it is orphaned, judged now by the rule a takeover follows (ownership.ts `claimLives`).
 */
function recordOf(run: ListedRun): RunRecord {
  const final = run.status !== 'running';
  const lives = run.owner !== undefined && claimLives(run.owner, run.ownerSeen, Date.now());
  const owner = run.owner && { host: run.owner.host, pid: run.owner.pid, lastSeen: run.ownerSeen, liveness: lives ? ('alive' as const) : ('dead' as const) };
  return {
    runId: run.runId,
    workflow: run.workflow,
    fingerprint: run.fingerprint,
    status: run.status,
    input: run.input,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    finishedAt: final ? run.updatedAt : undefined,
    deadline: run.deadline,
    output: run.output,
    error: run.error,
    dropped: run.dropped.map((d) => ({ id: d.id, node: d.node, reason: 'terminal' })),
    ...(final ? {} : { ...(owner ? { owner } : {}), orphaned: !lives }),
    ...versionMovesOf(run),
    ...(run.corrupt ? { corrupt: run.corrupt } : {}),
  };
}

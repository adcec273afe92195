/**
 * SQLite {@link CheckpointStore} (better-sqlite3): the embedded default for checkpoints. WAL journal,
 * `synchronous=NORMAL`, prepared statements, one appended journal row per step (one INSERT statement, its own
 * transaction, unless the step parks join arrivals), parameterised SQL only, JSON parsed without prototype
 * pollution. The schema lives in `migrations/*.sql` (append-only list below).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { requireOptional } from '../core/optional.js';
import { sleep } from '../core/time.js';
import { readPackageFile } from '../core/package-file.js';
import { arrivalJson } from '../engine/commit.js';
import { settlementItemJson } from '../engine/joins.js';
import { checkStoredItem, decodeStoredItem, decodeStoredRun } from '../engine/decode.js';
import { versionMovesOf } from '../engine/migration.js';
import type { EngineItem, JoinArrival } from '../engine/types.js';
import { DEFAULT_RETAIN_FINISHED_MS, purgeBounds, tailLimit, type PurgeOptions, type TailOptions } from '../core/validate.js';
import { planSignal, repeatedSignal } from '../core/signal-plan.js';
import {
  CorruptStateError,
  FingerprintMismatchError,
  FloxideError,
  InvalidArgumentError,
  RunInputMismatchError,
  RunNotFoundError,
  RunStateError,
  StoreError,
  type SerializedError,
} from '../core/errors.js';
import {
  CHECKPOINT_STATUSES,
  movedRunError,
  renamedItem,
  type Checkpoint,
  type CheckpointFailedStep,
  type CheckpointMigration,
  type CheckpointStore,
  type CheckpointCommitResult,
  type NewCheckpointRun,
  type CheckpointRun,
  type CheckpointStatus,
  type CheckpointStepCommit,
  type CheckpointTerminalCommit,
  type PendingSignal,
  type SignalDelivery,
} from './contract.js';
import { assertTraceparent } from '../core/trace-context.js';
import { assertRunId } from '../core/ids.js';
import { canonicalJson, runInputJson, safeJsonParse, toJson } from '../core/json.js';
import { WalCheckpointer } from './sqlite-checkpointer.js';
import { MAX_SLOT, NAMED_BASE, itemNumber, keyOf, namedKeys, notConsumed, numberedItem, runKeys } from './sqlite-keys.js';
import { SqliteHistory } from './sqlite-history.js';
import { assertClaimable, assertHeld, assertRefreshable, ownerOf, ownerText, type RunOwner } from './ownership.js';
import type { StepRecord } from '../engine/events.js';

/** Schema migrations, in order. Append only. */
export const SQLITE_MIGRATIONS: readonly string[] = ['001_init.sql', '002_runs_hot_columns_first.sql', '003_append_only_journal.sql', '004_settlement_items.sql', '005_signals.sql', '006_step_history.sql', '007_traceparent.sql', '008_fallback_errors.sql', '009_run_owner.sql', '010_runs_updated.sql', '011_version_moves.sql', '012_signal_digests.sql', '013_journal_slots.sql', '014_finished_counts.sql'];

export interface SqliteCheckpointStoreOptions {
  /** Milliseconds to wait for a lock held by another connection. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * Where WAL checkpoints (copying the WAL back into the database file, and its fsyncs) run.
   *
   * - `'background'` (the default for a file): a worker thread with its own connection to the file runs a
   *   PASSIVE checkpoint every 6,000 commits and every second while writes continue, concurrently with the
   *   commits, which never wait for a checkpoint's fsync (100-700 ms each on a busy disk). While a run keeps
   *   committing, a PASSIVE checkpoint cannot restart the WAL, so the WAL grows until it holds `maxWalPages`
   *   frames; the committing thread then checkpoints inline once (waiting for the worker's checkpoint in
   *   progress) and the WAL restarts. The worker never keeps the process alive and stops in {@link
   *   SqliteCheckpointStore.close}. If it fails, the store falls back to inline checkpoints and reports the error
   *   (see `onBackgroundError`). Costs one thread and one more connection per store.
   * - `'inline'`: SQLite's automatic checkpoint, run by the commit that fills `walAutocheckpointPages` pages,
   *   on the committing thread: that commit waits for the fsyncs.
   *
   * `:memory:` databases (no WAL) and `exclusive: true` stores (only one connection may open the file) always
   * checkpoint inline. Durability is the same either way: WAL with `synchronous=NORMAL`.
   */
  checkpoints?: 'background' | 'inline';
  /**
   * Inline checkpoints only: WAL pages between automatic checkpoints (SQLite's `wal_autocheckpoint`). Default
   * 10 000 (about 10 MB of WAL with 1 KB pages, 40 MB with 4 KB pages): with `synchronous=NORMAL` only
   * checkpoints sync to disk, so rarer checkpoints mean faster commits.
   */
  walAutocheckpointPages?: number;
  /**
   * Background checkpoints only: WAL length, in pages (frames), at which the committing thread checkpoints
   * inline so that the WAL restarts. Bounds the WAL file of a long run (at the default 65 536: about 64 MB with
   * 1 KB pages, 256 MB with 4 KB pages). The WAL file keeps up to that size between checkpoints while the store
   * is open (reusing its blocks is faster than growing the file again); {@link SqliteCheckpointStore.close}
   * truncates it.
   */
  maxWalPages?: number;
  /**
   * Background checkpoints only: called (once) when the checkpoint worker fails; the store has then switched
   * to inline checkpoints and keeps working. Without it, the store's next write throws that `StoreError` once.
   */
  onBackgroundError?: (err: StoreError) => void;
  /**
   * Hold the database file's lock for the lifetime of this store (`locking_mode=EXCLUSIVE`). Only this
   * connection can then read or write the file: another store, process or `sqlite3` shell opening it waits
   * `busyTimeoutMs` and fails with `SQLITE_BUSY` until {@link SqliteCheckpointStore.close}; and this store cannot open
   * a file another connection has open (`floxide ui` or `floxide runs` on it too): it waits as long, then fails
   * saying so. In exchange each step's
   * commit skips the shared-memory WAL index and its file locks (about 1.5-2x more commits per second). Durability
   * is unchanged: a process killed mid-run releases the lock with its file descriptors and the next opener
   * recovers the WAL as usual. Use it when one process owns the checkpoint file (the usual embedded case).
   * Default false.
   */
  exclusive?: boolean;
  /**
   * Page size, in bytes, of a database file this store creates (a power of two from 512 to 65536); an existing
   * file keeps the page size it was created with. Default 1024: a step appends one small journal row, and every
   * commit writes each page it changed to the WAL, so smaller pages mean fewer bytes and less copying per step
   * (measured on the 20,000-step bench loop: ~1.3 KB written per step instead of ~4.4 KB with 4096, ~2.5 us less
   * CPU per commit). Rows much larger than a page (big items or deltas) spill into overflow pages either way;
   * choose 4096 when most steps write several kilobytes.
   */
  pageSize?: number;
}

type Db = Database.Database;
type Stmt = Database.Statement;

/** A `floxide_runs` row. */
export interface RunRow {
  run_no: number;
  run_id: string;
  workflow: string;
  fingerprint: string;
  input: string;
  context: string;
  start: string;
  status: string;
  deadline: number | null;
  traceparent: string | null;
  output: string | null;
  error: string | null;
  dropped: string;
  counter: number;
  steps: number;
  created_at: number;
  updated_at: number;
  /** The claim of the call running the run (ownership.ts `ownerText`), NULL when none holds it. */
  owner: string | null;
  owner_seen: number | null;
  /** Migration 011 (absent from rows read with an older column list). */
  started_on?: string | null;
  migrated_at?: number | null;
}

interface StepRow {
  /** NULL for a numbered item: its id is `n`. */
  item_id: string | null;
  n: number;
  seq: number;
  delta: string | null;
  items: string;
  counter: number;
}

const NONE_CREATED: EngineItem[] = Object.freeze([]) as unknown as EngineItem[];

/**
 * Journal rows (steps) one transaction of `purgeFinished` deletes at most, past the run it is deleting: about 60 ms
 * of holding the write lock (measured: 300,000 rows in 1.8 s on the 2-core test machine).
 */
export const PURGE_ROWS_PER_TRANSACTION = 10_000;

/**
 * How long one try of a {@link SqliteCheckpointStore.whenUnlocked} write waits in SQLite's busy handler for another
 * connection's write lock (ms): better-sqlite3 waits on the calling thread. Past it the write is tried again after a
 * pause in which the thread is free.
 */
const LOCK_TRY_MS = 20;

/** Run ids whose run_no a store remembers at most (the first remembered is dropped first). */
const MAX_RUN_NOS = 1024;

/** Runs whose {@link RunTrack} a store keeps at most (the least recently loaded is dropped first). */
const MAX_TRACKED_RUNS = 64;

/**
 * A run's pending items as its journal leaves them, kept by the store that loaded the run and updated by each of
 * its commits, so that completing a long run need not scan its whole journal. Trusted at completion only when
 * `regular` (every step consumed a pending item, produced no id that was pending, in increasing seq) and
 * `steps` matches the journal (no other connection committed to the run meanwhile).
 */
interface RunTrack {
  steps: number;
  seq: number;
  readonly pending: Map<string, EngineItem>;
  regular: boolean;
}

function trackStep(t: RunTrack, itemId: string, seq: number, produced: readonly EngineItem[]): void {
  if (!t.pending.delete(itemId) || seq <= t.seq) t.regular = false;
  for (const it of produced) {
    if (t.pending.has(it.id)) t.regular = false;
    t.pending.set(it.id, it);
  }
  t.steps++;
  t.seq = seq;
}

/**
 * Checkpoints in a SQLite file (or `:memory:`). A step is one journal row (consumed item id, delta, enqueued
 * items, counter) appended by one INSERT in autocommit mode; a step that parks join arrivals also writes the join
 * tables, all in one IMMEDIATE transaction. Completing a run this store loaded reads its pending items from memory
 * (see {@link RunTrack}) instead of scanning its journal.
 */
export class SqliteCheckpointStore implements CheckpointStore {
  /**
   * @internal The better-sqlite3 connection (floxide's run readers and tests use it). Not in the published
   * declarations, so they need no `@types/better-sqlite3`.
   */
  readonly db: Db;
  private readonly s: Record<
    | 'getRun' | 'getRunNo' | 'getInput' | 'insertRun' | 'topSlot' | 'slotHeld' | 'firstGap' | 'markGap' | 'insertNumbered' | 'insertNamed' | 'numberedExists' | 'namedExists'
    | 'journal' | 'journalItems' | 'arrivals'
    | 'unconsumed' | 'startPending' | 'stepCount' | 'journalRows' | 'setJournalItems' | 'migrateRun' | 'recordMove'
    | 'insertArrival' | 'countArrival' | 'groupArrivals' | 'deleteGroupArrivals' | 'deleteGroup' | 'deleteRunArrivals'
    | 'deleteRunGroups' | 'completeRun' | 'failRun' | 'cancelRun' | 'reopenRun' | 'runOwner' | 'setOwner' | 'clearOwner' | 'refreshOwner' | 'dataVersion'
    | 'insertSignal' | 'signalKeyKept' | 'givenSignal' | 'giveSignal' | 'pendingSignals'
    | 'purgeable' | 'purgeJournal' | 'purgeFailures' | 'purgeSignals' | 'purgeMoves' | 'purgeRun',
    Stmt
  >;
  private readonly commitTx: Database.Transaction<(runId: string, c: CheckpointStepCommit) => CheckpointCommitResult>;
  private readonly completeTx: Database.Transaction<(runId: string, c: CheckpointTerminalCommit) => EngineItem[]>;
  private readonly migrateTx: Database.Transaction<(runId: string, m: CheckpointMigration) => void>;
  private readonly createTx: Database.Transaction<(run: NewCheckpointRun, input: string) => boolean>;
  private readonly purgeTx: Database.Transaction<(before: number, limit: number) => { runs: string[]; more: boolean }>;
  private readonly checkpointer: WalCheckpointer | undefined;
  private readonly history: SqliteHistory;
  private readonly inlinePages: number;
  /** Runs this store loaded and keeps committing to, as the journal leaves them (see {@link RunTrack}). */
  private readonly tracks = new Map<string, RunTrack>();
  /** Signals and cancels this connection stored ({@link arrivalMark}: its own commits do not move `data_version`). */
  private arrivals = 0;
  /** The run_no of runs this store wrote to lately (see {@link runNoOf}). */
  private readonly runNos = new Map<string, number>();
  /** A background checkpoint failure nobody was told about yet: the next write throws it. */
  private pendingError: StoreError | undefined;
  private onBackgroundError: ((err: StoreError) => void) | undefined;

  /** Opens (creating if needed) the database at `filename` and applies pending migrations. */
  constructor(filename: string, options: SqliteCheckpointStoreOptions = {}) {
    try {
      const Driver = requireOptional<typeof Database>('better-sqlite3', 'SqliteCheckpointStore (floxide/sqlite)');
      this.db = new Driver(filename);
      // First: processes opening a new file at once wait for each other's locks (WAL mode, the migrations).
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      // Must precede the first WAL access: then SQLite keeps the WAL index in heap memory (no -shm file, no locks).
      // Only a new, empty file takes it (before WAL mode writes the header); an existing file keeps its own.
      this.db.pragma(`page_size = ${pageSizeOf(options.pageSize)}`);
      if (options.exclusive) this.db.pragma('locking_mode = EXCLUSIVE');
      // Before the first write (WAL mode is written into the file's header): a wrong file is left as it was.
      assertCheckpointFile(this.db, filename);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.inlinePages = Math.max(1, Math.floor(options.walAutocheckpointPages ?? 10_000));
      const background = (options.checkpoints ?? 'background') === 'background' && !options.exclusive && isFile(filename, this.db);
      // 0 = no automatic checkpoint on the committing thread: the worker below does them.
      this.db.pragma(`wal_autocheckpoint = ${background ? 0 : this.inlinePages}`);
      // Caps the WAL file left behind after a checkpoint (above the autocheckpoint size, 10-40 MB: no truncation churn).
      this.db.pragma('journal_size_limit = 67108864');
      // Loading a long journal sorts it by seq: keep that sort in memory, with room for the journal's pages.
      this.db.pragma('temp_store = MEMORY');
      this.db.pragma('cache_size = -16384');
      migrate(this.db);
      const maxWalPages = Math.max(1000, Math.floor(options.maxWalPages ?? 65_536));
      if (background) {
        // Keep the WAL file's blocks between restarts: appending past the end of the file allocates blocks, and
        // on ext4 those allocations wait for the journal commits that the checkpoints' fsyncs trigger.
        const pageSize = this.db.pragma('page_size', { simple: true }) as number;
        this.db.pragma(`journal_size_limit = ${Math.max(67_108_864, (maxWalPages + 1024) * pageSize)}`);
        this.onBackgroundError = options.onBackgroundError;
        this.checkpointer = new WalCheckpointer({
          file: this.db.name,
          busyTimeoutMs: Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000)),
          commitsPerCheckpoint: 6000,
          intervalMs: 1000,
          maxWalPages,
          onError: (err) => {
            if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${this.inlinePages}`);
            this.report(err);
          },
        });
      }
    } catch (err) {
      const opened = (this as { db?: Db }).db;
      if (opened?.open) opened.close();
      throw asStoreError(err, `cannot open the SQLite checkpoint store ${filename}`, filename, options.exclusive === true);
    }
    const p = (sql: string) => this.db.prepare(sql);
    this.history = new SqliteHistory(this.db);
    this.s = {
      getRun: p('SELECT * FROM floxide_runs WHERE run_id = ?'),
      getRunNo: p('SELECT run_no FROM floxide_runs WHERE run_id = ?'),
      getInput: p('SELECT input FROM floxide_runs WHERE run_id = ?'),
      // slot: see freeSlot; gap_after: whether slot + 1 is free (migration 013)
      insertRun: p(
        `INSERT INTO floxide_runs (run_id, workflow, fingerprint, input, context, start, status, deadline, created_at, updated_at, traceparent, slot, gap_after)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, @slot, NOT EXISTS (SELECT 1 FROM floxide_runs WHERE slot = @slot + 1))`,
      ),
      topSlot: p('SELECT coalesce(max(slot), 0) FROM floxide_runs'),
      slotHeld: p('SELECT 1 FROM floxide_runs WHERE slot = ?'),
      // (through floxide_runs_gaps: the held slot below the lowest free one, when slot 1 is held)
      firstGap: p(`SELECT min(slot) FROM floxide_runs WHERE gap_after = 1 AND slot < ${MAX_SLOT}`),
      markGap: p('UPDATE floxide_runs SET gap_after = ? WHERE slot = ?'),
      // A step's journal row, only while the run is running; ON CONFLICT makes a replayed item a no-op (changes = 0).
      // The key k of a numbered item is (slot << 40) + its number; other ids take the run's next number above
      // 2^39 and stay unique through floxide_journal_named (see sqlite-keys.ts).
      // The history columns (node ... retries: migration 006; error: 008) ride in the same row: see sqlite-history.ts.
      // The run is found by its run_no (the rowid: one lookup, where its run_id costs an index search first); its slot
      // is read from the same record.
      insertNumbered: p(
        `INSERT INTO floxide_journal (k, run_no, item_id, seq, delta, items, counter, node, attempt, started_at, ms, session, retries, error)
         SELECT ${keyOf('slot', 'CAST(? AS INTEGER)')}, run_no, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM floxide_runs
         WHERE run_no = ? AND status = 'running' AND fingerprint = coalesce(?, fingerprint) AND owner IS coalesce(?, owner)
         ON CONFLICT DO NOTHING`,
      ),
      insertNamed: p(
        `INSERT INTO floxide_journal (k, run_no, item_id, seq, delta, items, counter, node, attempt, started_at, ms, session, retries, error)
         SELECT (SELECT coalesce(max(k), ${keyOf('r.slot', NAMED_BASE)}) + 1 FROM floxide_journal WHERE ${namedKeys('k', 'r.slot')}),
                r.run_no, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
         FROM floxide_runs AS r
         WHERE r.run_no = ? AND r.status = 'running' AND r.fingerprint = coalesce(?, r.fingerprint) AND r.owner IS coalesce(?, r.owner)
         ON CONFLICT DO NOTHING`,
      ),
      numberedExists: p(`SELECT 1 FROM floxide_runs AS r JOIN floxide_journal AS c ON c.k = ${keyOf('r.slot', 'CAST(? AS INTEGER)')} WHERE r.run_id = ?`),
      namedExists: p('SELECT 1 FROM floxide_runs AS r JOIN floxide_journal AS c ON c.run_no = r.run_no AND c.item_id = ? WHERE r.run_id = ?'),
      journal: p(`SELECT item_id, ${itemNumber('k')} AS n, seq, delta, items, counter FROM floxide_journal WHERE ${runKeys('k')} ORDER BY seq`),
      journalItems: p(`SELECT item_id, ${itemNumber('k')} AS n, seq, NULL AS delta, items, counter FROM floxide_journal WHERE ${runKeys('k')} ORDER BY seq`),
      // The enqueued items that no step consumed, in queue order, found inside SQLite: completing a long run then
      // reads a handful of rows instead of parsing its whole journal.
      unconsumed: p(
        `SELECT seq, item FROM (
           SELECT s.seq, j.key AS pos, j.value AS item, j.value ->> '$.id' AS id
           FROM floxide_journal AS s, json_each(s.items) AS j
           WHERE ${runKeys('s.k')}
         ) AS p
         WHERE ${notConsumed('p.id')}
         ORDER BY seq, pos`,
      ),
      startPending: p(
        `SELECT start FROM (SELECT start, start ->> '$.id' AS id FROM floxide_runs WHERE run_no = @no) AS p
         WHERE ${notConsumed('p.id')}`,
      ),
      // (keys as BigInts: a key past 2^53 read as a number is rounded, and names another row or none)
      journalRows: p(`SELECT k, items FROM floxide_journal WHERE ${runKeys('k')}`).safeIntegers(),
      setJournalItems: p('UPDATE floxide_journal SET items = ? WHERE k = ?'),
      migrateRun: p('UPDATE floxide_runs SET fingerprint = @to, start = @start, updated_at = @at, migrated_at = @at, started_on = coalesce(started_on, @from) WHERE run_id = @runId'),
      recordMove: p('INSERT INTO floxide_moves (run_no, at, from_version, to_version, renames, worker) VALUES (@no, @at, @from, @to, @renames, @worker)'),
      stepCount: p(`SELECT count(*) AS n FROM floxide_journal WHERE ${runKeys('k')}`),
      arrivals: p('SELECT body FROM floxide_arrivals WHERE run_id = ? ORDER BY grp, idx'),
      insertArrival: p('INSERT INTO floxide_arrivals (run_id, grp, idx, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      // node: the join node of the first valued arrival parked (what the settlement item shows)
      countArrival: p(
        `INSERT INTO floxide_groups (run_id, grp, size, arrived, node) VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (run_id, grp) DO UPDATE SET arrived = arrived + 1, node = coalesce(node, excluded.node) RETURNING arrived, size, node`,
      ),
      groupArrivals: p('SELECT body FROM floxide_arrivals WHERE run_id = ? AND grp = ? ORDER BY idx'),
      deleteGroupArrivals: p('DELETE FROM floxide_arrivals WHERE run_id = ? AND grp = ?'),
      deleteGroup: p('DELETE FROM floxide_groups WHERE run_id = ? AND grp = ?'),
      deleteRunArrivals: p('DELETE FROM floxide_arrivals WHERE run_id = ?'),
      deleteRunGroups: p('DELETE FROM floxide_groups WHERE run_id = ?'),
      completeRun: p(
        `UPDATE floxide_runs SET status = 'completed', output = ?, dropped = ?, counter = ?, steps = ?, updated_at = ?
         WHERE run_id = ?`,
      ),
      failRun: p(`UPDATE floxide_runs SET status = 'failed', error = ?, updated_at = ? WHERE run_id = ? AND status = 'running' AND owner IS coalesce(?, owner)`),
      cancelRun: p(
        `UPDATE floxide_runs SET status = 'cancelled', error = ?, updated_at = ? WHERE run_id = ? AND status IN ('running', 'failed')`,
      ),
      reopenRun: p(`UPDATE floxide_runs SET status = 'running', error = NULL, updated_at = ? WHERE run_id = ? AND status = 'failed'`),
      runOwner: p('SELECT owner, owner_seen, status FROM floxide_runs WHERE run_id = ?'),
      setOwner: p('UPDATE floxide_runs SET owner = ?, owner_seen = ? WHERE run_id = ?'),
      refreshOwner: p(`UPDATE floxide_runs SET owner_seen = ? WHERE run_id = ? AND owner = ? AND status <> 'cancelled'`),
      dataVersion: p('PRAGMA data_version'),
      clearOwner: p('UPDATE floxide_runs SET owner = NULL, owner_seen = NULL WHERE run_id = ? AND owner = ?'),
      insertSignal: p(
        `INSERT INTO floxide_signals (run_id, name, payload, key, digest, created_at)
         SELECT run_id, ?, ?, ?, ?, ? FROM floxide_runs WHERE run_id = ? AND status IN ('running', 'failed')
         ON CONFLICT DO NOTHING`,
      ),
      signalKeyKept: p('SELECT name, digest FROM floxide_signals WHERE run_id = ? AND key = ?'),
      givenSignal: p('SELECT payload FROM floxide_signals WHERE run_id = ? AND name = ? AND item_id = ?'),
      giveSignal: p(
        `UPDATE floxide_signals SET item_id = ?
         WHERE seq = (SELECT seq FROM floxide_signals WHERE run_id = ? AND name = ? AND item_id IS NULL ORDER BY seq LIMIT 1)
         RETURNING payload`,
      ),
      pendingSignals: p('SELECT name, payload, key, created_at FROM floxide_signals WHERE run_id = ? AND item_id IS NULL ORDER BY seq'),
      // (the runs list's floxide_runs_updated index: oldest first)
      purgeable: p(`SELECT run_no, run_id, slot FROM floxide_runs WHERE updated_at <= ? AND status IN ('completed', 'failed', 'cancelled') ORDER BY updated_at LIMIT ?`),
      purgeJournal: p(`DELETE FROM floxide_journal WHERE ${runKeys('k')}`),
      purgeFailures: p('DELETE FROM floxide_failures WHERE run_no = ?'),
      purgeSignals: p('DELETE FROM floxide_signals WHERE run_id = ?'),
      purgeMoves: p('DELETE FROM floxide_moves WHERE run_no = ?'),
      purgeRun: p('DELETE FROM floxide_runs WHERE run_no = ?'),
    };

    this.createTx = this.db.transaction((run: NewCheckpointRun, input: string): boolean => {
      const existing = this.s.getInput.get(run.runId) as { input: string } | undefined;
      if (existing) {
        if (existing.input !== input) throw new RunInputMismatchError(`run ${run.runId} already exists with a different input`);
        return false;
      }
      const slot = this.freeSlot();
      if (slot === undefined) {
        throw new FloxideError('FLOXIDE_STORE_FULL', `SQLite checkpoint store: this file holds ${MAX_SLOT.toLocaleString('en-US')} runs, the most its journal's keys can tell apart: purge its finished runs (purgeFinished, floxide runs purge) or keep new runs in a new file`);
      }
      const now = Date.now();
      this.s.insertRun.run(
        run.runId,
        run.workflow,
        run.fingerprint,
        input,
        toJson(run.context, 'the initial context'),
        toJson(run.start, 'the start item'),
        run.deadline ?? null,
        now,
        now,
        run.traceparent ?? null,
        { slot },
      );
      this.s.markGap.run(0, slot - 1);
      return true;
    });

    // Up to `limit` purgeable runs, oldest first, until about PURGE_ROWS_PER_TRANSACTION journal rows are deleted;
    // `more`: it stopped for the rows, not for want of runs.
    this.purgeTx = this.db.transaction((before: number, limit: number): { runs: string[]; more: boolean } => {
      const found = this.s.purgeable.all(before, limit) as { run_no: number; run_id: string; slot: number }[];
      const runs: string[] = [];
      let rows = 0;
      for (const { run_no: no, run_id: runId, slot } of found) {
        if (rows >= PURGE_ROWS_PER_TRANSACTION) return { runs, more: true };
        rows += this.s.purgeJournal.run({ no }).changes;
        this.s.purgeFailures.run(no);
        this.s.deleteRunArrivals.run(runId);
        this.s.deleteRunGroups.run(runId);
        this.s.purgeSignals.run(runId);
        this.s.purgeMoves.run(no);
        this.s.purgeRun.run(no);
        // (its rows and record gone in this transaction: the slot is free)
        this.s.markGap.run(1, slot - 1);
        runs.push(runId);
      }
      return { runs, more: false };
    });

    this.commitTx = this.db.transaction((runId: string, c: CheckpointStepCommit): CheckpointCommitResult => {
      const created: EngineItem[] = [];
      if (this.stepExists(runId, c.itemId)) return { applied: false, created };
      for (const a of c.arrivals) this.park(runId, a, created);
      return this.insertStep(runId, c, c.items.concat(created), created);
    });

    // Rewrites, in the journal rows that enqueued them (or the start item), the pending items whose node is renamed.
    this.migrateTx = this.db.transaction((runId: string, m: CheckpointMigration): void => {
      const row = this.requireRun(runId);
      if (row.status !== 'running' && row.status !== 'failed') throw new RunStateError(`run ${runId} is ${row.status}; only an open run can be migrated`);
      if (row.fingerprint !== m.from) throw new FingerprintMismatchError(`run ${runId} is on graph ${row.fingerprint}, not ${m.from}`);
      const moved = new Set(this.fold(row, false).items.filter((it) => renamedItem(it, m.renames) !== it).map((it) => it.id));
      const rename = (it: EngineItem) => (moved.has(it.id) ? renamedItem(it, m.renames) : it);
      for (const r of this.s.journalRows.all({ no: row.run_no }) as { k: number | bigint; items: string }[]) {
        const items = safeJsonParse(r.items, `run ${runId} journal items`) as EngineItem[];
        if (items.some((it) => moved.has(it.id))) this.s.setJournalItems.run(toJson(items.map(rename), 'the work items'), r.k);
      }
      const start = rename(parseItem(row.start, runId));
      const at = Date.now();
      this.s.migrateRun.run({ to: m.to, start: toJson(start, 'the start item'), at, from: m.from, runId });
      this.s.recordMove.run({ no: row.run_no, at, from: m.from, to: m.to, renames: toJson(m.renames, 'the renames'), worker: m.workerId ?? null });
      this.tracks.delete(runId);
    });

    this.completeTx = this.db.transaction((runId: string, c: CheckpointTerminalCommit): EngineItem[] => {
      const output = toJson(c.output, 'the run output');
      if (!this.insertStep(runId, { ...c, items: [], arrivals: [] }, [], []).applied) {
        throw new RunStateError(`run ${runId}: item ${c.itemId} was already committed`);
      }
      const { items, steps } = this.pendingAtCompletion(runId, c.itemId, c.seq);
      this.s.deleteRunArrivals.run(runId);
      this.s.deleteRunGroups.run(runId);
      this.s.completeRun.run(output, toJson(items, 'the dropped items'), c.counter, steps, Date.now(), runId);
      return items;
    });
  }

  async createRun(run: NewCheckpointRun): Promise<boolean> {
    assertRunId(run.runId);
    assertTraceparent(run.traceparent);
    const input = runInputJson(run.input);
    return this.write(() => this.createTx.immediate(run, input));
  }

  /**
   * Deletes the runs that finished (completed, failed or cancelled) at least `olderThanMs` ago (default 7 days, by
   * this machine's clock: a run's last update) with everything the file holds of them (journal, step history,
   * arrivals, signals and their idempotency keys), at most `limit` (default 1000) per call, oldest first. Returns how
   * many runs were deleted; call it again while it returns `limit`. Each run goes in one transaction with everything
   * of it, and a transaction deletes about {@link PURGE_ROWS_PER_TRANSACTION} journal rows at most (at least one
   * run): processes running workflows on the file wait for the write lock that long only, not for the whole purge
   * (which, in one transaction, outlasted their busy timeout on long runs and failed their commits with
   * `SQLITE_BUSY`); between transactions it waits as long as the last one took, so their commits get the lock. A
   * failed run it deletes can no longer be resumed. The file does not shrink (SQLite reuses the freed pages; `VACUUM`
   * returns them). A file holds at most 8,388,607 runs at once (their journal slots), purged ones not counted.
   */
  async purgeFinished(options: PurgeOptions = {}): Promise<number> {
    const { olderThanMs, limit } = purgeBounds(options, DEFAULT_RETAIN_FINISHED_MS);
    const before = Date.now() - olderThanMs;
    let total = 0;
    for (;;) {
      const started = Date.now();
      const { runs, more } = this.write(() => this.purgeTx.immediate(before, limit - total));
      for (const runId of runs) {
        this.runNos.delete(runId);
        this.tracks.delete(runId);
      }
      total += runs.length;
      if (!more || total >= limit) return total;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Date.now() - started)));
    }
  }

  /** Ids of the open (running or failed) runs, oldest first: what `floxide runs migrate --all` moves. */
  async openRunIds(): Promise<string[]> {
    return this.guard(() => (this.db.prepare(`SELECT run_id FROM floxide_runs WHERE status IN ('running', 'failed') ORDER BY run_no`).all() as { run_id: string }[]).map((r) => r.run_id));
  }

  async migrate(runId: string, m: CheckpointMigration): Promise<void> {
    assertRunId(runId);
    return this.write(() => this.migrateTx.immediate(runId, m));
  }

  async load(runId: string): Promise<Checkpoint | undefined> {
    assertRunId(runId);
    return this.guard(() =>
      this.db.transaction(() => {
        const row = this.s.getRun.get(runId) as RunRow | undefined;
        if (!row) return undefined;
        const context = safeJsonParse(row.context, `run ${runId} context`);
        const { items, deltas, counter, steps, track } = this.fold(row, true);
        if (row.status === 'completed') this.tracks.delete(runId);
        else this.trackRun(runId, track);
        const run = toRecord(row, row.status === 'completed' ? undefined : { counter, steps });
        const arrivals = (this.s.arrivals.all(runId) as { body: string }[]).map((r) => parseArrival(r.body, runId));
        return { run, context, deltas, items: row.status === 'completed' ? [] : items, arrivals };
      })(),
    );
  }

  async getRun(runId: string): Promise<CheckpointRun | undefined> {
    assertRunId(runId);
    return this.guard(() => {
      const row = this.s.getRun.get(runId) as RunRow | undefined;
      if (!row) return undefined;
      if (row.status === 'completed') return toRecord(row, undefined);
      const { counter, steps } = this.fold(row, false);
      return toRecord(row, { counter, steps });
    });
  }

  /**
   * A step without join arrivals is one INSERT in autocommit mode (its own atomic, durable transaction: one
   * statement instead of BEGIN, INSERT, COMMIT); a step that parks arrivals runs in an IMMEDIATE transaction.
   */
  async commitStep(runId: string, commit: CheckpointStepCommit): Promise<CheckpointCommitResult> {
    assertRunId(runId);
    const r =
      commit.arrivals.length > 0
        ? this.write(() => this.commitTx.immediate(runId, commit))
        : this.write(() => this.insertStep(runId, commit, commit.items, NONE_CREATED));
    if (r.applied) {
      const t = this.tracks.get(runId);
      if (t) trackStep(t, commit.itemId, commit.seq, r.created.length > 0 ? commit.items.concat(r.created) : commit.items);
    }
    return r;
  }

  async complete(runId: string, commit: CheckpointTerminalCommit): Promise<{ dropped: readonly EngineItem[] }> {
    assertRunId(runId);
    const dropped = this.write(() => this.completeTx.immediate(runId, commit));
    this.tracks.delete(runId);
    return { dropped };
  }

  /** One UPDATE; with `step`, in one IMMEDIATE transaction with the failed step's history row. */
  async fail(runId: string, error: SerializedError, step?: CheckpointFailedStep): Promise<void> {
    assertRunId(runId);
    const text = toJson(error, 'the error');
    const owner = step?.owner ? ownerText(step.owner) : null;
    const failRun = () => {
      if (this.s.failRun.run(text, Date.now(), runId, owner).changes === 0) {
        this.assertStillHeld(runId, step?.owner);
        return void this.requireRun(runId);
      }
      if (!step) return;
      const no = this.requireRun(runId).run_no;
      this.history.recordFailure(no, (this.s.stepCount.get({ no }) as { n: number }).n, step.itemId, step, error);
    };
    this.write(() => (step ? this.db.transaction(failRun).immediate() : failRun()));
    this.tracks.delete(runId);
  }

  async stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]> {
    assertRunId(runId);
    const limit = tailLimit(options);
    return this.guard(() => this.db.transaction(() => {
      const row = this.requireRun(runId);
      return limit === undefined ? this.history.read(row.run_no, runId, row.status === 'completed').records : this.history.tail(row.run_no, runId, row.status === 'completed', limit);
    })());
  }

  async cancel(runId: string, reason?: SerializedError): Promise<boolean> {
    assertRunId(runId);
    this.tracks.delete(runId);
    this.arrivals++;
    return this.write(() => {
      const r = reason ?? { name: 'CancelledError', message: 'the run was cancelled', code: 'FLOXIDE_CANCELLED' };
      if (this.s.cancelRun.run(toJson(r, 'the reason'), Date.now(), runId).changes > 0) return true;
      this.requireRun(runId);
      return false;
    });
  }

  async reopen(runId: string): Promise<void> {
    assertRunId(runId);
    this.write(() => {
      if (this.s.reopenRun.run(Date.now(), runId).changes > 0) return;
      const row = this.requireRun(runId);
      if (row.status !== 'running') throw new RunStateError(`run ${runId} is ${row.status}; only a failed run can be reopened`);
    });
  }

  /**
   * Changes whenever a signal or a cancel may have been stored since it was read: another connection committed to the
   * file (SQLite's `data_version`, an in-memory comparison that reads no page) or this store stored one.
   */
  arrivalMark(): string {
    return `${this.s.dataVersion.pluck().get() as number}:${this.arrivals}`;
  }

  async claim(runId: string, owner: RunOwner, refresh?: boolean): Promise<void> {
    assertRunId(runId);
    const text = ownerText(owner);
    this.write(() =>
      this.db
        .transaction(() => {
          const row = this.s.runOwner.get(runId) as { owner: string | null; owner_seen: number | null; status: string } | undefined;
          if (!row) throw new RunNotFoundError(`no run ${runId}`);
          const now = Date.now();
          if (refresh) assertRefreshable(runId, ownerOf(row.owner), owner, row.status);
          else assertClaimable(runId, ownerOf(row.owner), row.owner_seen ?? undefined, owner, now);
          this.s.setOwner.run(text, now, runId);
        })
        .immediate(),
    );
  }

  async refreshClaims(claims: ReadonlyArray<{ runId: string; owner: RunOwner }>): Promise<ReadonlyArray<Error | undefined>> {
    for (const c of claims) assertRunId(c.runId);
    return this.write(() =>
      this.db
        .transaction(() => {
          const now = Date.now();
          return claims.map(({ runId, owner }) => {
            // (the claim as stored is this call's while it runs: one write, no read)
            if (this.s.refreshOwner.run(now, runId, ownerText(owner)).changes > 0) return undefined;
            const row = this.s.runOwner.get(runId) as { owner: string | null; status: string } | undefined;
            try {
              if (!row) throw new RunNotFoundError(`no run ${runId}`);
              assertRefreshable(runId, ownerOf(row.owner), owner, row.status);
              return undefined;
            } catch (err) {
              return err as Error;
            }
          });
        })
        .immediate(),
    );
  }

  /** Waits for a lock another connection holds without holding the thread ({@link whenUnlocked}). */
  async release(runId: string, owner: RunOwner): Promise<void> {
    assertRunId(runId);
    await this.whenUnlocked(async () => void this.write(() => this.s.clearOwner.run(runId, ownerText(owner))));
  }

  /**
   * @internal `write` (a call of this store that writes, all of its SQL run before it returns its promise), waiting for
   * a write lock another connection holds (a process committing a step, a purge, a sqlite3 shell) without holding this
   * thread: each try waits {@link LOCK_TRY_MS} in SQLite, then the thread is free for a pause (a dashboard serves its
   * pages, a server its requests), up to the busy timeout in all (`busyTimeoutMs`); then the `StoreError` saying the
   * file is locked. A refused try wrote nothing. (The run loop's own commits wait in SQLite: a step has nothing else
   * to do meanwhile, and the busy handler wakes sooner than a timer.)
   */
  async whenUnlocked<T>(write: () => Promise<T>): Promise<T> {
    const wait = this.db.pragma('busy_timeout', { simple: true }) as number;
    const end = Date.now() + wait;
    for (let pause = 5; ; pause = Math.min(2 * pause, 100)) {
      this.db.pragma(`busy_timeout = ${Math.min(LOCK_TRY_MS, wait)}`);
      let done: Promise<T>;
      try {
        done = write();
      } finally {
        this.db.pragma(`busy_timeout = ${wait}`);
      }
      try {
        return await done;
      } catch (err) {
        if (!isLocked(err) || Date.now() >= end) throw err;
      }
      await sleep(pause);
    }
  }

  async signal(runId: string, name: string, payload: unknown, key?: string): Promise<SignalDelivery> {
    const plan = planSignal(runId, name, payload, key);
    this.arrivals++;
    return this.write(() => {
      if (this.s.insertSignal.run(name, plan.payload, key ?? null, plan.digest ?? null, Date.now(), runId).changes > 0) return 'delivered';
      const row = this.requireRun(runId);
      // a repeated key is a duplicate even after the run finished (a retried webhook is not an error), unless it came
      // with another name or payload (refused; a key kept before migration 012 has no digest and matches any signal)
      const kept = key === undefined ? undefined : (this.s.signalKeyKept.get(runId, key) as { name: string; digest: string | null } | undefined);
      if (kept) return repeatedSignal(plan, { name: kept.name, digest: kept.digest ?? undefined });
      if (row.status === 'completed' || row.status === 'cancelled') throw new RunStateError(`run ${runId} is ${row.status}: it takes no more signals`);
      return 'duplicate';
    });
  }

  async takeSignal(runId: string, name: string, itemId: string): Promise<{ payload: unknown } | undefined> {
    assertRunId(runId);
    const row = this.write(
      () =>
        this.db.transaction(() => (this.s.givenSignal.get(runId, name, itemId) ?? this.s.giveSignal.get(itemId, runId, name)) as { payload: string } | undefined).immediate(),
    );
    return row ? { payload: safeJsonParse(row.payload, `run ${runId} signal ${name}`) } : undefined;
  }

  async pendingSignals(runId: string): Promise<PendingSignal[]> {
    assertRunId(runId);
    return this.guard(() =>
      (this.s.pendingSignals.all(runId) as { name: string; payload: string; key: string | null; created_at: number }[]).map((r) => ({
        name: r.name,
        payload: safeJsonParse(r.payload, `run ${runId} signal ${r.name}`),
        key: r.key ?? undefined,
        at: r.created_at,
      })),
    );
  }

  /**
   * Stops the checkpoint worker (after its checkpoint in progress), checkpoints the whole WAL into the database
   * file and truncates it (background mode), and closes the connection. Idempotent.
   */
  async close(): Promise<void> {
    if (this.checkpointer) await this.checkpointer.close();
    if (!this.db.open) return;
    try {
      if (this.checkpointer) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      throw asStoreError(err, 'SQLite checkpoint store: the final WAL checkpoint failed', this.db.name);
    } finally {
      this.db.close();
    }
  }

  /** Replays the journal: pending items in queue order, deltas in commit order, the counter and step count. */
  private fold(
    row: RunRow,
    withDeltas: boolean,
  ): { items: EngineItem[]; deltas: Record<string, unknown>[]; counter: number; steps: number; track: RunTrack } {
    const runId = row.run_id;
    const pending = new Map<string, EngineItem>();
    const start = parseItem(row.start, runId);
    pending.set(start.id, start);
    const track: RunTrack = { steps: 0, seq: -Infinity, pending, regular: true };
    const deltas: Record<string, unknown>[] = [];
    let counter = 0;
    let steps = 0;
    const rows = (withDeltas ? this.s.journal : this.s.journalItems).all({ no: row.run_no }) as StepRow[];
    for (const r of rows) {
      const produced = safeJsonParse(r.items, `run ${runId} step ${r.seq} items`);
      if (!Array.isArray(produced)) throw new CorruptStateError(`run ${runId} step ${r.seq}: items are not an array`);
      for (const it of produced) checkStoredItem(it, { runId });
      trackStep(track, r.item_id ?? String(r.n), r.seq, produced as EngineItem[]);
      if (withDeltas && r.delta !== null) {
        const d = safeJsonParse(r.delta, `run ${runId} step ${r.seq} delta`);
        if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new CorruptStateError(`run ${runId} step ${r.seq}: the delta is not an object`);
        deltas.push(d as Record<string, unknown>);
      }
      if (typeof r.counter !== 'number') throw new CorruptStateError(`run ${runId} step ${r.seq}: bad counter`);
      counter = r.counter;
      steps++;
    }
    return { items: [...pending.values()], deltas, counter, steps, track };
  }

  private trackRun(runId: string, track: RunTrack): void {
    this.tracks.delete(runId);
    if (this.tracks.size >= MAX_TRACKED_RUNS) this.tracks.delete(this.tracks.keys().next().value!);
    this.tracks.set(runId, track);
  }

  /**
   * The items still pending when `itemId` completes the run (in queue order: start, then by commit, then by
   * position) and the step count. From the run's {@link RunTrack} when this store saw every step of the run in
   * order (a long run then checks a few items instead of its whole journal), else computed in SQL.
   */
  private pendingAtCompletion(runId: string, itemId: string, seq: number): { items: EngineItem[]; steps: number } {
    const no = this.requireRun(runId).run_no;
    const steps = (this.s.stepCount.get({ no }) as { n: number }).n;
    const t = this.tracks.get(runId);
    if (t && t.regular && t.steps + 1 === steps && seq > t.seq && t.pending.has(itemId)) {
      const items: EngineItem[] = [];
      // An item id produced again after a step consumed it is not pending (as in SQL): check each one.
      for (const it of t.pending.values()) if (it.id !== itemId && !this.stepExists(runId, it.id)) items.push(it);
      return { items, steps };
    }
    const items: EngineItem[] = [];
    const start = this.s.startPending.get({ no }) as { start: string } | undefined;
    if (start) items.push(parseItem(start.start, runId));
    for (const r of this.s.unconsumed.all({ no }) as { seq: number; item: string }[]) items.push(parseItem(r.item, runId));
    return { items, steps };
  }

  /**
   * Appends the step's journal row (`items`: what it enqueued, join items included). Not applied when the item
   * was already committed; {@link RunStateError} / {@link RunNotFoundError} when the run is not running.
   */
  private insertStep(runId: string, c: CheckpointStepCommit, items: readonly EngineItem[], created: EngineItem[]): CheckpointCommitResult {
    const delta = c.delta === undefined ? null : toJson(c.delta, 'the context delta');
    const text = toJson(items, 'the work items');
    const no = this.runNoOf(runId);
    if (no === undefined) throw new RunNotFoundError(`no run ${runId}`);
    const n = numberedItem(c.itemId);
    const h = this.history.columns(c.history);
    const owner = c.owner ? ownerText(c.owner) : null;
    const r =
      n >= 0
        ? this.s.insertNumbered.run(n, c.seq, delta, text, c.counter, h[0], h[1], h[2], h[3], h[4], h[5], h[6], no, c.fingerprint ?? null, owner)
        : this.s.insertNamed.run(c.itemId, c.seq, delta, text, c.counter, h[0], h[1], h[2], h[3], h[4], h[5], h[6], no, c.fingerprint ?? null, owner);
    if (r.changes > 0) return { applied: true, created };
    if (this.forgetStaleRunNo(runId, no)) return this.insertStep(runId, c, items, created);
    this.assertStillHeld(runId, c.owner);
    if (this.stepExists(runId, c.itemId)) return { applied: false, created: NONE_CREATED };
    throw this.notRunning(runId, c.fingerprint);
  }

  /** After a write that changed nothing: ownership.ts `assertHeld` of claim `owner` (if any) on run `runId` while it runs. */
  private assertStillHeld(runId: string, owner: RunOwner | undefined): void {
    if (!owner) return;
    const row = this.s.getRun.get(runId) as RunRow | undefined;
    if (row?.status === 'running') assertHeld(runId, ownerOf(row.owner), owner);
  }

  private stepExists(runId: string, itemId: string): boolean {
    const n = numberedItem(itemId);
    return (n >= 0 ? this.s.numberedExists.get(n, runId) : this.s.namedExists.get(itemId, runId)) !== undefined;
  }

  /**
   * Parks one arrival; when it completes its group, the group's settlement item (the parked arrivals as stored) is
   * added to `created` (the engine settles it when it processes it: engine/joins.ts).
   */
  private park(runId: string, a: JoinArrival, created: EngineItem[]): void {
    if (this.s.insertArrival.run(runId, a.group, a.index, arrivalJson(a)).changes === 0) return;
    const g = this.s.countArrival.get(runId, a.group, a.size, a.held ? null : a.node) as { arrived: number; size: number; node: string | null };
    if (g.arrived < g.size) return;
    const parked = (this.s.groupArrivals.all(runId, a.group) as { body: string }[]).map((r) => r.body);
    this.s.deleteGroupArrivals.run(runId, a.group);
    this.s.deleteGroup.run(runId, a.group);
    created.push(parseItem(settlementItemJson(a.group, g.node ?? undefined, parked), runId));
  }

  /**
   * The journal slot of a new run (inside `createTx`'s IMMEDIATE transaction; undefined when every slot is held): the
   * one after the highest held, so that the run's steps append at the journal's right edge, or, once that is past
   * {@link MAX_SLOT}, the lowest free one (a few index lookups: floxide_runs_slot, floxide_runs_gaps).
   */
  private freeSlot(): number | undefined {
    const top = this.s.topSlot.pluck().get() as number;
    if (top < MAX_SLOT) return top + 1;
    if (this.s.slotHeld.get(1) === undefined) return 1;
    const below = this.s.firstGap.pluck().get() as number | null;
    return below === null ? undefined : below + 1;
  }

  /**
   * The run_no of run `runId` (undefined: no such run), remembered for the runs this store wrote to lately. A run's
   * run_no never changes while it exists, nor does its journal slot, which step commits read from its record:
   * run ids are unique and run_no is AUTOINCREMENT (never reused). A run deleted by `purgeFinished` (in any process)
   * and created again under its id has a new one: see {@link forgetStaleRunNo}.
   */
  private runNoOf(runId: string): number | undefined {
    let no = this.runNos.get(runId);
    if (no !== undefined) return no;
    no = (this.s.getRunNo.get(runId) as { run_no: number } | undefined)?.run_no;
    if (no === undefined) return undefined;
    if (this.runNos.size >= MAX_RUN_NOS) this.runNos.delete(this.runNos.keys().next().value!);
    this.runNos.set(runId, no);
    return no;
  }

  /**
   * After a write by run_no that changed nothing: when the run_no remembered for `runId` is no longer its run's (the
   * run was purged and created again), forgets it and answers true (write again); false otherwise.
   */
  private forgetStaleRunNo(runId: string, no: number): boolean {
    const current = (this.s.getRunNo.get(runId) as { run_no: number } | undefined)?.run_no;
    if (current === undefined || current === no) return false;
    this.runNos.delete(runId);
    this.tracks.delete(runId);
    return true;
  }

  private requireRun(runId: string): RunRow {
    const row = this.s.getRun.get(runId) as RunRow | undefined;
    if (!row) throw new RunNotFoundError(`no run ${runId}`);
    return row;
  }

  /** Why a step could not be inserted: no such run, a run not running, or (with `fingerprint`) a run moved to another graph. */
  private notRunning(runId: string, fingerprint?: string): FloxideError {
    const row = this.s.getRun.get(runId) as RunRow | undefined;
    if (!row) return new RunNotFoundError(`no run ${runId}`);
    if (row.status === 'running' && fingerprint !== undefined && row.fingerprint !== fingerprint) return movedRunError(runId, row.fingerprint, fingerprint);
    return new RunStateError(`run ${runId} is ${row.status}, not running`);
  }

  /** {@link guard} for a write transaction: throws a pending background failure first, counts the commit after. */
  private write<T>(f: () => T): T {
    if (this.pendingError) {
      const err = this.pendingError;
      this.pendingError = undefined;
      throw err;
    }
    const r = this.guard(f);
    if (this.checkpointer?.noteCommit()) this.checkpointInline();
    return r;
  }

  /**
   * The WAL reached `maxWalPages` with background checkpoints: RESTART waits for the worker's checkpoint in
   * progress (busy timeout), copies the rest and lets the next write transaction restart the log. The commit is
   * already durable, so a failure here is reported like a worker failure instead of failing that commit.
   */
  private checkpointInline(): void {
    try {
      this.db.pragma('wal_checkpoint(RESTART)');
    } catch (err) {
      this.report(new StoreError(`SQLite checkpoint store: inline WAL checkpoint: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
    }
    this.checkpointer!.checkpointedInline();
  }

  /** A checkpoint failure (the data committed so far is safe): to `onBackgroundError`, else thrown by the next write. */
  private report(err: StoreError): void {
    if (!this.onBackgroundError) {
      this.pendingError ??= err;
      return;
    }
    try {
      this.onBackgroundError(err);
    } catch {
      // A throwing callback must not fail the commit that noticed the failure: the next write throws instead.
      this.pendingError ??= err;
    }
  }

  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      throw asStoreError(err, 'SQLite checkpoint store', this.db.name);
    }
  }
}

/** SQLite refused `err`'s write because another connection holds the lock (`SQLITE_BUSY`, its busy timeout spent). */
function isLocked(err: unknown): boolean {
  return err instanceof StoreError && String((err.cause as { code?: unknown } | undefined)?.code).startsWith('SQLITE_BUSY');
}

/**
 * A failure as a `StoreError` (a `FloxideError` as it is). With the store's `file`, SQLite's words for a read-only,
 * locked or unopenable file ("attempt to write a readonly database", "database is locked"), which name neither the file
 * nor the way out, are said plainly; the SQLite error stays the `cause`.
 */
function asStoreError(err: unknown, what: string, file?: string, exclusive = false): Error {
  if (err instanceof FloxideError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  const said = file === undefined ? undefined : typeof code === 'string' ? plainly(code, file, exclusive) : err instanceof TypeError ? unopened(file) : undefined;
  return new StoreError(`${what}: ${said ?? (err as Error)?.message ?? String(err)}`, { cause: err });
}

/** `exclusive`: said while opening a store with `exclusive: true`, which needs the file to itself. */
function plainly(code: string, file: string, exclusive: boolean): string | undefined {
  const folder = dirname(file);
  if (code === 'SQLITE_NOTADB') {
    return `${file} is not a floxide checkpoint file: SQLite says "file is not a database" (another kind of file, or an encrypted database); nothing was written to it`;
  }
  if (code === 'SQLITE_READONLY_DIRECTORY') {
    return `the folder ${folder} is read-only for this process, and SQLite keeps the file's -wal and -shm files beside it (WAL mode): make the folder writable, or move the file`;
  }
  if (code.startsWith('SQLITE_READONLY')) return `${file} is read-only for this process (its permissions, or a read-only file system); nothing was written`;
  if (code.startsWith('SQLITE_BUSY') && exclusive) {
    return `a store opened with \`exclusive: true\` needs ${file} to itself, and another connection has it open (another store or process, floxide ui or floxide runs, a sqlite3 shell): close it, or open this store without \`exclusive\``;
  }
  if (code.startsWith('SQLITE_BUSY')) {
    return `${file} is locked by another connection for longer than the busy timeout (busyTimeoutMs): a store opened with \`exclusive: true\` holds it until it is closed, or another connection (a sqlite3 shell...) keeps a write transaction open`;
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    if (isFolder(file)) return `${file} is a folder, not a file`;
    if (!existsSync(file) && !writable(folder)) return `cannot create ${file}: the folder ${folder} is not writable by this process`;
  }
  return undefined;
}

/** What better-sqlite3 refused before SQLite saw the file (a `TypeError` of its own, in its own words): a missing folder. */
function unopened(file: string): string | undefined {
  const folder = dirname(file);
  return file !== '' && file !== ':memory:' && !existsSync(folder) ? `cannot create ${file}: the folder ${folder} does not exist` : undefined;
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** True when `filename` names a file (not `:memory:`, a URI memory database or a temporary database). */
function isFile(filename: string, db: Db): boolean {
  if (db.memory || filename === '' || filename === ':memory:') return false;
  return (db.pragma('journal_mode', { simple: true }) as string).toLowerCase() === 'wal';
}

function pageSizeOf(size: number | undefined): number {
  const n = size ?? 1024;
  if (!Number.isInteger(n) || n < 512 || n > 65_536 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError(`pageSize must be a power of two from 512 to 65536, got ${String(size)}`);
  }
  return n;
}

/**
 * Refuses, reading only, a file this store must not write to: one of a newer floxide (a schema version past
 * {@link SQLITE_MIGRATIONS}: its runs would be misread, and this version's writes could break them), or another
 * application's database (tables of its own and no floxide_runs: `new SqliteCheckpointStore('app.db')` or
 * `--store sqlite:app.db` on the wrong file would add floxide's tables to it). An empty or new file, or one of an
 * older floxide (migrated next), passes.
 */
function assertCheckpointFile(db: Db, filename: string): void {
  // (other tables first: an application's database may have a user_version of its own)
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  if (tables.length > 0 && !tables.includes('floxide_runs')) {
    const names = tables.length > 5 ? `${tables.slice(0, 5).join(', ')}, ...` : tables.join(', ');
    throw new StoreError(`${filename} is not a floxide checkpoint file: it holds other tables (${names}) and no floxide_runs; nothing was written to it (a checkpoint store needs a file of its own: it keeps its schema version in the file's user_version)`);
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SQLITE_MIGRATIONS.length) {
    throw new StoreError(
      `${filename} was written by a newer floxide (checkpoint schema version ${version}; this one knows versions up to ${SQLITE_MIGRATIONS.length}): upgrade floxide to use it; nothing was written to it`,
    );
  }
}

/**
 * Applies the migrations the file lacks, each in its own IMMEDIATE transaction that reads `user_version` inside it:
 * processes opening a new file at the same moment take turns (the write lock), and each applies only what the one
 * before it left undone (read outside, two would both run a migration: `table floxide_runs already exists`).
 */
function migrate(db: Db): void {
  // (read first, without the write lock: a file already up to date opens while another connection writes)
  if ((db.pragma('user_version', { simple: true }) as number) >= SQLITE_MIGRATIONS.length) return;
  for (;;) {
    const more = db
      .transaction(() => {
        const applied = db.pragma('user_version', { simple: true }) as number;
        if (applied >= SQLITE_MIGRATIONS.length) return false;
        db.exec(readPackageFile(new URL(`./migrations/${SQLITE_MIGRATIONS[applied]}`, import.meta.url), `the SQLite migration migrations/${SQLITE_MIGRATIONS[applied]}`));
        db.pragma(`user_version = ${applied + 1}`);
        return true;
      })
      .immediate();
    if (!more) return;
  }
}

export function parseItem(text: string, runId: string): EngineItem {
  return decodeStoredItem(text, { runId });
}

function parseArrival(text: string, runId: string): JoinArrival {
  const v = safeJsonParse(text, `run ${runId} join arrival`) as JoinArrival;
  if (v === null || typeof v !== 'object' || typeof v.group !== 'string' || typeof v.index !== 'number' || typeof v.size !== 'number') {
    throw new CorruptStateError(`run ${runId}: a stored join arrival is malformed`);
  }
  return v;
}

/**
 * A run row as a {@link CheckpointRun}, read field by field (`decodeStoredRun`): `corrupt` names the fields that
 * cannot be read, which hold no value. Inspection shows such a run; {@link toRecord} refuses it.
 */
export function decodeRunRow(row: RunRow, progress: { counter: number; steps: number } | undefined): CheckpointRun & { readonly corrupt?: CorruptStateError } {
  const d = decodeStoredRun<CheckpointStatus, EngineItem>(
    row.run_id,
    {
      workflow: row.workflow, fingerprint: row.fingerprint, status: row.status, input: row.input, output: row.output, error: row.error, dropped: row.dropped,
      createdAt: row.created_at, updatedAt: row.updated_at, deadline: row.deadline, startedOn: row.started_on, migratedAt: row.migrated_at,
    },
    CHECKPOINT_STATUSES,
  );
  return {
    runId: row.run_id,
    workflow: d.workflow,
    fingerprint: d.fingerprint,
    input: d.input,
    status: d.status,
    deadline: d.deadline,
    output: d.output,
    error: d.error,
    dropped: d.dropped,
    counter: progress ? progress.counter : row.counter,
    steps: progress ? progress.steps : row.steps,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    ...(row.traceparent === null || row.traceparent === undefined ? {} : { traceparent: row.traceparent }),
    ...versionMovesOf(d),
    ...(d.corrupt ? { corrupt: d.corrupt } : {}),
  };
}

/** A run row as a {@link CheckpointRun}; throws `CorruptStateError` when a field cannot be read ({@link decodeRunRow}). */
export function toRecord(row: RunRow, progress: { counter: number; steps: number } | undefined): CheckpointRun {
  const { corrupt, ...run } = decodeRunRow(row, progress);
  if (corrupt) throw corrupt;
  return run;
}

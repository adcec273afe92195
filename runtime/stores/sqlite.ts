/**
 * SQLite {@link CheckpointStore} (better-sqlite3): the embedded default for checkpoints. WAL journal,
 * `synchronous=NORMAL`, prepared statements, one small IMMEDIATE transaction per step, parameterised SQL only,
 * JSON parsed without prototype pollution. The schema lives in `migrations/*.sql` (append-only list below).
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { settleJoinGroup } from '../engine/core.js';
import type { EngineItem, JoinArrival } from '../engine/step.js';
import {
  CorruptStateError,
  FloxideError,
  RunInputMismatchError,
  RunNotFoundError,
  RunStateError,
  StoreError,
  type SerializedError,
} from '../errors.js';
import {
  validateRunId,
  type Checkpoint,
  type CheckpointStore,
  type CheckpointCommitResult,
  type NewCheckpointRun,
  type CheckpointRun,
  type CheckpointStatus,
  type CheckpointStepCommit,
  type CheckpointTerminalCommit,
} from './contract.js';
import { canonicalJson, safeJsonParse, toJson } from './json.js';

/** Schema migrations, in order. Append only. */
export const SQLITE_MIGRATIONS: readonly string[] = ['001_init.sql'];

export interface SqliteCheckpointStoreOptions {
  /** Milliseconds to wait for a lock held by another connection. Default 5000. */
  busyTimeoutMs?: number;
}

type Db = Database.Database;
type Stmt = Database.Statement;

interface RunRow {
  run_id: string;
  workflow: string;
  fingerprint: string;
  input: string;
  context: string;
  status: string;
  deadline: number | null;
  output: string | null;
  error: string | null;
  dropped: string;
  counter: number;
  steps: number;
  created_at: number;
  updated_at: number;
}

const STATUSES: ReadonlySet<string> = new Set(['running', 'completed', 'failed', 'cancelled']);

/** Checkpoints in a SQLite file (or `:memory:`). One store per database file per process is enough. */
export class SqliteCheckpointStore implements CheckpointStore {
  readonly db: Db;
  private readonly s: Record<
    | 'getRun' | 'getInput' | 'insertRun' | 'insertItem' | 'deleteItem' | 'insertStep' | 'bumpRun' | 'items' | 'deltas'
    | 'arrivals' | 'insertArrival' | 'countArrival' | 'groupArrivals' | 'deleteGroupArrivals' | 'deleteGroup'
    | 'deleteRunItems' | 'deleteRunArrivals' | 'deleteRunGroups' | 'completeRun' | 'failRun' | 'cancelRun' | 'reopenRun'
    | 'stepExists',
    Stmt
  >;
  private readonly commitTx: Database.Transaction<(runId: string, c: CheckpointStepCommit) => CheckpointCommitResult>;
  private readonly completeTx: Database.Transaction<(runId: string, c: CheckpointTerminalCommit) => EngineItem[]>;
  private readonly createTx: Database.Transaction<(run: NewCheckpointRun, input: string) => boolean>;

  /** Opens (creating if needed) the database at `filename` and applies pending migrations. */
  constructor(filename: string, options: SqliteCheckpointStoreOptions = {}) {
    try {
      this.db = new Database(filename);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      migrate(this.db);
    } catch (err) {
      throw asStoreError(err, `cannot open the SQLite checkpoint store ${filename}`);
    }
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      getRun: p('SELECT * FROM floxide_runs WHERE run_id = ?'),
      getInput: p('SELECT input FROM floxide_runs WHERE run_id = ?'),
      insertRun: p(
        `INSERT INTO floxide_runs (run_id, workflow, fingerprint, input, context, status, deadline, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)`,
      ),
      insertItem: p('INSERT INTO floxide_items (run_id, item_id, body) VALUES (?, ?, ?) ON CONFLICT (run_id, item_id) DO NOTHING'),
      deleteItem: p('DELETE FROM floxide_items WHERE run_id = ? AND item_id = ?'),
      insertStep: p(
        `INSERT INTO floxide_steps (run_id, item_id, seq, delta)
         SELECT run_id, ?, steps, ? FROM floxide_runs WHERE run_id = ? AND status = 'running'
         ON CONFLICT (run_id, item_id) DO NOTHING`,
      ),
      stepExists: p('SELECT 1 FROM floxide_steps WHERE run_id = ? AND item_id = ?'),
      bumpRun: p('UPDATE floxide_runs SET counter = ?, steps = steps + 1, updated_at = ? WHERE run_id = ?'),
      items: p('SELECT body FROM floxide_items WHERE run_id = ? ORDER BY seq'),
      deltas: p('SELECT delta FROM floxide_steps WHERE run_id = ? AND delta IS NOT NULL ORDER BY seq'),
      arrivals: p('SELECT body FROM floxide_arrivals WHERE run_id = ? ORDER BY grp, idx'),
      insertArrival: p('INSERT INTO floxide_arrivals (run_id, grp, idx, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      countArrival: p(
        `INSERT INTO floxide_groups (run_id, grp, size, arrived) VALUES (?, ?, ?, 1)
         ON CONFLICT (run_id, grp) DO UPDATE SET arrived = arrived + 1 RETURNING arrived, size`,
      ),
      groupArrivals: p('SELECT body FROM floxide_arrivals WHERE run_id = ? AND grp = ? ORDER BY idx'),
      deleteGroupArrivals: p('DELETE FROM floxide_arrivals WHERE run_id = ? AND grp = ?'),
      deleteGroup: p('DELETE FROM floxide_groups WHERE run_id = ? AND grp = ?'),
      deleteRunItems: p('DELETE FROM floxide_items WHERE run_id = ?'),
      deleteRunArrivals: p('DELETE FROM floxide_arrivals WHERE run_id = ?'),
      deleteRunGroups: p('DELETE FROM floxide_groups WHERE run_id = ?'),
      completeRun: p(
        `UPDATE floxide_runs SET status = 'completed', output = ?, dropped = ?, counter = ?, steps = steps + 1, updated_at = ?
         WHERE run_id = ?`,
      ),
      failRun: p(`UPDATE floxide_runs SET status = 'failed', error = ?, updated_at = ? WHERE run_id = ? AND status = 'running'`),
      cancelRun: p(
        `UPDATE floxide_runs SET status = 'cancelled', error = ?, updated_at = ? WHERE run_id = ? AND status IN ('running', 'failed')`,
      ),
      reopenRun: p(`UPDATE floxide_runs SET status = 'running', error = NULL, updated_at = ? WHERE run_id = ? AND status = 'failed'`),
    };

    this.createTx = this.db.transaction((run: NewCheckpointRun, input: string): boolean => {
      const existing = this.s.getInput.get(run.runId) as { input: string } | undefined;
      if (existing) {
        if (existing.input !== input) throw new RunInputMismatchError(`run ${run.runId} already exists with a different input`);
        return false;
      }
      const now = Date.now();
      this.s.insertRun.run(run.runId, run.workflow, run.fingerprint, input, toJson(run.context, 'the initial context'), run.deadline ?? null, now, now);
      this.s.insertItem.run(run.runId, run.start.id, toJson(run.start, 'the start item'));
      return true;
    });

    this.commitTx = this.db.transaction((runId: string, c: CheckpointStepCommit): CheckpointCommitResult => {
      const delta = c.delta === undefined ? null : toJson(c.delta, 'the context delta');
      if (this.s.insertStep.run(c.itemId, delta, runId).changes === 0) {
        if (this.s.stepExists.get(runId, c.itemId)) return { applied: false, created: [] };
        throw this.notRunning(runId);
      }
      this.s.deleteItem.run(runId, c.itemId);
      for (const it of c.items) this.s.insertItem.run(runId, it.id, toJson(it, 'a work item'));
      const created: EngineItem[] = [];
      for (const a of c.arrivals) this.park(runId, a, created);
      this.s.bumpRun.run(c.counter, Date.now(), runId);
      return { applied: true, created };
    });

    this.completeTx = this.db.transaction((runId: string, c: CheckpointTerminalCommit): EngineItem[] => {
      const delta = c.delta === undefined ? null : toJson(c.delta, 'the context delta');
      const output = toJson(c.output, 'the run output');
      if (this.s.insertStep.run(c.itemId, delta, runId).changes === 0) {
        if (this.s.stepExists.get(runId, c.itemId)) throw new RunStateError(`run ${runId}: item ${c.itemId} was already committed`);
        throw this.notRunning(runId);
      }
      this.s.deleteItem.run(runId, c.itemId);
      const rows = this.s.items.all(runId) as { body: string }[];
      this.s.deleteRunItems.run(runId);
      this.s.deleteRunArrivals.run(runId);
      this.s.deleteRunGroups.run(runId);
      this.s.completeRun.run(output, `[${rows.map((r) => r.body).join(',')}]`, c.counter, Date.now(), runId);
      return rows.map((r) => parseItem(r.body, runId));
    });
  }

  async createRun(run: NewCheckpointRun): Promise<boolean> {
    validateRunId(run.runId);
    const input = canonicalJson(run.input);
    return this.guard(() => this.createTx.immediate(run, input));
  }

  async load(runId: string): Promise<Checkpoint | undefined> {
    validateRunId(runId);
    return this.guard(() =>
      this.db.transaction(() => {
        const row = this.s.getRun.get(runId) as RunRow | undefined;
        if (!row) return undefined;
        const run = toRecord(row);
        const context = safeJsonParse(row.context, `run ${runId} context`);
        const deltas = (this.s.deltas.all(runId) as { delta: string }[]).map((r, i) => {
          const d = safeJsonParse(r.delta, `run ${runId} delta ${i}`);
          if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new CorruptStateError(`run ${runId} delta ${i} is not an object`);
          return d as Record<string, unknown>;
        });
        const items = (this.s.items.all(runId) as { body: string }[]).map((r) => parseItem(r.body, runId));
        const arrivals = (this.s.arrivals.all(runId) as { body: string }[]).map((r) => parseArrival(r.body, runId));
        return { run, context, deltas, items, arrivals };
      })(),
    );
  }

  async getRun(runId: string): Promise<CheckpointRun | undefined> {
    validateRunId(runId);
    return this.guard(() => {
      const row = this.s.getRun.get(runId) as RunRow | undefined;
      return row ? toRecord(row) : undefined;
    });
  }

  async commitStep(runId: string, commit: CheckpointStepCommit): Promise<CheckpointCommitResult> {
    validateRunId(runId);
    return this.guard(() => this.commitTx.immediate(runId, commit));
  }

  async complete(runId: string, commit: CheckpointTerminalCommit): Promise<{ dropped: readonly EngineItem[] }> {
    validateRunId(runId);
    return this.guard(() => ({ dropped: this.completeTx.immediate(runId, commit) }));
  }

  async fail(runId: string, error: SerializedError): Promise<void> {
    validateRunId(runId);
    this.guard(() => {
      if (this.s.failRun.run(toJson(error, 'the error'), Date.now(), runId).changes === 0) this.requireRun(runId);
    });
  }

  async cancel(runId: string, reason?: SerializedError): Promise<boolean> {
    validateRunId(runId);
    return this.guard(() => {
      const r = reason ?? { name: 'CancelledError', message: 'the run was cancelled', code: 'FLOXIDE_CANCELLED' };
      if (this.s.cancelRun.run(toJson(r, 'the reason'), Date.now(), runId).changes > 0) return true;
      this.requireRun(runId);
      return false;
    });
  }

  async reopen(runId: string): Promise<void> {
    validateRunId(runId);
    this.guard(() => {
      if (this.s.reopenRun.run(Date.now(), runId).changes > 0) return;
      const row = this.requireRun(runId);
      if (row.status !== 'running') throw new RunStateError(`run ${runId} is ${row.status}; only a failed run can be reopened`);
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private park(runId: string, first: JoinArrival, created: EngineItem[]): void {
    let a: JoinArrival | undefined = first;
    while (a) {
      if (this.s.insertArrival.run(runId, a.group, a.index, toJson(a, 'a join arrival')).changes === 0) return;
      const g = this.s.countArrival.get(runId, a.group, a.size) as { arrived: number; size: number };
      if (g.arrived < g.size) return;
      const arrivals = (this.s.groupArrivals.all(runId, a.group) as { body: string }[]).map((r) => parseArrival(r.body, runId));
      this.s.deleteGroupArrivals.run(runId, a.group);
      this.s.deleteGroup.run(runId, a.group);
      const settled = settleJoinGroup(a.group, arrivals);
      if (settled === undefined) return;
      if ('group' in settled) {
        a = settled;
        continue;
      }
      this.s.insertItem.run(runId, settled.id, toJson(settled, 'a join item'));
      created.push(settled);
      return;
    }
  }

  private requireRun(runId: string): RunRow {
    const row = this.s.getRun.get(runId) as RunRow | undefined;
    if (!row) throw new RunNotFoundError(`no run ${runId}`);
    return row;
  }

  private notRunning(runId: string): FloxideError {
    const row = this.s.getRun.get(runId) as RunRow | undefined;
    return row ? new RunStateError(`run ${runId} is ${row.status}, not running`) : new RunNotFoundError(`no run ${runId}`);
  }

  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      throw asStoreError(err, 'SQLite checkpoint store');
    }
  }
}

function asStoreError(err: unknown, what: string): Error {
  if (err instanceof FloxideError) return err;
  return new StoreError(`${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

function migrate(db: Db): void {
  const applied = db.pragma('user_version', { simple: true }) as number;
  for (let i = applied; i < SQLITE_MIGRATIONS.length; i++) {
    const sql = readFileSync(new URL(`./migrations/${SQLITE_MIGRATIONS[i]}`, import.meta.url), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${i + 1}`);
    }).immediate();
  }
}

function parseItem(text: string, runId: string): EngineItem {
  const v = safeJsonParse(text, `run ${runId} work item`) as EngineItem;
  if (v === null || typeof v !== 'object' || typeof v.node !== 'string' || typeof v.id !== 'string') {
    throw new CorruptStateError(`run ${runId}: a stored work item is malformed`);
  }
  return v;
}

function parseArrival(text: string, runId: string): JoinArrival {
  const v = safeJsonParse(text, `run ${runId} join arrival`) as JoinArrival;
  if (v === null || typeof v !== 'object' || typeof v.group !== 'string' || typeof v.index !== 'number' || typeof v.size !== 'number') {
    throw new CorruptStateError(`run ${runId}: a stored join arrival is malformed`);
  }
  return v;
}

function toRecord(row: RunRow): CheckpointRun {
  const id = row.run_id;
  if (!STATUSES.has(row.status)) throw new CorruptStateError(`run ${id} has an unknown status ${JSON.stringify(row.status)}`);
  const dropped = safeJsonParse(row.dropped, `run ${id} dropped items`);
  if (!Array.isArray(dropped)) throw new CorruptStateError(`run ${id}: dropped items are not an array`);
  return {
    runId: id,
    workflow: row.workflow,
    fingerprint: row.fingerprint,
    input: safeJsonParse(row.input, `run ${id} input`),
    status: row.status as CheckpointStatus,
    deadline: row.deadline ?? undefined,
    output: row.output === null ? undefined : safeJsonParse(row.output, `run ${id} output`),
    error: row.error === null ? undefined : (safeJsonParse(row.error, `run ${id} error`) as SerializedError),
    dropped: dropped as EngineItem[],
    counter: row.counter,
    steps: row.steps,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

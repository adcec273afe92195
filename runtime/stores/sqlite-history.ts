/**
 * The step history of the SQLite checkpoint store (migration 006): what a commit writes into its journal row's
 * history columns, the row a failed step leaves in `floxide_failures`, and reading a run's history back.
 * The session (the writing process, `<host>:<pid>`) is recorded once per store, at its first history write.
 */
import type Database from 'better-sqlite3';
import { CorruptStateError, type SerializedError } from '../core/errors.js';
import type { RetriedAttempt, StepHistoryEntry, StepRecord } from '../engine/events.js';
import { safeJsonParse, toJson } from '../core/json.js';
import { stepRecordsOf } from './contract.js';
import { processName } from './ownership.js';
import { itemNumber, runKeys } from './sqlite-keys.js';

/** The journal's history columns, in order: node, attempt, started_at, ms, session, retries, error (migration 008). */
export type HistoryColumns = [string | null, number | null, number | null, number | null, number | null, string | null, string | null];

const NO_HISTORY: HistoryColumns = [null, null, null, null, null, null, null];

/** How far a history read went: the last journal seq and failure id it saw. */
export interface HistoryPosition {
  readonly seq: number;
  readonly failure: number;
}

const START: HistoryPosition = { seq: -1, failure: 0 };

interface HistoryRow {
  id?: number;
  item_id: string;
  seq: number;
  node: string | null;
  attempt: number;
  started_at: number;
  ms: number;
  process: string | null;
  retries: string | null;
  error: string | null;
}

/** The journal rows of run number @no (alias `j`): a range of the journal's key. */
const RUN_ROWS = runKeys('j.k');
/** A history row (`HistoryRow`) of each journal row of run number @no; a statement adds its own conditions and order. */
const HISTORY_ROWS = `SELECT coalesce(j.item_id, CAST(${itemNumber('j.k')} AS TEXT)) AS item_id, j.seq, j.node, j.attempt, j.started_at, j.ms,
         s.process, j.retries, j.error
  FROM floxide_journal AS j LEFT JOIN floxide_sessions AS s ON s.session = j.session
  WHERE ${RUN_ROWS}`;

export class SqliteHistory {
  private session: number | undefined;
  private readonly s: Record<'openSession' | 'insertFailure' | 'journal' | 'tailStart' | 'errorTail' | 'failureBefore' | 'failures', Database.Statement>;

  constructor(private readonly db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      openSession: p('INSERT INTO floxide_sessions (process, opened_at) VALUES (?, ?)'),
      insertFailure: p(
        `INSERT INTO floxide_failures (run_no, after_seq, item_id, node, attempt, started_at, ms, session, retries, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // The journal rows of the run after seq @after in commit order (rows without history included: the last one
      // may be the terminal).
      journal: p(`${HISTORY_ROWS} AND j.seq > @after ORDER BY j.seq`),
      // The seq of the run's @skip+1-th newest journal row (where its newest rows start): a scan of the run's key range
      // (the key follows item ids, not commit order; no index on seq, which would cost every commit a write).
      tailStart: p(`SELECT j.seq FROM floxide_journal AS j WHERE ${RUN_ROWS} ORDER BY j.seq DESC LIMIT 1 OFFSET @skip`),
      // The run's newest @limit journal rows that hold errors (retried attempts, or a failure its fallbacks took).
      errorTail: p(`${HISTORY_ROWS} AND j.node IS NOT NULL AND (j.retries IS NOT NULL OR j.error IS NOT NULL) ORDER BY j.seq DESC LIMIT @limit`),
      // The id of the run's last failure recorded before journal seq ? (0 when none).
      failureBefore: p('SELECT coalesce(max(id), 0) FROM floxide_failures WHERE run_no = ? AND after_seq < ?'),
      failures: p(
        `SELECT f.id, f.item_id, f.after_seq AS seq, f.node, f.attempt, f.started_at, f.ms, s.process, f.retries, f.error
         FROM floxide_failures AS f LEFT JOIN floxide_sessions AS s ON s.session = f.session
         WHERE f.run_no = ? AND f.id > ? ORDER BY f.id`,
      ),
    };
  }

  /** The history columns of a commit's journal row (all NULL without a history entry). */
  columns(h: StepHistoryEntry | undefined): HistoryColumns {
    if (h === undefined) return NO_HISTORY;
    const retries = h.retries === undefined || h.retries.length === 0 ? null : toJson(h.retries, 'the retried attempts');
    return [h.node, h.attempt, h.startedAt, h.finishedAt - h.startedAt, this.sessionId(), retries, h.error === undefined ? null : toJson(h.error, 'the error')];
  }

  /** Records the step that failed run `runNo` after `afterSeq` committed steps (inside the caller's transaction). */
  recordFailure(runNo: number, afterSeq: number, itemId: string, h: StepHistoryEntry, error: SerializedError): void {
    const [node, attempt, startedAt, ms, session, retries] = this.columns(h);
    this.s.insertFailure.run(runNo, afterSeq, itemId, node, attempt, startedAt, ms, session, retries, toJson(error, 'the error'));
  }

  /**
   * The run's history, oldest first: per journal row with history its retried attempts and the attempt that
   * committed it (`terminal` for the row that completed the run), and each failure after the rows committed before it.
   * With `since` (a position {@link read} returned), only what was written after it.
   */
  read(runNo: number, runId: string, completed: boolean, since: HistoryPosition = START): { records: StepRecord[]; position: HistoryPosition } {
    const rows = this.s.journal.all({ no: runNo, after: since.seq }) as HistoryRow[];
    const failures = this.s.failures.all(runNo, since.failure) as HistoryRow[];
    return {
      records: this.merge(runId, rows, failures, completed),
      position: { seq: rows.length > 0 ? rows[rows.length - 1]!.seq : since.seq, failure: failures.length > 0 ? failures[failures.length - 1]!.id! : since.failure },
    };
  }

  /**
   * The run's newest `limit` records that carry an error (retried attempts, failures, failures its fallbacks took),
   * oldest first: from its newest `limit` journal rows with errors (each gives at least one) and its failures.
   */
  errorTail(runNo: number, runId: string, limit: number): StepRecord[] {
    const rows = (this.s.errorTail.all({ no: runNo, limit }) as HistoryRow[]).reverse();
    const failures = this.s.failures.all(runNo, 0) as HistoryRow[];
    const records = this.merge(runId, rows, failures, false).filter((r) => r.error !== undefined);
    return records.slice(Math.max(0, records.length - limit));
  }

  /** Journal rows (in seq order) and failures (in id order) as records, each failure after the rows before it. */
  private merge(runId: string, rows: readonly HistoryRow[], failures: readonly HistoryRow[], completed: boolean): StepRecord[] {
    const records: StepRecord[] = [];
    let f = 0;
    const failuresUpTo = (seq: number) => {
      for (; f < failures.length && failures[f]!.seq <= seq; f++) {
        const r = failures[f]!;
        records.push(...this.records(runId, r, 'failed'));
      }
    };
    rows.forEach((r, i) => {
      failuresUpTo(r.seq - 1);
      if (r.node !== null) records.push(...this.records(runId, r, completed && i === rows.length - 1 ? 'terminal' : 'continue'));
    });
    failuresUpTo(Infinity);
    return records;
  }

  /**
   * The run's newest `limit` records, oldest first, read from its newest `limit` journal rows (each gives at least one
   * record when it has history) and the failures after them; the whole history when those rows give fewer.
   */
  tail(runNo: number, runId: string, completed: boolean, limit: number): StepRecord[] {
    const start = this.s.tailStart.pluck().get({ no: runNo, skip: limit - 1 }) as number | undefined;
    if (start !== undefined) {
      const failure = this.s.failureBefore.pluck().get(runNo, start) as number;
      const { records } = this.read(runNo, runId, completed, { seq: start - 1, failure });
      if (records.length >= limit) return records.slice(records.length - limit);
    }
    const { records } = this.read(runNo, runId, completed);
    return records.slice(Math.max(0, records.length - limit));
  }

  /** The records of one row; its `error` is the failure's (`failed`), or the failure a `continue`'s fallbacks took. */
  private records(runId: string, r: HistoryRow, outcome: 'continue' | 'terminal' | 'failed'): StepRecord[] {
    const retries = r.retries === null ? undefined : safeJsonParse(r.retries, `run ${runId} step ${r.seq} retries`);
    if (retries !== undefined && !Array.isArray(retries)) throw new CorruptStateError(`run ${runId} step ${r.seq}: retries are not an array`);
    const h: StepHistoryEntry = {
      node: r.node!,
      attempt: r.attempt,
      startedAt: r.started_at,
      finishedAt: r.started_at + r.ms,
      ...(retries ? { retries: retries as RetriedAttempt[] } : {}),
    };
    const error = r.error === null ? undefined : (safeJsonParse(r.error, outcome === 'failed' ? `run ${runId} failure` : `run ${runId} step ${r.seq} error`) as SerializedError);
    return stepRecordsOf(runId, r.item_id, h, outcome, error, r.process ?? undefined);
  }

  private sessionId(): number {
    this.session ??= Number(this.s.openSession.run(processName(), Date.now()).lastInsertRowid);
    return this.session;
  }
}

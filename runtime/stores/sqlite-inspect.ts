/**
 * Reading a SQLite checkpoint file to show its runs (`floxide runs --store sqlite:<file>`, `floxide ui`): pages of
 * the runs list through the indexes of migration 006 (keyset paging, newest first), a run's journal as committed
 * (each step's consumed item, delta and enqueued items, in commit order), and `PRAGMA data_version`, which changes
 * when another connection commits to the file (a cheap check: no page is read).
 */
import type Database from 'better-sqlite3';
import { CorruptStateError, FloxideError, StoreError } from '../core/errors.js';
import { START_ITEM_ID } from '../core/ids.js';
import { safeJsonParse, toJson } from '../core/json.js';
import { checkStoredItem } from '../engine/decode.js';
import type { RunMigratedEvent } from '../engine/events.js';
import { migratedEvent } from '../engine/migration.js';
import type { EngineItem } from '../engine/types.js';
import type { CheckpointRun, CheckpointStatus } from './contract.js';
import { ownerOf, type RunOwner } from './ownership.js';
import { decodeRunRow, parseItem, type RunRow } from './sqlite.js';
import { itemNumber, notConsumed, runKeys } from './sqlite-keys.js';

/**
 * A run of the list, with its row number (the order runs were created in this file). `corrupt` names the fields of
 * its row that cannot be read ({@link decodeRunRow}): the run is listed all the same.
 */
export interface ListedRun extends CheckpointRun {
  readonly runNo: number;
  readonly corrupt?: CorruptStateError;
  /** The claim of the call running the run, as stored (ownership.ts); undefined when none is (or it is no claim). */
  readonly owner?: RunOwner;
  /** When {@link owner} last refreshed its claim (epoch ms, its clock). */
  readonly ownerSeen?: number;
}

export interface RunPageQuery {
  readonly status?: CheckpointStatus;
  readonly workflow?: string;
  readonly limit?: number;
  /** Only runs after this one in the order (created_at, run_id descending). */
  readonly after?: { readonly createdAt: number; readonly runId: string };
}

/** One committed step as the journal keeps it. */
export interface JournalStep {
  readonly itemId: string;
  readonly seq: number;
  readonly delta: Record<string, unknown> | undefined;
  /** The items the step enqueued; empty when they cannot be read ({@link itemsCorrupt} says why). */
  readonly items: readonly EngineItem[];
  readonly itemsCorrupt?: CorruptStateError;
}

/**
 * A run with its journal. Reading never throws for a corrupt start item, initial context, delta or step items (what
 * can be read is shown): `startCorrupt` then names what is wrong with the start item (`start` is `{ node: '?', id:
 * '0', input: null }`), `contextCorrupt` what is wrong with the context (`context` is undefined and no step has a
 * delta), a step's `itemsCorrupt` what is wrong with the items it enqueued.
 */
export interface RunJournal {
  readonly run: ListedRun;
  readonly context: unknown;
  readonly start: EngineItem;
  readonly steps: readonly JournalStep[];
  readonly startCorrupt?: CorruptStateError;
  readonly contextCorrupt?: CorruptStateError;
}

/** How many of a run's items of one node are consumed or not, and parked or not (see {@link SqliteRunReader.itemGroups}). */
export interface ItemGroup {
  readonly node: string;
  readonly consumed: boolean;
  readonly parked: boolean;
  readonly n: number;
}

/** A run's journal in numbers (see {@link SqliteRunReader.journalTotals}). */
export interface JournalTotals {
  /** Items ever enqueued: the start item and every step's items (a step's unreadable items count as one). */
  readonly enqueued: number;
  /** Committed steps. */
  readonly steps: number;
  /** Attempts retried (in the journal rows and the failures). */
  readonly retries: number;
  /** Failed steps (rows of floxide_failures). */
  readonly failures: number;
}

/**
 * A finished (completed or cancelled) run's counts: its journal in numbers and its items per node, counted once and
 * kept in its record (`floxide_runs.counts`, migration 014; see {@link SqliteRunReader.finishedCounts}).
 */
export interface FinishedCounts {
  readonly totals: JournalTotals;
  readonly groups: readonly ItemGroup[];
}

/** Which of a run's outstanding items {@link SqliteRunReader.outstanding} selects. */
export interface OutstandingQuery {
  /** true: only the parked ones; false: only the others; undefined: both. */
  readonly parked?: boolean;
  /** Only the first `limit` (in enqueue order). */
  readonly limit?: number;
}

/** An item as JSON (`$` of `x`) is parked: not yet given a signal, with a wake-up time or a wait (`isParked`). */
const PARKED = (x: string) => `(json_type(${x}, '$.received') IS NULL AND (json_type(${x}, '$.notBefore') IS NOT NULL OR json_type(${x}, '$.wait') IS NOT NULL))`;
/** The journal rows of run number @no: a range of the journal's key. */
const RUN_ROWS = runKeys('k');

const COLUMNS = 'run_no, run_id, status, deadline, counter, steps, created_at, updated_at, workflow, fingerprint, error, output, dropped, start, input, context, owner, owner_seen, started_on, migrated_at';

export class SqliteRunReader {
  private readonly s: Record<
    'byId' | 'journal' | 'dataVersion' | 'newRuns' | 'byNo' | 'lastRunNo' | 'updatedSince' | 'consumedGroups' | 'openGroups' | 'startOf' | 'contextOf' | 'totals' | 'deltaCount' | 'deltaTail' | 'movesAfter' | 'outstanding' | 'failedAttempts' | 'countsOf' | 'keepCounts',
    Database.Statement
  >;

  constructor(private readonly db: Database.Database) {
    this.s = {
      byId: db.prepare(`SELECT ${COLUMNS} FROM floxide_runs WHERE run_id = ?`),
      byNo: db.prepare(`SELECT ${COLUMNS} FROM floxide_runs WHERE run_no = ?`),
      newRuns: db.prepare(`SELECT ${COLUMNS} FROM floxide_runs WHERE run_no > ? ORDER BY run_no`),
      journal: db.prepare(
        `SELECT coalesce(item_id, CAST(${itemNumber('k')} AS TEXT)) AS item_id, seq, delta, items FROM floxide_journal
         WHERE ${RUN_ROWS} AND seq > @after ORDER BY seq`,
      ),
      // Per node, the run's consumed items: one journal row each, by the node its history names.
      consumedGroups: db.prepare(`SELECT node, 1 AS consumed, 0 AS parked, count(*) AS n FROM floxide_journal WHERE ${RUN_ROWS} GROUP BY node`),
      // Per node and parked, the run's other items: the start item @start and every step's items that no journal row
      // consumed (only their id is read from each item's JSON; their node and parked state from those left).
      openGroups: db.prepare(
        `WITH j AS (SELECT k, item_id, items FROM floxide_journal WHERE ${RUN_ROWS}),
              enq(id, value) AS (
                SELECT json_extract(@start, '$.id'), @start
                UNION ALL
                SELECT json_extract(e.value, '$.id'), e.value FROM j, json_each(j.items) AS e
              ),
              open AS (SELECT value FROM enq WHERE id NOT IN (SELECT coalesce(item_id, CAST(${itemNumber('k')} AS TEXT)) FROM j))
         SELECT json_extract(value, '$.node') AS node, 0 AS consumed, ${PARKED('value')} AS parked, count(*) AS n FROM open GROUP BY 1, 3`,
      ),
      // The items no journal row consumed (the start item, then each step's in commit order), each looked up by its key
      // (notConsumed), only the parked ones (@parked 1: steps whose items' text names no wait or wake-up time are not
      // read as JSON) or only the others (0), the first @limit (-1: all; SQLite keeps only that many in its sorter).
      outstanding: db.prepare(
        `SELECT item FROM (
           SELECT -1 AS seq, 0 AS pos, start AS item, json_extract(start, '$.id') AS id FROM floxide_runs WHERE run_no = @no
           UNION ALL
           SELECT s.seq, e.key, e.value, json_extract(e.value, '$.id')
           FROM floxide_journal AS s, json_each(s.items) AS e
           WHERE ${runKeys('s.k')} AND (@parked IS NOT 1 OR instr(s.items, '"notBefore"') > 0 OR instr(s.items, '"wait"') > 0)
         ) AS p
         WHERE (@parked IS NULL OR ${PARKED('p.item')} = @parked) AND ${notConsumed('p.id')}
         ORDER BY seq, pos LIMIT @limit`,
      ),
      // The attempts of the run's failed steps, oldest first (an outstanding item's attempt: its last failure's).
      failedAttempts: db.prepare('SELECT item_id, attempt FROM floxide_failures WHERE run_no = ? ORDER BY id'),
      countsOf: db.prepare('SELECT counts FROM floxide_runs WHERE run_no = ?'),
      // (a finished run only, and once: its updated_at, which the event feed watches for run-level writes, is left alone)
      keepCounts: db.prepare("UPDATE floxide_runs SET counts = @counts WHERE run_no = @no AND status = @status AND status IN ('completed', 'cancelled') AND counts IS NULL"),
      startOf: db.prepare('SELECT start FROM floxide_runs WHERE run_no = ?'),
      contextOf: db.prepare('SELECT context FROM floxide_runs WHERE run_no = ?'),
      totals: db.prepare(
        `SELECT 1 + coalesce(sum(CASE WHEN items LIKE '[%' THEN json_array_length(items) ELSE 1 END), 0) AS enqueued,
                count(*) AS steps,
                coalesce(sum(CASE WHEN json_valid(retries) THEN json_array_length(retries) ELSE 0 END), 0)
                  + (SELECT coalesce(sum(CASE WHEN json_valid(retries) THEN json_array_length(retries) ELSE 0 END), 0) FROM floxide_failures WHERE run_no = @no) AS retries,
                (SELECT count(*) FROM floxide_failures WHERE run_no = @no) AS failures,
                sum(items NOT LIKE '[%') AS bad_items
         FROM floxide_journal WHERE ${RUN_ROWS}`,
      ),
      deltaCount: db.prepare(`SELECT count(*) FROM floxide_journal WHERE ${RUN_ROWS} AND delta IS NOT NULL`),
      // The newest @limit deltas: a scan of the run's rows kept to the top @limit by seq (no index on seq: see history).
      deltaTail: db.prepare(
        `SELECT coalesce(item_id, CAST(${itemNumber('k')} AS TEXT)) AS item_id, seq, delta FROM floxide_journal
         WHERE ${RUN_ROWS} AND delta IS NOT NULL ORDER BY seq DESC LIMIT @limit`,
      ),
      dataVersion: db.prepare('PRAGMA data_version'),
      lastRunNo: db.prepare('SELECT coalesce(max(run_no), 0) FROM floxide_runs'),
      updatedSince: db.prepare('SELECT run_no, updated_at FROM floxide_runs WHERE updated_at >= ?'),
      movesAfter: db.prepare('SELECT move, at, from_version, to_version, renames, worker FROM floxide_moves WHERE run_no = ? AND move > ? ORDER BY move'),
    };
  }

  /** Runs newest first, filtered, one page (through floxide_runs_created / _status / _workflow). */
  listRuns(q: RunPageQuery): ListedRun[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.status !== undefined) {
      where.push('status = ?');
      args.push(q.status);
    }
    if (q.workflow !== undefined) {
      where.push('workflow = ?');
      args.push(q.workflow);
    }
    if (q.after !== undefined) {
      where.push('(created_at < ? OR (created_at = ? AND run_id < ?))');
      args.push(q.after.createdAt, q.after.createdAt, q.after.runId);
    }
    const sql = `SELECT ${COLUMNS} FROM floxide_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, run_id DESC${q.limit !== undefined ? ' LIMIT ?' : ''}`;
    if (q.limit !== undefined) args.push(q.limit);
    return read(() => (this.db.prepare(sql).all(...args) as RunRow[]).map(listed));
  }

  run(runId: string): ListedRun | undefined {
    const row = read(() => this.s.byId.get(runId) as RunRow | undefined);
    return row ? listed(row) : undefined;
  }

  runByNo(runNo: number): ListedRun | undefined {
    const row = read(() => this.s.byNo.get(runNo) as RunRow | undefined);
    return row ? listed(row) : undefined;
  }

  /**
   * The run's version moves after move number `after` (0: all), oldest first (floxide_moves, migration 011), each with
   * its number: what the event feed reports as `run.migrated`.
   */
  movesAfter(runNo: number, runId: string, after: number): Array<{ readonly move: number; readonly event: RunMigratedEvent }> {
    const rows = read(() => this.s.movesAfter.all(runNo, after) as Array<{ move: number; at: number; from_version: string; to_version: string; renames: string; worker: string | null }>);
    return rows.map((r) => ({
      move: r.move,
      event: migratedEvent(runId, r.at, { from: r.from_version, to: r.to_version, renames: safeJsonParse(r.renames, `run ${runId} move ${r.move} renames`) as Record<string, string>, ...(r.worker !== null ? { workerId: r.worker } : {}) }),
    }));
  }

  /** The number of the newest run (0 when there is none). */
  lastRunNo(): number {
    return read(() => this.s.lastRunNo.pluck().get() as number);
  }

  /**
   * The runs whose last run-level write (creation, completion, failure, cancel, resume, version move; not a step) was at
   * `ms` or later, by their writers' clocks (through floxide_runs_updated, migration 010).
   */
  runsUpdatedSince(ms: number): Array<{ readonly runNo: number; readonly updatedAt: number }> {
    return read(() => (this.s.updatedSince.all(ms) as Array<{ run_no: number; updated_at: number }>).map((r) => ({ runNo: r.run_no, updatedAt: r.updated_at })));
  }

  /** Runs created after run number `runNo`, oldest first. */
  runsAfter(runNo: number): ListedRun[] {
    return read(() => (this.s.newRuns.all(runNo) as RunRow[]).map(listed));
  }

  /**
   * The run and its journal in commit order, read in one transaction; undefined for an unknown run. A corrupt start
   * item, context, delta or step's items is reported in the journal ({@link RunJournal}), never thrown.
   *
   * With `since`, only the steps committed after seq `since.seq` (what a read of the journal that stopped there has not
   * seen), read after a context already found corrupt there (`since.contextCorrupt`: their deltas are not read).
   */
  journal(runId: string, since?: { readonly seq: number; readonly contextCorrupt?: CorruptStateError }): RunJournal | undefined {
    return read(this.db.transaction(() => {
      const row = this.s.byId.get(runId) as RunRow | undefined;
      if (!row) return undefined;
      let contextCorrupt: CorruptStateError | undefined = since?.contextCorrupt;
      const corrupt = <T>(read: () => T): T | undefined => {
        if (contextCorrupt) return undefined;
        try {
          return read();
        } catch (err) {
          if (!(err instanceof CorruptStateError)) throw err;
          contextCorrupt = err;
          return undefined;
        }
      };
      const context = corrupt(() => safeJsonParse(row.context, `run ${runId} context`));
      const steps = (this.s.journal.all({ no: row.run_no, after: since?.seq ?? -1 }) as { item_id: string; seq: number; delta: string | null; items: string }[]).map((r) => {
        let items: EngineItem[] = [];
        let itemsCorrupt: CorruptStateError | undefined;
        try {
          const parsed = safeJsonParse(r.items, `run ${runId} step ${r.seq} items`);
          if (!Array.isArray(parsed)) throw new CorruptStateError(`run ${runId} step ${r.seq}: items are not an array`);
          items = parsed.map((it) => checkStoredItem(it, { runId }));
        } catch (err) {
          if (!(err instanceof CorruptStateError)) throw err;
          itemsCorrupt = err;
        }
        const delta = r.delta === null ? undefined : corrupt(() => parseDelta(r.delta!, runId, r.seq));
        return { itemId: r.item_id, seq: r.seq, delta, items, ...(itemsCorrupt ? { itemsCorrupt } : {}) };
      });
      const base = { run: listed(row), context, steps: contextCorrupt ? steps.map((st) => ({ ...st, delta: undefined })) : steps };
      const ctx = contextCorrupt ? { contextCorrupt } : {};
      try {
        return { ...base, ...ctx, start: parseItem(row.start, runId) };
      } catch (err) {
        if (!(err instanceof CorruptStateError)) throw err;
        return { ...base, ...ctx, start: { node: '?', id: START_ITEM_ID, input: null }, startCorrupt: err };
      }
    }));
  }

  /**
   * The run's items per node, consumed or not, parked or not, counted by SQLite without decoding one. Undefined when
   * an item cannot be read that way (a step's items or the start item are not valid JSON, an item has no node, a
   * journal row has no history to name its node): read the journal instead.
   */
  itemGroups(run: ListedRun): ItemGroup[] | undefined {
    return read(this.db.transaction(() => this.groupsOf(run, this.totalsOf(run.runNo))));
  }

  /** {@link itemGroups}, inside the caller's transaction, with the run's journal totals. */
  private groupsOf(run: ListedRun, totals: JournalTotals & { bad_items: number }): ItemGroup[] | undefined {
    const start = this.s.startOf.pluck().get(run.runNo) as string | undefined;
    if (start === undefined || !isJsonObject(start)) return undefined;
    type Row = { node: string | null; consumed: number; parked: number; n: number };
    const consumed = this.s.consumedGroups.all({ no: run.runNo }) as Row[];
    if (totals.bad_items > 0) return undefined;
    // every item enqueued was consumed (a finished run, mostly): no item's JSON is read
    let open: Row[] = [];
    if (totals.enqueued > totals.steps) {
      try {
        open = this.s.openGroups.all({ no: run.runNo, start }) as Row[];
      } catch (err) {
        if (isMalformedJson(err)) return undefined;
        throw err;
      }
    }
    const rows = [...consumed, ...open];
    if (rows.some((r) => typeof r.node !== 'string')) return undefined;
    return rows.map((r) => ({ node: r.node!, consumed: r.consumed === 1, parked: r.parked === 1, n: r.n }));
  }

  /**
   * A completed or cancelled run's {@link FinishedCounts}: as kept in its record, else counted by SQLite
   * ({@link journalTotals}, {@link itemGroups}) and kept there (a finished run's journal never changes), so that only
   * the first read after it finished counts its rows. Undefined for an open or failed run, and when its items cannot be
   * counted by SQLite (see {@link itemGroups}: read the journal instead). The counts are kept only when the file can
   * be written at once: a file locked by another connection's write, or read-only, is counted again next time.
   */
  finishedCounts(run: ListedRun): FinishedCounts | undefined {
    if (run.status !== 'completed' && run.status !== 'cancelled') return undefined;
    const counted = read(this.db.transaction(() => {
      const kept = keptCounts(this.s.countsOf.pluck().get(run.runNo) as string | null | undefined);
      if (kept) return { counts: kept, kept: true };
      const t = this.totalsOf(run.runNo);
      const groups = this.groupsOf(run, t);
      return groups && { counts: { totals: { enqueued: t.enqueued, steps: t.steps, retries: t.retries, failures: t.failures }, groups }, kept: false };
    }));
    if (counted === undefined) return undefined;
    if (!counted.kept) this.keepCounts(run, counted.counts);
    return counted.counts;
  }

  /** Writes `counts` into the finished run's record, unless the file cannot be written at once (then leaves it). */
  private keepCounts(run: ListedRun, counts: FinishedCounts): void {
    const wait = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma('busy_timeout = 0');
    try {
      read(() => {
        try {
          this.s.keepCounts.run({ counts: toJson(counts, 'the run counts'), no: run.runNo, status: run.status });
        } catch (err) {
          if (!/^SQLITE_(BUSY|LOCKED|READONLY)/.test((err as { code?: string })?.code ?? '')) throw err;
        }
      });
    } finally {
      this.db.pragma(`busy_timeout = ${wait}`);
    }
  }

  /**
   * The run's items that no step consumed, in enqueue order ({@link OutstandingQuery}: the parked ones or the others,
   * the first `limit`), selected by SQLite: each item's JSON is read there and only those returned are decoded, so a
   * run with 100,000 items waiting is not folded to list 20 of them. Undefined when an item cannot be read that way (a
   * step's items or the start item are not valid JSON, an item that is not a work item): fold the journal instead,
   * which says which.
   */
  outstanding(run: ListedRun, q: OutstandingQuery = {}): EngineItem[] | undefined {
    let texts: string[];
    try {
      texts = read(() => this.s.outstanding.pluck().all({ no: run.runNo, parked: q.parked === undefined ? null : q.parked ? 1 : 0, limit: q.limit ?? -1 }) as string[]);
    } catch (err) {
      if (isMalformedJson((err as Error)?.cause ?? err)) return undefined;
      throw err;
    }
    const items: EngineItem[] = [];
    for (const text of texts) {
      try {
        items.push(parseItem(text, run.runId));
      } catch (err) {
        if (err instanceof CorruptStateError) return undefined;
        throw err;
      }
    }
    return items;
  }

  /** Per item id, the attempt of its last failed step (the run's failures: migration 006). */
  failedAttempts(runNo: number): Map<string, number> {
    const rows = read(() => this.s.failedAttempts.all(runNo) as Array<{ item_id: string; attempt: number }>);
    return new Map(rows.map((r) => [r.item_id, r.attempt]));
  }

  /**
   * The run's journal in numbers ({@link JournalTotals}), counted by SQLite; undefined when a step's items are not a
   * JSON array (read the journal instead).
   */
  journalTotals(runNo: number): JournalTotals | undefined {
    const t = read(() => this.totalsOf(runNo));
    return t.bad_items > 0 ? undefined : { enqueued: t.enqueued, steps: t.steps, retries: t.retries, failures: t.failures };
  }

  /** The journal totals, with `bad_items` > 0 when a step's items are not a JSON array (malformed JSON included). */
  private totalsOf(runNo: number): JournalTotals & { bad_items: number } {
    try {
      const t = this.s.totals.get({ no: runNo }) as JournalTotals & { bad_items: number | null };
      return { ...t, bad_items: t.bad_items ?? 0 };
    } catch (err) {
      if (isMalformedJson(err)) return { enqueued: 0, steps: 0, retries: 0, failures: 0, bad_items: 1 };
      throw err;
    }
  }

  /**
   * The run's initial context, its version (its deltas) and its newest `limit` deltas after version `since`, oldest
   * first, each with its version; a context or delta that cannot be read is a `CorruptStateError` (thrown).
   */
  deltaTail(run: ListedRun, since: number, limit: number): { context: unknown; version: number; deltas: Array<{ version: number; itemId: string; delta: Record<string, unknown> }> } {
    return read(this.db.transaction(() => {
      const context = safeJsonParse(this.s.contextOf.pluck().get(run.runNo) as string, `run ${run.runId} context`);
      const version = this.s.deltaCount.pluck().get({ no: run.runNo }) as number;
      const n = Math.max(0, Math.min(limit, version - since));
      const rows = (n === 0 ? [] : (this.s.deltaTail.all({ no: run.runNo, limit: n }) as Array<{ item_id: string; seq: number; delta: string }>)).reverse();
      const deltas = rows.map((r, i) => ({ version: version - rows.length + i + 1, itemId: r.item_id, delta: parseDelta(r.delta, run.runId, r.seq) }));
      return { context, version, deltas };
    }));
  }

  /** Changes whenever another connection committed to the file since the last call (SQLite's `data_version`). */
  dataVersion(): number {
    return read(() => this.s.dataVersion.pluck().get() as number);
  }
}

/**
 * A read of the file: what the driver throws (a damaged file: "database disk image is malformed", a lock, I/O) is a
 * `StoreError` naming the file's store, as the store's own reads say it (floxide's own errors pass as they are).
 */
function read<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof FloxideError) throw err;
    throw new StoreError(`SQLite checkpoint file: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/** A journal row's stored delta; `CorruptStateError` when it is not a JSON object. */
function parseDelta(text: string, runId: string, seq: number): Record<string, unknown> {
  const d = safeJsonParse(text, `run ${runId} step ${seq} delta`);
  if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new CorruptStateError(`run ${runId} step ${seq}: the delta is not an object`);
  return d as Record<string, unknown>;
}

/** True for SQLite's refusal of a JSON function over text that is not JSON (the caller then reads the journal itself). */
function isMalformedJson(err: unknown): boolean {
  return /malformed JSON/i.test((err as Error)?.message ?? '');
}

/** Counts kept in a run's record ({@link FinishedCounts}), or undefined when none are (or they are not what this version keeps). */
function keptCounts(text: string | null | undefined): FinishedCounts | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const c = safeJsonParse(text, 'the kept run counts') as FinishedCounts;
    const t = c?.totals;
    const numbers = (o: object, keys: string[]) => keys.every((k) => Number.isSafeInteger((o as Record<string, unknown>)[k]));
    if (typeof t !== 'object' || t === null || !numbers(t, ['enqueued', 'steps', 'retries', 'failures']) || !Array.isArray(c.groups)) return undefined;
    if (!c.groups.every((g) => typeof g?.node === 'string' && typeof g.consumed === 'boolean' && typeof g.parked === 'boolean' && Number.isSafeInteger(g.n))) return undefined;
    return { totals: { enqueued: t.enqueued, steps: t.steps, retries: t.retries, failures: t.failures }, groups: c.groups.map((g) => ({ node: g.node, consumed: g.consumed, parked: g.parked, n: g.n })) };
  } catch {
    return undefined;
  }
}

/** True for text that SQLite's JSON functions read as an object (what `json_extract(text, '$.node')` needs). */
function isJsonObject(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

function listed(row: RunRow): ListedRun {
  const owner = ownerOf(row.owner);
  return { ...decodeRunRow(row, undefined), runNo: row.run_no, ...(owner ? { owner } : {}), ...(typeof row.owner_seen === 'number' ? { ownerSeen: row.owner_seen } : {}) };
}

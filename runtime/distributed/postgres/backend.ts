/**
 * The Postgres distributed backend (`pg` Pool). Every mutating operation is one SQL statement or one plpgsql function
 * call, so one transaction and one round trip: claims use `FOR UPDATE SKIP LOCKED`, step commits go to
 * `commit_steps(jsonb)` (each commit: ack, successors, join arrivals, context delta, item state, metrics, errors, the
 * run's completion or failure, and a successor hand-off), run transitions are guarded compare-and-set functions. The SQL lives in `sql/` (one file
 * per statement, each with a header): tables and indexes in the migrations `sql/migrations/`, one function per file in
 * `sql/functions/` (see migrate.ts). Commits are planned by the engine (`planStepCommit`); the SQL only applies them.
 *
 * Values are stored as canonical JSON text (`ids.ts`) and parsed back with `parseStoredJson` (a `__proto__` key is data: an own property);
 * `jsonb` results are parsed the same way through a per-pool type parser. Times come from the server's clock.
 */
import type pg from 'pg';
import type { PoolConfig } from 'pg';
import { importOptional } from '../../core/optional.js';
import {
  CancelledError,
  FloxideError,
  InvalidArgumentError,
  PackageFileMissingError,
  SchemaMissingError,
  SchemaSetupError,
  StoreError,
  serializeError,
  type SerializedError,
} from '../../core/errors.js';
import { decodeRunRecord } from '../stored-run.js';
import type { EngineItem } from '../../engine/types.js';
import {
  assertNewRun,
  countItem,
  type ItemCounts,
  DEFAULT_LIVENESS_THRESHOLD_MS,
  classifyLiveness,
  assertRunStatus,
  assertRunCursor,
  type BatchCommitResult,
  type BatchStepCommitter,
  type ClaimOptions,
  type ReleaseOptions,
  type CommitResult,
  type ContextDeltaRecord,
  type ContextSnapshot,
  type CreateRunResult,
  type DeadLetter,
  type DistributedBackend,
  type DroppedItem,
  type ErrorRecord,
  type LeaseExtension,
  type LeasedItem,
  type ListRunsFilter,
  type NewRun,
  type PendingWork,
  type PendingWorkOptions,
  pendingWorkFilter,
  OUTSTANDING_STATUSES,
  type RunMetrics,
  type RunObserver,
  type RunRecord,
  type RunStatus,
  type RunTransition,
  type ScheduleAdvance,
  type ScheduleDefinition,
  type ScheduleRecord,
  type ScheduleStore,
  type SignalReceiver,
  type StepCommit,
  type WorkItemState,
  type WorkItemStatus,
  type WorkerHealth,
  type WorkerRecord,
  versionFilter,
  assertMigration,
  type ParkedArrival,
  type RunMigration,
  type RunMigrator,
  type SignalReceiverOptions,
  type FinishedRunPurger,
  type PurgeOptions,
} from '../contracts.js';
import { Coalescer, type Settled } from '../coalesce.js';
import { assertItemId, assertRunId, assertWorkerId, canonicalJson, parseStoredJson, runInputJson, storedJson } from '../../core/ids.js';
import { decodeLease, decodeStoredDelta, decodeStoredWork } from '../stored-lease.js';
import type { CommitPlan, PlannedItem } from '../../engine/commit.js';
import { checkMigrationReply, replyError, runEndOf, type MigrationReply } from '../replies.js';
import { migrationRewrites } from '../migratable.js';
import { migratedEventJson } from '../../engine/migration.js';
import { planStepCommit, type StepCommitPlan } from '../step-commit.js';
import { planSignal, type SignalPlan } from '../../core/signal-plan.js';
import { DUPLICATE_SIGNAL, deliveredTo, type PendingSignal, type SignalReceipt } from '../../engine/parked.js';
import { DEFAULT_RETAIN_FINISHED_MS, assertNonNegativeMs, assertPositiveInt, assertPositiveMs, assertSerializedError, assertString, purgeBounds, tailLimit, type TailOptions } from '../../core/validate.js';
import { PostgresScheduleStore } from './schedules.js';
import { DEFAULT_POSTGRES_SCHEMA, assertSchemaName, migrate, pendingChanges, sqlFile } from './migrate.js';
import type { EventEnvelope, StepOutcomeKind, StepRecord, SubscribeOptions } from '../../engine/events.js';
import { tableEvents } from './events.js';

/**
 * Default connections per backend (per process). Every hot-path call is one short statement, so a few connections
 * keep a server busy; more only add context switches and lock waits (measured with bench/distributed.ts).
 */
export const DEFAULT_POOL_SIZE = 4;

export { DEFAULT_RETAIN_FINISHED_MS } from '../../core/validate.js';

/** Options of {@link PostgresBackend.connect}. */
export interface PostgresBackendOptions {
  /** e.g. `postgres://postgres@127.0.0.1:5432/test`. Either this or `pool` (or both: `pool` wins per field). */
  readonly connectionString?: string;
  /**
   * Extra `pg` Pool settings (max connections, timeouts, ssl...). `types` and `options` are set by the backend.
   * `max` defaults to {@link DEFAULT_POOL_SIZE}. Calls beyond `max` wait in the backend's own FIFO queue, so
   * `connectionTimeoutMillis` only bounds opening a connection, never the wait for a busy one.
   */
  readonly pool?: Omit<PoolConfig, 'types' | 'options' | 'connectionString'>;
  /** The schema holding every table ([a-z0-9_], default `floxide`). Created and migrated on connect. */
  readonly schema?: string;
  /**
   * Apply missing migrations and changed functions on connect (default true). With false, a schema that is not up to
   * date is an error.
   */
  readonly migrate?: boolean;
  /**
   * Create the schema when it does not exist (default true). With false, a schema that does not exist is a
   * `StoreError` and nothing is created: what a tool that only inspects or controls runs wants (`floxide runs`,
   * `floxide ui`), so that a misspelt `?schema=` is not answered "no runs" from an empty schema it made.
   */
  readonly createSchema?: boolean;
  /** How long {@link PostgresBackend.purgeFinished} keeps finished runs (default 7 days). */
  readonly retainFinishedMs?: number;
  /**
   * Publish events (default true): every operation records what it reports in the `events` table, read by
   * {@link PostgresBackend.subscribe}. `false` records none (the step history is kept either way).
   */
  readonly events?: boolean;
  /**
   * Called with errors of idle pooled connections (e.g. the server terminated them). The pool discards such a
   * connection and opens a new one when needed; the error never crashes the process. Default: ignored.
   */
  readonly onConnectionError?: (err: Error) => void;
}

export type { PurgeOptions } from '../contracts.js';

const ITEM_STATUSES: readonly WorkItemStatus[] = ['pending', 'in_progress', 'waiting_retry', 'parked', 'completed', 'failed', 'dead_lettered', 'dropped'];
const INVALID_ARGUMENT_SQLSTATE = 'FX001';

/** A prepared statement whose result type a schema change altered (SQLSTATE 0A000 from plancache.c): nothing ran. */
function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; routine?: unknown };
  return e.code === '0A000' && e.routine === 'RevalidateCachedQuery';
}
const INT8_OID = 20;
const JSON_OIDS = new Set([114, 3802]);

/** At most this many signals per coalesced signal_run call. */
const MAX_SIGNAL_BATCH = 256;

/** What `signal_run` answers for one signal. */
type SignalReply = {
  readonly status: 'not_found' | 'final' | 'duplicate' | 'key_conflict' | 'delivered' | 'other_workflow';
  readonly runStatus?: string;
  readonly workflow?: string;
  readonly itemId?: string | null;
  /** key_conflict: the name and payload digest the key first came with. */
  readonly name?: string;
  readonly digest?: string;
};

/** At most this many runs per coalesced create statement. */
const MAX_CREATE_BATCH = 500;
/** The `created_at` of "no cursor" in list_runs.sql: the largest bigint, which every run precedes. */
const NO_CURSOR = '9223372036854775807';

interface RunRow {
  run_id: string;
  workflow: string;
  fingerprint: string;
  input: string;
  status: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  deadline: number | null;
  output: string | null;
  error: string | null;
  dropped: DroppedItem[];
  traceparent: string | null;
  /** Migration 0012: null in a run never moved. */
  started_on: string | null;
  migrated_at: number | null;
}

interface ItemRow {
  run_id: string;
  item_id: string;
  node: string;
  payload: string;
  status: string;
  attempt: number;
  worker_id: string | null;
  lease_expires_at: number | null;
  not_before: number | null;
  updated_at: number;
}

/** Type parsers of the backend's pools: bigint as number (epoch ms, counters), JSON parsed by `parseStoredJson`. */
function typeParsers(driver: typeof pg): PoolConfig['types'] {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8_OID) return (v: string) => Number(v);
      if (JSON_OIDS.has(oid)) return (v: string) => parseStoredJson(v, 'jsonb value');
      return driver.types.getTypeParser(oid, format as 'text');
    },
  } as unknown as PoolConfig['types'];
}

function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
}

/** `url` with `application_name` set to `name` (unchanged when it is not a URL: then the config's name applies). */
function named(url: string, name: string): string {
  try {
    const u = new URL(url);
    u.searchParams.set('application_name', name);
    return u.toString();
  } catch {
    return url;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What to grant, when preparing `schema` was refused for want of a privilege (42501): CREATE on the database to create
 * the schema (or the schema made for the role by its owner), USAGE and CREATE on a schema another role made; for
 * objects of the schema another role owns, to connect as that role.
 */
async function permissionHint(client: pg.PoolClient, schema: string, err: unknown): Promise<string> {
  if ((err as { code?: unknown }).code !== '42501') return '';
  const who = await client.query<{ role: string }>('SELECT current_user AS role').catch(() => undefined);
  const role = who?.rows[0]?.role ?? '<role>';
  const database = /permission denied for database (\S+)/.exec(describe(err))?.[1];
  if (database !== undefined) return ` (grant CREATE on database ${database} to ${role}, or create the schema as its owner: CREATE SCHEMA ${schema} AUTHORIZATION ${role})`;
  if (/permission denied for schema /.test(describe(err))) return ` (grant USAGE, CREATE on schema ${schema} to ${role}, or connect as its owner)`;
  return ` (connect as the role that owns schema ${schema} and its tables and functions)`;
}

/**
 * What to do about a refused connection, when it is plain: pg sends no user name when the URL names none and neither
 * PGUSER nor USER is set (a container, a service), and the server answers only that the name is missing.
 */
function connectHint(err: unknown): string {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return code === '28000' && /no PostgreSQL user name/.test(describe(err)) ? ': the store URL names no user and PGUSER is not set: name one, postgres://<user>@host:port/db' : '';
}

/**
 * A {@link DistributedBackend} on PostgreSQL. Create it with {@link PostgresBackend.connect}; share one instance per
 * process (it holds a connection pool). Safe for any number of processes on the same database and schema.
 *
 * Connection loss: a call whose connection breaks (server restart, `pg_terminate_backend`) rejects with
 * `StoreError`; the pool drops the broken connection and later calls open new ones. `commitStep` is safe to retry
 * after such an error: it is idempotent per item and lease token, so a commit that did apply answers `duplicate`.
 */
export class PostgresBackend implements DistributedBackend, BatchStepCommitter, ScheduleStore, RunObserver, SignalReceiver, RunMigrator, FinishedRunPurger {
  readonly kind = 'postgres';
  /** The schema this backend uses. */
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly retainFinishedMs: number;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly schedules: PostgresScheduleStore;
  /** Calls holding a connection slot, and the FIFO of calls waiting for one (see {@link PostgresBackendOptions.pool}). */
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Coalesces concurrent createRun calls into create statements (see createRow). */
  private readonly creates = new Coalescer<{ readonly runId: string; readonly values: unknown[] }, (RunRow & { created: boolean }) | undefined>(
    (batch) => this.createRows(batch),
    { maxBatch: MAX_CREATE_BATCH, keyOf: (c) => c.runId },
  );

  /**
   * Coalesces concurrent signal calls into one `signal_run` call (one transaction, one WAL flush and one NOTIFY for
   * all of them; each signal still all or nothing). Two signals to one run go in order, in separate calls.
   */
  private readonly signals = new Coalescer<SignalPlan, SignalReply>((batch) => this.signalReplies(batch), { maxBatch: MAX_SIGNAL_BATCH, keyOf: (p) => p.runId });

  private constructor(
    pool: pg.Pool,
    schema: string,
    retainFinishedMs: number,
    private readonly size: number,
    /** Opens a connection like the pool's (a subscription's own, see events.ts). */
    private readonly newClient: (applicationName: string) => pg.Client,
  ) {
    this.pool = pool;
    this.schema = schema;
    this.retainFinishedMs = retainFinishedMs;
    this.schedules = new PostgresScheduleStore({ run: (file, values, what) => this.run(file, values, what) });
  }

  /**
   * Opens a pool on `options.connectionString`, creates and migrates the schema (unless `migrate: false`) and returns
   * the backend. Throws `InvalidArgumentError` for a bad schema name or retention, `StoreError` when the server
   * cannot be reached or the schema is not usable.
   */
  static async connect(options: PostgresBackendOptions = {}): Promise<PostgresBackend> {
    const schema = options.schema ?? DEFAULT_POSTGRES_SCHEMA;
    assertSchemaName(schema);
    const retain = options.retainFinishedMs ?? DEFAULT_RETAIN_FINISHED_MS;
    assertNonNegativeMs(retain, 'retainFinishedMs');
    const size = options.pool?.max ?? DEFAULT_POOL_SIZE;
    assertPositiveInt(size, 'pool.max');
    const driver = (await importOptional<{ default: typeof pg }>('pg', 'PostgresBackend (floxide/postgres)')).default;
    if (options.events !== undefined && typeof options.events !== 'boolean') throw new InvalidArgumentError(`events must be a boolean, got ${String(options.events)}`);
    const config = {
      ...(options.connectionString !== undefined ? { connectionString: options.connectionString } : {}),
      ...options.pool,
      // schema validated above: [a-z0-9_] only, so it needs no quoting inside the startup option; floxide.events is
      // read by record_events (sql/functions/record_events.sql)
      options: `-c search_path=${schema}${options.events === false ? ' -c floxide.events=off' : ''}`,
      types: typeParsers(driver),
    };
    const pool = new driver.Pool({ ...config, max: size });
    const onError = options.onConnectionError;
    // An idle connection that dies emits 'error' on the pool; without a listener Node would crash the process.
    pool.on('error', (err) => onError?.(err));
    // (pg lets a connection string's application_name win over the config's: the subscription's name is set there)
    const newClient = (applicationName: string): pg.Client =>
      new driver.Client({ ...config, ...(config.connectionString !== undefined ? { connectionString: named(config.connectionString, applicationName) } : {}), application_name: applicationName });
    const backend = new PostgresBackend(pool, schema, retain, size, newClient);
    try {
      // (a failure to connect is not one of preparing the schema: say which)
      const client = await pool.connect().catch((err: unknown) => Promise.reject(new StoreError(`cannot connect to Postgres: ${describe(err)}${connectHint(err)}`, { cause: err })));
      try {
        if (options.createSchema === false && (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 0) {
          throw new SchemaMissingError(
            `there is no schema ${schema} in this database: no floxide runs are kept there (a misspelt schema?). ` +
              `It is made on first use: a worker creates its schema when it starts (floxide worker --store <this URL>), ` +
              `as do floxide schedule add and PostgresBackend.connect (createSchema: true, the default)`,
          );
        }
        try {
          if (options.migrate === false) await backend.checkMigrated(client);
          else await migrate(client, schema);
        } catch (err) {
          if (err instanceof PackageFileMissingError) throw err;
          throw new SchemaSetupError(`cannot prepare the Postgres schema ${schema}: ${describe(err)}${await permissionHint(client, schema, err)}`, { cause: err });
        }
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err instanceof FloxideError ? err : new SchemaSetupError(`cannot prepare the Postgres schema ${schema}: ${describe(err)}`, { cause: err });
    }
    return backend;
  }

  private async checkMigrated(client: pg.PoolClient): Promise<void> {
    // A schema this role may not use hides its tables from the check (as if none were made): say that, not "not up to
    // date", which migrating would not mend (Postgres's own error and code, so that the hint says what to grant).
    const usage = await client.query<{ ok: boolean }>("SELECT has_schema_privilege(oid, 'USAGE') AS ok FROM pg_namespace WHERE nspname = $1", [this.schema]);
    if (usage.rows[0]?.ok === false) throw Object.assign(new Error(`permission denied for schema ${this.schema}`), { code: '42501' });
    const pending = await pendingChanges(client, this.schema);
    if (pending.length > 0) throw new StoreError(`schema ${this.schema} is not up to date (missing or changed: ${pending.join(', ')}): connect with migrate: true`);
  }

  // ---- plumbing

  /** Runs one SQL file as a named (per-connection prepared) statement; every failure becomes a typed error. */
  private async run<R extends pg.QueryResultRow>(file: string, values: unknown[], what: string): Promise<R[]> {
    if (this.closed) throw replyError({ code: 'closed', backend: 'Postgres' });
    if (this.active >= this.size) await new Promise<void>((resume) => this.waiting.push(resume));
    else this.active += 1;
    try {
      if (this.closed) throw replyError({ code: 'closed', backend: 'Postgres' });
      const query = { name: `floxide:${file}`, text: sqlFile(file), values };
      // A newer floxide migrating the schema under this process (a rolling upgrade: docs/deploying.md) can add columns
      // to a table a prepared statement reads: Postgres refuses it once per connection, before running it ("cached
      // plan must not change result type"), and plans it anew the next time. Nothing ran: run it again, on each
      // connection of the pool at most once.
      for (let tries = 1; ; tries++) {
        try {
          return (await this.pool.query<R>(query)).rows;
        } catch (err) {
          if (!isStalePlan(err) || tries > this.size) throw err;
        }
      }
    } catch (err) {
      if (err instanceof FloxideError) throw err;
      if ((err as { code?: unknown }).code === INVALID_ARGUMENT_SQLSTATE) throw new InvalidArgumentError(describe(err));
      if (this.closed) throw replyError({ code: 'closed', backend: 'Postgres' });
      throw new StoreError(`Postgres ${what} failed: ${describe(err)}`, { cause: err });
    } finally {
      // hand the slot straight to the next waiter (FIFO), or free it
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }

  /** Idempotent. Waits for the pool to close; afterwards every operation rejects with `StoreError`. */
  async close(): Promise<void> {
    this.closed = true;
    // queued calls wake up (each as if it got a slot), see `closed` and reject with StoreError
    for (const resume of this.waiting.splice(0)) {
      this.active += 1;
      resume();
    }
    this.closing ??= this.pool.end().catch(() => undefined);
    await this.closing;
  }

  private notFound(runId: string): FloxideError {
    return replyError({ code: 'not_found', runId });
  }

  private recordOf(row: RunRow): RunRecord {
    const { run_id: runId, workflow, fingerprint, traceparent, status, input, output, error, dropped, created_at: createdAt, updated_at: updatedAt, finished_at: finishedAt, deadline } = row;
    const { started_on: startedOn, migrated_at: migratedAt } = row;
    return decodeRunRecord({ runId, traceparent }, { workflow, fingerprint, status, input, output, error, dropped, createdAt, updatedAt, finishedAt, deadline, startedOn, migratedAt });
  }

  private stateOf(row: ItemRow): WorkItemState {
    if (!ITEM_STATUSES.includes(row.status as WorkItemStatus)) throw new StoreError(`item ${row.item_id} has an unknown status ${JSON.stringify(row.status)}`);
    return {
      runId: row.run_id,
      itemId: row.item_id,
      node: row.node,
      status: row.status as WorkItemStatus,
      attempt: row.attempt,
      workerId: opt(row.worker_id),
      leaseExpiresAt: row.status === 'in_progress' ? opt(row.lease_expires_at) : undefined,
      notBefore: row.status === 'waiting_retry' || row.status === 'parked' ? opt(row.not_before) : undefined,
      updatedAt: row.updated_at,
    };
  }

  // ---- RunObserver

  async stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]> {
    assertRunId(runId);
    const limit = tailLimit(options) ?? null;
    const rows = await this.run<{
      node: string | null;
      item_id: string;
      attempt: number;
      worker_id: string | null;
      started_at: number;
      finished_at: number;
      outcome: StepOutcomeKind;
      error: string | null;
    }>('step_history.sql', [runId, limit], 'stepHistory');
    if (rows.length === 0) throw this.notFound(runId);
    return rows
      .filter((r) => r.node !== null)
      .map((r) => ({
        runId,
        node: r.node!,
        itemId: r.item_id,
        attempt: r.attempt,
        workerId: opt(r.worker_id),
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        outcome: r.outcome,
        error: r.error === null ? undefined : parseStoredJson<SerializedError>(r.error, 'step error'),
      }));
  }

  /**
   * Reads the `events` table on a connection of its own (closed when the iteration ends), woken by `LISTEN
   * floxide_events`, so events are pushed, not polled; after a dropped connection it connects again and continues
   * after the last delivered event. See {@link EventSubscriber.subscribe} and events.ts.
   */
  subscribe(options: SubscribeOptions = {}): AsyncIterable<EventEnvelope> {
    if (this.closed) throw replyError({ code: 'closed', backend: 'Postgres' });
    if (options.runId !== undefined) assertRunId(options.runId);
    return tableEvents(
      {
        newClient: this.newClient,
        schema: this.schema,
        isClosed: () => this.closed,
        currentSnapshot: async () => (await this.run<{ snapshot: string; xmin: string }>('events_now.sql', [], 'reading the event stream position'))[0]!,
      },
      options,
    );
  }

  // ---- RunInfoStore

  async createRun(spec: NewRun): Promise<CreateRunResult> {
    assertNewRun(spec);
    const inputJson = runInputJson(spec.input);
    const contextJson = storedJson(spec.context ?? null);
    const itemJson = storedJson(spec.firstItem);
    const values = [
      spec.runId,
      spec.workflow,
      spec.fingerprint,
      inputJson,
      contextJson,
      spec.firstItem.id,
      spec.firstItem.node,
      itemJson,
      spec.deadline ?? null,
      spec.traceparent ?? null,
    ];
    // A concurrent createRun of the same id can commit after this statement's snapshot: then no row comes back and
    // the next attempt sees it.
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await this.createRow(spec.runId, values);
      if (!row) continue;
      if (row.created) return { created: true, run: this.recordOf(row) };
      if (row.workflow !== spec.workflow) throw replyError({ code: 'workflow_mismatch', runId: spec.runId, workflow: spec.workflow, existing: row.workflow });
      if (row.fingerprint !== spec.fingerprint) throw replyError({ code: 'fingerprint_mismatch', runId: spec.runId, fingerprint: spec.fingerprint, existing: row.fingerprint });
      if (row.input !== inputJson) throw replyError({ code: 'input_mismatch', runId: spec.runId });
      return { created: false, run: this.recordOf(row) };
    }
    throw new StoreError(`createRun ${spec.runId}: the run neither could be created nor read back`);
  }

  /**
   * Runs create_run.sql for one run, coalescing concurrent calls: while a create statement is in flight, later
   * calls queue up and go together in the next one (create_runs.sql: one statement, one transaction and one WAL
   * flush for all of them, each run still all or nothing). A run id queued twice waits for the next statement.
   * Resolves with the run's row, or `undefined` when the caller must try again (see create_run.sql).
   */
  private createRow(runId: string, values: unknown[]): Promise<(RunRow & { created: boolean }) | undefined> {
    return this.creates.submit({ runId, values });
  }

  /** One create statement for a batch of distinct run ids; answers each run's row (undefined: try again). */
  private async createRows(batch: ReadonlyArray<{ readonly runId: string; readonly values: unknown[] }>): Promise<Array<Settled<(RunRow & { created: boolean }) | undefined>>> {
    const rows =
      batch.length === 1
        ? await this.run<RunRow & { created: boolean }>('create_run.sql', batch[0]!.values, 'createRun')
        : await this.run<RunRow & { created: boolean }>(
            'create_runs.sql',
            [
              JSON.stringify(
                batch.map(({ values: v }, o) => ({
                  o,
                  run_id: v[0],
                  workflow: v[1],
                  fingerprint: v[2],
                  input: v[3],
                  context: v[4],
                  item_id: v[5],
                  node: v[6],
                  item: v[7],
                  deadline: v[8],
                  traceparent: v[9],
                })),
              ),
            ],
            'createRun',
          );
    const byId = new Map(rows.map((r) => [r.run_id, r]));
    return batch.map((c) => ({ ok: true, value: byId.get(c.runId) }));
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    assertRunId(runId);
    const [row] = await this.run<RunRow>('get_run.sql', [runId], 'getRun');
    return row ? this.recordOf(row) : undefined;
  }

  async listRuns(filter: ListRunsFilter = {}): Promise<RunRecord[]> {
    if (filter.limit !== undefined) assertPositiveInt(filter.limit, 'limit');
    if (filter.status !== undefined) assertRunStatus(filter.status);
    if (filter.workflow !== undefined) assertString(filter.workflow, 'workflow');
    if (filter.after !== undefined) assertRunCursor(filter.after);
    const [afterCreated, afterRun] = filter.after ? [filter.after.createdAt, filter.after.runId] : [NO_CURSOR, ''];
    const rows = await this.run<RunRow>('list_runs.sql', [filter.status ?? null, filter.workflow ?? null, filter.limit ?? null, afterCreated, afterRun], 'listRuns');
    return rows.map((r) => this.recordOf(r));
  }

  async cancelRun(runId: string, reason?: string): Promise<RunTransition> {
    assertRunId(runId);
    if (reason !== undefined && typeof reason !== 'string') throw new InvalidArgumentError('reason must be a string');
    const error = serializeError(new CancelledError(reason ?? 'the run was cancelled'));
    return this.transition(runId, 'cancelled', canonicalJson(error), 'cancel');
  }

  async pauseRun(runId: string): Promise<RunTransition> {
    assertRunId(runId);
    return this.transition(runId, 'paused', null, 'pause');
  }

  async resumeRun(runId: string): Promise<RunTransition> {
    assertRunId(runId);
    return this.transition(runId, 'running', null, 'resume');
  }

  async failRun(runId: string, error: SerializedError): Promise<RunTransition> {
    assertRunId(runId);
    assertSerializedError(error, 'error');
    return this.transition(runId, 'failed', canonicalJson(error), 'fail');
  }

  private async transition(runId: string, target: RunStatus, errorJson: string | null, op: string): Promise<RunTransition> {
    const [row] = await this.run<{ result: { status: RunStatus | 'not_found'; applied?: boolean; final?: boolean; dropped?: DroppedItem[] } }>(
      'transition_run.sql',
      [runId, target, errorJson],
      `${op}Run`,
    );
    const r = row!.result;
    if (r.status === 'not_found') throw this.notFound(runId);
    if (r.final) throw replyError({ code: 'final', runId, op, status: r.status });
    return { applied: r.applied === true, status: r.status, dropped: r.dropped ?? [] };
  }

  // ---- WorkQueue

  async claim(workerId: string, max: number, leaseMs: number, options: ClaimOptions = {}): Promise<LeasedItem[]> {
    assertWorkerId(workerId);
    assertPositiveInt(max, 'max');
    assertPositiveMs(leaseMs, 'leaseMs');
    if (options.workflow !== undefined) assertString(options.workflow, 'workflow');
    const versions = versionFilter(options);
    const rows = await this.run<LeaseRow & { item_id: string; node: string; delta_item_id: string | null; delta: string | null; context: string | null }>(
      'claim.sql',
      [workerId, max, Math.ceil(leaseMs), options.workflow ?? null, versions ? [...versions] : null],
      'claim',
    );
    // decoded per item: a corrupt one fails only its item, and leases never share objects (a worker folds or revives them)
    return rows.map((r) =>
      decodeLease({
        runId: r.run_id,
        itemId: r.item_id,
        node: r.node,
        workflow: r.workflow,
        fingerprint: r.fingerprint,
        deadline: opt(r.deadline),
        ...(r.traceparent ? { traceparent: r.traceparent } : {}),
        itemJson: r.payload,
        attempt: r.attempt,
        leaseToken: r.lease_token,
        leaseExpiresAt: r.lease_expires_at,
        deliveries: r.deliveries,
        contextVersion: r.context_version,
        ...(r.delta !== null && r.delta_item_id !== null ? { lastDelta: { itemId: r.delta_item_id, json: r.delta } } : {}),
        ...(r.context !== null ? { initialContextJson: r.context } : {}),
      }),
    );
  }

  async extendLease(runId: string, itemId: string, leaseToken: string, leaseMs: number): Promise<LeaseExtension> {
    assertRunId(runId);
    assertItemId(itemId);
    assertString(leaseToken, 'leaseToken');
    assertPositiveMs(leaseMs, 'leaseMs');
    const [row] = await this.run<{ run_status: RunStatus | null; lease_expires_at: number | null }>(
      'extend_lease.sql',
      [runId, itemId, leaseToken, Math.ceil(leaseMs)],
      'extendLease',
    );
    const runStatus = opt(row!.run_status);
    if (row!.lease_expires_at === null || runStatus === undefined) return { status: 'lost', runStatus };
    return { status: 'extended', leaseExpiresAt: row!.lease_expires_at, runStatus };
  }

  async release(runId: string, itemId: string, leaseToken: string, options: ReleaseOptions = {}): Promise<boolean> {
    assertRunId(runId);
    assertItemId(itemId);
    assertString(leaseToken, 'leaseToken');
    const [row] = await this.run<{ released: boolean }>('release.sql', [runId, itemId, leaseToken, options.misrouted === true], 'release');
    return row!.released;
  }

  async pendingWork(runId: string, options?: PendingWorkOptions): Promise<PendingWork[]> {
    const rows = await this.items(runId, null, true, 'pendingWork', pendingWorkFilter(options));
    return rows.map((r) => ({ ...decodeStoredWork(r.payload, { runId, itemId: r.item_id, node: r.node }), state: this.stateOf(r) }));
  }

  private async items(runId: string, itemId: string | null, outstanding: boolean, what: string, filter?: ReturnType<typeof pendingWorkFilter>): Promise<ItemRow[]> {
    assertRunId(runId);
    if (itemId !== null) assertItemId(itemId);
    const statuses = filter && filter.statuses.length < OUTSTANDING_STATUSES.length ? filter.statuses : null;
    const rows = await this.run<ItemRow & { run: string }>('item_states.sql', [runId, itemId, outstanding, statuses, filter?.limit ?? null], what);
    if (rows.length === 0) throw this.notFound(runId);
    return rows.filter((r) => r.item_id !== null);
  }

  // ---- RunMigrator

  async parkedArrivals(runId: string): Promise<ParkedArrival[]> {
    assertRunId(runId);
    const rows = await this.run<{ group_id: string | null; node: string | null }>('parked_arrivals.sql', [runId], 'parkedArrivals');
    if (rows.length === 0) throw this.notFound(runId);
    return rows.filter((r) => r.group_id !== null).map((r) => ({ group: r.group_id!, node: r.node ?? undefined }));
  }

  async migrate(runId: string, m: RunMigration): Promise<void> {
    assertRunId(runId);
    assertMigration(m);
    // The rewrites are computed here (canonical JSON is TypeScript's); migrate_run checks each is still current.
    const rewrites = migrationRewrites((await this.items(runId, null, true, 'migrate')).map((r) => ({ id: r.item_id, json: r.payload })), m.renames);
    const [row] = await this.run<{ result: MigrationReply }>(
      'migrate_run.sql',
      [runId, m.from, m.to, m.leases ?? 'block', m.expect ?? null, JSON.stringify(rewrites), migratedEventJson(runId, m)],
      'migrate',
    );
    checkMigrationReply(runId, m, row!.result);
  }

  // ---- WorkItemStateStore

  async itemState(runId: string, itemId: string): Promise<WorkItemState | undefined> {
    const [row] = await this.items(runId, itemId, false, 'itemState');
    return row ? this.stateOf(row) : undefined;
  }

  async itemStates(runId: string): Promise<WorkItemState[]> {
    return (await this.items(runId, null, false, 'itemStates')).map((r) => this.stateOf(r));
  }

  async itemCounts(runId: string): Promise<ItemCounts> {
    assertRunId(runId);
    const rows = await this.run<{ node: string | null; status: string; n: number }>('item_counts.sql', [runId], 'itemCounts');
    if (rows.length === 0) throw this.notFound(runId);
    const counts: ItemCounts = {};
    for (const r of rows) {
      if (r.node === null) continue;
      if (!ITEM_STATUSES.includes(r.status as WorkItemStatus)) throw new StoreError(`run ${runId} has items with an unknown status ${JSON.stringify(r.status)}`);
      countItem(counts, r.node, r.status as WorkItemStatus, r.n);
    }
    return counts;
  }

  // ---- ContextStore

  async readContext(runId: string, sinceVersion?: number, options?: TailOptions): Promise<ContextSnapshot> {
    assertRunId(runId);
    const limit = tailLimit(options) ?? null;
    if (sinceVersion !== undefined && (!Number.isSafeInteger(sinceVersion) || sinceVersion < 0)) {
      throw new InvalidArgumentError(`sinceVersion must be a non-negative integer, got ${String(sinceVersion)}`);
    }
    const rows = await this.run<{ current_version: number; context: string | null; version: number | null; item_id: string | null; delta: string | null }>(
      'read_context.sql',
      [runId, sinceVersion ?? 0, sinceVersion === undefined, limit],
      'readContext',
    );
    if (rows.length === 0) throw this.notFound(runId);
    const version = rows[0]!.current_version;
    if (sinceVersion !== undefined && sinceVersion > version) {
      throw new InvalidArgumentError(`sinceVersion must be an integer in 0..${version} for run ${runId}, got ${sinceVersion}`);
    }
    const deltas: ContextDeltaRecord[] = rows
      .filter((r) => r.version !== null)
      .map((r) => decodeStoredDelta(r.delta!, r.version!, r.item_id!));
    return sinceVersion === undefined ? { initial: parseStoredJson(rows[0]!.context!, 'context'), deltas, version } : { deltas, version };
  }

  // ---- MetricsStore / ErrorStore

  async metrics(runId: string): Promise<RunMetrics> {
    assertRunId(runId);
    const [row] = await this.run<{
      enqueued: number;
      completed: number;
      retries: number;
      failed: number;
      dead_lettered: number;
      dropped_count: number;
      redeliveries: number;
      misrouted: number;
      counters: Record<string, number>;
    }>('metrics.sql', [runId], 'metrics');
    if (!row) throw this.notFound(runId);
    return {
      enqueued: row.enqueued,
      completed: row.completed,
      retries: row.retries,
      failed: row.failed,
      deadLettered: row.dead_lettered,
      dropped: row.dropped_count,
      redeliveries: row.redeliveries,
      misrouted: row.misrouted,
      counters: { ...row.counters },
    };
  }

  async errors(runId: string, options?: TailOptions): Promise<ErrorRecord[]> {
    assertRunId(runId);
    const limit = tailLimit(options) ?? null;
    const rows = await this.run<{ item_id: string | null; node: string; attempt: number; kind: ErrorRecord['kind']; error: string; at: number }>(
      'errors.sql',
      [runId, limit],
      'errors',
    );
    if (rows.length === 0) throw this.notFound(runId);
    return rows
      .filter((r) => r.item_id !== null)
      .map((r) => ({ itemId: r.item_id!, node: r.node, attempt: r.attempt, error: parseStoredJson<SerializedError>(r.error, 'error record'), kind: r.kind, at: r.at }));
  }

  async recordError(runId: string, record: Omit<ErrorRecord, 'at' | 'kind'>): Promise<void> {
    assertRunId(runId);
    assertItemId(record.itemId);
    assertString(record.node, 'node');
    assertPositiveInt(record.attempt, 'attempt');
    assertSerializedError(record.error, 'error');
    const rows = await this.run('record_error.sql', [runId, record.itemId, record.node, record.attempt, canonicalJson(record.error)], 'recordError');
    if (rows.length === 0) throw this.notFound(runId);
  }

  async deadLetters(runId: string, options?: TailOptions): Promise<DeadLetter[]> {
    assertRunId(runId);
    const limit = tailLimit(options) ?? null;
    const rows = await this.run<{ item: string | null; attempts: number; error: string; at: number }>('dead_letters.sql', [runId, limit], 'deadLetters');
    if (rows.length === 0) throw this.notFound(runId);
    return rows
      .filter((r) => r.item !== null)
      .map((r) => ({
        item: parseStoredJson<EngineItem>(r.item!, 'dead letter'),
        attempts: r.attempts,
        error: parseStoredJson<SerializedError>(r.error, 'dead letter error'),
        at: r.at,
      }));
  }

  // ---- LivenessStore

  async heartbeat(workerId: string, health: WorkerHealth): Promise<void> {
    assertWorkerId(workerId);
    if (typeof health !== 'object' || health === null || !['idle', 'busy', 'stopping'].includes(health.status) || !Array.isArray(health.current)) {
      throw new InvalidArgumentError('health must be a WorkerHealth ({ status: idle | busy | stopping, current: [...], processed, errors })');
    }
    await this.run('heartbeat.sql', [workerId, canonicalJson(health)], 'heartbeat');
  }

  async listWorkers(options: { readonly thresholdMs?: number } = {}): Promise<WorkerRecord[]> {
    const threshold = options.thresholdMs ?? DEFAULT_LIVENESS_THRESHOLD_MS;
    assertPositiveMs(threshold, 'thresholdMs');
    const rows = await this.run<{ worker_id: string; last_seen: number; health: string; now: number }>('list_workers.sql', [], 'listWorkers');
    return rows.map((r) => ({
      workerId: r.worker_id,
      lastSeen: r.last_seen,
      health: parseStoredJson<WorkerHealth>(r.health, 'worker health'),
      liveness: classifyLiveness(r.last_seen, r.now, threshold),
    }));
  }

  async removeWorker(workerId: string): Promise<boolean> {
    assertWorkerId(workerId);
    return (await this.run('remove_worker.sql', [workerId], 'removeWorker')).length > 0;
  }

  // ---- ScheduleStore (schedules.ts)

  putSchedule(def: ScheduleDefinition): Promise<ScheduleRecord> {
    return this.schedules.putSchedule(def);
  }

  getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    return this.schedules.getSchedule(id);
  }

  listSchedules(filter?: { readonly workflow?: string }): Promise<ScheduleRecord[]> {
    return this.schedules.listSchedules(filter);
  }

  dueSchedules(workflow: string): Promise<{ now: number; schedules: ScheduleRecord[] }> {
    return this.schedules.dueSchedules(workflow);
  }

  pauseSchedule(id: string): Promise<ScheduleRecord> {
    return this.schedules.pauseSchedule(id);
  }

  resumeSchedule(id: string): Promise<ScheduleRecord> {
    return this.schedules.resumeSchedule(id);
  }

  removeSchedule(id: string): Promise<boolean> {
    return this.schedules.removeSchedule(id);
  }

  advanceSchedule(id: string, from: number, advance: ScheduleAdvance): Promise<boolean> {
    return this.schedules.advanceSchedule(id, from, advance);
  }

  // ---- SignalReceiver

  async signal(runId: string, name: string, payload: unknown, key?: string, options?: SignalReceiverOptions): Promise<SignalReceipt> {
    const p = planSignal(runId, name, payload, key, options?.workflow);
    const r = await this.signals.submit(p);
    if (r.status === 'delivered') return deliveredTo(r.itemId ?? undefined);
    if (r.status === 'duplicate') return DUPLICATE_SIGNAL;
    if (r.status === 'key_conflict') throw replyError({ code: 'key_conflict', signal: p, name: String(r.name), digest: String(r.digest) });
    if (r.status === 'not_found') throw this.notFound(runId);
    if (r.status === 'final') throw replyError({ code: 'final', runId, op: 'signal', status: String(r.runStatus) });
    if (r.status === 'other_workflow') throw replyError({ code: 'other_workflow', runId, workflow: p.workflow!, actual: String(r.workflow) });
    throw replyError({ code: 'unexpected', what: 'signal', reply: r });
  }

  /** One `signal_run` call for a batch of signals to distinct runs; answers each signal's reply. */
  private async signalReplies(batch: readonly SignalPlan[]): Promise<Array<Settled<SignalReply>>> {
    const arg = JSON.stringify(batch.map((p) => ({ run: p.runId, name: p.name, payload: p.payload, key: p.key ?? null, digest: p.digest ?? null, workflow: p.workflow ?? null })));
    const [row] = await this.run<{ result: SignalReply[] }>('signal.sql', [arg], 'signal');
    return row!.result.map((value) => ({ ok: true, value }));
  }

  async pendingSignals(runId: string): Promise<PendingSignal[]> {
    assertRunId(runId);
    const rows = await this.run<{ name: string | null; payload: string; key: string | null; at: number }>('pending_signals.sql', [runId], 'pendingSignals');
    if (rows.length === 0) throw this.notFound(runId);
    return rows
      .filter((r) => r.name !== null)
      .map((r) => ({ name: r.name!, payload: parseStoredJson(r.payload, 'signal payload'), key: r.key ?? undefined, at: Number(r.at) }));
  }

  // ---- StepCommitter

  /**
   * One commit is a batch of one (`commit_steps`): the same checks and effects as `commit_one`, plus the set-based fast
   * path and the successor hand-off ({@link StepCommit.handoff}) that only `commit_steps` implements.
   */
  async commitStep(commit: StepCommit): Promise<CommitResult> {
    const payload = encodeCommit(planStepCommit(commit));
    const [row] = await this.run<{ results: RawCommitResult[] }>('commit_steps.sql', [JSON.stringify([payload])], 'commitStep');
    const raw = row!.results[0];
    if (raw === undefined) throw new StoreError('commit_steps answered no result for one commit');
    return this.resultOf(commit.runId, raw);
  }

  /**
   * See {@link BatchStepCommitter.commitSteps}: every commit is validated like {@link commitStep} (an invalid one
   * answers `{ ok: false, error }` and is not sent), the others go to `commit_steps` in ONE statement, so one
   * transaction, one round trip and one WAL flush for the whole batch, each commit still applied (or refused)
   * exactly as `commitStep` would. Rejects with `StoreError` only when the store fails; then nothing of the batch was
   * applied (it is one transaction) and retrying it is safe.
   */
  async commitSteps(commits: readonly StepCommit[]): Promise<BatchCommitResult[]> {
    if (this.closed) throw replyError({ code: 'closed', backend: 'Postgres' });
    if (!Array.isArray(commits)) throw new InvalidArgumentError('commitSteps expects an array of commits');
    const out: BatchCommitResult[] = new Array<BatchCommitResult>(commits.length);
    const sent: number[] = [];
    const payloads: EncodedCommit[] = [];
    commits.forEach((commit, i) => {
      try {
        payloads.push(encodeCommit(planStepCommit(commit)));
        sent.push(i);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        out[i] = { ok: false, error };
      }
    });
    if (payloads.length > 0) {
      const [row] = await this.run<{ results: RawCommitResult[] }>('commit_steps.sql', [JSON.stringify(payloads)], 'commitSteps');
      const results = row!.results;
      if (!Array.isArray(results) || results.length !== payloads.length) throw new StoreError(`commit_steps answered ${String(results?.length)} results for ${payloads.length} commits`);
      sent.forEach((i, k) => {
        const raw = results[k]!;
        if (raw.status === 'invalid' || raw.status === 'not_found') out[i] = { ok: false, error: this.commitError(commits[i]!.runId, raw) };
        else out[i] = { ok: true, result: this.resultOf(commits[i]!.runId, raw) };
      });
    }
    return out;
  }

  /** The typed error of a refused commit (`not_found`, `invalid`). */
  private commitError(runId: string, r: RawCommitResult): FloxideError {
    if (r.status === 'not_found') return replyError({ code: 'not_found', runId });
    if (r.status === 'invalid' && r.reason === 'bad_group') return replyError({ code: 'bad_group', group: r.group!, size: r.size!, groupSize: r.groupSize! });
    return replyError({ code: 'unexpected', what: 'commit', reply: r });
  }

  /** Maps one answer of `commit_one` to a {@link CommitResult} (`not_found` and `invalid` throw their typed errors). */
  private resultOf(runId: string, r: RawCommitResult): CommitResult {
    switch (r.status) {
      case 'not_found':
      case 'invalid':
        throw this.commitError(runId, r);
      case 'duplicate':
        return { status: 'duplicate' };
      case 'lease_lost':
        return { status: 'lease_lost' };
      case 'run_finished':
        return { status: 'run_finished', runStatus: r.runStatus! };
      case 'applied':
        return {
          status: 'applied',
          runStatus: r.runStatus!,
          enqueued: r.enqueued ?? [],
          joined: (r.joined ?? []).map((j) => parseStoredJson<EngineItem>(j, 'settlement item')),
          dropped: r.dropped ?? [],
          contextVersion: r.contextVersion!,
          ...(r.next ? { next: leaseOfRow(r.next) } : {}),
          ...(r.createdAt !== undefined ? { finished: runEndOf(runId, r.createdAt, r.finishedAt, r.error) } : {}),
        };
      default:
        throw replyError({ code: 'unexpected', what: 'commit', reply: r });
    }
  }

  // ---- cleanup

  /**
   * Deletes runs that finished at least `olderThanMs` ago (default: the backend's `retainFinishedMs`, 7 days unless
   * configured) with everything stored for them, at most `limit` (default 1000) per call, oldest first. Returns how
   * many runs were deleted; call it again while it returns `limit`. Every `Worker` (the first of a pool) calls it
   * every `purgeEveryMs` (default one minute); safe to run from several processes at once.
   */
  async purgeFinished(options: PurgeOptions = {}): Promise<number> {
    const { olderThanMs, limit } = purgeBounds(options, this.retainFinishedMs);
    const [row] = await this.run<{ purged: number }>('purge_finished.sql', [olderThanMs, limit], 'purgeFinished');
    return row!.purged;
  }
}

/** What `commit_one` / `commit_steps` answer for one commit (see sql/functions/commit_one.sql and commit_steps.sql). */
interface RawCommitResult {
  status: 'applied' | 'duplicate' | 'run_finished' | 'lease_lost' | 'not_found' | 'invalid';
  /** `invalid`: why, with the data of its message. */
  reason?: 'bad_group';
  group?: string;
  size?: number;
  groupSize?: number;
  runStatus?: RunStatus;
  enqueued?: string[];
  joined?: string[];
  dropped?: DroppedItem[];
  contextVersion?: number;
  next?: LeaseRow;
  /** A commit that finished its run: the run's creation and end times and its error (JSON text). */
  createdAt?: number;
  finishedAt?: number;
  error?: string | null;
}

/** A leased item as claim.sql returns it, and as commit_steps answers a handed-off successor (sql/functions/commit_steps.sql). */
interface LeaseRow {
  run_id: string;
  workflow: string;
  fingerprint: string;
  deadline: number | null;
  traceparent?: string | null;
  payload: string;
  attempt: number;
  lease_token: string;
  lease_expires_at: number;
  deliveries: number;
  context_version: number;
}

/** A handed-off successor's lease (its item is the one the commit itself sent, parsed: leases never share objects). */
function leaseOfRow(r: LeaseRow): LeasedItem {
  return {
    runId: r.run_id,
    workflow: r.workflow,
    fingerprint: r.fingerprint,
    deadline: opt(r.deadline),
    ...(r.traceparent ? { traceparent: r.traceparent } : {}),
    item: parseStoredJson<EngineItem>(r.payload, 'work item'),
    attempt: r.attempt,
    leaseToken: r.lease_token,
    leaseExpiresAt: r.lease_expires_at,
    deliveries: r.deliveries,
    contextVersion: r.context_version,
  };
}

/** What `commit_steps` / `commit_one` receive per commit (see sql/functions/commit_one.sql). */
interface EncodedCommit {
  runId: string;
  itemId: string;
  token: string;
  type: CommitPlan['type'];
  items: readonly PlannedItem[];
  /** Parked items (waits, sleeps), absent when there are none: such a commit never takes the fast path. */
  parked?: readonly PlannedItem[];
  arrivals: ReadonlyArray<{ group: string; index: number; size: number; node: string | null; json: string }>;
  delta: string | null;
  output: string | null;
  delayMs: number;
  error: string | null;
  /** A continue's error's kind (`fallback` or `signal`). */
  errorKind?: 'fallback' | 'signal';
  deadLetter: boolean;
  /** The dead letter's item JSON instead of the stored payload ({@link StepCommit.deadLetterItem}). */
  deadLetterItem: string | null;
  counters: Record<string, number> | null;
  extraDropped: readonly DroppedItem[];
  noTerminal: string | null;
  /** Present when the commit asks for a successor hand-off. */
  handoff?: { workerId: string; leaseMs: number };
}

/** A planned commit ({@link planStepCommit}) as the JSON payload of `commit_steps`. */
function encodeCommit(c: StepCommitPlan): EncodedCommit {
  const plan = c.plan;
  const all = plan.type === 'continue' ? plan.items : [];
  const parked = all.some((it) => it.notBefore !== undefined || it.wait !== undefined) ? all.filter((it) => it.notBefore !== undefined || it.wait !== undefined) : undefined;
  return {
    runId: c.runId,
    itemId: c.itemId,
    token: c.leaseToken,
    type: plan.type,
    items: parked === undefined ? all : all.filter((it) => it.notBefore === undefined && it.wait === undefined),
    ...(parked === undefined ? {} : { parked }),
    arrivals: plan.type === 'continue' ? plan.arrivals.map((a) => ({ group: a.group, index: a.index, size: a.size, node: a.node ?? null, json: a.json })) : [],
    delta: (plan.type === 'continue' || plan.type === 'terminal') && plan.delta !== undefined ? plan.delta : null,
    output: plan.type === 'terminal' ? plan.output : null,
    delayMs: plan.type === 'retry' ? plan.delayMs : 0,
    error: plan.type === 'retry' || plan.type === 'failed' || plan.type === 'continue' ? (plan.error ?? null) : null,
    ...(plan.type === 'continue' && plan.error !== undefined ? { errorKind: plan.errorKind } : {}),
    deadLetter: plan.type === 'failed' && plan.deadLetter,
    deadLetterItem: c.deadLetterItem ?? null,
    counters: plan.counters.length > 0 ? Object.fromEntries(plan.counters) : null,
    extraDropped: plan.type === 'terminal' ? plan.dropped : [],
    noTerminal: plan.type === 'continue' ? plan.noTerminal : null,
    ...(c.handoff !== undefined ? { handoff: c.handoff } : {}),
  };
}

/**
 * The Redis distributed backend (node-redis, one client per backend). Every mutating operation is one Lua script
 * (`lua/*.lua`, see `scripts.ts`), so it is atomic and nothing is read-modify-written from TypeScript; reads are
 * single commands, one MULTI, or (the context, whose field names depend on its version) the read-context script. Times come from Redis `TIME`. Key layout (P = key prefix, default `floxide:`):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `P run:{id}` | HASH | the run record (workflow, fingerprint, status, input, context, times, output, error, dropped), `outstanding`, `n` (items ever added), context version `v`, deltas `d:<version>` (`itemId\n delta JSON`) with the latest copied in `last`, fixed metrics `m:<name>`, `tallied` (`1`: `:tally` counts every item; a run created before tallies has none until its first count), `indexed` (`1`: `:open` indexes its outstanding items, from the commit that takes the run to 1,000 items (`INDEX_FROM`); none before, nor on a run of a floxide before the index, whose items are read with a pass) |
 * | `P run:{id}:states` | HASH | item id -> packed state and item (`status\|leaseToken\|...\|seq\|item JSON\nnode`, seq = enqueue order; layout in `lua/includes/common.lua`) |
 * | `P run:{id}:tally` | HASH | how many of the run's items came in each state and node (`status\nnode`) and moved from one to another (`to\nnode\nfrom`, one field per kind of move, so a change of state is one `HINCRBY`), kept by every script that writes a state (`putState` in `lua/includes/common.lua`) and read as counts per state by `tallyCounts`: a run page's counts read it, not the states |
 * | `P run:{id}:open` | ZSET | the run's outstanding item ids (pending, in progress, waiting for a retry, parked) scored by enqueue seq, kept by `putState` too and deleted when the run ends: `pendingWork` reads the first of them, not every state |
 * | `P run:{id}:ready` | LIST | claimable item ids (FIFO) |
 * | `P run:{id}:tokens` | SET | lease tokens that committed a retry (replays answer `duplicate`) |
 * | `P run:{id}:counters` | HASH | user counters; the `enqueued` metric is the size of `:states` |
 * | `P run:{id}:errors` / `:dead` | LIST | error JSON / dead-letter JSON |
 * | `P run:{id}:joins`, `P run:{id}:join:<group>` | HASH | group -> size; index -> parked arrival |
 * | `P run:{id}:wait:<name>` / `:mailbox` / `:sigkeys` / `:sigdigests` | LIST / LIST / SET / HASH | parked waits for signal `name`; signals no wait took yet; idempotency keys received; each key's first payload digest and name (see `lua/includes/parked.lua`) |
 * | `P leases`, `P delayed` | ZSET | `runId\nitemId` scored by lease expiry / retry or parked item due time (a sleep's end, a wait's timeout) |
 * | `P ring:<workflow>@<fingerprint>`, `P wfring` + `P wfset` | LIST (+ SET) | round-robin rings, one per workflow version: running runs with ready work (a run is on its ring exactly while its ready list is not empty); the rings |
 * | `P runs`, `P runs:status:<s>`, `P runs:workflow:<w>`, `P runs:expiring` | ZSET | listRuns indexes (createdAt); expiry queue |
 * | `P workers` | HASH | worker id -> `lastSeen\|health JSON` |
 * | `P run:{id}` fields `startedOn`, `migratedAt` | HASH | set by a version move (`lua/migrate-3.lua`): the version the run started on (set once), the last move's time |
 * | `P run:{id}:steps` | LIST | the step history: one `StepRecord` JSON per applied commit (expires with the run) |
 * | `P events` | STREAM | every run's events: per entry, the events of one script call as pairs `r` = run id, `e` = `WorkflowEvent` JSON; trimmed to about `eventRetention` events |
 * | `P events:avg` | STRING | events per stream entry, a moving average the trims keep (to trim to a number of events) |
 * | `P schedule:<id>`, `P schedules`, `P schedules:wf:<workflow>` | HASH, SET | schedules (see `schedules.ts`) |
 *
 * Run ids never contain `{` or `}`, so `run:{id}` keys of different runs never collide (and share a hash slot).
 */
import type { createClient, RedisClientOptions } from '@redis/client';
import { importOptional } from '../../core/optional.js';
import {
  CancelledError,
  CorruptStateError,
  FloxideError,
  InvalidArgumentError,
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
  emptyMetrics,
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
  type RunObserver,
  type RunMetrics,
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
  isOutstanding,
  pendingWorkFilter,
  type PendingWorkOptions,
  assertMigration,
  type ParkedArrival,
  type RunMigration,
  type RunMigrator,
  type SignalReceiverOptions,
} from '../contracts.js';
import { Coalescer, type Settled } from '../coalesce.js';
import { decodeLease, decodeStoredDelta, decodeStoredWork } from '../stored-lease.js';
import { assertItemId, assertKeyPrefix, assertRunId, assertWorkerId, canonicalJson, parseStoredJson, runInputJson, storedJson } from '../../core/ids.js';
import { checkMigrationReply, replyError, runEndOf, runStatusOf, type MigrationReply } from '../replies.js';
import { migrationRewrites } from '../migratable.js';
import { migratedEventJson } from '../../engine/migration.js';
import { planStepCommit, type StepCommitPlan } from '../step-commit.js';
import { planSignal } from '../../core/signal-plan.js';
import { DUPLICATE_SIGNAL, deliveredTo, type PendingSignal, type SignalReceipt } from '../../engine/parked.js';
import { DEFAULT_RETAIN_FINISHED_MS, assertPositiveInt, assertPositiveMs, assertSerializedError, assertString, tailLimit, type TailOptions } from '../../core/validate.js';
import { allScripts, type LoadedScript, type ScriptName } from './scripts.js';
import { DEFAULT_EVENT_RETENTION } from '../../engine/feed.js';
import type { EventEnvelope, StepRecord, SubscribeOptions } from '../../engine/events.js';
import { streamEvents } from './events.js';
import { RedisScheduleStore } from './schedules.js';
import { optNumber, pairs, type Reply } from './reply.js';

/** Default key prefix of {@link RedisBackend}. */
export const DEFAULT_REDIS_KEY_PREFIX = 'floxide:';
export { DEFAULT_RETAIN_FINISHED_MS } from '../../core/validate.js';

/** Options of {@link RedisBackend.connect}. */
export interface RedisBackendOptions {
  /** Redis URL, e.g. `redis://user:secret@host:6379/0` (default `redis://127.0.0.1:6379`). */
  readonly url?: string;
  /**
   * Every key starts with this prefix (default `floxide:`): 1-64 characters of `[A-Za-z0-9._:-]` starting with a
   * letter or digit. Backends with different prefixes share nothing.
   */
  readonly keyPrefix?: string;
  /**
   * How long the keys of a finished run are kept (ms) before Redis expires them; `0` keeps them forever.
   * Default {@link DEFAULT_RETAIN_FINISHED_MS} (7 days).
   */
  readonly retainFinishedMs?: number;
  /**
   * Further node-redis client options (credentials, TLS, socket and reconnect settings). `url` above wins;
   * `disableOfflineQueue` is always on so that calls made while disconnected fail fast with `StoreError`.
   * Per-command timeouts are off unless given here (`commandOptions: { timeout: ms }`): node-redis arms an
   * `AbortSignal.timeout` per command, which kept ~20% of a busy worker's CPU (each signal and its timer live for the
   * whole timeout). A dropped connection still fails every pending call at once; a timeout only bounds a connection
   * that hangs silently (TCP keep-alive, on by default, ends those too, more slowly).
   */
  readonly client?: Omit<RedisClientOptions, 'url' | 'RESP' | 'disableOfflineQueue'>;
  /** Called with connection errors node-redis reports while it reconnects (default: ignored). */
  readonly onConnectionError?: (error: Error) => void;
  /**
   * About how many of the newest events the stream `P events` keeps (`XTRIM MAXLEN ~` once a millisecond, to this
   * over the average events per entry), default {@link DEFAULT_EVENT_RETENTION}; `0` publishes no events (the step
   * history is kept either way).
   */
  readonly eventRetention?: number;
}

/** The run record fields, in the order the Lua scripts return them (`RUN_FIELDS` in `lua/includes/common.lua`). */
const RUN_FIELDS = ['workflow', 'fingerprint', 'status', 'input', 'createdAt', 'updatedAt', 'finishedAt', 'deadline', 'output', 'error', 'dropped', 'traceparent', 'startedOn', 'migratedAt'] as const;
/** The metrics kept as `m:<name>` run hash fields (`completed` is the run's tally of completed items). */
const METRIC_FIELDS = ['retries', 'failed', 'deadLettered', 'dropped', 'redeliveries', 'misrouted'] as const;
/** The run hash fields of METRIC_FIELDS. */
const METRIC_KEYS = METRIC_FIELDS.map((f) => `m:${f}`);
const LIST_PAGE = 200;

/** The Redis key names of one key prefix. */
class RedisKeys {
  readonly leases: string;
  readonly delayed: string;
  readonly wfring: string;
  readonly tokenSeq: string;
  readonly runs: string;
  readonly expiring: string;
  readonly workers: string;

  constructor(readonly prefix: string) {
    this.leases = `${prefix}leases`;
    this.delayed = `${prefix}delayed`;
    this.wfring = `${prefix}wfring`;
    this.tokenSeq = `${prefix}seq`;
    this.runs = `${prefix}runs`;
    this.expiring = `${prefix}runs:expiring`;
    this.workers = `${prefix}workers`;
  }

  run(runId: string): string {
    return `${this.prefix}run:{${runId}}`;
  }

  runPart(runId: string, part: 'states' | 'tally' | 'open' | 'ready' | 'tokens' | 'counters' | 'errors' | 'dead' | 'joins'): string {
    return `${this.run(runId)}:${part}`;
  }

  /** KEYS[1..10] of transition (the per-run keys, then leases and delayed). */
  runLayout(runId: string): string[] {
    const r = this.run(runId);
    return [r, `${r}:states`, `${r}:ready`, `${r}:tokens`, `${r}:counters`, `${r}:errors`, `${r}:dead`, `${r}:joins`, this.leases, this.delayed];
  }

  status(status: RunStatus): string {
    return `${this.prefix}runs:status:${status}`;
  }

  workflow(workflow: string): string {
    return `${this.prefix}runs:workflow:${workflow}`;
  }
}

/** The packed item state and item (see `lua/includes/common.lua`). */
interface PackedState {
  readonly itemJson: string;
  readonly status: WorkItemStatus;
  readonly attempt: number;
  readonly workerId: string | undefined;
  readonly leaseExpiresAt: number | undefined;
  readonly notBefore: number | undefined;
  readonly updatedAt: number;
  readonly node: string;
  /** Enqueue sequence within the run (1, 2, ...). */
  readonly seq: number;
}

/** The `LRANGE` start and stop of a list's newest `limit` entries (every entry without a limit). */
function tailRange(options: TailOptions | undefined): [string, string] {
  const limit = tailLimit(options);
  return [limit === undefined ? '0' : String(-limit), '-1'];
}

function corruptState(s: string, runId: string, itemId: string): CorruptStateError {
  return new CorruptStateError(`run ${runId} item ${JSON.stringify(itemId)}: stored item state is corrupt: ${JSON.stringify(s.slice(0, 80))}`);
}

/** The packed state of item `itemId` of run `runId`; `CorruptStateError` naming both when it cannot be read. */
function unpackState(s: string, runId: string, itemId: string): PackedState {
  const f: string[] = [];
  let pos = 0;
  for (let i = 0; i < 10; i++) {
    const j = s.indexOf('|', pos);
    if (j < 0) throw corruptState(s, runId, itemId);
    f.push(s.slice(pos, j));
    pos = j + 1;
  }
  const num = (x: string | undefined): number | undefined => (x === undefined || x === '' ? undefined : Number(x));
  // Canonical item JSON never holds a raw newline, so the first one after the fixed fields ends it.
  const nl = s.indexOf('\n', pos);
  if (nl < 0) throw corruptState(s, runId, itemId);
  return {
    itemJson: s.slice(pos, nl),
    status: f[0] as WorkItemStatus,
    attempt: Number(f[8]),
    workerId: f[6] === '' ? undefined : f[6],
    leaseExpiresAt: num(f[2]),
    notBefore: num(f[4]),
    updatedAt: Number(f[3]),
    node: s.slice(nl + 1),
    seq: Number(f[9]),
  };
}

/** `[item, node, worker, item, node, worker...]` (the migrate script's leased items) as objects. */
function triples(flat: readonly string[]): Array<{ item: string; node: string; worker: string }> {
  const out = [];
  for (let i = 0; i + 2 < flat.length; i += 3) out.push({ item: flat[i]!, node: flat[i + 1]!, worker: flat[i + 2]! });
  return out;
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * A {@link DistributedBackend} on Redis (single instance or a primary; not Redis Cluster: the claim script touches
 * several runs). Create it with {@link RedisBackend.connect}; share one per process.
 *
 * Failures: a call that cannot reach Redis (connection refused, killed or closed mid-call, offline while node-redis
 * reconnects) rejects with `StoreError`; node-redis reconnects by itself and later calls work again. Every operation
 * is one atomic script, so a failed call applied either everything or nothing. `commitStep` is idempotent per item
 * (a replay answers `duplicate`), so a worker may simply retry a commit whose reply was lost.
 */
/** Most runs one create-run script call creates (concurrent createRun calls are coalesced up to this). */
const MAX_CREATE_BATCH = 500;

export class RedisBackend implements DistributedBackend, BatchStepCommitter, ScheduleStore, RunObserver, SignalReceiver, RunMigrator {
  readonly kind = 'redis';
  /** The validated key prefix every key of this backend starts with. */
  readonly keyPrefix: string;
  private readonly keys: RedisKeys;
  private readonly retainMs: number;
  private readonly scripts = allScripts();
  private closed = false;
  /** Coalesces concurrent createRun calls into create-run script calls (see {@link createReply}). */
  private readonly creates = new Coalescer<string[], Reply[]>((batch) => this.createReplies(batch), { maxBatch: MAX_CREATE_BATCH });
  private readonly schedules: RedisScheduleStore;

  private constructor(
    private readonly client: ReturnType<typeof createClient<{}, {}, {}, 2>>,
    keyPrefix: string,
    retainFinishedMs: number,
    /** The events stream's length (the scripts' last argument; 0 = no events). */
    private readonly eventsMax: number,
  ) {
    this.keyPrefix = keyPrefix;
    this.keys = new RedisKeys(keyPrefix);
    this.retainMs = retainFinishedMs;
    this.schedules = new RedisScheduleStore({
      keyPrefix,
      script: (name, keys, args) => this.io(() => this.evalScript(name, keys, args)),
      command: (args) => this.io(() => this.client.sendCommand([...args]) as Promise<Reply>),
    });
  }

  /**
   * Connects to Redis and registers the scripts (SCRIPT LOAD). Throws `InvalidArgumentError` for a bad key prefix or
   * retention, `StoreError` when Redis cannot be reached.
   */
  static async connect(options: RedisBackendOptions = {}): Promise<RedisBackend> {
    const keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    assertKeyPrefix(keyPrefix);
    const retain = options.retainFinishedMs ?? DEFAULT_RETAIN_FINISHED_MS;
    if (typeof retain !== 'number' || !Number.isSafeInteger(retain) || retain < 0) {
      throw new InvalidArgumentError(`retainFinishedMs must be a non-negative integer of milliseconds, got ${String(retain)}`);
    }
    const eventsMax = options.eventRetention ?? DEFAULT_EVENT_RETENTION;
    if (!Number.isSafeInteger(eventsMax) || eventsMax < 0) throw new InvalidArgumentError(`eventRetention must be a non-negative integer, got ${String(eventsMax)}`);
    const { createClient } = await importOptional<typeof import('@redis/client')>('@redis/client', 'RedisBackend (floxide/redis)');
    // Read before connecting: a script file that is not there is no connection failure.
    allScripts();
    const client = createClient({
      ...options.client,
      url: options.url ?? 'redis://127.0.0.1:6379',
      RESP: 2,
      disableOfflineQueue: true,
      commandOptions: { timeout: 0, ...options.client?.commandOptions },
    });
    client.on('error', (err: Error) => options.onConnectionError?.(err));
    try {
      await client.connect();
      const backend = new RedisBackend(client, keyPrefix, retain, eventsMax);
      await Promise.all(Object.values(backend.scripts).map((s) => client.sendCommand(['SCRIPT', 'LOAD', s.source])));
      return backend;
    } catch (err) {
      client.destroy();
      throw new StoreError(`cannot connect to Redis: ${(err as Error).message}`, { cause: err });
    }
  }

  // ---- plumbing

  private open(): void {
    if (this.closed) throw replyError({ code: 'closed', backend: 'Redis' });
  }

  /** Runs `fn`, turning any failure that is not already a FloxideError into a StoreError. */
  private async io<T>(fn: () => Promise<T>): Promise<T> {
    this.open();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FloxideError) throw err;
      throw new StoreError(`Redis call failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
  }

  /** EVALSHA, falling back to EVAL (which caches the script again) when Redis lost it. */
  private async evalScript(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply> {
    const s: LoadedScript = this.scripts[name];
    if (keys.length !== s.numKeys) throw new InvalidArgumentError(`script ${s.file} takes ${s.numKeys} keys, got ${keys.length}`);
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return (await this.client.sendCommand(['EVALSHA', s.sha, ...tail])) as Reply;
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return (await this.client.sendCommand(['EVAL', s.source, ...tail])) as Reply;
    }
  }

  /** One MULTI/EXEC of raw commands (a consistent snapshot for multi-key reads). */
  private async multi(commands: readonly (readonly string[])[]): Promise<Reply[]> {
    const m = this.client.multi();
    for (const c of commands) m.addCommand([...c]);
    return (await m.exec()) as unknown as Reply[];
  }

  private notFound(runId: string): FloxideError {
    return replyError({ code: 'not_found', runId });
  }

  /** Reads the run's existence and more in one MULTI; throws RunNotFoundError for an unknown run. */
  private async readRun(runId: string, commands: readonly (readonly string[])[]): Promise<Reply[]> {
    assertRunId(runId);
    const [exists, ...rest] = await this.multi([['EXISTS', this.keys.run(runId)], ...commands]);
    if (Number(exists) !== 1) throw this.notFound(runId);
    return rest;
  }

  private recordOf(runId: string, f: readonly Reply[]): RunRecord {
    const [workflow, fingerprint, status, input, createdAt, updatedAt, finishedAt, deadline, output, error, dropped, traceparent, startedOn, migratedAt] = f as Array<string | null>;
    return decodeRunRecord({ runId, traceparent }, { workflow, fingerprint, status, input, output, error, dropped, createdAt, updatedAt, finishedAt, deadline, startedOn, migratedAt });
  }

  private stateOf(runId: string, itemId: string, packed: string): WorkItemState {
    const s = unpackState(packed, runId, itemId);
    return {
      runId,
      itemId,
      node: s.node,
      status: s.status,
      attempt: s.attempt,
      workerId: s.workerId,
      leaseExpiresAt: s.leaseExpiresAt,
      notBefore: s.notBefore,
      updatedAt: s.updatedAt,
    };
  }

  /** Closes the connection. Idempotent; afterwards every operation rejects with `StoreError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.client.isOpen) await this.client.close();
      else this.client.destroy();
    } catch {
      this.client.destroy();
    }
  }

  // ---- RunObserver

  async stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]> {
    this.open();
    const [steps] = await this.io(() => this.readRun(runId, [['LRANGE', `${this.keys.run(runId)}:steps`, ...tailRange(options)]]));
    return (steps as string[]).map((s) => parseStoredJson<StepRecord>(s, 'step record'));
  }

  /**
   * Reads the stream `P events` with blocking `XREAD`s on a connection of its own (a duplicate of the backend's,
   * closed when the iteration ends), so events are pushed, not polled; after a dropped connection it reconnects and
   * continues after the last delivered entry. See {@link EventSubscriber.subscribe}.
   */
  subscribe(options: SubscribeOptions = {}): AsyncIterable<EventEnvelope> {
    this.open();
    if (options.runId !== undefined) assertRunId(options.runId);
    return streamEvents(this.client, `${this.keyPrefix}events`, options, () => this.closed);
  }

  // ---- RunInfoStore

  async createRun(spec: NewRun): Promise<CreateRunResult> {
    this.open();
    assertNewRun(spec);
    const inputJson = runInputJson(spec.input);
    const contextJson = storedJson(spec.context ?? null);
    const itemJson = storedJson(spec.firstItem);
    const reply = await this.createReply([
      spec.runId,
      spec.workflow,
      spec.fingerprint,
      inputJson,
      contextJson,
      spec.firstItem.id,
      spec.firstItem.node,
      itemJson,
      spec.deadline === undefined ? '' : String(spec.deadline),
      spec.traceparent ?? '',
    ]);
    const [code, ...fields] = reply;
    const existing = fields[0] as string | null;
    switch (code) {
      case 'created': {
        // The new record is exactly what was sent (the script returns only its creation time), in RUN_FIELDS order.
        const at = String(fields[0]);
        const deadline = spec.deadline === undefined ? null : String(spec.deadline);
        const created = [spec.workflow, spec.fingerprint, 'running', inputJson, at, at, null, deadline, null, null, null, spec.traceparent ?? null, null, null];
        return { created: true, run: this.recordOf(spec.runId, created) };
      }
      case 'exists':
        return { created: false, run: this.recordOf(spec.runId, fields) };
      case 'workflow_mismatch':
        throw replyError({ code: 'workflow_mismatch', runId: spec.runId, workflow: spec.workflow, existing: String(existing) });
      case 'fingerprint_mismatch':
        throw replyError({ code: 'fingerprint_mismatch', runId: spec.runId, fingerprint: spec.fingerprint, existing: String(fields[1]) });
      case 'input_mismatch':
        throw replyError({ code: 'input_mismatch', runId: spec.runId });
      case 'leftover':
        throw replyError({ code: 'leftover_item', runId: spec.runId, itemId: String(existing) });
      case 'error':
        throw replyError({ code: 'refused', what: `the creation of run ${spec.runId}`, reason: String(existing) });
      default:
        throw replyError({ code: 'unexpected', what: 'create-run', reply: code });
    }
  }

  /**
   * The create-run script's reply for one run (its 10 arguments, layout in `lua/create-run-2.lua`), coalescing
   * concurrent calls: while a create-run call is on its way, later ones queue up and go together in the next call
   * (one script for up to {@link MAX_CREATE_BATCH} runs, each still created all or nothing). A call that fails
   * rejects every run of its batch with `StoreError` (retrying createRun is safe: it is idempotent per run id).
   */
  private createReply(args: string[]): Promise<Reply[]> {
    return this.creates.submit(args);
  }

  /** One create-run script call for a batch of runs; answers each run's reply. */
  private async createReplies(batch: ReadonlyArray<string[]>): Promise<Array<Settled<Reply[]>>> {
    const argv: string[] = [this.keyPrefix, String(batch.length)];
    for (const args of batch) for (const a of args) argv.push(a);
    argv.push(String(this.eventsMax));
    const replies = (await this.io(() => this.evalScript('createRun', [this.keys.runs, this.keys.expiring], argv))) as Reply[];
    return batch.map((_, i) => {
      const r = replies[i];
      return Array.isArray(r) ? { ok: true, value: r } : { ok: false, error: new StoreError('the create-run script answered fewer replies than runs sent') };
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    this.open();
    assertRunId(runId);
    const f = (await this.io(() => this.client.sendCommand(['HMGET', this.keys.run(runId), ...RUN_FIELDS]))) as Reply[];
    return f[0] === null ? undefined : this.recordOf(runId, f);
  }

  async listRuns(filter: ListRunsFilter = {}): Promise<RunRecord[]> {
    this.open();
    if (filter.limit !== undefined) assertPositiveInt(filter.limit, 'limit');
    if (filter.status !== undefined) assertRunStatus(filter.status);
    if (filter.workflow !== undefined) assertString(filter.workflow, 'workflow');
    if (filter.after !== undefined) assertRunCursor(filter.after);
    // The index answers the filters alone unless both are given: then the smaller of the status and workflow indexes
    // is read and the other field checked (the failed runs of one workflow among 100,000 running ones: its own index, not
    // the whole status index).
    const exact = filter.status === undefined || filter.workflow === undefined;
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    return this.io(async () => {
      let index = filter.status !== undefined ? this.keys.status(filter.status) : filter.workflow !== undefined ? this.keys.workflow(filter.workflow) : this.keys.runs;
      if (!exact) {
        const byWorkflow = this.keys.workflow(filter.workflow!);
        const [inStatus, inWorkflow] = (await this.client.multi().addCommand(['ZCARD', index]).addCommand(['ZCARD', byWorkflow]).execAsPipeline()) as unknown as number[];
        if (inWorkflow! < inStatus!) index = byWorkflow;
      }
      const out: RunRecord[] = [];
      const gone: string[] = [];
      let cursor = filter.after;
      while (out.length < limit) {
        const size = exact ? Math.min(LIST_PAGE, limit - out.length) : LIST_PAGE;
        const page = (await this.evalScript('listRuns', [index], [cursor ? String(cursor.createdAt) : '', cursor?.runId ?? '', size])) as string[];
        if (page.length === 0) break;
        const m = this.client.multi();
        for (let i = 0; i < page.length; i += 2) m.addCommand(['HMGET', this.keys.run(page[i]!), ...RUN_FIELDS]);
        const rows = (await m.execAsPipeline()) as unknown as Reply[][];
        for (let i = 0; i < rows.length && out.length < limit; i++) {
          const id = page[2 * i]!;
          const row = rows[i]!;
          // no field at all: the run's keys expired (a record missing some field, even its workflow, is corrupt, not gone)
          if (row.every((v) => v === null)) {
            gone.push(id);
            continue;
          }
          const rec = this.recordOf(id, row);
          if ((filter.status === undefined || rec.status === filter.status) && (filter.workflow === undefined || rec.workflow === filter.workflow)) out.push(rec);
        }
        cursor = { createdAt: Number(page[page.length - 1]), runId: page[page.length - 2]! };
        if (page.length < 2 * size) break;
      }
      // Index entries of runs whose keys expired: forget them (an index only, no run data), each checked again when it
      // goes (a ZREM from here removed the entry of a run created again under the same id since it was read).
      if (gone.length > 0) await this.evalScript('forgetRuns', [index], [this.keyPrefix, ...gone]);
      return out;
    });
  }

  private async transition(runId: string, op: 'cancel' | 'fail' | 'pause' | 'resume', errorJson: string): Promise<RunTransition> {
    this.open();
    assertRunId(runId);
    const reply = (await this.io(() => this.evalScript('transition', this.keys.runLayout(runId), [this.keyPrefix, runId, op, errorJson, this.retainMs, this.eventsMax]))) as Reply[];
    switch (reply[0]) {
      case 'not_found':
        throw replyError({ code: 'not_found', runId });
      case 'noop':
        return { applied: false, status: runStatusOf(reply[1], runId), dropped: [] };
      case 'final':
        throw replyError({ code: 'final', runId, op, status: String(reply[1]) });
      case 'corrupt':
        throw replyError({ code: 'corrupt_run', runId, field: String(reply[1]), value: String(reply[2]) });
      case 'applied':
        return { applied: true, status: runStatusOf(reply[1], runId), dropped: parseStoredJson<DroppedItem[]>(reply[2] as string, 'dropped items') };
      default:
        throw replyError({ code: 'unexpected', what: 'transition', reply: reply[0] });
    }
  }

  async cancelRun(runId: string, reason?: string): Promise<RunTransition> {
    if (reason !== undefined && typeof reason !== 'string') throw new InvalidArgumentError('reason must be a string');
    return this.transition(runId, 'cancel', canonicalJson(serializeError(new CancelledError(reason ?? 'the run was cancelled'))));
  }

  async pauseRun(runId: string): Promise<RunTransition> {
    return this.transition(runId, 'pause', '');
  }

  async resumeRun(runId: string): Promise<RunTransition> {
    return this.transition(runId, 'resume', '');
  }

  async failRun(runId: string, error: SerializedError): Promise<RunTransition> {
    assertRunId(runId);
    assertSerializedError(error, 'error');
    return this.transition(runId, 'fail', canonicalJson(error));
  }

  // ---- WorkQueue

  async claim(workerId: string, max: number, leaseMs: number, options: ClaimOptions = {}): Promise<LeasedItem[]> {
    this.open();
    assertWorkerId(workerId);
    assertPositiveInt(max, 'max');
    assertPositiveMs(leaseMs, 'leaseMs');
    if (options.workflow !== undefined) assertString(options.workflow, 'workflow');
    const versions = versionFilter(options);
    const reply = (await this.io(() =>
      this.evalScript('claim', [this.keys.leases, this.keys.delayed, this.keys.wfring, this.keys.tokenSeq], [
        this.keyPrefix,
        workerId,
        max,
        Math.ceil(leaseMs),
        options.workflow ?? '',
        this.eventsMax,
        versions ? [...versions].join(',') : '',
      ]),
    )) as string[];
    const out: LeasedItem[] = [];
    for (let i = 0; i + 5 < reply.length; i += 6) out.push(leaseOf(reply, i));
    return out;
  }

  async extendLease(runId: string, itemId: string, leaseToken: string, leaseMs: number): Promise<LeaseExtension> {
    this.open();
    assertRunId(runId);
    assertItemId(itemId);
    assertString(leaseToken, 'leaseToken');
    assertPositiveMs(leaseMs, 'leaseMs');
    const k = this.keys;
    const reply = (await this.io(() => this.evalScript('extendLease', [k.run(runId), k.runPart(runId, 'states'), k.leases], [runId, itemId, leaseToken, Math.ceil(leaseMs)]))) as Reply[];
    if (reply[0] === 'extended') return { status: 'extended', leaseExpiresAt: Number(reply[1]), runStatus: reply[2] as RunStatus };
    return { status: 'lost', runStatus: reply[1] === '' ? undefined : (reply[1] as RunStatus) };
  }

  async release(runId: string, itemId: string, leaseToken: string, options: ReleaseOptions = {}): Promise<boolean> {
    this.open();
    assertRunId(runId);
    assertItemId(itemId);
    assertString(leaseToken, 'leaseToken');
    const k = this.keys;
    const reply = await this.io(() =>
      this.evalScript('release', [k.run(runId), k.runPart(runId, 'states'), k.runPart(runId, 'ready'), k.leases], [this.keyPrefix, runId, itemId, leaseToken, options.misrouted ? '1' : '']),
    );
    return Number(reply) === 1;
  }

  async pendingWork(runId: string, options?: PendingWorkOptions): Promise<PendingWork[]> {
    this.open();
    assertRunId(runId);
    const { statuses, limit } = pendingWorkFilter(options);
    return this.io(async () => {
      // selected by the server: the finished items of a long run are most of its states hash, and a page shows a few
      const reply = await this.evalScript('outstandingItems', [this.keys.run(runId), this.keys.runPart(runId, 'states'), this.keys.runPart(runId, 'open'), this.keys.runPart(runId, 'tally')], [statuses.join(','), String(limit ?? 0)]);
      if (!Array.isArray(reply)) throw this.notFound(runId);
      // (a state the script let through without a status is refused as corrupt by sortedStates)
      const { byId, states } = this.sortedStates(runId, pairs(reply));
      return states.slice(0, limit).map((state) => ({ ...decodeStoredWork(unpackState(byId.get(state.itemId)!, runId, state.itemId).itemJson, { runId, itemId: state.itemId, node: state.node }), state }));
    });
  }

  // ---- RunMigrator

  async parkedArrivals(runId: string): Promise<ParkedArrival[]> {
    this.open();
    return this.io(async () => {
      const [groups] = await this.readRun(runId, [['HKEYS', this.keys.runPart(runId, 'joins')]]);
      const names = groups as string[];
      if (names.length === 0) return [];
      const parked = await this.multi(names.map((g) => ['HGETALL', `${this.keys.run(runId)}:join:${g}`]));
      // index -> arrival JSON, and 'n' -> the group's join node (of its first valued arrival)
      return names.flatMap((group, i) => {
        const fields = pairs(parked[i]!);
        const node = fields.get('n');
        return [...fields.keys()].filter((f) => f !== 'n').map(() => ({ group, node }));
      });
    });
  }

  async migrate(runId: string, m: RunMigration): Promise<void> {
    this.open();
    assertRunId(runId);
    assertMigration(m);
    const k = this.keys;
    return this.io(async () => {
      // The rewrites are computed here (canonical JSON is TypeScript's); the script checks each is still current.
      const { byId } = await this.readStates(runId);
      const outstanding = [...byId].map(([id, p]) => ({ id, st: unpackState(p, runId, id) })).filter(({ st }) => isOutstanding(st.status));
      const rewrites = migrationRewrites(outstanding.map(({ id, st }) => ({ id, json: st.itemJson })), m.renames);
      const expect = m.expect === undefined ? ['-1'] : [String(m.expect.length), ...m.expect];
      const reply = (await this.evalScript('migrate', [k.run(runId), k.runPart(runId, 'states'), k.runPart(runId, 'ready')], [
        this.keyPrefix, runId, m.from, m.to, m.leases ?? 'block', ...expect, String(rewrites.length), ...rewrites.flat(), migratedEventJson(runId, m), String(this.eventsMax),
      ])) as string[];
      const [code, ...rest] = reply;
      checkMigrationReply(runId, m, code === 'leased' ? { code, leased: triples(rest) } : ({ code, status: rest[0], fingerprint: rest[0], item: rest[0] } as MigrationReply));
    });
  }

  // ---- WorkItemStateStore

  async itemState(runId: string, itemId: string): Promise<WorkItemState | undefined> {
    this.open();
    assertRunId(runId);
    assertItemId(itemId);
    return this.io(async () => {
      const [packed] = await this.readRun(runId, [['HGET', this.keys.runPart(runId, 'states'), itemId]]);
      return packed === null ? undefined : this.stateOf(runId, itemId, packed as string);
    });
  }

  async itemStates(runId: string): Promise<WorkItemState[]> {
    this.open();
    return this.io(async () => (await this.readStates(runId)).states);
  }

  async itemCounts(runId: string): Promise<ItemCounts> {
    this.open();
    assertRunId(runId);
    return this.io(async () => {
      const reply = await this.evalScript('itemCounts', this.itemCountKeys(runId), ['nodes']);
      if (!Array.isArray(reply)) throw this.notFound(runId);
      const [kind, ...rest] = reply as string[];
      if (kind === 'corrupt') throw new CorruptStateError(`run ${runId}: a stored item state is corrupt: ${JSON.stringify(rest[0]!.slice(0, 80))}`);
      const counts: ItemCounts = {};
      for (let i = 0; i + 2 < rest.length; i += 3) countItem(counts, rest[i]!, rest[i + 1] as WorkItemStatus, Number(rest[i + 2]));
      return counts;
    });
  }

  /** KEYS of the item-counts script: the run hash, its states and its tally. */
  private itemCountKeys(runId: string): string[] {
    return [this.keys.run(runId), this.keys.runPart(runId, 'states'), this.keys.runPart(runId, 'tally')];
  }

  /** Every item state of a run in enqueue order, with the packed states by id (one round trip). */
  private async readStates(runId: string): Promise<{ byId: Map<string, string>; states: WorkItemState[] }> {
    const [packed] = await this.readRun(runId, [['HGETALL', this.keys.runPart(runId, 'states')]]);
    return this.sortedStates(runId, pairs(packed!));
  }

  /** Packed states by id as item states in enqueue order. */
  private sortedStates(runId: string, byId: Map<string, string>): { byId: Map<string, string>; states: WorkItemState[] } {
    const unpacked = [...byId].map(([id, p]) => ({ id, p, seq: unpackState(p, runId, id).seq }));
    unpacked.sort((a, b) => a.seq - b.seq);
    return { byId, states: unpacked.map(({ id, p }) => this.stateOf(runId, id, p)) };
  }

  // ---- ContextStore

  async readContext(runId: string, sinceVersion?: number, options?: TailOptions): Promise<ContextSnapshot> {
    this.open();
    assertRunId(runId);
    const limit = tailLimit(options);
    if (sinceVersion !== undefined && (!Number.isSafeInteger(sinceVersion) || sinceVersion < 0)) {
      throw new InvalidArgumentError(`sinceVersion must be a non-negative integer, got ${String(sinceVersion)}`);
    }
    const since = sinceVersion ?? 0;
    return this.io(async () => {
      const reply = await this.evalScript('readContext', [this.keys.run(runId)], [since, sinceVersion === undefined ? '1' : '0', limit ?? 0]);
      if (!Array.isArray(reply)) throw this.notFound(runId);
      const [length, initial, raw] = reply;
      const version = Number(length);
      if (since > version) throw new InvalidArgumentError(`sinceVersion must be an integer in 0..${version} for run ${runId}, got ${since}`);
      // the entries are the deltas up to `version` (the newest `limit` of them with a limit)
      const entries = raw as string[];
      const deltas: ContextDeltaRecord[] = entries.map((entry, i) => deltaRecord(entry, version - entries.length + i + 1));
      return sinceVersion === undefined ? { initial: parseStoredJson(initial as string, 'context'), deltas, version } : { deltas, version };
    });
  }

  // ---- MetricsStore / ErrorStore

  async metrics(runId: string): Promise<RunMetrics> {
    this.open();
    const [[fixed, counters], totals] = await Promise.all([
      this.io(() => this.readRun(runId, [
        ['HMGET', this.keys.run(runId), ...METRIC_KEYS],
        ['HGETALL', this.keys.runPart(runId, 'counters')],
      ])),
      this.io(() => this.evalScript('itemCounts', this.itemCountKeys(runId), ['totals'])),
    ]);
    if (!Array.isArray(totals)) throw this.notFound(runId);
    const out = { ...emptyMetrics(), counters: {} as Record<string, number> };
    METRIC_FIELDS.forEach((f, i) => (out[f] = Number((fixed as Reply[])[i] ?? 0)));
    // Items are never removed while the run's keys exist, so the states hash holds every item ever enqueued, and
    // the completed ones are the `completed` metric (commits keep no counter for it): the run's tally of them.
    out.enqueued = Number(totals[1]);
    out.completed = Number(totals[2]);
    for (const [k, v] of pairs(counters!)) out.counters[k] = Number(v);
    return out;
  }

  async errors(runId: string, options?: TailOptions): Promise<ErrorRecord[]> {
    this.open();
    const range = tailRange(options);
    return this.io(async () => {
      const [raw] = await this.readRun(runId, [['LRANGE', this.keys.runPart(runId, 'errors'), ...range]]);
      return (raw as string[]).map((e) => parseStoredJson<ErrorRecord>(e, 'error record'));
    });
  }

  async recordError(runId: string, record: Omit<ErrorRecord, 'at' | 'kind'>): Promise<void> {
    this.open();
    assertRunId(runId);
    assertItemId(record.itemId);
    assertString(record.node, 'node');
    assertPositiveInt(record.attempt, 'attempt');
    assertSerializedError(record.error, 'error');
    const k = this.keys;
    const ok = await this.io(() => this.evalScript('recordError', [k.run(runId), k.runPart(runId, 'errors')], [record.itemId, record.node, record.attempt, canonicalJson(record.error)]));
    if (Number(ok) !== 1) throw this.notFound(runId);
  }

  async deadLetters(runId: string, options?: TailOptions): Promise<DeadLetter[]> {
    this.open();
    const range = tailRange(options);
    return this.io(async () => {
      const [raw] = await this.readRun(runId, [['LRANGE', this.keys.runPart(runId, 'dead'), ...range]]);
      return (raw as string[]).map((e) => parseStoredJson<DeadLetter>(e, 'dead letter'));
    });
  }

  // ---- LivenessStore

  async heartbeat(workerId: string, health: WorkerHealth): Promise<void> {
    this.open();
    assertWorkerId(workerId);
    if (typeof health !== 'object' || health === null || !['idle', 'busy', 'stopping'].includes(health.status) || !Array.isArray(health.current)) {
      throw new InvalidArgumentError('health must be a WorkerHealth ({ status: idle | busy | stopping, current: [...], processed, errors })');
    }
    const json = canonicalJson(health);
    await this.io(() => this.evalScript('heartbeat', [this.keys.workers], [workerId, json]));
  }

  async listWorkers(options: { readonly thresholdMs?: number } = {}): Promise<WorkerRecord[]> {
    this.open();
    const threshold = options.thresholdMs ?? DEFAULT_LIVENESS_THRESHOLD_MS;
    assertPositiveMs(threshold, 'thresholdMs');
    return this.io(async () => {
      const [time, raw] = await this.multi([['TIME'], ['HGETALL', this.keys.workers]]);
      const [sec, micro] = time as string[];
      const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
      return [...pairs(raw!).entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([workerId, v]) => {
          const bar = v.indexOf('|');
          const lastSeen = Number(v.slice(0, bar));
          return { workerId, lastSeen, health: parseStoredJson<WorkerHealth>(v.slice(bar + 1), 'worker health'), liveness: classifyLiveness(lastSeen, now, threshold) };
        });
    });
  }

  async removeWorker(workerId: string): Promise<boolean> {
    this.open();
    assertWorkerId(workerId);
    return Number(await this.io(() => this.client.sendCommand(['HDEL', this.keys.workers, workerId]))) === 1;
  }

  // ---- ScheduleStore (schedules.ts)

  async putSchedule(def: ScheduleDefinition): Promise<ScheduleRecord> {
    this.open();
    return this.schedules.putSchedule(def);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    this.open();
    return this.schedules.getSchedule(id);
  }

  async listSchedules(filter?: { readonly workflow?: string }): Promise<ScheduleRecord[]> {
    this.open();
    return this.schedules.listSchedules(filter);
  }

  async dueSchedules(workflow: string): Promise<{ now: number; schedules: ScheduleRecord[] }> {
    this.open();
    return this.schedules.dueSchedules(workflow);
  }

  async pauseSchedule(id: string): Promise<ScheduleRecord> {
    this.open();
    return this.schedules.pauseSchedule(id);
  }

  async resumeSchedule(id: string): Promise<ScheduleRecord> {
    this.open();
    return this.schedules.resumeSchedule(id);
  }

  async removeSchedule(id: string): Promise<boolean> {
    this.open();
    return this.schedules.removeSchedule(id);
  }

  async advanceSchedule(id: string, from: number, advance: ScheduleAdvance): Promise<boolean> {
    this.open();
    return this.schedules.advanceSchedule(id, from, advance);
  }

  // ---- SignalReceiver

  async signal(runId: string, name: string, payload: unknown, key?: string, options?: SignalReceiverOptions): Promise<SignalReceipt> {
    this.open();
    const p = planSignal(runId, name, payload, key, options?.workflow);
    const args = [this.keyPrefix, p.runId, p.name, p.payload, p.key === undefined ? '0' : '1', p.key ?? '', this.eventsMax, p.workflow ?? '', p.digest ?? ''];
    const reply = (await this.io(() => this.evalScript('signal', [this.keys.delayed], args))) as Reply;
    if (reply === 'delivered') return deliveredTo(undefined);
    if (reply === 'duplicate') return DUPLICATE_SIGNAL;
    const r = reply as Reply[];
    if (r[0] === 'delivered') return deliveredTo(String(r[1]));
    if (r[0] === 'key_conflict') throw replyError({ code: 'key_conflict', signal: p, name: String(r[1]), digest: String(r[2]) });
    if (r[0] === 'not_found') throw this.notFound(runId);
    if (r[0] === 'final') throw replyError({ code: 'final', runId, op: 'signal', status: String(r[1]) });
    if (r[0] === 'other_workflow') throw replyError({ code: 'other_workflow', runId, workflow: p.workflow!, actual: String(r[1]) });
    throw replyError({ code: 'unexpected', what: 'signal', reply });
  }

  async pendingSignals(runId: string): Promise<PendingSignal[]> {
    this.open();
    const [mail] = await this.io(() => this.readRun(runId, [['LRANGE', `${this.keys.run(runId)}:mailbox`, '0', '-1']]));
    return (mail as string[]).map((m) => {
      // "<name JSON>\n<key JSON>|''\n<at>\n<payload JSON>" (lua/includes/parked.lua)
      const [name, key, at] = m.split('\n', 3) as [string, string, string];
      const payload = m.slice(name.length + key.length + at.length + 3);
      return {
        name: parseStoredJson<string>(name, 'signal name'),
        payload: parseStoredJson(payload, 'signal payload'),
        key: key === '' ? undefined : parseStoredJson<string>(key, 'signal key'),
        at: Number(at),
      };
    });
  }

  // ---- StepCommitter

  async commitStep(commit: StepCommit): Promise<CommitResult> {
    const [answer] = await this.commitSteps([commit]);
    if (!answer!.ok) throw answer!.error;
    return answer!.result;
  }

  /**
   * See {@link BatchStepCommitter.commitSteps}: the valid commits go to Redis in ONE call of the commit script, which
   * applies them one after the other (each atomic and idempotent on its own); an invalid commit gets its error
   * without being sent.
   */
  async commitSteps(commits: readonly StepCommit[]): Promise<BatchCommitResult[]> {
    this.open();
    if (!Array.isArray(commits)) throw new InvalidArgumentError('commitSteps expects an array of commits');
    const out: BatchCommitResult[] = new Array(commits.length);
    const sent: number[] = [];
    // per sent commit: its only successor's JSON when it asked for a hand-off (the handed-off lease's item is parsed from it)
    const handoffJson: Array<string | undefined> = [];
    const args: Array<string | number> = [this.keyPrefix, this.retainMs, this.eventsMax, 0];
    for (let i = 0; i < commits.length; i++) {
      let plan: StepCommitPlan;
      try {
        plan = planStepCommit(commits[i]!);
      } catch (error) {
        if (!(error instanceof FloxideError)) throw error;
        out[i] = { ok: false, error };
        continue;
      }
      handoffJson.push(encodeCommit(plan, args));
      sent.push(i);
    }
    if (sent.length === 0) return out;
    args[3] = sent.length;
    const replies = (await this.io(() => this.evalScript('commit', [this.keys.leases, this.keys.delayed], args))) as Array<string | Reply[]>;
    sent.forEach((index, j) => {
      const commit = commits[index]!;
      const reply = replies[j]!;
      // a commit Redis refused fails alone (the script answers it and applies the others)
      if (Array.isArray(reply) && reply[0] === 'error') {
        out[index] = { ok: false, error: replyError({ code: 'refused', what: `the commit of run ${commit.runId} item ${JSON.stringify(commit.itemId)}`, reason: String(reply[1]) }) };
        return;
      }
      try {
        out[index] = { ok: true, result: this.commitResultOf(commit, reply, handoffJson[j]) };
      } catch (error) {
        if (!(error instanceof FloxideError) || error instanceof StoreError) throw error;
        out[index] = { ok: false, error };
      }
    });
    return out;
  }

  private commitResultOf(commit: StepCommit, reply: string | Reply[], handoffJson: string | undefined): CommitResult {
    const runId = commit.runId;
    if (typeof reply === 'string') {
      // an applied commit (layout in lua/commit-2.lua)
      const lines = reply.split('\n');
      if (lines[0] === 'handoff') return handoffResultOf(commit, lines, handoffJson);
      if (lines[0] === 'finished') {
        return {
          status: 'applied',
          runStatus: lines[1] as RunStatus,
          enqueued: [],
          joined: [],
          dropped: lines[3] === '[]' ? [] : parseStoredJson<DroppedItem[]>(lines[3]!, 'dropped items'),
          contextVersion: Number(lines[2]),
          finished: runEndOf(runId, lines[4], lines[5], lines.slice(6).join('\n')),
        };
      }
      if (lines[0] !== 'applied') throw replyError({ code: 'unexpected', what: 'commit', reply: lines[0] });
      const gap = lines.indexOf('', 4);
      return {
        status: 'applied',
        runStatus: lines[1] as RunStatus,
        enqueued: lines.slice(4, gap < 0 ? undefined : gap),
        joined: gap < 0 ? [] : lines.slice(gap + 1).map((j) => parseStoredJson<EngineItem>(j, 'settlement item')),
        dropped: lines[3] === '[]' ? [] : parseStoredJson<DroppedItem[]>(lines[3]!, 'dropped items'),
        contextVersion: Number(lines[2]),
      };
    }
    switch (reply[0]) {
      case 'duplicate':
        return { status: 'duplicate' };
      case 'run_finished':
        return { status: 'run_finished', runStatus: reply[1] as RunStatus };
      case 'lease_lost':
        return { status: 'lease_lost' };
      case 'not_found':
        throw replyError({ code: 'not_found', runId });
      case 'bad_group':
        throw replyError({ code: 'bad_group', group: String(reply[1]), size: String(reply[2]), groupSize: String(reply[3]) });
      case 'corrupt':
        throw replyError({ code: 'corrupt_run', runId, field: String(reply[1]), value: String(reply[2]) });
      default:
        throw replyError({ code: 'unexpected', what: 'commit', reply });
    }
  }
}

/**
 * Appends one planned commit's arguments to the commit script's ARGV (layout in `lua/commit-2.lua`). Returns the
 * only successor's JSON when the commit asks for a hand-off (the handed-off lease's item is parsed from it).
 */
function encodeCommit(c: StepCommitPlan, args: Array<string | number>): string | undefined {
  const plan = c.plan;
  // parked items (waits, sleeps) go in a section of their own: the hot path's items keep their three arguments
  const items = plan.type === 'continue' ? plan.items.filter((it) => it.notBefore === undefined && it.wait === undefined) : [];
  const parked = plan.type === 'continue' && items.length < plan.items.length ? plan.items.filter((it) => it.notBefore !== undefined || it.wait !== undefined) : [];
  const nItems = items.length;
  const nArrivals = plan.type === 'continue' ? plan.arrivals.length : 0;
  // The header is newline-separated; ids are validated, and a token holding a newline is no lease's token (they are
  // `workerId#n`), so it is sent as '' which no lease has either (the commit answers lease_lost or duplicate).
  const token = c.leaseToken.includes('\n') ? '' : c.leaseToken;
  const handoffPart = c.handoff ? `${c.handoff.workerId}\n${c.handoff.leaseMs}\n${c.handoff.fingerprint ?? ''}` : '\n\n';
  args.push(`${c.runId}\n${c.itemId}\n${token}\n${plan.type}\n${plan.counters.length}\n${nItems}\n${nArrivals}\n${parked.length}\n${handoffPart}`);
  switch (plan.type) {
    case 'continue':
      args.push(plan.delta ?? '', plan.noTerminal, plan.error ?? '', plan.errorKind);
      break;
    case 'terminal':
      args.push(plan.delta ?? '', plan.output, plan.dropped.length > 0 ? canonicalJson(plan.dropped) : '');
      break;
    case 'retry':
      args.push(plan.error, plan.delayMs);
      break;
    case 'failed':
      args.push(plan.error, plan.deadLetter ? '1' : '0', c.deadLetterItem ?? '');
      break;
  }
  for (const [k, v] of plan.counters) args.push(k, String(v));
  if (plan.type !== 'continue') return undefined;
  for (const it of items) args.push(it.id, it.node, it.json);
  for (const a of plan.arrivals) args.push(a.group, String(a.index), String(a.size), a.node ?? '', a.json);
  for (const it of parked) args.push(it.id, it.node, it.json, it.notBefore === undefined ? '' : String(it.notBefore), it.wait ?? '', String(it.attempt ?? 1));
  return c.handoff && nItems === 1 && parked.length === 0 ? items[0]!.json : undefined;
}

/**
 * An applied commit whose successor was handed off (reply layout in `lua/commit-2.lua`): the lease is built from the
 * reply and the successor the commit itself sent (its only item).
 */
function handoffResultOf(commit: StepCommit, lines: string[], itemJson: string | undefined): CommitResult {
  const [, runStatus, version, , id, leaseToken, expiry, fingerprint, deadline, traceparent] = lines;
  const item = commit.outcome.type === 'continue' ? commit.outcome.items[0] : undefined;
  if (!item || item.id !== id || itemJson === undefined) throw new StoreError(`unexpected hand-off reply for item ${String(id)}`);
  const contextVersion = Number(version);
  return {
    status: 'applied',
    runStatus: runStatus as RunStatus,
    enqueued: [id],
    joined: [],
    dropped: [],
    contextVersion,
    next: {
      runId: commit.runId,
      workflow: lines.slice(10).join('\n'),
      fingerprint: fingerprint!,
      deadline: optNumber(deadline),
      ...(traceparent ? { traceparent } : {}),
      // parsed from the JSON the commit sent: a copy, like every item a claim returns (the caller's object is not shared)
      item: parseStoredJson<EngineItem>(itemJson, 'work item'),
      attempt: 1,
      leaseToken: leaseToken!,
      leaseExpiresAt: Number(expiry),
      deliveries: 1,
      contextVersion,
    },
  };
}

/** One leased item of the claim script's reply (six entries from `at`, layout in `lua/claim-4.lua`), decoded per item. */
function leaseOf(reply: readonly string[], at: number): LeasedItem {
  const f = reply[at + 2]!.split('\n');
  const last = reply[at + 5]!;
  const nl = last.indexOf('\n');
  return decodeLease({
    runId: f[0]!,
    itemId: f[1]!,
    node: f[2]!,
    workflow: reply[at]!,
    fingerprint: reply[at + 1]!,
    deadline: optNumber(f[3]),
    ...(f[4] ? { traceparent: f[4] } : {}),
    attempt: Number(f[5]),
    leaseToken: f[6]!,
    leaseExpiresAt: Number(f[7]),
    deliveries: Number(f[8]),
    contextVersion: Number(f[9]),
    itemJson: reply[at + 3],
    ...(last === '' ? {} : { lastDelta: { itemId: last.slice(0, nl), json: last.slice(nl + 1) } }),
    ...(reply[at + 4] === '' ? {} : { initialContextJson: reply[at + 4] }),
  });
}

/** A stored delta entry (`itemId\ndelta JSON`) as the record of context version `version`. */
function deltaRecord(entry: string, version: number): ContextDeltaRecord {
  const nl = entry.indexOf('\n');
  return decodeStoredDelta(entry.slice(nl + 1), version, entry.slice(0, nl));
}

/**
 * The distributed store contracts. Workers and the orchestrator only ever talk to a {@link DistributedBackend};
 * the in-memory, Redis and Postgres backends implement it with the same observable semantics, checked by one
 * conformance suite (`test/distributed/conformance.ts`). `docs/distributed.md` explains the guarantees for users.
 *
 * Conventions shared by every method:
 * - Times are epoch milliseconds taken from the **backend's clock** (Redis `TIME`, Postgres `now()`, the injected
 *   clock of the memory backend), never the caller's, so leases and delays are immune to worker clock skew.
 * - Every value crossing the contract (inputs, outputs, contexts, deltas, items) must be JSON-representable; it is
 *   stored serialised and handed back as a fresh copy. Mutating a returned object never changes stored state.
 * - Ids are validated (`ids.ts`): a malformed run, worker or item id is an `InvalidArgumentError`.
 * - `getRun` returns `undefined` for an unknown run; every other per-run operation throws `RunNotFoundError`.
 * - A store that cannot be reached (or was closed) fails with `StoreError`; nothing is partially applied.
 */
import type { PendingSignal, SignalReceipt } from '../engine/parked.js';
import { InvalidArgumentError, type CorruptStateError, type SerializedError } from '../core/errors.js';
import { assertRunId } from '../core/ids.js';
import { assertPositiveInt, assertString } from '../core/validate.js';
import { isEpochMs } from '../core/time.js';
import { assertTraceparent } from '../core/trace-context.js';
import { assertEngineItem } from '../engine/validate.js';
import type { DroppedItem } from '../engine/commit.js';
import type { ContextDelta, EngineItem, StepOutcome } from '../engine/types.js';
import type { PurgeOptions, TailOptions } from '../core/validate.js';
import type { EventSubscriber, StepHistoryReader } from '../engine/events.js';
import type { VersionMove, VersionMoves } from '../engine/migration.js';


export type { PurgeOptions, TailOptions } from '../core/validate.js';
export { shouldDeadLetter, type DropReason, type DroppedItem } from '../engine/commit.js';

// ---------------------------------------------------------------------------------------------------------------
// Runs

/** A run's lifecycle, every status (the one list: backends, CLI and checks use it). */
export const RUN_STATUSES = ['running', 'paused', 'completed', 'failed', 'cancelled'] as const;

/** A run's lifecycle. `completed`, `failed` and `cancelled` are final: nothing changes them again. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Throws `InvalidArgumentError` unless `status` is one of {@link RUN_STATUSES} (e.g. a `listRuns` filter). */
export function assertRunStatus(status: unknown): asserts status is RunStatus {
  if (!RUN_STATUSES.includes(status as RunStatus)) throw new InvalidArgumentError(`unknown run status ${JSON.stringify(status)}`);
}

/** The statuses after which a run never changes. */
export const FINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

/** True for `completed`, `failed` and `cancelled`. */
export function isFinalRunStatus(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** The stored record of a run (with what it keeps of its moves between graph versions). */
export interface RunRecord extends VersionMoves {
  readonly runId: string;
  /** The workflow (class) name the run executes. */
  readonly workflow: string;
  /**
   * The graph version the run is on: the fingerprint it was started with, or the one a migration moved it to
   * (`floxide runs migrate`, a worker whose build accepts the older one); workers with another graph must refuse its items.
   */
  readonly fingerprint: string;
  readonly status: RunStatus;
  /** The run's input (as stored). */
  readonly input: unknown;
  readonly createdAt: number;
  /** Last status change or version move. */
  readonly updatedAt: number;
  /** Set once the status is final. */
  readonly finishedAt: number | undefined;
  /** Absolute workflow deadline (epoch ms), if the run has one. Enforced by workers (their signal aborts at it). */
  readonly deadline: number | undefined;
  /** The first terminal output, once `completed`. */
  readonly output: unknown;
  /** Why the run failed (or the reason given to a cancel), once `failed` / `cancelled`. */
  readonly error: SerializedError | undefined;
  /** Items discarded when the run finished, in the order they were queued. Empty while the run is not final. */
  readonly dropped: readonly DroppedItem[];
  /** The W3C `traceparent` of the run's span, when the run was started with tracing on (see {@link NewRun}). */
  readonly traceparent?: string;
  /**
   * SQLite checkpoint files only, on a `running` run: the process whose claim the file keeps (absent when none is
   * kept), as it stored it, with its last heartbeat.
   */
  readonly owner?: RunOwnerRecord;
  /**
   * SQLite checkpoint files only, on a `running` run: true when no live process holds it (its process died, or its
   * call ended without finishing it: runtime/stores/ownership.ts `claimLives`, the rule a takeover follows), so
   * nothing executes it until `resume(store, runId)` does.
   */
  readonly orphaned?: boolean;
  /**
   * Set when fields of the stored record cannot be read (`decodeStoredRun` in runtime/engine/decode.ts): the error
   * names the run and each such field, which holds no value (`input`, `output`, `error`, `finishedAt`, `deadline`
   * undefined, `dropped` empty, `createdAt` and `updatedAt` NaN; a status that is not a {@link RunStatus} is its stored
   * text). Reading never throws for it, so a list shows every other run; {@link readableRun} throws it where a
   * decision depends on the record.
   */
  readonly corrupt?: CorruptStateError;
}

/**
 * The process running a checkpointed run ({@link RunRecord.owner}), with its liveness as a takeover judges it (`dead`:
 * another `resume` would take the run over now), in the words a worker's liveness uses.
 */
export interface RunOwnerRecord {
  readonly host: string;
  readonly pid: number;
  /** Its last heartbeat (the writer's clock, epoch ms); undefined when none is stored. */
  readonly lastSeen: number | undefined;
  readonly liveness: Extract<Liveness, 'alive' | 'dead'>;
}

/** `run` itself, or its {@link RunRecord.corrupt} error thrown: for callers that act on the record's fields. */
export function readableRun<R extends RunRecord | undefined>(run: R): R {
  if (run?.corrupt) throw run.corrupt;
  return run;
}

/** What {@link RunInfoStore.createRun} needs: the run record, the initial context and the first work item. */
export interface NewRun {
  readonly runId: string;
  readonly workflow: string;
  readonly fingerprint: string;
  readonly input: unknown;
  /** The serialised initial context (the context codec's output), stored as version 0. */
  readonly context: unknown;
  /** The start item, normally `{ node: def.start, id: '0', input }`. */
  readonly firstItem: EngineItem;
  /** Absolute deadline in epoch ms. */
  readonly deadline?: number;
  /**
   * The W3C `traceparent` of the run's span (runtime/core/trace-context.ts), stored with the run and handed to every
   * worker with each lease ({@link LeasedItem.traceparent}), so their step spans join the run's trace. A malformed
   * one is an `InvalidArgumentError`.
   */
  readonly traceparent?: string;
}

/**
 * The checks every backend's {@link RunInfoStore.createRun} makes before writing anything: a valid run id, workflow,
 * fingerprint, first item, deadline and traceparent, else `InvalidArgumentError`.
 */
export function assertNewRun(spec: NewRun): void {
  assertRunId(spec.runId);
  assertString(spec.workflow, 'workflow');
  assertString(spec.fingerprint, 'fingerprint');
  assertEngineItem(spec.firstItem, 'firstItem');
  if (spec.deadline !== undefined && !isEpochMs(spec.deadline)) {
    throw new InvalidArgumentError(`deadline must be an epoch-millisecond number a Date can hold (|ms| <= 8.64e15), got ${String(spec.deadline)}`);
  }
  assertTraceparent(spec.traceparent);
}

export interface CreateRunResult {
  /** false when a run with this id and the same workflow, fingerprint and input already existed (nothing written). */
  readonly created: boolean;
  readonly run: RunRecord;
}

/**
 * A position in the order of {@link RunInfoStore.listRuns} (`createdAt` descending, then `runId` descending): the
 * `createdAt` and `runId` of the last run of a page. Keyset paging: the next page starts strictly after it, so a
 * page costs the same however deep it is, and runs created meanwhile do not shift later pages.
 */
export interface RunCursor {
  readonly createdAt: number;
  readonly runId: string;
}

/** The cursor that continues a listing after `run` (the last run of a page). */
export function cursorAfter(run: Pick<RunRecord, 'createdAt' | 'runId'>): RunCursor {
  return { createdAt: run.createdAt, runId: run.runId };
}

export interface ListRunsFilter {
  readonly status?: RunStatus;
  readonly workflow?: string;
  /** At most this many runs (a positive integer); all when omitted. */
  readonly limit?: number;
  /** Only runs after this position in the listing order (the next page). See {@link RunCursor}. */
  readonly after?: RunCursor;
}

/** Throws `InvalidArgumentError` unless `cursor` is a {@link RunCursor} (an integer `createdAt`, a string `runId`). */
export function assertRunCursor(cursor: unknown): asserts cursor is RunCursor {
  const c = cursor as Partial<RunCursor> | null;
  if (typeof c !== 'object' || c === null || !Number.isSafeInteger(c.createdAt) || typeof c.runId !== 'string') {
    throw new InvalidArgumentError('a run cursor is { createdAt: integer epoch ms, runId: string }');
  }
}

/** True when `run` comes after `cursor` in the listing order (`createdAt` descending, then `runId` descending). */
export function isAfterCursor(run: Pick<RunRecord, 'createdAt' | 'runId'>, cursor: RunCursor): boolean {
  return run.createdAt < cursor.createdAt || (run.createdAt === cursor.createdAt && run.runId < cursor.runId);
}

/** The result of a guarded run transition. */
export interface RunTransition {
  /** false when the run already was in the target status (an idempotent repeat): nothing changed. */
  readonly applied: boolean;
  readonly status: RunStatus;
  /** Items discarded by this transition (cancel / fail); empty otherwise. */
  readonly dropped: readonly DroppedItem[];
}

/**
 * Run records and their guarded lifecycle. Transitions are atomic compare-and-set operations: a transition from a
 * final status throws `RunStateError` (a finished run's status is final), a repeat of the same transition is a no-op
 * with `applied: false`, an unknown run throws `RunNotFoundError`.
 */
export interface RunInfoStore {
  /**
   * Atomically creates the run record (status `running`, `createdAt` = backend now), the initial context (version 0)
   * and the first work item (pending, attempt 1), all or nothing: no worker can claim the item before the record
   * exists. Idempotent per run id: if the run exists with the same workflow, fingerprint and input (compared as
   * canonical JSON) nothing is written and `created` is false, whatever its status. A different input or workflow
   * throws `RunInputMismatchError`; a different fingerprint throws `FingerprintMismatchError`.
   * Throws `InvalidArgumentError` for a malformed run id or item id, or a value JSON cannot represent.
   */
  createRun(run: NewRun): Promise<CreateRunResult>;
  /** The run record, or `undefined` when no run has this id. */
  getRun(runId: string): Promise<RunRecord | undefined>;
  /**
   * Runs matching every given filter, newest first (`createdAt` descending, then `runId` descending: one total
   * order, so pages never overlap), at most `limit`, starting after `after` when given (keyset paging: each backend
   * reads a page through an index, whatever its depth). Throws `InvalidArgumentError` for a non-positive or
   * non-integer limit or a malformed cursor.
   */
  listRuns(filter?: ListRunsFilter): Promise<RunRecord[]>;
  /**
   * `running`/`paused` -> `cancelled`, atomically: sets `finishedAt` and `error` (a `CancelledError` with `reason`),
   * removes every queued, delayed and leased item of the run (reported as dropped, item status `dropped`) and
   * discards parked join arrivals. Commits of items that were in flight then apply nothing but their ack.
   */
  cancelRun(runId: string, reason?: string): Promise<RunTransition>;
  /**
   * `running` -> `paused`. Claims skip paused runs; items already leased may still be committed normally (including
   * a terminal, which completes the run). `paused` again is a no-op.
   */
  pauseRun(runId: string): Promise<RunTransition>;
  /** `paused` -> `running`: its items become claimable again. `running` is a no-op. */
  resumeRun(runId: string): Promise<RunTransition>;
  /**
   * `running`/`paused` -> `failed` with `error`, purging outstanding work like {@link cancelRun} (reason `failed`).
   * Used by the orchestrator for failures outside a step (e.g. a deadline no worker observed). `failed` again is a
   * no-op.
   */
  failRun(runId: string, error: SerializedError): Promise<RunTransition>;
}

// ---------------------------------------------------------------------------------------------------------------
// Work items and the queue

/**
 * An item's state. `pending`: claimable. `in_progress`: leased by a worker. `waiting_retry`: a durable retry, not
 * claimable before `notBefore`. `completed`: committed successfully. `dead_lettered`: failed for good after its
 * last attempt (the run failed; the item is listed by {@link ErrorStore.deadLetters}). `failed`: failed for good
 * because of the run, not the item (deadline, cancellation: see {@link shouldDeadLetter}). `dropped`: discarded
 * because its run finished first. `parked`: a `WaitFor` or `Sleep` item, claimable at `notBefore` (a sleep's end,
 * a wait's timeout) or, for a wait, as soon as a signal is given to it.
 */
export type WorkItemStatus = 'pending' | 'in_progress' | 'waiting_retry' | 'parked' | 'completed' | 'failed' | 'dead_lettered' | 'dropped';

/** The states of an outstanding item: what a run still holds. */
export type OutstandingStatus = 'pending' | 'in_progress' | 'waiting_retry' | 'parked';

/** Every {@link OutstandingStatus}. */
export const OUTSTANDING_STATUSES: readonly OutstandingStatus[] = ['pending', 'in_progress', 'waiting_retry', 'parked'];

/** True for the states of an outstanding item (pending, in progress, waiting retry, parked): what a run still holds. */
export function isOutstanding(status: WorkItemStatus | undefined): status is OutstandingStatus {
  return status === 'pending' || status === 'in_progress' || status === 'waiting_retry' || status === 'parked';
}

/**
 * Which of a run's outstanding items {@link WorkQueue.pendingWork} reads: a page of a run with 100,000 items waiting
 * reads the first rows it shows, and what a run waits for reads its parked items only.
 */
export interface PendingWorkOptions {
  /** Only the items in these states (default: every outstanding state). */
  readonly statuses?: readonly OutstandingStatus[];
  /** Only the first `limit` of them in enqueue order (default: all). A positive integer. */
  readonly limit?: number;
}

/** {@link PendingWorkOptions} checked, with their defaults; `InvalidArgumentError` for a status that is not outstanding or a bad limit. */
export function pendingWorkFilter(options: PendingWorkOptions = {}): { readonly statuses: readonly OutstandingStatus[]; readonly limit: number | undefined } {
  const { statuses = OUTSTANDING_STATUSES, limit } = options;
  if (!Array.isArray(statuses) || statuses.some((s) => !isOutstanding(s))) {
    throw new InvalidArgumentError(`statuses must list outstanding states (${OUTSTANDING_STATUSES.join(', ')}), got ${JSON.stringify(statuses)}`);
  }
  if (limit !== undefined) assertPositiveInt(limit, 'limit');
  return { statuses, limit };
}

export interface WorkItemState {
  readonly runId: string;
  readonly itemId: string;
  readonly node: string;
  readonly status: WorkItemStatus;
  /**
   * The attempt the item is on (1-based): 1 + the number of committed retries, from the attempt that parked it for a
   * parked item (`PlannedItem.attempt`). Lease expiry does not count.
   */
  readonly attempt: number;
  /** The worker holding (`in_progress`) or that last held the item. */
  readonly workerId: string | undefined;
  /** While `in_progress`: when the lease expires. */
  readonly leaseExpiresAt: number | undefined;
  /** While `waiting_retry` or `parked`: when it becomes claimable. */
  readonly notBefore: number | undefined;
  readonly updatedAt: number;
}

/** A work item handed to a worker under a lease. */
export interface LeasedItem {
  readonly runId: string;
  readonly workflow: string;
  readonly fingerprint: string;
  /** The run's absolute deadline, so the worker can arm its signal. */
  readonly deadline: number | undefined;
  /** The run's stored `traceparent` ({@link NewRun.traceparent}), so the worker's step spans join the run's trace. */
  readonly traceparent?: string;
  readonly item: EngineItem;
  /** The attempt this execution is (pass it as `StepEnv.attempt`). */
  readonly attempt: number;
  /** Opaque, unique per claim. Required by commit, extend and release. */
  readonly leaseToken: string;
  readonly leaseExpiresAt: number;
  /**
   * How many times this item has been claimed, this claim included (> 1 after an expired lease or a retry); a claim
   * whose lease was given back ({@link WorkQueue.release}) does not count. A parked item kept at attempt n starts with
   * n - 1, one per attempt before it, so `deliveries - attempt` counts redeliveries for every item.
   */
  readonly deliveries: number;
  /**
   * The run's context version when the item was claimed, for backends that know it at no extra cost (Redis). A
   * worker whose cached context is already at this version can skip {@link ContextStore.readContext}.
   */
  readonly contextVersion?: number;
  /**
   * The run's latest committed delta (its `version` equals `contextVersion`), for backends that read it with the
   * claim at little cost (Redis). A worker whose cached context is at `contextVersion - 1` folds it and skips
   * {@link ContextStore.readContext}. Absent when the run has no delta yet or the backend does not provide it.
   */
  readonly lastDelta?: ContextDeltaRecord;
  /**
   * The run's initial context (serialised, as {@link ContextSnapshot.initial}) when `contextVersion` is at most 1, for
   * backends that provide it (Redis): with `lastDelta` it is the whole context, so a worker that has not cached the
   * run yet needs no {@link ContextStore.readContext} for a young run.
   */
  readonly initialContext?: unknown;
  /**
   * Set when the stored item, or the context the claim carries for it, cannot be decoded (`stored-lease.ts`): the
   * error names the run, the item and what is wrong. A corrupt item comes as `{ node, id, input: null }`, the id
   * and node the store keeps beside it. The worker fails the item with this error (a dead letter, and its run
   * fails) without running it; the other items of the claim are not affected.
   */
  readonly corrupt?: CorruptStateError;
}

export interface ClaimOptions {
  /** Only claim items of runs of this workflow (a worker serves one workflow module). */
  readonly workflow?: string;
  /**
   * With `workflow`: only claim items of runs started with one of these graph fingerprints (the versions the worker
   * can execute). The store filters at claim time, so a worker never sees, let alone bounces, an item of another
   * version, and runs of a version nobody serves cost a claim nothing. Omitted: every version.
   */
  readonly fingerprints?: readonly string[];
}

/**
 * The graph versions a claim is restricted to (undefined: all). Throws `InvalidArgumentError` when `fingerprints` is
 * not a non-empty array of non-empty strings, or is given without `workflow`.
 */
export function versionFilter(options: ClaimOptions): ReadonlySet<string> | undefined {
  const f = options.fingerprints;
  if (f === undefined) return undefined;
  if (!Array.isArray(f) || f.length === 0 || f.some((x) => typeof x !== 'string' || x === '' || x.includes(','))) {
    throw new InvalidArgumentError(`fingerprints must be a non-empty array of graph fingerprints, got ${JSON.stringify(f)}`);
  }
  if (options.workflow === undefined) throw new InvalidArgumentError('fingerprints need a workflow: a claim filters the versions of one workflow');
  return new Set(f);
}

/** Options of {@link WorkQueue.release}. */
export interface ReleaseOptions {
  /** The worker cannot run the item (it serves another workflow or graph version): counted in `misrouted`. */
  readonly misrouted?: boolean;
}

/** The answer to {@link WorkQueue.extendLease}. */
export type LeaseExtension =
  /** The lease is still ours and now ends at `leaseExpiresAt`. `runStatus` may be `paused`: finish the item. */
  | { readonly status: 'extended'; readonly leaseExpiresAt: number; readonly runStatus: RunStatus }
  /**
   * The lease is gone: it expired, another worker holds the item, the item was committed, or the run finished.
   * `runStatus` (undefined for an unknown run) tells which: on `cancelled` the worker should abort the node.
   */
  | { readonly status: 'lost'; readonly runStatus: RunStatus | undefined };

/** One outstanding item of a run, as {@link WorkQueue.pendingWork} reports it. */
export interface PendingWork {
  readonly item: EngineItem;
  readonly state: WorkItemState;
  /**
   * Set when the stored item cannot be decoded (`stored-lease.ts`): the error names the run, the item and what is
   * wrong, and `item` is `{ node, id, input: null }`, the id and node the store keeps beside it. Reading never throws
   * for it; the worker that claims the item fails it (a dead letter) and its run.
   */
  readonly corrupt?: CorruptStateError;
}

/**
 * The lease-based work queue. Nothing is ever popped destructively: an item stays in the store until a commit acks
 * it, so a crashed worker loses nothing.
 */
export interface WorkQueue {
  /**
   * Leases up to `max` claimable items for `leaseMs` to `workerId`, atomically per item (no item is ever leased to
   * two workers at once). Claimable = pending items, `waiting_retry` items whose `notBefore` has passed, and
   * `in_progress` items whose lease expired (a redelivery: same attempt, `deliveries` + 1, metric `redeliveries`).
   * Only `running` runs are served: paused runs are skipped (their items stay), finished runs have no items.
   * Fairness: runs with claimable work are served round-robin, one item per run per turn, and the rotation
   * continues across calls, so one busy run never starves another. Within a run, plain pending items come out in
   * FIFO order of enqueueing. Returns `[]` when nothing is claimable (never blocks). One item's corrupt stored data
   * never fails the claim: that item comes back with {@link LeasedItem.corrupt} (decoded by `stored-lease.ts`).
   * Throws `InvalidArgumentError` for a bad worker id, `max` not a positive integer or `leaseMs` not positive.
   */
  claim(workerId: string, max: number, leaseMs: number, options?: ClaimOptions): Promise<LeasedItem[]>;
  /**
   * Extends a live lease to backend now + `leaseMs` (heartbeat while a node runs). Never revives an expired lease.
   * Also reports the run status so the worker can abort on cancel.
   */
  extendLease(runId: string, itemId: string, leaseToken: string, leaseMs: number): Promise<LeaseExtension>;
  /**
   * Gives a leased item back untouched (graceful shutdown): it is claimable again at once with the same attempt, and
   * the claim is not counted in its `deliveries` (a given-back item is no step towards `maxRedeliveries`).
   * With `misrouted`, the worker could not run it (another workflow or graph version): the run's `misrouted` metric
   * counts it. Returns false (and changes nothing) when the lease is not live any more.
   */
  release(runId: string, itemId: string, leaseToken: string, options?: ReleaseOptions): Promise<boolean>;
  /**
   * Every outstanding (pending, in progress, waiting retry, parked) item of the run in enqueue order, or those of
   * `options` (their states, the first `limit`), selected by the store: only those are read and decoded. `[]` for a
   * finished run. Throws `RunNotFoundError` for an unknown run, `InvalidArgumentError` for bad options. An item whose
   * stored JSON cannot be decoded is listed with {@link PendingWork.corrupt}, never thrown.
   */
  pendingWork(runId: string, options?: PendingWorkOptions): Promise<PendingWork[]>;
}

/** Per-item states (one per item ever enqueued, kept after completion). */
export interface WorkItemStateStore {
  /** The item's state, or `undefined` when the run has no such item. Throws `RunNotFoundError` for an unknown run. */
  itemState(runId: string, itemId: string): Promise<WorkItemState | undefined>;
  /** Every item's state in enqueue order. Throws `RunNotFoundError` for an unknown run. */
  itemStates(runId: string): Promise<WorkItemState[]>;
  /**
   * Per node, how many of the run's items are in each state, counted in the store (a run page shows them without
   * reading every item of a long run). Throws `RunNotFoundError` for an unknown run.
   */
  itemCounts(runId: string): Promise<ItemCounts>;
}

/** Per node name, how many of a run's items are in each state (states without items are absent). */
export type ItemCounts = Record<string, Partial<Record<WorkItemStatus, number>>>;

/** Adds `n` items of `node` in `status` to `counts` (how every backend builds its {@link ItemCounts}). */
export function countItem(counts: ItemCounts, node: string, status: WorkItemStatus, n = 1): void {
  const byStatus = (counts[node] ??= {});
  byStatus[status] = (byStatus[status] ?? 0) + n;
}

// ---------------------------------------------------------------------------------------------------------------
// Context

/** One committed context delta. */
export interface ContextDeltaRecord {
  /** 1 for the first committed delta, then 2, 3... (version 0 is the initial context). */
  readonly version: number;
  /** The item whose commit appended it (a commit appends at most one delta). */
  readonly itemId: string;
  readonly delta: ContextDelta;
}

export interface ContextSnapshot {
  /** The initial context; present only when `sinceVersion` was omitted. */
  readonly initial?: unknown;
  /** The deltas newer than `sinceVersion`, oldest first. Fold them over the cached context in this order. */
  readonly deltas: readonly ContextDeltaRecord[];
  /** The latest version: the new cache key. */
  readonly version: number;
}

/**
 * The run's context as the initial value plus an append-only, ordered list of deltas. Deltas are appended only by
 * {@link StepCommitter.commitStep}, atomically with the step they belong to, so a replayed step adds nothing.
 */
export interface ContextStore {
  /**
   * Without `sinceVersion`: the initial context and every delta. With it: only deltas with a greater version (so a
   * worker holding the folded context at `sinceVersion` stays current cheaply). With `options.limit`: only the newest
   * `limit` of those deltas (to show them: the first one's version is then above `sinceVersion` + 1, so they do not
   * fold onto the initial context). Throws `InvalidArgumentError` when `sinceVersion` is negative, not an integer or
   * greater than the current version, or `limit` is not a positive integer; `RunNotFoundError` for an unknown run.
   * Works for finished runs too.
   */
  readContext(runId: string, sinceVersion?: number, options?: TailOptions): Promise<ContextSnapshot>;
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics, errors, liveness

/** A run's counters, maintained atomically inside the operations that cause them (never read-modify-write). */
export interface RunMetrics {
  /** Items ever enqueued (the first item, successors, join items). */
  readonly enqueued: number;
  /** Items committed with a `continue` or `terminal` outcome. */
  readonly completed: number;
  /** Durable retries scheduled. */
  readonly retries: number;
  /** Items that failed for good (`failed` outcome). */
  readonly failed: number;
  /** Of those, the ones dead-lettered. */
  readonly deadLettered: number;
  /** Items discarded because the run finished. */
  readonly dropped: number;
  /** Claims of items whose previous lease had expired. */
  readonly redeliveries: number;
  /**
   * Items given back by a worker that could not run them (another workflow or graph version than it serves: see
   * {@link WorkQueue.release}). Zero when workers claim with {@link ClaimOptions.fingerprints}.
   */
  readonly misrouted: number;
  /** User counters: the sums of every applied commit's `counters`. */
  readonly counters: Readonly<Record<string, number>>;
}

/** The metrics of a run that did nothing yet. */
export function emptyMetrics(): RunMetrics {
  return { enqueued: 0, completed: 0, retries: 0, failed: 0, deadLettered: 0, dropped: 0, redeliveries: 0, misrouted: 0, counters: {} };
}

export interface MetricsStore {
  /** The run's counters (zeros for a run that did nothing yet). Throws `RunNotFoundError` for an unknown run. */
  metrics(runId: string): Promise<RunMetrics>;
}

/** A failure stored as data. */
export interface ErrorRecord {
  readonly itemId: string;
  readonly node: string;
  /** The attempt that failed. */
  readonly attempt: number;
  readonly error: SerializedError;
  /**
   * `retry`: a retry was scheduled; `fallback`: the node failed for good and its fallbacks took the item (the run goes
   * on); `signal`: a wait refused the signal it took, whose payload failed its check (a `SignalRefusedError`: the wait
   * goes on waiting, at the same attempt and timeout); `failure`: the item failed for good and failed the run;
   * `worker`: recorded by a worker outside a commit.
   */
  readonly kind: 'retry' | 'fallback' | 'signal' | 'failure' | 'worker';
  readonly at: number;
}

/** An item that exhausted its attempts. */
export interface DeadLetter {
  readonly item: EngineItem;
  readonly attempts: number;
  readonly error: SerializedError;
  readonly at: number;
}

export interface ErrorStore {
  /**
   * The run's errors, oldest first (append-only); with `options.limit`, the newest `limit` of them. Throws
   * `RunNotFoundError` for an unknown run, `InvalidArgumentError` for a `limit` that is not a positive integer.
   */
  errors(runId: string, options?: TailOptions): Promise<ErrorRecord[]>;
  /**
   * Appends an error that no commit records (e.g. a worker could not decode an item). `at` is the backend's now.
   * Throws `RunNotFoundError` for an unknown run. Allowed on finished runs.
   */
  recordError(runId: string, record: Omit<ErrorRecord, 'at' | 'kind'>): Promise<void>;
  /** The run's dead-lettered items, oldest first; with `options.limit`, the newest `limit` of them (as {@link errors}). */
  deadLetters(runId: string, options?: TailOptions): Promise<DeadLetter[]>;
}

/** What a worker reports about itself with each heartbeat. */
export interface WorkerHealth {
  readonly status: 'idle' | 'busy' | 'stopping';
  /** Items it holds right now. */
  readonly current: ReadonlyArray<{ readonly runId: string; readonly itemId: string }>;
  /** Items it committed since it started. */
  readonly processed: number;
  /** Failed attempts (retries and failures) since it started. */
  readonly errors: number;
  /** Free-form details (host, pid, version...). */
  readonly info?: Readonly<Record<string, string>>;
}

/** `alive`: seen within the threshold; `stale`: within 3x; `dead`: older. */
export type Liveness = 'alive' | 'stale' | 'dead';

/** Classifies a heartbeat age (Floxide's rule: `< t` alive, `< 3t` stale, else dead). */
export function classifyLiveness(lastSeen: number, now: number, thresholdMs: number): Liveness {
  const age = now - lastSeen;
  if (age < thresholdMs) return 'alive';
  if (age < 3 * thresholdMs) return 'stale';
  return 'dead';
}

export interface WorkerRecord {
  readonly workerId: string;
  /** Backend time of the last heartbeat. */
  readonly lastSeen: number;
  readonly health: WorkerHealth;
  readonly liveness: Liveness;
}

/** Default threshold for {@link classifyLiveness} in {@link LivenessStore.listWorkers}. */
export const DEFAULT_LIVENESS_THRESHOLD_MS = 10_000;

export interface LivenessStore {
  /** Records that `workerId` is alive now (backend clock) with `health`, replacing its previous health. */
  heartbeat(workerId: string, health: WorkerHealth): Promise<void>;
  /**
   * Every worker that heartbeated and was not removed, sorted by worker id, classified against the backend's now
   * with `thresholdMs` (default {@link DEFAULT_LIVENESS_THRESHOLD_MS}).
   */
  listWorkers(options?: { readonly thresholdMs?: number }): Promise<WorkerRecord[]>;
  /** Forgets a worker (graceful stop). Returns false when it was unknown. */
  removeWorker(workerId: string): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------------------------
// The step commit

/** One step's effects, committed atomically and idempotently. */
export interface StepCommit {
  readonly runId: string;
  /** The consumed item: the idempotency key of the commit. */
  readonly itemId: string;
  /** The consumed item's node (only named in the `NoTerminalReachedError` of a step that passed nothing on). */
  readonly node?: string;
  /** The token of the lease under which the step ran. */
  readonly leaseToken: string;
  /**
   * What the step produced (the engine's {@link StepOutcome}):
   * - `continue`: ack the item (`completed`), enqueue `items` (ids already known in the run are skipped), park
   *   `arrivals` (enqueueing each group's settlement item `<group>:join`, the parked arrivals as stored, exactly once
   *   when its last arrival lands: see `engine/joins.ts`) and append `delta`; with `error` (the failure its fallbacks
   *   took), record it (kind `fallback`) and in the step's history. If afterwards the run has no outstanding
   *   item at all, it fails with `NoTerminalReachedError` (`engine/commit.ts` `noTerminalError`).
   * - `terminal`: ack the item, append `delta`, complete the run with `output`; `items`/`arrivals` and every other
   *   outstanding item are dropped (reason `terminal`) and reported.
   * - `retry`: the item waits (`waiting_retry`) until backend now + `delayMs`, attempt + 1; the error is recorded.
   *   No delta (a failed attempt's context writes are discarded).
   * - `failed`: the item is dead-lettered (or `failed`, see {@link shouldDeadLetter}), the error recorded, and the
   *   run fails with `error`, dropping its outstanding work (reason `failed`).
   * The lease's attempt is authoritative; the outcome's `attempt`/`attempts` fields are not consulted.
   */
  readonly outcome: StepOutcome;
  /** User counter increments, summed into {@link RunMetrics.counters} when (and only when) the commit applies. */
  readonly counters?: Readonly<Record<string, number>>;
  /**
   * Successor hand-off: asks the backend to lease the step's successor to `workerId` in the same atomic operation,
   * so the worker runs it next without a claim round trip (and with the context it already holds). Granted only
   * when the commit applies a `continue` outcome that enqueues exactly one new item and no arrival, the run is
   * `running`, and the run has no other item waiting to be claimed (so the successor jumps no queue of its own run,
   * and a run with work waiting keeps being served round-robin). The grant is an ordinary lease (first delivery,
   * at the item's attempt, a fresh token, `leaseMs` long), answered as {@link CommitResult} `next`; otherwise the item is
   * enqueued as usual and `next` is absent. A backend may always decline (it never has to hand off). Workers bound
   * how many hand-offs in a row one chain gets, so other runs waiting for a slot are not starved.
   */
  readonly handoff?: {
    readonly workerId: string;
    readonly leaseMs: number;
    /**
     * The graph version the step ran on (the lease's fingerprint): the hand-off is granted only while the run is
     * still on it, so a run moved to another version meanwhile ({@link RunMigrator.migrate}) goes to that version's
     * workers. Omitted: not checked.
     */
    readonly fingerprint?: string;
  };
  /**
   * With a `failed` outcome only, for a lease whose stored item could not be decoded ({@link LeasedItem.corrupt}):
   * the item its dead letter keeps instead of the stored text (the lease's `{ node, id, input: null }`), so that
   * {@link ErrorStore.deadLetters} stays readable. Its id must be the commit's `itemId`.
   */
  readonly deadLetterItem?: EngineItem;
}

/** A run's life as the commit that finished it answers it ({@link CommitResult} `finished`): the run record's fields. */
export interface RunEnd {
  readonly createdAt: number;
  /** The commit's time (the backend's clock). */
  readonly finishedAt: number;
  /** Why the run failed, as its record keeps it (absent for a completed run). */
  readonly error?: SerializedError;
}

/** The answer to {@link StepCommitter.commitStep}. */
export type CommitResult =
  /** Everything was applied. */
  | {
      readonly status: 'applied';
      /** The run's status after the commit. */
      readonly runStatus: RunStatus;
      /** Ids of the items this commit enqueued (successors not seen before, then settlement items). */
      readonly enqueued: readonly string[];
      /** Settlement items (`<group>:join`, see `engine/joins.ts`) enqueued by this commit: the groups it completed. */
      readonly joined: readonly EngineItem[];
      /** Items discarded because this commit finished the run. */
      readonly dropped: readonly DroppedItem[];
      /** The context version after the commit. */
      readonly contextVersion: number;
      /** The successor, leased to the committing worker when it asked for a hand-off and got it ({@link StepCommit.handoff}). */
      readonly next?: LeasedItem;
      /**
       * Set exactly when this commit finished the run (`runStatus` is final): what the run record now says of its
       * life, so that a traced worker records the run's span without reading the record back.
       */
      readonly finished?: RunEnd;
    }
  /** This item (this lease, or any lease for a final item state) was already committed: nothing applied. */
  | { readonly status: 'duplicate' }
  /** The run is final (cancelled, failed or completed): the item was only acked, nothing else applied. */
  | { readonly status: 'run_finished'; readonly runStatus: RunStatus }
  /** The lease expired or another worker holds the item: nothing applied. */
  | { readonly status: 'lease_lost' };

export interface StepCommitter {
  /**
   * Applies one step's effects in ONE atomic operation (one Lua script, one SQL transaction), checked in this
   * order: (1) the item was already committed (its state is `completed`, `failed` or `dead_lettered`, or this very
   * lease token already committed a retry) -> `duplicate`; (2) the run is final -> `run_finished` (the lease, if any, is released); (3) the lease token is not
   * the item's current, unexpired lease -> `lease_lost`; (4) apply everything (see {@link StepCommit.outcome}),
   * including item states, metrics, errors and the run's completion or failure. Concurrent commits never interleave:
   * of N commits each parking one arrival of a group of N, exactly one creates the join item.
   * Throws `RunNotFoundError` for an unknown run, `InvalidArgumentError` for malformed input (bad ids, negative
   * delay, arrivals whose `size` disagrees with their group's), changing nothing.
   */
  commitStep(commit: StepCommit): Promise<CommitResult>;
}

/**
 * The answer for one commit of a batch ({@link BatchStepCommitter.commitSteps}): the commit's {@link CommitResult},
 * or the typed error `commitStep` would have thrown for it alone (`RunNotFoundError`, `InvalidArgumentError`).
 */
export type BatchCommitResult =
  | { readonly ok: true; readonly result: CommitResult }
  | { readonly ok: false; readonly error: Error };

/**
 * Optional: many step commits in one round trip. A backend that implements it lets a busy worker send the commits
 * of several finished items together (one Lua call, one SQL round trip) instead of one request each.
 */
export interface BatchStepCommitter {
  /**
   * Applies each commit exactly as {@link StepCommitter.commitStep} would, in array order, and answers one
   * {@link BatchCommitResult} per commit at the same index. The batch is only a transport: each commit stays
   * independently atomic (all of its effects or none) and idempotent per item id, checked in `commitStep`'s order
   * (duplicate, run finished, lease lost, apply). Commits of the same run in one batch see each other's effects as
   * if sent one after the other (e.g. two arrivals of one group in one batch create the join item once; the second
   * commit of the same item and lease answers `duplicate`). A commit that is invalid or names an unknown run gets
   * `{ ok: false, error }` with the error `commitStep` would throw, and changes nothing, while the others still
   * apply: the batch as a whole is NOT atomic. An empty array answers `[]` without touching the store.
   * Rejects (with `StoreError`) only when the store cannot be reached: then any subset of the commits may have been
   * applied, and the caller retries them (each retry of an applied commit answers `duplicate`).
   */
  commitSteps(commits: readonly StepCommit[]): Promise<BatchCommitResult[]>;
}

/** True when `backend` implements the optional {@link BatchStepCommitter.commitSteps}. */
export function supportsBatchCommit(backend: DistributedBackend): backend is DistributedBackend & BatchStepCommitter {
  return typeof (backend as Partial<BatchStepCommitter>).commitSteps === 'function';
}

// ---------------------------------------------------------------------------------------------------------------
// Retention


/**
 * A backend that deletes its finished runs only when asked (Postgres; Redis expires them by itself). A `Worker`
 * asks every `purgeEveryMs`, so what is stored stays bounded by the retention without anyone calling it.
 */
export interface FinishedRunPurger {
  /**
   * Deletes runs that finished at least `olderThanMs` ago with everything stored for them (history and events
   * included), at most `limit` per call, oldest first, and returns how many it deleted. Safe from many processes at once.
   */
  purgeFinished(options?: PurgeOptions): Promise<number>;
}

/** True when `backend` deletes finished runs only when asked ({@link FinishedRunPurger}). */
export function supportsPurge<T extends object>(store: T): store is T & FinishedRunPurger {
  return typeof (store as Partial<FinishedRunPurger>).purgeFinished === 'function';
}

// ---------------------------------------------------------------------------------------------------------------
// Seeing runs: step history and events

/**
 * A backend that keeps each run's step history and publishes its events (the `WorkflowEvent` union of
 * `engine/events.ts`). The backend records both inside the operations they describe, atomically with them:
 * `run.created` with {@link RunInfoStore.createRun}; `step.started` with each lease ({@link WorkQueue.claim}, a
 * hand-off), attempt and worker of the lease; `step.finished` / `step.retry` and a {@link StepRecord} in the history
 * with each applied commit (`startedAt` = when the item was leased, `finishedAt` = the commit, both the backend's
 * clock); `run.completed` / `run.failed` / `run.cancelled` when the run becomes final; `run.paused` / `run.resumed`
 * with an applied pause / resume. A commit that applies nothing (duplicate, lease lost, run finished) reports nothing.
 * Events of one run are delivered in the order these operations applied.
 */
export interface RunObserver extends StepHistoryReader, EventSubscriber {}

/** True when `backend` implements {@link RunObserver} (the memory, Redis and Postgres backends do; a SQLite file's runs too). */
export function supportsObservation<B extends object = DistributedBackend>(backend: B): backend is B & RunObserver {
  const b = backend as Partial<RunObserver>;
  return typeof b.stepHistory === 'function' && typeof b.subscribe === 'function';
}

/**
 * Signals for `WaitFor` nodes, and parked items (waits and sleeps): the memory, Redis and Postgres backends keep
 * them. Optional for other backends (the orchestrator's `signal` refuses a backend without it).
 */
export interface SignalReceiver {
  /**
   * Delivers signal `name` (JSON `payload`) to run `runId`, atomically: to its oldest wait item of that name (now
   * claimable, with the signal as its `received`), else into the run's mailbox, where the next such wait takes it
   * when it parks. Answers which, from that same operation (`SignalReceipt`: the wait's `itemId`, or `kept`), or
   * `duplicate` (nothing changes) when the run already received `key` with the same name and payload digest (or kept
   * it before digests), even once it finished; `SignalKeyConflictError` (nothing changes) when it received `key` with
   * another name or payload (`keyConflict` in core/signal-plan.ts).
   * Throws `RunNotFoundError`, or `RunStateError` for a finished run (and a key it never received) or, with
   * `options.workflow`, a run of another workflow (checked in the same atomic operation: nothing changes).
   */
  signal(runId: string, name: string, payload: unknown, key?: string, options?: SignalReceiverOptions): Promise<SignalReceipt>;
  /** Signals in the run's mailbox (no wait took them yet), oldest first. */
  pendingSignals(runId: string): Promise<PendingSignal[]>;
}

/** Options of {@link SignalReceiver.signal}. */
export interface SignalReceiverOptions {
  /** The workflow the run must be a run of (the sender's): another one is `RunStateError`. */
  readonly workflow?: string;
}

/** True when `backend` implements {@link SignalReceiver}. */
export function supportsSignals<B extends object = DistributedBackend>(backend: B): backend is B & SignalReceiver {
  return typeof (backend as Partial<SignalReceiver>).signal === 'function';
}

/**
 * A backend's move of an open run to another graph version ({@link RunMigrator.migrate}): the run's pending items
 * are renamed and its fingerprint set, so that workers of `to` claim it from then on.
 */
export interface RunMigration extends VersionMove {
  /**
   * The ids of every outstanding item (pending, leased, waiting retry, parked) the caller judged. When given, the
   * store refuses with `MigrationChangedError` (writing nothing) unless the run's outstanding items are exactly
   * these: a commit that ran between the judgement and the move is never moved unjudged. Omitted: not checked.
   */
  readonly expect?: readonly string[];
  /**
   * Items of the run leased to a worker: `keep` (their holders' commits stay valid on `to`: the move is a safe
   * change, see docs/deploying.md) or `block` (refused with `MigrationBlockedError` listing them, nothing written:
   * an old version's commit could enqueue items for nodes `to` renamed or removed). Default `block`.
   */
  readonly leases?: 'keep' | 'block';
}

/** Throws `InvalidArgumentError` unless `m` is a {@link RunMigration} (every backend's `migrate` checks it first). */
export function assertMigration(m: RunMigration): void {
  if (typeof m !== 'object' || m === null) throw new InvalidArgumentError('a migration is { from, to, renames, expect?, leases?, workerId? }');
  assertString(m.from, 'from');
  assertString(m.to, 'to');
  const r = m.renames as unknown;
  if (typeof r !== 'object' || r === null || Array.isArray(r) || Object.entries(r).some(([k, v]) => k === '' || typeof v !== 'string' || v === '')) {
    throw new InvalidArgumentError('renames must map node names to node names');
  }
  if (m.expect !== undefined && (!Array.isArray(m.expect) || m.expect.some((id) => typeof id !== 'string'))) throw new InvalidArgumentError('expect must be an array of item ids');
  if (m.leases !== undefined && m.leases !== 'keep' && m.leases !== 'block') throw new InvalidArgumentError(`leases must be 'keep' or 'block', got ${JSON.stringify(m.leases)}`);
  if (m.workerId !== undefined) assertString(m.workerId, 'workerId');
}

/** One parked join arrival, as {@link RunMigrator.parkedArrivals} reports it. */
export interface ParkedArrival {
  readonly group: string;
  /** Its join node; undefined for a held item. */
  readonly node: string | undefined;
}

/**
 * Moving open runs between graph versions (`floxide runs migrate`, and workers that accept an older version): the
 * memory, Redis and Postgres backends implement it. What is type-safe is the compiler's judgement
 * (`compiler/versions/migrate.ts` `migrateRun`, over {@link migratableBackend}); the backend applies it atomically.
 */
export interface RunMigrator {
  /** The run's parked join arrivals (groups not complete yet). Throws `RunNotFoundError` for an unknown run. */
  parkedArrivals(runId: string): Promise<ParkedArrival[]>;
  /**
   * One atomic operation (one Lua script, one SQL function): checks that the run is open (`running` or `paused`,
   * else `RunStateError`), on `from` (else `FingerprintMismatchError`), that its outstanding items are the ones
   * judged ({@link RunMigration.expect}, else `MigrationChangedError`) and, unless `leases` is `keep`, that none is
   * leased (else `MigrationBlockedError` naming them and their workers); then renames the pending items' nodes
   * ({@link renamedItem}) and sets the run's fingerprint (Redis: the run moves to the claim ring of `to`; Postgres:
   * its rotation row's version). Nothing is written when a check fails.
   */
  migrate(runId: string, migration: RunMigration): Promise<void>;
}

/** True when `backend` implements {@link RunMigrator}. */
export function supportsMigration<B extends object = DistributedBackend>(backend: B): backend is B & RunMigrator {
  return typeof (backend as Partial<RunMigrator>).parkedArrivals === 'function' && typeof (backend as Partial<RunMigrator>).migrate === 'function';
}

/** What workers and the orchestrator use: every store, one backend. */
export interface DistributedBackend
  extends WorkQueue,
    ContextStore,
    RunInfoStore,
    MetricsStore,
    ErrorStore,
    LivenessStore,
    WorkItemStateStore,
    StepCommitter {
  /** e.g. `memory`, `redis`, `postgres`. */
  readonly kind: string;
  /** Releases connections. Idempotent; afterwards every operation rejects with `StoreError`. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Schedules

/** What happens to ticks no scheduler fired in time (see `schedule-rules.ts` `planTicks` and docs/schedules.md). */
export const CATCH_UP_POLICIES = ['none', 'latest', 'all'] as const;
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

/** A schedule as users define it: start a run of `workflow` with `input` on every tick of `cron`. */
export interface ScheduleDefinition {
  /** 1-64 characters of `[A-Za-z0-9._-]`; the key of the schedule (defining it again updates it). */
  readonly id: string;
  /** The workflow (class) name; workers serving it start the runs. */
  readonly workflow: string;
  /** A cron expression of 5 fields (minute precision) or 6 (seconds first), as croner reads it. */
  readonly cron: string;
  /** IANA time zone the expression is read in (default UTC). */
  readonly timezone?: string;
  /** The input of every run (JSON; default `null`). Runs start with the workflow's default context. */
  readonly input?: unknown;
  /** Missed ticks: `none` skips them, `latest` (default) starts one run for the most recent, `all` starts them all. */
  readonly catchUp?: CatchUpPolicy;
  /** With `all`: at most this many catch-up runs at once, the most recent ticks (default 100). */
  readonly catchUpLimit?: number;
  /** A tick seen by a scheduler less than this late (ms) is on time, not missed (default 10 000). */
  readonly graceMs?: number;
  /** Create the schedule paused (only read when it is created; use pause/resume afterwards). */
  readonly paused?: boolean;
}

/** A stored schedule. */
export interface ScheduleRecord {
  readonly id: string;
  readonly workflow: string;
  readonly cron: string;
  readonly timezone: string | undefined;
  readonly input: unknown;
  readonly catchUp: CatchUpPolicy;
  readonly catchUpLimit: number;
  readonly graceMs: number;
  readonly paused: boolean;
  /** Every tick at or before this time (epoch ms) is handled: fired or skipped. Set to now on creation and when the cron or time zone changes. */
  readonly cursor: number;
  /** When the schedule was last resumed: ticks up to then fell during the pause and count as missed. */
  readonly resumedAt: number | undefined;
  /** The last tick a run was started for, and that run's id. */
  readonly lastTickAt: number | undefined;
  readonly lastRunId: string | undefined;
  /** Ticks skipped by the catch-up policy, in total. */
  readonly skipped: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A scheduler's move of a schedule's cursor ({@link ScheduleStore.advanceSchedule}). */
export interface ScheduleAdvance {
  /** The new cursor. */
  readonly cursor: number;
  /** The last tick fired by this move and its run, when it fired any. */
  readonly lastTickAt?: number;
  readonly lastRunId?: string;
  /** Ticks this move skipped. */
  readonly skipped: number;
}

/**
 * Schedules, kept in the backend so that every worker of a workflow sees them. Scheduling itself happens in the
 * workers (`scheduler.ts`): a store only keeps records and moves cursors atomically. Unknown ids are
 * `ScheduleNotFoundError` (except {@link getSchedule}, `undefined`, and {@link removeSchedule}, false).
 */
export interface ScheduleStore {
  /**
   * Creates the schedule (cursor = backend now) or updates it: every defined field is replaced, the paused state is
   * kept, and the cursor moves to now when the timing changed (a new expression never back-fills): an expression and
   * time zone of the same ticks, written otherwise (`schedule-rules.ts` `scheduleTiming`: `@hourly` for `0 * * * *`, no
   * zone for `UTC`), keep it, as does the same definition added again by every deploy. Throws `InvalidScheduleError` for a cron expression or time zone croner refuses and
   * `InvalidArgumentError` for other bad fields, changing nothing.
   */
  putSchedule(def: ScheduleDefinition): Promise<ScheduleRecord>;
  getSchedule(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule (of `workflow`, when given), ordered by id. */
  listSchedules(filter?: { readonly workflow?: string }): Promise<ScheduleRecord[]>;
  /** The schedules of `workflow` that are not paused, and the backend's clock now (epoch ms). */
  dueSchedules(workflow: string): Promise<{ readonly now: number; readonly schedules: ScheduleRecord[] }>;
  /** Stops the schedule's ticks (its cursor stays where it is). Pausing a paused schedule changes nothing. */
  pauseSchedule(id: string): Promise<ScheduleRecord>;
  /** Restarts a paused schedule (`resumedAt` = now: the ticks it missed follow its catch-up policy). */
  resumeSchedule(id: string): Promise<ScheduleRecord>;
  /** Deletes the schedule (runs it started are kept). False when there was none. */
  removeSchedule(id: string): Promise<boolean>;
  /**
   * Compare-and-set of the cursor: applies `advance` only when the schedule exists, is not paused and its cursor is
   * still `from`. True when applied; false when another scheduler moved it first (or it was paused or removed).
   */
  advanceSchedule(id: string, from: number, advance: ScheduleAdvance): Promise<boolean>;
}

/** True when `backend` keeps schedules ({@link ScheduleStore}). */
export function supportsSchedules(backend: DistributedBackend): backend is DistributedBackend & ScheduleStore {
  return typeof (backend as Partial<ScheduleStore>).putSchedule === 'function';
}

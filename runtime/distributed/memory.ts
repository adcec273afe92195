/**
 * The in-memory distributed backend: the reference implementation of `contracts.ts` for tests and single-process
 * use. Every operation runs to completion synchronously inside one JavaScript turn, which makes it atomic the way
 * a Lua script or a SQL transaction is. Values are stored as canonical JSON text and parsed on the way out, so
 * nothing is shared with callers (Floxide's in-memory stores shared live objects: bug B13).
 */
import {
  CancelledError,
  InvalidArgumentError,
  StoreError,
  serializeError,
  type SerializedError,
} from '../core/errors.js';
import { ParkedGroups } from '../engine/joins.js';
import { migratedEvent, renamedItem } from '../engine/migration.js';
import { EventFeed } from '../engine/feed.js';
import type { EventEnvelope, StepRecord, SubscribeOptions, WorkflowEvent } from '../engine/events.js';
import { assertPositiveInt, assertPositiveMs, assertSerializedError, assertString, tailLimit, tailOf, type TailOptions } from '../core/validate.js';
import { decodeRunRecord } from './stored-run.js';
import type { EngineItem } from '../engine/types.js';
import type { PlannedItem } from '../engine/commit.js';
import { DUPLICATE_SIGNAL, deliveredTo, type PendingSignal, type SignalReceipt } from '../engine/parked.js';
import {
  assertNewRun,
  countItem,
  type ItemCounts,
  DEFAULT_LIVENESS_THRESHOLD_MS,
  classifyLiveness,
  emptyMetrics,
  isFinalRunStatus,
  assertRunStatus,
  assertRunCursor,
  isAfterCursor,
  type BatchCommitResult,
  type BatchStepCommitter,
  type ClaimOptions,
  type ReleaseOptions,
  type CommitResult,
  type ContextSnapshot,
  type CreateRunResult,
  type DeadLetter,
  type DistributedBackend,
  type DropReason,
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
} from './contracts.js';
import { assertItemId, assertRunId, assertWorkerId, canonicalJson, parseStoredJson, runInputJson, storedJson } from '../core/ids.js';
import { replyError, runEndOf } from './replies.js';
import { planStepCommit } from './step-commit.js';
import { decodeLease, decodeStoredDelta, decodeStoredWork } from './stored-lease.js';
import { planSignal, repeatedSignal, type KeptSignalKey } from '../core/signal-plan.js';
import { assertScheduleAdvance, assertScheduleId, normalizeSchedule, scheduleTiming } from './schedule-rules.js';
import { MAX_EPOCH_MS } from '../core/time.js';

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** The backend's clock (epoch ms). Inject a manual clock to test leases and delays without waiting. */
  readonly clock?: () => number;
  /** How many of the newest events the backend keeps for subscribers (default 100,000). */
  readonly eventRetention?: number;
}

interface MemItem {
  readonly itemId: string;
  /** Rewritten by a migration's renames. */
  node: string;
  /** Rewritten once for a parked wait: its signal is added as `received`. */
  json: string;
  status: WorkItemStatus;
  attempt: number;
  deliveries: number;
  workerId: string | undefined;
  leaseToken: string | undefined;
  leaseExpiresAt: number | undefined;
  /** When the current (or last) lease was granted: the attempt's start in the step history. */
  leasedAt: number;
  notBefore: number | undefined;
  /** The last claim's lease expired before a commit: the next claim is a redelivery. */
  expired: boolean;
  /** Lease tokens whose commit was applied (retries keep the item alive, so the token marks the replay). */
  readonly committedTokens: Set<string>;
  updatedAt: number;
  /** While `parked` waiting for a signal: its name. */
  wait: string | undefined;
}

interface MemRun {
  readonly runId: string;
  readonly workflow: string;
  /** Set by a migration. */
  fingerprint: string;
  /** Set by the first migration (its `from`). */
  startedOn: string | undefined;
  /** Set by every migration. */
  migratedAt: number | undefined;
  readonly inputJson: string;
  readonly contextJson: string;
  readonly createdAt: number;
  readonly deadline: number | undefined;
  readonly traceparent: string | undefined;
  status: RunStatus;
  updatedAt: number;
  finishedAt: number | undefined;
  outputJson: string | undefined;
  error: SerializedError | undefined;
  dropped: DroppedItem[];
  readonly deltas: Array<{ version: number; itemId: string; json: string }>;
  /** Every item ever enqueued, in enqueue order. */
  readonly items: Map<string, MemItem>;
  /** Claimable item ids, FIFO. */
  ready: string[];
  readonly leased: Set<string>;
  readonly delayed: Set<string>;
  /** Parked join arrivals (their stored JSON) by group. */
  readonly groups: ParkedGroups;
  readonly metrics: { -readonly [K in keyof RunMetrics]: K extends 'counters' ? Record<string, number> : number };
  readonly errors: string[];
  readonly deadLetters: string[];
  /** The step history: one StepRecord (JSON) per applied commit, oldest first. */
  readonly history: string[];
  /** Parked waits without their signal: item ids by signal name, oldest first. */
  readonly waits: Map<string, string[]>;
  /** Signals no wait took yet, oldest first (payload as JSON). */
  mailbox: Array<{ name: string; payload: string; key: string | undefined; at: number }>;
  /** Idempotency keys of every signal the run received, each with the name and payload digest it first came with. */
  readonly signalKeys: Map<string, KeptSignalKey>;
}


/** A parked wait item's JSON with its signal: `received: { payload }` added (the engine routes the payload on). */
function withSignal(itemJson: string, payloadJson: string): string {
  return `${itemJson.slice(0, -1)},"received":{"payload":${payloadJson}}}`;
}

function copy<T>(json: string, what: string): T {
  return parseStoredJson<T>(json, what);
}

/** An error record as canonical JSON, the error given as stored JSON text. */
function errorRecordJson(it: { readonly itemId: string; readonly node: string }, attempt: number, errorJson: string, kind: ErrorRecord['kind'], at: number): string {
  return `{"at":${at},"attempt":${attempt},"error":${errorJson},"itemId":${JSON.stringify(it.itemId)},"kind":"${kind}","node":${JSON.stringify(it.node)}}`;
}

/**
 * A {@link DistributedBackend} kept in this process's memory. Several workers (async loops) in one process can share
 * one instance; it is not shared across processes.
 */
export class MemoryBackend implements DistributedBackend, BatchStepCommitter, ScheduleStore, RunObserver, SignalReceiver, RunMigrator {
  readonly kind = 'memory';
  private readonly clock: () => number;
  private readonly runs = new Map<string, MemRun>();
  /** Non-final runs in creation order: the round-robin ring. */
  private ring: string[] = [];
  /** The run served last; the next claim starts after it. */
  private lastServed: string | undefined;
  private readonly workers = new Map<string, { lastSeen: number; json: string }>();
  /** Schedules as canonical JSON of their record, by id. */
  private readonly schedules = new Map<string, string>();
  private tokenSeq = 0;
  private closed = false;
  private readonly feed: EventFeed;

  constructor(options: MemoryBackendOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.feed = new EventFeed({ retention: options.eventRetention });
  }

  // ---- RunObserver

  async stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]> {
    this.open();
    const limit = tailLimit(options);
    return tailOf(this.runOrThrow(runId).history, limit).map((h) => copy<StepRecord>(h, 'step record'));
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<EventEnvelope> {
    this.open();
    if (options.runId !== undefined) assertRunId(options.runId);
    return this.feed.subscribe(options);
  }

  /** Records a finished attempt in the run's history and publishes its event. */
  private stepFinished(run: MemRun, it: MemItem, now: number, outcome: StepRecord['outcome'], errorJson: string | undefined, delayMs?: number): void {
    const error = errorJson === undefined ? undefined : copy<SerializedError>(errorJson, 'error');
    const step = { runId: run.runId, node: it.node, itemId: it.itemId, attempt: it.attempt, workerId: it.workerId, startedAt: it.leasedAt, at: now };
    const record: StepRecord = { runId: run.runId, node: it.node, itemId: it.itemId, attempt: it.attempt, workerId: it.workerId, startedAt: it.leasedAt, finishedAt: now, outcome, error };
    run.history.push(JSON.stringify(record));
    if (outcome === 'retry') this.feed.append({ ...step, type: 'step.retry', delayMs: delayMs!, error: error! });
    else this.feed.append({ ...step, type: 'step.finished', outcome, error });
  }

  private publish(event: WorkflowEvent): void {
    this.feed.append(event);
  }

  // ---- lifecycle

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(): void {
    if (this.closed) throw replyError({ code: 'closed', backend: 'memory' });
  }

  private runOrThrow(runId: string): MemRun {
    assertRunId(runId);
    const run = this.runs.get(runId);
    if (!run) throw replyError({ code: 'not_found', runId });
    return run;
  }

  // ---- RunInfoStore

  async createRun(spec: NewRun): Promise<CreateRunResult> {
    this.open();
    assertNewRun(spec);
    const inputJson = runInputJson(spec.input);
    const existing = this.runs.get(spec.runId);
    if (existing) {
      if (existing.workflow !== spec.workflow) {
        throw replyError({ code: 'workflow_mismatch', runId: spec.runId, workflow: spec.workflow, existing: existing.workflow });
      }
      if (existing.fingerprint !== spec.fingerprint) {
        throw replyError({ code: 'fingerprint_mismatch', runId: spec.runId, fingerprint: spec.fingerprint, existing: existing.fingerprint });
      }
      if (existing.inputJson !== inputJson) throw replyError({ code: 'input_mismatch', runId: spec.runId });
      return { created: false, run: this.recordOf(existing) };
    }
    const contextJson = storedJson(spec.context ?? null);
    const itemJson = storedJson(spec.firstItem);
    const now = this.clock();
    const run: MemRun = {
      runId: spec.runId,
      workflow: spec.workflow,
      fingerprint: spec.fingerprint,
      startedOn: undefined,
      migratedAt: undefined,
      inputJson,
      contextJson,
      createdAt: now,
      deadline: spec.deadline,
      traceparent: spec.traceparent,
      status: 'running',
      updatedAt: now,
      finishedAt: undefined,
      outputJson: undefined,
      error: undefined,
      dropped: [],
      deltas: [],
      items: new Map(),
      ready: [],
      leased: new Set(),
      delayed: new Set(),
      waits: new Map(),
      mailbox: [],
      signalKeys: new Map(),
      groups: new ParkedGroups(),
      metrics: { ...emptyMetrics(), counters: {} },
      errors: [],
      deadLetters: [],
      history: [],
    };
    this.enqueue(run, spec.firstItem.id, spec.firstItem.node, itemJson, now);
    this.runs.set(run.runId, run);
    this.ring.push(run.runId);
    this.publish({ type: 'run.created', runId: run.runId, at: now, workflow: run.workflow });
    return { created: true, run: this.recordOf(run) };
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    this.open();
    assertRunId(runId);
    const run = this.runs.get(runId);
    return run ? this.recordOf(run) : undefined;
  }

  async listRuns(filter: ListRunsFilter = {}): Promise<RunRecord[]> {
    this.open();
    if (filter.limit !== undefined) assertPositiveInt(filter.limit, 'limit');
    if (filter.status !== undefined) assertRunStatus(filter.status);
    if (filter.after !== undefined) assertRunCursor(filter.after);
    const after = filter.after;
    const runs = [...this.runs.values()]
      .filter((r) => (filter.status === undefined || r.status === filter.status) && (filter.workflow === undefined || r.workflow === filter.workflow) && (after === undefined || isAfterCursor(r, after)))
      .sort((a, b) => b.createdAt - a.createdAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
    return (filter.limit === undefined ? runs : runs.slice(0, filter.limit)).map((r) => this.recordOf(r));
  }

  async cancelRun(runId: string, reason?: string): Promise<RunTransition> {
    this.open();
    const run = this.runOrThrow(runId);
    if (run.status === 'cancelled') return { applied: false, status: run.status, dropped: [] };
    this.assertNotFinal(run, 'cancel');
    const error = serializeError(new CancelledError(reason ?? 'the run was cancelled'));
    const dropped = this.finish(run, 'cancelled', 'cancelled', { error });
    return { applied: true, status: run.status, dropped };
  }

  async pauseRun(runId: string): Promise<RunTransition> {
    this.open();
    const run = this.runOrThrow(runId);
    if (run.status === 'paused') return { applied: false, status: run.status, dropped: [] };
    this.assertNotFinal(run, 'pause');
    run.status = 'paused';
    run.updatedAt = this.clock();
    this.publish({ type: 'run.paused', runId: run.runId, at: run.updatedAt });
    return { applied: true, status: run.status, dropped: [] };
  }

  async resumeRun(runId: string): Promise<RunTransition> {
    this.open();
    const run = this.runOrThrow(runId);
    if (run.status === 'running') return { applied: false, status: run.status, dropped: [] };
    this.assertNotFinal(run, 'resume');
    run.status = 'running';
    run.updatedAt = this.clock();
    this.publish({ type: 'run.resumed', runId: run.runId, at: run.updatedAt });
    return { applied: true, status: run.status, dropped: [] };
  }

  async failRun(runId: string, error: SerializedError): Promise<RunTransition> {
    this.open();
    const run = this.runOrThrow(runId);
    assertSerializedError(error, 'error');
    if (run.status === 'failed') return { applied: false, status: run.status, dropped: [] };
    this.assertNotFinal(run, 'fail');
    const dropped = this.finish(run, 'failed', 'failed', { error: copy<SerializedError>(canonicalJson(error), 'error') });
    return { applied: true, status: run.status, dropped };
  }

  private assertNotFinal(run: MemRun, op: string): void {
    if (isFinalRunStatus(run.status)) throw replyError({ code: 'final', runId: run.runId, op, status: run.status });
  }

  // ---- WorkQueue

  async claim(workerId: string, max: number, leaseMs: number, options: ClaimOptions = {}): Promise<LeasedItem[]> {
    this.open();
    assertWorkerId(workerId);
    assertPositiveInt(max, 'max');
    assertPositiveMs(leaseMs, 'leaseMs');
    const now = this.clock();
    const start = this.lastServed === undefined ? 0 : this.ring.indexOf(this.lastServed) + 1;
    const order = [...this.ring.slice(start), ...this.ring.slice(0, start)].map((id) => this.runs.get(id)!);
    const versions = versionFilter(options);
    const eligible = order.filter((r) => r.status === 'running' && (options.workflow === undefined || r.workflow === options.workflow) && (versions === undefined || versions.has(r.fingerprint)));
    for (const run of eligible) this.promoteDue(run, now);
    const out: LeasedItem[] = [];
    let progress = true;
    while (out.length < max && progress) {
      progress = false;
      for (const run of eligible) {
        if (out.length >= max) break;
        const itemId = run.ready.shift();
        if (itemId === undefined) continue;
        this.lastServed = run.runId;
        progress = true;
        out.push(this.lease(run, run.items.get(itemId)!, workerId, leaseMs, now));
      }
    }
    return out;
  }

  /** Leases a ready item (already taken off `run.ready`) to `workerId`. */
  private lease(run: MemRun, it: MemItem, workerId: string, leaseMs: number, now: number): LeasedItem {
    if (it.expired) run.metrics.redeliveries += 1;
    it.expired = false;
    it.status = 'in_progress';
    it.deliveries += 1;
    it.workerId = workerId;
    it.leaseToken = `${workerId}#${++this.tokenSeq}`;
    it.leaseExpiresAt = now + leaseMs;
    it.leasedAt = now;
    it.notBefore = undefined;
    it.updatedAt = now;
    run.leased.add(it.itemId);
    this.publish({ type: 'step.started', runId: run.runId, at: now, node: it.node, itemId: it.itemId, attempt: it.attempt, workerId });
    return decodeLease({
      runId: run.runId,
      workflow: run.workflow,
      fingerprint: run.fingerprint,
      deadline: run.deadline,
      ...(run.traceparent === undefined ? {} : { traceparent: run.traceparent }),
      itemId: it.itemId,
      node: it.node,
      itemJson: it.json,
      attempt: it.attempt,
      leaseToken: it.leaseToken,
      leaseExpiresAt: it.leaseExpiresAt,
      deliveries: it.deliveries,
      contextVersion: run.deltas.length,
    });
  }

  /** Moves due retries and expired leases to the ready queue, in order of their due time. */
  private promoteDue(run: MemRun, now: number): void {
    const due: Array<{ at: number; it: MemItem }> = [];
    for (const id of run.leased) {
      const it = run.items.get(id)!;
      if (it.leaseExpiresAt! <= now) due.push({ at: it.leaseExpiresAt!, it });
    }
    for (const id of run.delayed) {
      const it = run.items.get(id)!;
      if (it.notBefore! <= now) due.push({ at: it.notBefore!, it });
    }
    due.sort((a, b) => a.at - b.at);
    for (const { it } of due) {
      if (it.status === 'in_progress') {
        run.leased.delete(it.itemId);
        it.expired = true;
      } else run.delayed.delete(it.itemId);
      // A wait past its timeout: no signal can take it any more (the engine fails it with SignalTimeoutError).
      if (it.status === 'parked') {
        if (it.wait !== undefined) {
          this.publish({ type: 'wait.timedOut', runId: run.runId, at: now, node: it.node, itemId: it.itemId, signal: it.wait });
          this.unwait(run, it);
        } else this.publish({ type: 'timer.fired', runId: run.runId, at: now, node: it.node, itemId: it.itemId });
      }
      it.status = 'pending';
      it.leaseToken = undefined;
      it.leaseExpiresAt = undefined;
      it.notBefore = undefined;
      it.updatedAt = now;
      run.ready.push(it.itemId);
    }
  }

  private liveLease(run: MemRun, itemId: string, leaseToken: string, now: number): MemItem | undefined {
    const it = run.items.get(itemId);
    if (!it || it.status !== 'in_progress' || it.leaseToken !== leaseToken || it.leaseExpiresAt! <= now) return undefined;
    return it;
  }

  async extendLease(runId: string, itemId: string, leaseToken: string, leaseMs: number): Promise<LeaseExtension> {
    this.open();
    assertRunId(runId);
    assertItemId(itemId);
    assertString(leaseToken, 'leaseToken');
    assertPositiveMs(leaseMs, 'leaseMs');
    const run = this.runs.get(runId);
    if (!run) return { status: 'lost', runStatus: undefined };
    const now = this.clock();
    const it = this.liveLease(run, itemId, leaseToken, now);
    if (!it || isFinalRunStatus(run.status)) return { status: 'lost', runStatus: run.status };
    it.leaseExpiresAt = now + leaseMs;
    it.updatedAt = now;
    return { status: 'extended', leaseExpiresAt: it.leaseExpiresAt, runStatus: run.status };
  }

  async release(runId: string, itemId: string, leaseToken: string, options: ReleaseOptions = {}): Promise<boolean> {
    this.open();
    assertRunId(runId);
    assertItemId(itemId);
    assertString(leaseToken, 'leaseToken');
    const run = this.runs.get(runId);
    if (!run) return false;
    const now = this.clock();
    const it = this.liveLease(run, itemId, leaseToken, now);
    if (!it) return false;
    if (options.misrouted) run.metrics.misrouted += 1;
    run.leased.delete(itemId);
    it.status = 'pending';
    it.deliveries = Math.max(0, it.deliveries - 1);
    it.leaseToken = undefined;
    it.leaseExpiresAt = undefined;
    it.updatedAt = now;
    run.ready.unshift(itemId);
    return true;
  }

  async pendingWork(runId: string, options?: PendingWorkOptions): Promise<PendingWork[]> {
    this.open();
    const run = this.runOrThrow(runId);
    const { statuses, limit = Infinity } = pendingWorkFilter(options);
    const out: PendingWork[] = [];
    for (const it of run.items.values()) {
      if (out.length >= limit) break;
      if (isOutstanding(it.status) && statuses.includes(it.status)) {
        out.push({ ...decodeStoredWork(it.json, { runId, itemId: it.itemId, node: it.node }), state: this.stateOf(run, it) });
      }
    }
    return out;
  }

  // ---- RunMigrator

  async parkedArrivals(runId: string): Promise<ParkedArrival[]> {
    this.open();
    return this.runOrThrow(runId).groups.groupNodes();
  }

  async migrate(runId: string, m: RunMigration): Promise<void> {
    this.open();
    assertMigration(m);
    const run = this.runOrThrow(runId);
    if (run.status !== 'running' && run.status !== 'paused') throw replyError({ code: 'final', runId, op: 'migrate', status: run.status });
    if (run.fingerprint !== m.from) throw replyError({ code: 'migration_version', runId, from: m.from, existing: run.fingerprint });
    const now = this.clock();
    const outstanding = [...run.items.values()].filter((it) => isOutstanding(it.status));
    if (m.expect !== undefined) {
      const expect = new Set(m.expect);
      const odd = outstanding.find((it) => !expect.has(it.itemId)) ?? (outstanding.length !== expect.size ? { itemId: [...expect].find((id) => !isOutstanding(run.items.get(id)?.status))! } : undefined);
      if (odd) throw replyError({ code: 'migration_changed', runId, item: odd.itemId });
    }
    if (m.leases !== 'keep') {
      const leased = outstanding.filter((it) => it.status === 'in_progress' && it.leaseExpiresAt! > now);
      if (leased.length > 0) throw replyError({ code: 'migration_leased', runId, from: m.from, to: m.to, leased: leased.map((it) => ({ item: it.itemId, node: it.node, worker: it.workerId! })) });
    }
    for (const it of outstanding) {
      const item = copy<EngineItem>(it.json, 'work item');
      const moved = renamedItem(item, m.renames);
      if (moved === item) continue;
      it.json = storedJson(moved);
      it.node = moved.node;
      it.updatedAt = now;
    }
    run.startedOn ??= m.from;
    run.fingerprint = m.to;
    run.updatedAt = now;
    run.migratedAt = now;
    this.publish(migratedEvent(runId, now, m));
  }

  // ---- WorkItemStateStore

  async itemState(runId: string, itemId: string): Promise<WorkItemState | undefined> {
    this.open();
    const run = this.runOrThrow(runId);
    assertItemId(itemId);
    const it = run.items.get(itemId);
    return it ? this.stateOf(run, it) : undefined;
  }

  async itemStates(runId: string): Promise<WorkItemState[]> {
    this.open();
    const run = this.runOrThrow(runId);
    return [...run.items.values()].map((it) => this.stateOf(run, it));
  }

  async itemCounts(runId: string): Promise<ItemCounts> {
    this.open();
    const run = this.runOrThrow(runId);
    const counts: ItemCounts = {};
    for (const it of run.items.values()) countItem(counts, it.node, it.status);
    return counts;
  }

  // ---- ContextStore

  async readContext(runId: string, sinceVersion?: number, options?: TailOptions): Promise<ContextSnapshot> {
    this.open();
    const limit = tailLimit(options);
    const run = this.runOrThrow(runId);
    const version = run.deltas.length;
    if (sinceVersion !== undefined && (!Number.isSafeInteger(sinceVersion) || sinceVersion < 0 || sinceVersion > version)) {
      throw new InvalidArgumentError(`sinceVersion must be an integer in 0..${version} for run ${runId}, got ${String(sinceVersion)}`);
    }
    const deltas = tailOf(run.deltas.slice(sinceVersion ?? 0), limit).map((d) => decodeStoredDelta(d.json, d.version, d.itemId));
    return sinceVersion === undefined ? { initial: copy(run.contextJson, 'context'), deltas, version } : { deltas, version };
  }

  // ---- MetricsStore / ErrorStore

  async metrics(runId: string): Promise<RunMetrics> {
    this.open();
    const run = this.runOrThrow(runId);
    return { ...run.metrics, counters: { ...run.metrics.counters } };
  }

  async errors(runId: string, options?: TailOptions): Promise<ErrorRecord[]> {
    this.open();
    const limit = tailLimit(options);
    const run = this.runOrThrow(runId);
    return tailOf(run.errors, limit).map((e) => copy<ErrorRecord>(e, 'error record'));
  }

  async recordError(runId: string, record: Omit<ErrorRecord, 'at' | 'kind'>): Promise<void> {
    this.open();
    const run = this.runOrThrow(runId);
    assertItemId(record.itemId);
    assertString(record.node, 'node');
    assertPositiveInt(record.attempt, 'attempt');
    assertSerializedError(record.error, 'error');
    run.errors.push(canonicalJson({ itemId: record.itemId, node: record.node, attempt: record.attempt, error: record.error, kind: 'worker', at: this.clock() }));
  }

  async deadLetters(runId: string, options?: TailOptions): Promise<DeadLetter[]> {
    this.open();
    const limit = tailLimit(options);
    const run = this.runOrThrow(runId);
    return tailOf(run.deadLetters, limit).map((d) => copy<DeadLetter>(d, 'dead letter'));
  }

  // ---- LivenessStore

  async heartbeat(workerId: string, health: WorkerHealth): Promise<void> {
    this.open();
    assertWorkerId(workerId);
    if (typeof health !== 'object' || health === null || !['idle', 'busy', 'stopping'].includes(health.status) || !Array.isArray(health.current)) {
      throw new InvalidArgumentError('health must be a WorkerHealth ({ status: idle | busy | stopping, current: [...], processed, errors })');
    }
    this.workers.set(workerId, { lastSeen: this.clock(), json: canonicalJson(health) });
  }

  async listWorkers(options: { readonly thresholdMs?: number } = {}): Promise<WorkerRecord[]> {
    this.open();
    const threshold = options.thresholdMs ?? DEFAULT_LIVENESS_THRESHOLD_MS;
    assertPositiveMs(threshold, 'thresholdMs');
    const now = this.clock();
    return [...this.workers.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([workerId, w]) => ({ workerId, lastSeen: w.lastSeen, health: copy<WorkerHealth>(w.json, 'worker health'), liveness: classifyLiveness(w.lastSeen, now, threshold) }));
  }

  async removeWorker(workerId: string): Promise<boolean> {
    this.open();
    assertWorkerId(workerId);
    return this.workers.delete(workerId);
  }

  // ---- ScheduleStore

  async putSchedule(def: ScheduleDefinition): Promise<ScheduleRecord> {
    this.open();
    const n = normalizeSchedule(def);
    const now = this.clock();
    const old = this.schedules.has(n.id) ? this.scheduleOrThrow(n.id) : undefined;
    // (an expression of the same timing, written otherwise, keeps the schedule where it is)
    const moved = !old || (scheduleTiming(old.cron, old.timezone) !== n.timing && (old.cron !== n.cron || old.timezone !== n.timezone));
    const rec: ScheduleRecord = {
      id: n.id,
      workflow: n.workflow,
      cron: n.cron,
      timezone: n.timezone,
      input: copy(n.inputJson, 'schedule input'),
      catchUp: n.catchUp,
      catchUpLimit: n.catchUpLimit,
      graceMs: n.graceMs,
      paused: old ? old.paused : n.paused,
      cursor: moved ? now : old.cursor,
      resumedAt: old?.resumedAt,
      lastTickAt: old?.lastTickAt,
      lastRunId: old?.lastRunId,
      skipped: old?.skipped ?? 0,
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
    };
    return this.saveSchedule(rec);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    this.open();
    assertScheduleId(id);
    return this.schedules.has(id) ? this.scheduleOrThrow(id) : undefined;
  }

  async listSchedules(filter: { readonly workflow?: string } = {}): Promise<ScheduleRecord[]> {
    this.open();
    return [...this.schedules.keys()]
      .sort()
      .map((id) => this.scheduleOrThrow(id))
      .filter((s) => filter.workflow === undefined || s.workflow === filter.workflow);
  }

  async dueSchedules(workflow: string): Promise<{ now: number; schedules: ScheduleRecord[] }> {
    this.open();
    assertString(workflow, 'workflow');
    return { now: this.clock(), schedules: (await this.listSchedules({ workflow })).filter((s) => !s.paused) };
  }

  async pauseSchedule(id: string): Promise<ScheduleRecord> {
    this.open();
    const s = this.scheduleOrThrow(id);
    return s.paused ? s : this.saveSchedule({ ...s, paused: true, updatedAt: this.clock() });
  }

  async resumeSchedule(id: string): Promise<ScheduleRecord> {
    this.open();
    const s = this.scheduleOrThrow(id);
    const now = this.clock();
    return s.paused ? this.saveSchedule({ ...s, paused: false, resumedAt: now, updatedAt: now }) : s;
  }

  async removeSchedule(id: string): Promise<boolean> {
    this.open();
    assertScheduleId(id);
    return this.schedules.delete(id);
  }

  async advanceSchedule(id: string, from: number, advance: ScheduleAdvance): Promise<boolean> {
    this.open();
    assertScheduleId(id);
    assertScheduleAdvance(from, advance);
    const s = this.schedules.has(id) ? this.scheduleOrThrow(id) : undefined;
    if (!s || s.paused || s.cursor !== from) return false;
    this.saveSchedule({
      ...s,
      cursor: advance.cursor,
      lastTickAt: advance.lastTickAt ?? s.lastTickAt,
      lastRunId: advance.lastRunId ?? s.lastRunId,
      skipped: s.skipped + advance.skipped,
      updatedAt: this.clock(),
    });
    return true;
  }

  private scheduleOrThrow(id: string): ScheduleRecord {
    assertScheduleId(id);
    const json = this.schedules.get(id);
    if (json === undefined) throw replyError({ code: 'schedule_not_found', id });
    return copy<ScheduleRecord>(json, 'schedule');
  }

  private saveSchedule(rec: ScheduleRecord): ScheduleRecord {
    const json = canonicalJson(rec);
    this.schedules.set(rec.id, json);
    return copy<ScheduleRecord>(json, 'schedule');
  }

  // ---- StepCommitter

  /** See {@link BatchStepCommitter.commitSteps}: each commit runs exactly as {@link commitStep}, in order. */
  async commitSteps(commits: readonly StepCommit[]): Promise<BatchCommitResult[]> {
    this.open();
    if (!Array.isArray(commits)) throw new InvalidArgumentError('commitSteps expects an array of commits');
    const out: BatchCommitResult[] = [];
    for (const commit of commits) {
      try {
        out.push({ ok: true, result: await this.commitStep(commit) });
      } catch (error) {
        if (error instanceof StoreError || !(error instanceof Error)) throw error;
        out.push({ ok: false, error });
      }
    }
    return out;
  }

  async commitStep(commit: StepCommit): Promise<CommitResult> {
    this.open();
    // Validate and encode everything before touching state: a rejected commit changes nothing.
    const { runId, itemId, leaseToken, plan, handoff, deadLetterItem } = planStepCommit(commit);
    const run = this.runOrThrow(runId);
    if (plan.type === 'continue') {
      for (const a of plan.arrivals) {
        const size = run.groups.sizeOf(a.group);
        if (size !== undefined && size !== a.size) throw replyError({ code: 'bad_group', group: a.group, size: a.size, groupSize: size });
      }
    }

    const now = this.clock();
    const it = run.items.get(itemId);
    // (1) already committed
    if (it && (it.status === 'completed' || it.status === 'failed' || it.status === 'dead_lettered' || it.committedTokens.has(leaseToken))) {
      return { status: 'duplicate' };
    }
    // (2) run is final: ack only (its outstanding work was already dropped)
    if (isFinalRunStatus(run.status)) return { status: 'run_finished', runStatus: run.status };
    // (3) lease
    if (!it || !this.liveLease(run, itemId, leaseToken, now)) return { status: 'lease_lost' };

    // (4) apply
    run.leased.delete(it.itemId);
    it.committedTokens.add(leaseToken);
    it.leaseToken = undefined;
    it.leaseExpiresAt = undefined;
    it.updatedAt = now;
    for (const [k, v] of plan.counters) run.metrics.counters[k] = (run.metrics.counters[k] ?? 0) + v;
    const enqueued: string[] = [];
    const joined: EngineItem[] = [];
    let dropped: DroppedItem[] = [];
    let next: LeasedItem | undefined;

    if (plan.type === 'retry') {
      it.status = 'waiting_retry';
      run.errors.push(errorRecordJson(it, it.attempt, plan.error, 'retry', now));
      this.stepFinished(run, it, now, 'retry', plan.error, plan.delayMs);
      it.attempt += 1;
      // (no later than the last time a Date holds: every listing reads it back as a time)
      it.notBefore = Math.min(now + plan.delayMs, MAX_EPOCH_MS);
      run.delayed.add(it.itemId);
      run.metrics.retries += 1;
    } else if (plan.type === 'failed') {
      it.status = plan.deadLetter ? 'dead_lettered' : 'failed';
      run.errors.push(errorRecordJson(it, it.attempt, plan.error, 'failure', now));
      this.stepFinished(run, it, now, 'failed', plan.error);
      run.metrics.failed += 1;
      if (plan.deadLetter) {
        run.metrics.deadLettered += 1;
        run.deadLetters.push(`{"at":${now},"attempts":${it.attempt},"error":${plan.error},"item":${deadLetterItem ?? it.json}}`);
      }
      dropped = this.finish(run, 'failed', 'failed', { error: copy<SerializedError>(plan.error, 'error') });
    } else {
      it.status = 'completed';
      run.metrics.completed += 1;
      if (plan.delta !== undefined) run.deltas.push({ version: run.deltas.length + 1, itemId: it.itemId, json: plan.delta });
      if (plan.type === 'continue' && plan.error !== undefined) run.errors.push(errorRecordJson(it, it.attempt, plan.error, plan.errorKind, now));
      this.stepFinished(run, it, now, plan.type, plan.type === 'continue' ? plan.error : undefined);
      if (plan.type === 'terminal') {
        dropped = this.finish(run, 'completed', 'terminal', { outputJson: plan.output, extra: plan.dropped });
      } else {
        for (const p of plan.items) if (this.enqueue(run, p.id, p.node, p.json, now, p)) enqueued.push(p.id);
        for (const a of plan.arrivals) {
          const settlement = run.groups.park(a);
          if (settlement === undefined) continue;
          const item = copy<EngineItem>(settlement, 'settlement item');
          if (this.enqueue(run, item.id, item.node, settlement, now)) {
            enqueued.push(item.id);
            joined.push(item);
          }
        }
        // Hand-off: the one new successor is the only item of its run waiting to be claimed.
        if (handoff && enqueued.length === 1 && plan.items.length === 1 && plan.arrivals.length === 0 && run.status === 'running' && run.ready.length === 1 && (handoff.fingerprint === undefined || handoff.fingerprint === run.fingerprint)) {
          next = this.lease(run, run.items.get(run.ready.shift()!)!, handoff.workerId, handoff.leaseMs, now);
        }
        if (run.ready.length === 0 && run.leased.size === 0 && run.delayed.size === 0 && run.waits.size === 0) {
          dropped = this.finish(run, 'failed', 'failed', { error: copy<SerializedError>(plan.noTerminal, 'error') });
        }
      }
    }
    const result = { status: 'applied' as const, runStatus: run.status, enqueued, joined, dropped, contextVersion: run.deltas.length };
    if (next) return { ...result, next };
    if (!isFinalRunStatus(run.status)) return result;
    return { ...result, finished: runEndOf(runId, run.createdAt, run.finishedAt, run.error === undefined ? undefined : canonicalJson(run.error)) };
  }

  /**
   * Adds an item unless the run already has one with this id. A parked item (`parked.notBefore` / `parked.wait`,
   * see `PlannedItem`) is kept at the attempt it parked at, and aside: a wait takes the oldest signal of its name
   * from the mailbox at once if there is one, else waits for one (and for its timeout); a sleep waits for its time.
   */
  private enqueue(run: MemRun, id: string, node: string, json: string, now: number, parked?: PlannedItem): boolean {
    if (run.items.has(id)) return false;
    const attempt = parked?.attempt ?? 1;
    if (parked?.wait !== undefined || parked?.notBefore !== undefined) {
      const at = parked.wait === undefined ? -1 : run.mailbox.findIndex((m) => m.name === parked.wait);
      if (at >= 0) {
        const [m] = run.mailbox.splice(at, 1);
        json = withSignal(json, m!.payload);
      } else {
        const it = this.newItem(id, node, json, now, attempt);
        it.status = 'parked';
        it.notBefore = parked.notBefore;
        if (parked.wait !== undefined) {
          it.wait = parked.wait;
          const list = run.waits.get(parked.wait) ?? [];
          list.push(id);
          run.waits.set(parked.wait, list);
          this.publish({ type: 'wait.started', runId: run.runId, at: now, node, itemId: id, signal: parked.wait, ...(parked.notBefore === undefined ? {} : { timeoutAt: parked.notBefore }) });
        } else this.publish({ type: 'timer.started', runId: run.runId, at: now, node, itemId: id, until: parked.notBefore! });
        if (parked.notBefore !== undefined) run.delayed.add(id);
        run.items.set(id, it);
        run.metrics.enqueued += 1;
        return true;
      }
    }
    run.items.set(id, this.newItem(id, node, json, now, attempt));
    run.ready.push(id);
    run.metrics.enqueued += 1;
    return true;
  }

  /** A new pending item at `attempt`, with the deliveries of the attempts before it (see `PlannedItem.attempt`). */
  private newItem(id: string, node: string, json: string, now: number, attempt = 1): MemItem {
    return {
      itemId: id,
      node,
      json,
      status: 'pending',
      attempt,
      deliveries: attempt - 1,
      workerId: undefined,
      leaseToken: undefined,
      leaseExpiresAt: undefined,
      leasedAt: now,
      notBefore: undefined,
      expired: false,
      committedTokens: new Set(),
      updatedAt: now,
      wait: undefined,
    };
  }

  /** Takes a parked wait off its name's list (its signal came, or its timeout passed). */
  private unwait(run: MemRun, it: MemItem): void {
    const list = run.waits.get(it.wait!);
    if (list) {
      const i = list.indexOf(it.itemId);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) run.waits.delete(it.wait!);
    }
    it.wait = undefined;
  }

  // ---- SignalReceiver

  async signal(runId: string, name: string, payload: unknown, key?: string, options?: SignalReceiverOptions): Promise<SignalReceipt> {
    this.open();
    const plan = planSignal(runId, name, payload, key, options?.workflow);
    const { payload: json, workflow } = plan;
    const run = this.runOrThrow(runId);
    if (workflow !== undefined && run.workflow !== workflow) throw replyError({ code: 'other_workflow', runId, workflow, actual: run.workflow });
    // a repeated key is a duplicate even after the run finished (a retried webhook is not an error), unless it came
    // with another name or payload (refused)
    const kept = key === undefined ? undefined : run.signalKeys.get(key);
    if (kept) {
      repeatedSignal(plan, kept);
      return DUPLICATE_SIGNAL;
    }
    this.assertNotFinal(run, 'signal');
    if (key !== undefined) run.signalKeys.set(key, { name, digest: plan.digest });
    const now = this.clock();
    const waiting = run.waits.get(name)?.[0];
    const event = { type: 'signal.received' as const, runId: run.runId, at: now, name, ...(key === undefined ? {} : { key }) };
    if (waiting === undefined) {
      run.mailbox.push({ name, payload: json, key, at: now });
      this.publish(event);
      return deliveredTo(undefined);
    }
    const it = run.items.get(waiting)!;
    this.unwait(run, it);
    run.delayed.delete(it.itemId);
    it.json = withSignal(it.json, json);
    it.status = 'pending';
    it.notBefore = undefined;
    it.updatedAt = now;
    run.ready.push(it.itemId);
    this.publish({ ...event, itemId: it.itemId });
    return deliveredTo(it.itemId);
  }

  async pendingSignals(runId: string): Promise<PendingSignal[]> {
    this.open();
    const run = this.runOrThrow(runId);
    return run.mailbox.map((m) => ({ name: m.name, payload: copy(m.payload, 'signal payload'), key: m.key, at: m.at }));
  }

  /** Makes the run final and drops its outstanding work. */
  private finish(
    run: MemRun,
    status: 'completed' | 'failed' | 'cancelled',
    reason: DropReason,
    extra: { error?: SerializedError; outputJson?: string; extra?: readonly DroppedItem[] },
  ): DroppedItem[] {
    const now = this.clock();
    const dropped: DroppedItem[] = [];
    for (const it of run.items.values()) {
      if (it.status === 'pending' || it.status === 'in_progress' || it.status === 'waiting_retry' || it.status === 'parked') {
        it.status = 'dropped';
        it.wait = undefined;
        it.leaseToken = undefined;
        it.leaseExpiresAt = undefined;
        it.notBefore = undefined;
        it.updatedAt = now;
        dropped.push({ id: it.itemId, node: it.node, reason });
      }
    }
    dropped.push(...(extra.extra ?? []));
    run.ready = [];
    run.leased.clear();
    run.delayed.clear();
    run.waits.clear();
    run.groups.clear();
    run.status = status;
    run.updatedAt = now;
    run.finishedAt = now;
    if (extra.error) run.error = extra.error;
    if (extra.outputJson !== undefined) run.outputJson = extra.outputJson;
    run.dropped = dropped;
    run.metrics.dropped += dropped.length;
    const copies = dropped.map((d) => ({ ...d }));
    if (status === 'completed') this.publish({ type: 'run.completed', runId: run.runId, at: now, output: copy(run.outputJson ?? 'null', 'run output'), dropped: copies });
    else this.publish({ type: status === 'failed' ? 'run.failed' : 'run.cancelled', runId: run.runId, at: now, error: run.error! });
    const at = this.ring.indexOf(run.runId);
    if (at >= 0) {
      this.ring.splice(at, 1);
      if (this.lastServed === run.runId) this.lastServed = at > 0 ? this.ring[at - 1] : undefined;
    }
    return dropped.map((d) => ({ ...d }));
  }

  private stateOf(run: MemRun, it: MemItem): WorkItemState {
    return {
      runId: run.runId,
      itemId: it.itemId,
      node: it.node,
      status: it.status,
      attempt: it.attempt,
      workerId: it.workerId,
      leaseExpiresAt: it.leaseExpiresAt,
      notBefore: it.notBefore,
      updatedAt: it.updatedAt,
    };
  }

  private recordOf(run: MemRun): RunRecord {
    return decodeRunRecord(run, {
      workflow: run.workflow,
      fingerprint: run.fingerprint,
      status: run.status,
      input: run.inputJson,
      output: run.outputJson ?? null,
      error: run.error === undefined ? null : canonicalJson(run.error),
      dropped: run.dropped,
      createdAt: run.createdAt,
      updatedAt: run.updatedAt,
      finishedAt: run.finishedAt,
      deadline: run.deadline,
      startedOn: run.startedOn,
      migratedAt: run.migratedAt,
    });
  }


}

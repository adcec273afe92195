/**
 * Running one leased work item: the part shared by `Workflow.stepDistributed` and {@link Worker}. It reads the
 * run's context through a per-run cache (only deltas newer than the cached version), executes the step with
 * `inlineRetries: false` under a signal that aborts on cancel (seen by heartbeats) and on the run's deadline,
 * and commits the outcome, retrying the commit on connection errors while the lease is still ours (commits are
 * idempotent per item id, so a commit that reached the store before the connection dropped answers `duplicate`).
 */
import type { ContextCodec } from '../context.js';
import type { AnyWorkflowDef } from '../definition.js';
import { checkInstance, compiledOf, type CompiledWorkflow } from '../engine/core.js';
import { AbortSource } from '../engine/abort.js';
import { absoluteDeadline } from '../engine/retry.js';
import { executeStep, type StepOutcome } from '../engine/step.js';
import {
  CancelledError,
  DeadlineExceededError,
  FingerprintMismatchError,
  FloxideError,
  InvalidArgumentError,
  PoisonItemError,
  StoreError,
  serializeError,
} from '../errors.js';
import {
  isFinalRunStatus,
  type BatchCommitResult,
  type BatchStepCommitter,
  type CommitResult,
  type ContextDeltaRecord,
  type ContextStore,
  type DistributedBackend,
  type LeasedItem,
  type RunStatus,
  type StepCommit,
} from './contracts.js';
import { Coalescer, type Settled } from './coalesce.js';
import { childItemId } from './ids.js';

/** Default lease length: how long a worker may go without a heartbeat before its items are redelivered. */
export const DEFAULT_LEASE_MS = 30_000;
/** Default number of deliveries of one attempt that ended without a commit before the item is dead-lettered. */
export const DEFAULT_MAX_REDELIVERIES = 10;

/** The heartbeat period for a lease length: often enough to survive two lost heartbeats, at most every 2 s. */
export function defaultHeartbeatMs(leaseMs: number): number {
  return Math.max(10, Math.min(2_000, Math.floor(leaseMs / 3)));
}

/** Hooks called around each distributed step (all optional; errors they throw are ignored). */
export interface StepCallbacks {
  /** An item was claimed and is about to run. */
  onStarted?(lease: LeasedItem): void;
  /** The outcome was committed (or the store answered `duplicate` / `run_finished` / `lease_lost`). */
  onCommitted?(lease: LeasedItem, outcome: StepOutcome, result: CommitResult): void;
  /** The item was given back without a commit (worker stopping, lease lost, run finished, store unreachable). */
  onReleased?(lease: LeasedItem, reason: ReleaseReason, error?: unknown): void;
}

/** Why an item ended without a commit of this worker. */
export type ReleaseReason = 'stopping' | 'lease_lost' | 'run_finished' | 'fingerprint' | 'store_error';

/** What became of one leased item. */
export type LeaseResult =
  /** `sentAt`: local time just before the commit that got `result` was sent (a hand-off's lease starts after it). */
  | { readonly kind: 'committed'; readonly outcome: StepOutcome; readonly result: CommitResult; readonly sentAt: number }
  | { readonly kind: 'released'; readonly reason: ReleaseReason; readonly error?: unknown };

/** Runs whose folded context a worker keeps by default (a worker serving more runs than this re-reads contexts). */
export const DEFAULT_CONTEXT_CACHE_RUNS = 4096;

/**
 * The folded context of each run a worker serves, keyed by run id, with the version it reflects. A lookup reads
 * only the deltas committed since (one small read per step); least recently used runs are forgotten.
 */
export class ContextCache {
  private readonly entries = new Map<string, { version: number; ctx: unknown }>();

  constructor(
    private readonly codec: ContextCodec<unknown>,
    private readonly maxRuns = DEFAULT_CONTEXT_CACHE_RUNS,
  ) {}

  /**
   * The run's context as of the latest committed delta. The returned object is never mutated afterwards (newer
   * deltas are folded into a copy that replaces it), so a step may keep it as its base while other steps of the
   * same run refresh the cache; callers must not mutate it. `knownVersion` (the claim's `contextVersion`) skips
   * the read when the cache is already that current.
   */
  async current(store: ContextStore, runId: string, knownVersion?: number, lastDelta?: ContextDeltaRecord, initial?: unknown): Promise<unknown> {
    const hit = this.entries.get(runId);
    // A young run the claim brought whole (its initial context and, at version 1, its only delta): no read.
    if (!hit && initial !== undefined && (knownVersion === 0 || (knownVersion === 1 && lastDelta?.version === 1))) {
      const ctx = this.codec.revive(initial);
      if (knownVersion === 1) this.codec.apply(ctx, lastDelta!.delta);
      this.remember(runId, { version: knownVersion, ctx });
      return ctx;
    }
    // The claim told us the run's version: a cache at least that new has every delta committed before the claim.
    if (hit && knownVersion !== undefined && hit.version >= knownVersion) return hit.ctx;
    // One delta behind and the claim brought that delta: fold it, no read.
    if (hit && lastDelta !== undefined && lastDelta.version === knownVersion && hit.version === lastDelta.version - 1) {
      const ctx = this.codec.clone(hit.ctx);
      this.codec.apply(ctx, lastDelta.delta);
      hit.ctx = ctx;
      hit.version = lastDelta.version;
      this.entries.delete(runId);
      this.entries.set(runId, hit);
      return ctx;
    }
    if (hit) {
      const snap = await store.readContext(runId, hit.version);
      // Concurrent lookups of one run may finish out of order; each snapshot is contiguous from a version <= the
      // cached one, so applying only newer deltas keeps the fold exact.
      const fresh = snap.deltas.filter((d) => d.version > hit.version);
      if (fresh.length > 0) {
        const ctx = this.codec.clone(hit.ctx);
        let version = hit.version;
        for (const d of fresh) {
          if (d.version !== version + 1) break;
          this.codec.apply(ctx, d.delta);
          version = d.version;
        }
        hit.ctx = ctx;
        hit.version = version;
      }
      this.entries.delete(runId);
      this.entries.set(runId, hit);
      return hit.ctx;
    }
    const snap = await store.readContext(runId);
    const raced = this.entries.get(runId);
    if (raced && raced.version >= snap.version) return raced.ctx;
    const ctx = this.codec.revive(snap.initial);
    let version = 0;
    for (const d of snap.deltas) {
      this.codec.apply(ctx, d.delta);
      version = d.version;
    }
    this.remember(runId, { version, ctx });
    return ctx;
  }

  private remember(runId: string, entry: { version: number; ctx: unknown }): void {
    this.entries.set(runId, entry);
    if (this.entries.size > this.maxRuns) this.entries.delete(this.entries.keys().next().value!);
  }

  /**
   * Folds a step's own committed delta when it is the only one since the cached version (the commit answered
   * `contextVersion` = cached + 1), so the next step of the run on this worker needs no read.
   */
  noteCommit(runId: string, delta: Record<string, unknown> | undefined, contextVersion: number): void {
    const hit = this.entries.get(runId);
    if (!hit || delta === undefined || hit.version !== contextVersion - 1) return;
    const ctx = this.codec.clone(hit.ctx);
    this.codec.apply(ctx, delta);
    hit.ctx = ctx;
    hit.version = contextVersion;
  }

  /** Drops a run (it finished). */
  forget(runId: string): void {
    this.entries.delete(runId);
  }
}

/** One leased item while it is processed. The heartbeat updates it; the step reads it before committing. */
export class InFlight {
  /** Aborts the node's `ctx.signal`: cancel, deadline, lost lease, hard stop. */
  readonly abort = new AbortSource();
  /** Local estimate of when the lease ends (local clock, conservative: taken before the request). */
  localExpiry: number;
  /** The lease is gone (expired, taken over, or the run finished): do not commit. */
  lost = false;
  /** The worker gives the item back (graceful stop): do not commit, release. */
  releasing = false;
  /** The run status last reported by the store. */
  runStatus: RunStatus | undefined = undefined;
  readonly startedAt = Date.now();

  /**
   * @param claimedAt local time just before the claim (or the commit that handed the item off) was sent.
   * @param handoffs how many successor hand-offs in a row led to this item (0 for a claimed item).
   */
  constructor(
    readonly lease: LeasedItem,
    leaseMs: number,
    claimedAt: number,
    readonly handoffs = 0,
  ) {
    this.localExpiry = claimedAt + leaseMs;
  }

  get key(): string {
    return `${this.lease.runId}\u0000${this.lease.item.id}`;
  }
}

/**
 * Extends the lease of `f` and learns the run's status. A lost lease (or a finished run) aborts the node's signal:
 * on cancel the node sees `ctx.signal` abort with a `CancelledError`. Connection errors are ignored (the next
 * heartbeat retries; the lease length covers a few misses).
 */
export async function extendInFlight(backend: DistributedBackend, f: InFlight, leaseMs: number): Promise<void> {
  if (f.lost) return;
  const sentAt = Date.now();
  let ext;
  try {
    ext = await backend.extendLease(f.lease.runId, f.lease.item.id, f.lease.leaseToken, leaseMs);
  } catch {
    return;
  }
  f.runStatus = ext.runStatus;
  if (ext.status === 'extended') {
    f.localExpiry = sentAt + leaseMs;
    return;
  }
  f.lost = true;
  const status = ext.runStatus;
  const why =
    status === undefined
      ? `run ${f.lease.runId} no longer exists`
      : isFinalRunStatus(status)
        ? `run ${f.lease.runId} is ${status}`
        : `the lease on item ${f.lease.item.id} of run ${f.lease.runId} was lost`;
  f.abort.abort(new CancelledError(why));
}

/**
 * Group commit: the commits of steps that finish while a batch is on its way are queued and sent together as the
 * next batch ({@link BatchStepCommitter.commitSteps}: one round trip, one script or transaction), so a busy worker
 * pays one request per batch instead of one per step. Each commit still succeeds or fails on its own; a batch the
 * store could not take rejects every commit in it (they are retried one by one, each retry being idempotent).
 */
export class CommitBatcher {
  private readonly batches: Coalescer<StepCommit, CommitResult>;

  /**
   * @param backend a backend with `commitSteps`.
   * @param maxBatch most commits per request.
   * @param maxInFlight batches on their way at once; further commits wait for one to return.
   */
  constructor(backend: BatchStepCommitter, maxBatch = 128, maxInFlight = 2) {
    // One macrotask of delay gathers the steps that finish in the same turn of the event loop.
    this.batches = new Coalescer((commits) => backend.commitSteps(commits).then((rs) => rs.map(settledOf)), { maxBatch, maxInFlight, gather: 'tick' });
  }

  /** Queues one commit; resolves with its own result (or rejects with its own error). */
  commit(commit: StepCommit): Promise<CommitResult> {
    return this.batches.submit(commit);
  }
}

function settledOf(r: BatchCommitResult): Settled<CommitResult> {
  return r.ok ? { ok: true, value: r.result } : { ok: false, error: r.error };
}

/** Everything {@link runLeased} needs besides the item. */
export interface ExecutionEnv {
  readonly backend: DistributedBackend;
  readonly wf: CompiledWorkflow;
  readonly instance: object;
  readonly cache: ContextCache;
  readonly leaseMs: number;
  readonly maxRedeliveries: number;
  readonly callbacks: StepCallbacks | undefined;
  /** Runs for which a fingerprint mismatch was already recorded (recorded once per run). */
  readonly mismatchReported: Set<string>;
  /** Stops commit retries early (the worker is shutting down hard). */
  readonly isClosing?: () => boolean;
  /** When set, commits go through it (grouped into batches) instead of one `commitStep` each. */
  readonly commits?: CommitBatcher;
  /**
   * Ask each commit that enqueues exactly one successor to hand it to this worker ({@link StepCommit.handoff}),
   * while the item's chain has had fewer than `limit` hand-offs in a row and `accepting()` says the worker takes
   * new work.
   */
  readonly handoff?: { readonly workerId: string; readonly limit: number; readonly accepting: () => boolean };
}

/** Compiles and checks a definition + instance for distributed execution. */
export function compileForWorker(def: AnyWorkflowDef, instance: object): CompiledWorkflow {
  const wf = compiledOf(def);
  checkInstance(wf, instance);
  return wf;
}

function safeCall(fn: () => void): void {
  try {
    fn();
  } catch {
    // Callbacks are observers: their failures never change the step.
  }
}

/** A store error worth retrying: the store's own `StoreError`, or a raw client error (not one of our typed errors). */
export function isTransientStoreError(err: unknown): boolean {
  if (err instanceof StoreError) return true;
  return !(err instanceof FloxideError) && err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Ends an item without a commit: gives the lease back to the store when the reason calls for it, tells the callbacks. */
export async function releaseLease(env: ExecutionEnv, f: InFlight, reason: ReleaseReason, error?: unknown): Promise<LeaseResult> {
  if (reason === 'stopping' || reason === 'fingerprint' || reason === 'store_error') {
    try {
      await env.backend.release(f.lease.runId, f.lease.item.id, f.lease.leaseToken);
    } catch {
      // The lease expires on its own; the item comes back then.
    }
  }
  if (reason === 'run_finished') env.cache.forget(f.lease.runId);
  safeCall(() => env.callbacks?.onReleased?.(f.lease, reason, error));
  return { kind: 'released', reason, error };
}

/** The hand-off request for a step's commit, when the step has one successor and the worker may take it. */
function handoffFor(env: ExecutionEnv, f: InFlight, outcome: StepOutcome): StepCommit['handoff'] {
  const h = env.handoff;
  if (!h || outcome.type !== 'continue' || outcome.items.length !== 1 || outcome.arrivals.length !== 0) return undefined;
  if (f.handoffs >= h.limit || !h.accepting()) return undefined;
  return { workerId: h.workerId, leaseMs: env.leaseMs };
}

/**
 * Commits with retries on connection errors, as long as the lease is (locally) believed to be ours. A commit whose
 * reply was lost and that had been granted a hand-off answers `duplicate` on retry: the successor's lease then
 * expires and the item is redelivered, as after a worker crash.
 */
async function commitWithRetry(env: ExecutionEnv, f: InFlight, outcome: StepOutcome): Promise<{ result: CommitResult; sentAt: number }> {
  let delay = 25;
  const handoff = handoffFor(env, f, outcome);
  for (;;) {
    try {
      const commit: StepCommit = { runId: f.lease.runId, itemId: f.lease.item.id, leaseToken: f.lease.leaseToken, outcome, ...(handoff ? { handoff } : {}) };
      const sentAt = Date.now();
      return { result: await (env.commits ? env.commits.commit(commit) : env.backend.commitStep(commit)), sentAt };
    } catch (err) {
      if (!isTransientStoreError(err) || Date.now() + delay >= f.localExpiry || env.isClosing?.()) throw err;
      await sleep(delay);
      delay = Math.min(delay * 2, 1_000);
    }
  }
}

/**
 * Processes one leased item to the end: checks its graph, guards against poison items, executes the step and
 * commits (or releases) it. Never throws for node failures (they are outcomes); store failures that outlast the
 * lease end as `released` with reason `store_error`, and the item comes back after its lease expires.
 */
export async function runLeased(env: ExecutionEnv, f: InFlight): Promise<LeaseResult> {
  const { lease } = f;
  const def = env.wf.def;
  if (lease.fingerprint !== def.fingerprint || lease.workflow !== def.name) {
    if (!env.mismatchReported.has(lease.runId)) {
      env.mismatchReported.add(lease.runId);
      const err = new FingerprintMismatchError(
        `run ${lease.runId} was started by ${lease.workflow} (graph ${lease.fingerprint}); this worker runs ${def.name} (graph ${def.fingerprint}): deploy workers built from the same source (floxide build)`,
      );
      try {
        await env.backend.recordError(lease.runId, { itemId: lease.item.id, node: lease.item.node, attempt: lease.attempt, error: serializeError(err) });
      } catch {
        // Best effort: the release below matters more.
      }
    }
    return releaseLease(env, f, 'fingerprint');
  }
  safeCall(() => env.callbacks?.onStarted?.(lease));

  let outcome: StepOutcome;
  const redeliveries = lease.deliveries - lease.attempt;
  if (redeliveries > env.maxRedeliveries) {
    const err = new PoisonItemError(
      `item ${lease.item.id} (${lease.item.node}) of run ${lease.runId} was delivered ${lease.deliveries} times without a commit (its worker crashed or lost the lease every time); dead-lettered after ${env.maxRedeliveries} redeliveries`,
    );
    outcome = { type: 'failed', error: serializeError(err), attempts: lease.attempt };
  } else {
    let timer: NodeJS.Timeout | undefined;
    if (lease.deadline !== undefined) {
      const expire = () => {
        f.abort.abort(new DeadlineExceededError(`the workflow deadline ${new Date(lease.deadline!).toISOString()} passed`));
      };
      const left = lease.deadline - Date.now();
      if (left <= 0) expire();
      else timer = setTimeout(expire, Math.min(left, 2 ** 31 - 1));
    }
    try {
      let context: unknown;
      try {
        context = await env.cache.current(env.backend, lease.runId, lease.contextVersion, lease.lastDelta, lease.initialContext);
      } catch (err) {
        if (isTransientStoreError(err)) return await releaseLease(env, f, 'store_error', err);
        throw err;
      }
      try {
        outcome = await executeStep(def, env.instance, lease.item, {
          runId: lease.runId,
          context,
          signal: f.abort,
          attempt: lease.attempt,
          inlineRetries: false,
          childId: (parent, index) => childItemId(parent.id, index),
        });
      } catch (err) {
        // A corrupt item (unknown node) or a stale module: the item can never succeed here.
        outcome = { type: 'failed', error: serializeError(err), attempts: lease.attempt };
      }
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  if (f.releasing) return releaseLease(env, f, 'stopping');
  if (f.lost) return releaseLease(env, f, f.runStatus !== undefined && isFinalRunStatus(f.runStatus) ? 'run_finished' : 'lease_lost');
  let result: CommitResult;
  let sentAt: number;
  try {
    try {
      ({ result, sentAt } = await commitWithRetry(env, f, outcome));
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      // The outcome cannot be stored (e.g. an output JSON cannot represent): the item fails with that error.
      outcome = { type: 'failed', error: serializeError(err), attempts: lease.attempt };
      ({ result, sentAt } = await commitWithRetry(env, f, outcome));
    }
  } catch (err) {
    return releaseLease(env, f, 'store_error', err);
  }
  if (result.status === 'run_finished' || (result.status === 'applied' && isFinalRunStatus(result.runStatus))) env.cache.forget(lease.runId);
  else if (result.status === 'applied' && outcome.type === 'continue') env.cache.noteCommit(lease.runId, outcome.delta, result.contextVersion);
  safeCall(() => env.callbacks?.onCommitted?.(lease, outcome, result));
  return { kind: 'committed', outcome, result, sentAt };
}

// ---------------------------------------------------------------------------------------------------------------
// The two distributed modes of a bound workflow

/** Options of `Workflow.startDistributed`. */
export interface StartDistributedOptions {
  /** Workflow-wide deadline, absolute (epoch ms or Date); workers abort the run's nodes when it passes. */
  readonly deadline?: number | Date;
  /** Workflow-wide time limit from now, in ms (an alternative to `deadline`). */
  readonly timeoutMs?: number;
}

/** Options of `Workflow.stepDistributed`. */
export interface StepDistributedOptions {
  /** Lease length (default {@link DEFAULT_LEASE_MS}); the lease is extended every `heartbeatMs` while the node runs. */
  readonly leaseMs?: number;
  readonly heartbeatMs?: number;
  /** See {@link DEFAULT_MAX_REDELIVERIES}. */
  readonly maxRedeliveries?: number;
}

/** What `stepDistributed` returns when the step it processed was a terminal that completed its run. */
export interface DistributedStepResult<O = unknown> {
  readonly runId: string;
  readonly output: O;
}


/**
 * Seeds a distributed run: the run record, the initial context and the start item, atomically (no worker can see
 * the item before the record exists). Idempotent per run id; nothing is executed.
 */
export async function startDistributedRun(
  wf: CompiledWorkflow,
  ctx: unknown,
  input: unknown,
  backend: DistributedBackend,
  runId: string,
  options?: StartDistributedOptions,
) {
  const deadline = absoluteDeadline(options);
  return backend.createRun({
    runId,
    workflow: wf.def.name,
    fingerprint: wf.def.fingerprint,
    input,
    context: wf.codec.serialize(ctx === undefined ? wf.codec.create() : ctx),
    firstItem: { node: wf.start, id: '0', input },
    ...(deadline === undefined ? {} : { deadline }),
  });
}

const stepCaches = new WeakMap<DistributedBackend, WeakMap<CompiledWorkflow, ContextCache>>();

function stepCacheOf(backend: DistributedBackend, wf: CompiledWorkflow): ContextCache {
  let byWf = stepCaches.get(backend);
  if (!byWf) stepCaches.set(backend, (byWf = new WeakMap()));
  let cache = byWf.get(wf);
  if (!cache) byWf.set(wf, (cache = new ContextCache(wf.codec)));
  return cache;
}

/**
 * Claims one item of this workflow, runs it under a heartbeated lease and commits it. Resolves with the run id and
 * output when the step was the terminal that completed its run, `undefined` otherwise (nothing claimable, a
 * non-terminal step, a retry, a failure, or an item given back).
 */
export async function stepDistributedOnce(
  wf: CompiledWorkflow,
  instance: object,
  backend: DistributedBackend,
  workerId: string,
  callbacks?: StepCallbacks,
  options?: StepDistributedOptions,
): Promise<DistributedStepResult | undefined> {
  const leaseMs = options?.leaseMs ?? DEFAULT_LEASE_MS;
  const heartbeatMs = options?.heartbeatMs ?? defaultHeartbeatMs(leaseMs);
  const claimedAt = Date.now();
  const [lease] = await backend.claim(workerId, 1, leaseMs, { workflow: wf.def.name });
  if (!lease) return undefined;
  const f = new InFlight(lease, leaseMs, claimedAt);
  const env: ExecutionEnv = {
    backend,
    wf,
    instance,
    cache: stepCacheOf(backend, wf),
    leaseMs,
    maxRedeliveries: options?.maxRedeliveries ?? DEFAULT_MAX_REDELIVERIES,
    callbacks,
    mismatchReported: new Set(),
  };
  const beat = setInterval(() => void extendInFlight(backend, f, leaseMs), heartbeatMs);
  let res: LeaseResult;
  try {
    res = await runLeased(env, f);
  } finally {
    clearInterval(beat);
  }
  if (res.kind === 'committed' && res.outcome.type === 'terminal' && res.result.status === 'applied' && res.result.runStatus === 'completed') {
    return { runId: lease.runId, output: res.outcome.output };
  }
  return undefined;
}

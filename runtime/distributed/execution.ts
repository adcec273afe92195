/**
 * Running one leased work item: the part shared by `Workflow.stepDistributed` and {@link Worker}. It reads the
 * run's context through a per-run cache (only deltas newer than the cached version), executes the step with
 * `inlineRetries: false` under a signal that aborts on cancel (seen by heartbeats) and on the run's deadline,
 * and commits the outcome, retrying the commit on connection errors while the lease is still ours (commits are
 * idempotent per item id, so a commit that reached the store before the connection dropped answers `duplicate`).
 */
import type { AnyWorkflowDef } from '../graph/definition.js';
import { checkInstance, compiledOf, type CompiledWorkflow } from '../engine/compile.js';
import { absoluteDeadline } from '../engine/retry.js';
import { executeStep } from '../engine/core.js';
import { assertStorableStart } from '../engine/validate.js';
import type { StepOutcome } from '../engine/types.js';
import {
  CorruptStateError,
  deadlinePassed,
  FingerprintMismatchError,
  FloxideError,
  InvalidArgumentError,
  PoisonItemError,
  RunStateError,
  StoreError,
  serializeError,
} from '../core/errors.js';
import {
  isFinalRunStatus,
  supportsMigration,
  type CommitResult,
  type RunMigrator,
  type CreateRunResult,
  type DistributedBackend,
  type StepCommit,
} from './contracts.js';
import { ContextCache } from './context-cache.js';
import { contextCorruption } from './stored-lease.js';
import { DEFAULT_LEASE_MS, InFlight, defaultHeartbeatMs, extendInFlight } from './lease.js';
import type { CommitBatcher } from './commit-batcher.js';
import { childItemId } from '../core/ids.js';
import { atTime, clockAt, systemClock, timerPeriodMs, type Clock } from '../core/time.js';
import { Tracing, type TracingOption } from '../engine/tracing.js';
import { WorkerTracing } from './tracing.js';
import type { ReleaseReason, StepCallbacks } from './callbacks.js';

/** Default number of deliveries of one attempt that ended without a commit before the item is dead-lettered. */
export const DEFAULT_MAX_REDELIVERIES = 10;

/** How many runs' fingerprint mismatches a worker remembers having recorded (then it starts over). */
const MISMATCHES_KEPT = 10_000;

export type { ReleaseReason, StepCallbacks } from './callbacks.js';

/** What became of one leased item. */
export type LeaseResult =
  /**
   * `sentAt`: local time just before the commit that got `result` was sent (a hand-off's lease starts after it);
   * `clockAt`: the steps' clock then, when the environment has one ({@link ExecutionEnv.clock}).
   */
  | { readonly kind: 'committed'; readonly outcome: StepOutcome; readonly result: CommitResult; readonly sentAt: number; readonly clockAt: number | undefined }
  | { readonly kind: 'released'; readonly reason: ReleaseReason; readonly error?: unknown };

/** Everything {@link runLeased} needs besides the item. */
export interface ExecutionEnv {
  readonly backend: DistributedBackend;
  /** The worker's id: the runs it moves to its version say who moved them (`run.migrated`). */
  readonly workerId: string;
  readonly wf: CompiledWorkflow;
  readonly instance: object;
  readonly cache: ContextCache;
  readonly leaseMs: number;
  readonly maxRedeliveries: number;
  readonly callbacks: StepCallbacks | undefined;
  /** OpenTelemetry, when the worker is traced: its callbacks are in {@link callbacks}; node code runs in their spans. */
  readonly tracing?: WorkerTracing;
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
  /**
   * Where steps read time and wait: the run deadline, retry backoff and node timeouts (default the system clock). A
   * step reads it set to the store's time of its claim (a parked item's wake-up is compared with the store's clock).
   */
  readonly clock?: Clock;
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

/**
 * Ends an item without a commit: gives the lease back to the store when the reason calls for it (a stop, an item of
 * another graph version: `release` does not count the delivery), tells the callbacks. After a store error the lease
 * runs out instead: the item comes back when it expires, as a redelivery, so a store read that fails every time for
 * this item ends as a poison item after `maxRedeliveries` instead of a claim-and-release loop.
 */
export async function releaseLease(env: ExecutionEnv, f: InFlight, reason: ReleaseReason, error?: unknown): Promise<LeaseResult> {
  if (reason === 'stopping' || reason === 'fingerprint') {
    try {
      await env.backend.release(f.lease.runId, f.lease.item.id, f.lease.leaseToken, reason === 'fingerprint' ? { misrouted: true } : {});
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
  // only while the run is on the version that ran the step (a run moved meanwhile goes to that version's workers)
  return { workerId: h.workerId, leaseMs: env.leaseMs, fingerprint: env.wf.def.fingerprint };
}

/**
 * Commits with retries on connection errors, as long as the lease is (locally) believed to be ours. A commit whose
 * reply was lost and that had been granted a hand-off answers `duplicate` on retry: the successor's lease then
 * expires and the item is redelivered, as after a worker crash.
 */
async function commitWithRetry(env: ExecutionEnv, f: InFlight, outcome: StepOutcome): Promise<{ result: CommitResult; sentAt: number; clockAt: number | undefined }> {
  // A corrupt stored item's dead letter keeps the item as the lease holds it (the stored text cannot be read back).
  const dead = f.lease.corrupt !== undefined && outcome.type === 'failed' ? { deadLetterItem: f.lease.item } : {};
  let delay = 25;
  const handoff = handoffFor(env, f, outcome);
  for (;;) {
    try {
      const commit: StepCommit = { runId: f.lease.runId, itemId: f.lease.item.id, node: f.lease.item.node, leaseToken: f.lease.leaseToken, outcome, ...(handoff ? { handoff } : {}), ...dead };
      const sentAt = Date.now();
      const clockAt = env.clock?.now();
      return { result: await (env.commits ? env.commits.commit(commit) : env.backend.commitStep(commit)), sentAt, clockAt };
    } catch (err) {
      if (!isTransientStoreError(err) || Date.now() + delay >= f.localExpiry || env.isClosing?.()) throw err;
      await sleep(delay);
      delay = Math.min(delay * 2, 1_000);
    }
  }
}

/** Runs the leased item's step on `context` (never throws: a corrupt item or a stale module is a failed outcome). */
async function executeLeased(env: ExecutionEnv, f: InFlight, context: unknown, clock: Clock, machine: Clock): Promise<StepOutcome> {
  const { lease } = f;
  try {
    return await executeStep(env.wf.def, env.instance, lease.item, {
      runId: lease.runId,
      context,
      signal: f.abort,
      attempt: lease.attempt,
      inlineRetries: false,
      clock,
      // the deadline on the step's clock: this machine's offset from the store's, added (the store wakes an item
      // parked until it by its own clock)
      deadline: lease.deadline === undefined ? undefined : { run: lease.deadline, at: lease.deadline + clock.now() - machine.now() },
      childId: (parent, index) => childItemId(parent.id, index),
    }, env.tracing?.attemptOf(lease));
  } catch (err) {
    // An unknown node or a stale module: the item can never succeed here.
    return { type: 'failed', error: serializeError(err), attempts: lease.attempt };
  }
}

/**
 * A leased item of a run on an older version this worker's definition `accepts` (a safe change): moves the run to
 * this version first (`RunMigrator.migrate`, no renames, leases kept: a commit of the old version's code still in
 * flight fits this version), so that from now on only workers of this version claim it. Undefined when the run is
 * on this version now (moved here, or by another worker); otherwise the lease's end.
 */
async function adoptRun(env: ExecutionEnv, f: InFlight): Promise<LeaseResult | undefined> {
  const { lease } = f;
  const backend = env.backend as DistributedBackend & RunMigrator;
  const to = env.wf.def.fingerprint;
  try {
    await backend.migrate(lease.runId, { from: lease.fingerprint, to, renames: {}, leases: 'keep', workerId: env.workerId });
    safeCall(() => env.callbacks?.onMigrated?.(lease, to));
    return undefined;
  } catch (err) {
    if (isTransientStoreError(err)) return releaseLease(env, f, 'store_error', err);
    if (err instanceof RunStateError) return releaseLease(env, f, 'run_finished', err);
    if (!(err instanceof FingerprintMismatchError)) throw err;
  }
  // moved by someone else since the claim: ours now, or (another version) not ours to run
  const run = await backend.getRun(lease.runId).catch(() => undefined);
  return run?.fingerprint === to ? undefined : releaseLease(env, f, 'fingerprint');
}

/**
 * The clock a leased step reads: the store's time (a sleep's end and a wait's timeout are compared with the store's
 * clock, so a worker whose clock is off must not compute them on its own), from the lease: the store's time of the
 * claim (or of the commit that handed the item off) plus the time passed here since that request was sent. So it is
 * never behind the store's clock (a sleep never ends early, however long the item waited for its context or a slot),
 * and ahead by at most the request's round trip. With a `clock` of the caller's own (virtual time in tests, a machine's
 * clock set apart) the time passed is what that clock counted since the request was sent (it was read then too:
 * {@link InFlight.clockAtClaim}), so this machine's offset from the store's, which the run's deadline is taken to the
 * store's clock with, is not short by the time the item waited (the store woke an item parked until the deadline a
 * few ms before it, on this machine's clock). (The deadline timer keeps this machine's clock, like the orchestrator
 * that set the deadline.)
 */
function storeClock(env: ExecutionEnv, f: InFlight, clock: Clock): Clock {
  return clockAt(clock, f.lease.leaseExpiresAt - env.leaseMs + (clock.now() - f.clockAtClaim));
}

/**
 * Processes one leased item to the end: checks its graph, guards against poison items, executes the step and
 * commits (or releases) it. Never throws for node failures (they are outcomes); store failures that outlast the
 * lease end as `released` with reason `store_error`, and the item comes back after its lease expires.
 */
export async function runLeased(env: ExecutionEnv, f: InFlight): Promise<LeaseResult> {
  const { lease } = f;
  const def = env.wf.def;
  if (lease.fingerprint !== def.fingerprint && lease.workflow === def.name && def.accepts?.includes(lease.fingerprint) && supportsMigration(env.backend)) {
    const adopted = await adoptRun(env, f);
    if (adopted !== undefined) return adopted;
  } else if (lease.fingerprint !== def.fingerprint || lease.workflow !== def.name) {
    if (!env.mismatchReported.has(lease.runId)) {
      // Kept for a worker's lifetime: bounded, so a long-lived worker meeting many foreign runs does not grow.
      if (env.mismatchReported.size >= MISMATCHES_KEPT) env.mismatchReported.clear();
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
  if (lease.corrupt) {
    // A stored item (or the context the claim carried) that cannot be decoded fails at once: it can never run.
    outcome = { type: 'failed', error: serializeError(lease.corrupt), attempts: lease.attempt };
  } else if (redeliveries > env.maxRedeliveries) {
    const err = new PoisonItemError(
      `item ${lease.item.id} (${lease.item.node}) of run ${lease.runId} was delivered ${redeliveries + 1} times at attempt ${lease.attempt} without a commit (its worker crashed or lost the lease every time); dead-lettered after ${env.maxRedeliveries} redeliveries`,
    );
    outcome = { type: 'failed', error: serializeError(err), attempts: lease.attempt };
  } else {
    const clock = env.clock ?? systemClock;
    const deadline = lease.deadline;
    const cancelTimer =
      deadline === undefined ? undefined : atTime(clock, deadline, () => f.abort.abort(deadlinePassed(deadline)));
    try {
      let context: unknown;
      let corruptContext: CorruptStateError | undefined;
      try {
        context = await env.cache.current(env.backend, lease.runId, lease.contextVersion, lease.lastDelta, lease.initialContext);
      } catch (err) {
        if (isTransientStoreError(err)) return await releaseLease(env, f, 'store_error', err);
        if (!(err instanceof CorruptStateError)) throw err;
        // The run's stored context is corrupt: no step of the run can run; this item fails now, with the real error.
        corruptContext = contextCorruption(lease, err);
      }
      if (corruptContext) {
        outcome = { type: 'failed', error: serializeError(corruptContext), attempts: lease.attempt };
      } else {
        outcome = await executeLeased(env, f, context, storeClock(env, f, clock), clock);
      }
    } finally {
      cancelTimer?.();
    }
  }

  if (f.releasing) return releaseLease(env, f, 'stopping');
  if (f.lost) return releaseLease(env, f, f.runStatus !== undefined && isFinalRunStatus(f.runStatus) ? 'run_finished' : 'lease_lost');
  let result: CommitResult;
  let sentAt: number;
  let clockAt: number | undefined;
  try {
    try {
      ({ result, sentAt, clockAt } = await commitWithRetry(env, f, outcome));
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      // The outcome cannot be stored (e.g. an output JSON cannot represent): the item fails with that error.
      outcome = { type: 'failed', error: serializeError(err), attempts: lease.attempt };
      ({ result, sentAt, clockAt } = await commitWithRetry(env, f, outcome));
    }
  } catch (err) {
    return releaseLease(env, f, 'store_error', err);
  }
  if (result.status === 'run_finished' || (result.status === 'applied' && isFinalRunStatus(result.runStatus))) env.cache.forget(lease.runId);
  else if (result.status === 'applied' && outcome.type === 'continue') env.cache.noteCommit(lease.runId, outcome.delta, result.contextVersion);
  safeCall(() => env.callbacks?.onCommitted?.(lease, outcome, result));
  return { kind: 'committed', outcome, result, sentAt, clockAt };
}

// ---------------------------------------------------------------------------------------------------------------
// The two distributed modes of a bound workflow

/** Options of `Workflow.startDistributed`. */
export interface StartDistributedOptions {
  /** Workflow-wide deadline, absolute (epoch ms or Date); workers abort the run's nodes when it passes. */
  readonly deadline?: number | Date;
  /** Workflow-wide time limit from now, in ms (an alternative to `deadline`). */
  readonly timeoutMs?: number;
  /** Where "now" is read for `timeoutMs` (default the system clock). */
  readonly clock?: Clock;
  /**
   * OpenTelemetry: the start gets a span (`floxide.start <workflow>`, ended once the run is stored) whose
   * `traceparent` is stored with the run, so the step spans of every traced worker, and the run span the worker that
   * finishes the run records, join its trace. `true`: the global tracer provider; `{ tracerProvider }`: that one.
   * Needs the optional peer `@opentelemetry/api`.
   */
  readonly tracing?: TracingOption;
}

/** Options of `Workflow.stepDistributed`. */
export interface StepDistributedOptions {
  /** Lease length (default {@link DEFAULT_LEASE_MS}); the lease is extended every `heartbeatMs` while the node runs. */
  readonly leaseMs?: number;
  readonly heartbeatMs?: number;
  /** See {@link DEFAULT_MAX_REDELIVERIES}. */
  readonly maxRedeliveries?: number;
  /** See {@link ExecutionEnv.clock}. */
  readonly clock?: Clock;
  /** OpenTelemetry: a span for the step, in the run's trace, and the run's span if the step finishes it (see `WorkerOptions.tracing`). */
  readonly tracing?: TracingOption;
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
  const deadline = absoluteDeadline(options, options?.clock);
  const context = wf.codec.serialize(ctx === undefined ? wf.codec.create() : ctx);
  assertStorableStart(input, context);
  const span = Tracing.of(options?.tracing)?.startDistributed(runId, wf.def.name);
  let res: CreateRunResult;
  try {
    res = await backend.createRun({
      runId,
      workflow: wf.def.name,
      fingerprint: wf.def.fingerprint,
      input,
      context,
      firstItem: { node: wf.start, id: '0', input },
      ...(deadline === undefined ? {} : { deadline }),
      ...(span?.traceparent === undefined ? {} : { traceparent: span.traceparent }),
    });
  } catch (err) {
    span?.end('failed', serializeError(err), Date.now());
    throw err;
  }
  // The start span covers the start (workers add the steps and the run span). A run that existed already keeps the
  // span it was stored with: this one is dropped unended, so it is never exported.
  if (res.created) span?.end('started', undefined, Date.now());
  return res;
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
  const tracing = WorkerTracing.of(options?.tracing, workerId);
  const leaseMs = options?.leaseMs ?? DEFAULT_LEASE_MS;
  const heartbeatMs = timerPeriodMs(options?.heartbeatMs, defaultHeartbeatMs(leaseMs), 'heartbeatMs');
  const claimedAt = Date.now();
  const clockAt = options?.clock?.now();
  const [lease] = await backend.claim(workerId, 1, leaseMs, { workflow: wf.def.name, fingerprints: [wf.def.fingerprint] });
  if (!lease) return undefined;
  const f = new InFlight(lease, leaseMs, claimedAt, 0, clockAt);
  const env: ExecutionEnv = {
    backend,
    workerId,
    wf,
    instance,
    cache: stepCacheOf(backend, wf),
    leaseMs,
    maxRedeliveries: options?.maxRedeliveries ?? DEFAULT_MAX_REDELIVERIES,
    callbacks: tracing ? tracing.callbacks(callbacks) : callbacks,
    ...(tracing ? { tracing } : {}),
    mismatchReported: new Set(),
    ...(options?.clock ? { clock: options.clock } : {}),
  };
  const beat = setInterval(() => void extendInFlight(backend, f, leaseMs), heartbeatMs);
  let res: LeaseResult;
  try {
    res = await runLeased(env, f);
  } finally {
    clearInterval(beat);
    tracing?.flush();
  }
  if (res.kind === 'committed' && res.outcome.type === 'terminal' && res.result.status === 'applied' && res.result.runStatus === 'completed') {
    return { runId: lease.runId, output: res.outcome.output };
  }
  return undefined;
}


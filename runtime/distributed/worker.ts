/**
 * `Worker`: a long-running loop that claims items of one workflow from a {@link DistributedBackend}, runs up to
 * `concurrency` of them at once and commits each outcome atomically. Background heartbeats extend the leases of
 * running items (and learn about cancels: the node's `ctx.signal` aborts) and record the worker's liveness. Idle
 * polling backs off exponentially with jitter. `stop()` drains gracefully.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AnyWorkflowDef } from '../graph/definition.js';
import type { CompiledWorkflow } from '../engine/compile.js';
import { InvalidArgumentError } from '../core/errors.js';
import { supportsBatchCommit, supportsMigration, supportsSchedules, type DistributedBackend, type WorkerHealth } from './contracts.js';
import { Scheduler } from './scheduler.js';
import { DEFAULT_PURGE_EVERY_MS, Retention } from './retention.js';
import { CommitBatcher } from './commit-batcher.js';
import { ContextCache } from './context-cache.js';
import { DEFAULT_LEASE_MS, InFlight, defaultHeartbeatMs, extendInFlight } from './lease.js';
import {
  DEFAULT_MAX_REDELIVERIES,
  compileForWorker,
  releaseLease,
  runLeased,
  type ExecutionEnv,
  type LeaseResult,
  type StepCallbacks,
} from './execution.js';
import { assertWorkerId } from '../core/ids.js';
import { systemClock, timerPeriodMs, type Clock } from '../core/time.js';
import type { TracingOption } from '../engine/tracing.js';
import { WorkerTracing } from './tracing.js';

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** Unique across every process sharing the backend. Default: {@link newWorkerId}. */
  readonly workerId?: string;
  /** Items processed at once (default 1). */
  readonly concurrency?: number;
  /** Lease length in ms (default 30 000). An item whose worker stops heartbeating comes back after it. */
  readonly leaseMs?: number;
  /** Heartbeat period in ms: lease extension, cancel detection, liveness (default min(2 000, leaseMs / 3)). */
  readonly heartbeatMs?: number;
  /** First idle poll delay in ms; doubles while idle up to `idleMaxMs` (defaults 20 and 1 000). */
  readonly idleMinMs?: number;
  readonly idleMaxMs?: number;
  /** Graceful stop: how long in-flight items may finish before they are given back (default {@link DEFAULT_GRACE_MS}; `Infinity`: no limit). */
  readonly graceMs?: number;
  /** Redeliveries of one attempt without a commit before the item is dead-lettered (default 10). */
  readonly maxRedeliveries?: number;
  /**
   * Other graph versions of the same workflow this worker also executes: the bound definitions of earlier builds
   * (e.g. the previous release's generated module and node classes, imported next to the current ones), so runs
   * started on them finish here while new runs start on the current one. The worker claims only items of runs of
   * its versions (`ClaimOptions.fingerprints`). See docs/deploying.md.
   */
  readonly versions?: ReadonlyArray<{ readonly def: AnyWorkflowDef; readonly instance: object }>;
  /** Free-form details published with each heartbeat (host, pid and the graph versions served are added). */
  readonly info?: Readonly<Record<string, string>>;
  /** Step hooks. */
  readonly callbacks?: StepCallbacks;
  /**
   * OpenTelemetry: a span per attempt of a step (`floxide.step <node>`, node code runs in it), a child of the run's
   * start span through the `traceparent` stored with the run (runs started with `tracing`), so one trace spans every
   * worker that touched the run; the worker whose commit finishes a run records its run span (`floxide.run
   * <workflow>`, from its creation to its end); the runs this worker's scheduler starts are traced too. `true`: the global tracer provider;
   * `{ tracerProvider }`: that one. Needs the optional peer `@opentelemetry/api` (loaded only when this is set).
   */
  readonly tracing?: TracingOption;
  /**
   * Send the commits of steps that finish close together as one batch (one round trip) when the backend supports
   * batched commits (default true). Each commit stays atomic and idempotent on its own.
   */
  readonly batchCommits?: boolean;
  /**
   * Successor hand-off: a step that enqueues exactly one successor asks the store to lease it to this worker in
   * the same commit, when its run has nothing else waiting (see `StepCommit.handoff`), so a chain runs on without
   * a claim round trip per step. At most this many hand-offs in a row per chain (default 8); then its next item
   * goes back through the queue and the fair round-robin. 0 turns hand-offs off.
   */
  readonly handoffLimit?: number;
  /**
   * Start the runs of this workflow's schedules from this worker (default true, when the backend keeps schedules).
   * Any number of workers may: each tick starts one run. A {@link WorkerPool} runs one scheduler per pool.
   */
  readonly schedules?: boolean;
  /** Longest wait of the worker's scheduler between passes, in ms (default 1 000). */
  readonly schedulePollMs?: number;
  /**
   * How often this worker keeps its store bounded, in ms (default 60 000, the first pass one period after `start`):
   * it deletes the finished runs kept past their retention when the store deletes them only when asked
   * (`PostgresBackend.purgeFinished`, runs finished `retainFinishedMs` ago; Redis expires them by itself), and removes
   * the liveness records of workers unseen for a day (killed ones never remove theirs). `0`: never (then call
   * `purgeFinished` and `removeWorker` yourself, or they pile up for ever). A {@link WorkerPool} runs the passes from
   * its first worker only.
   */
  readonly purgeEveryMs?: number;
  /** Called with errors of the loop itself (claims failing, heartbeats failing); default: ignored. */
  readonly onError?: (error: unknown) => void;
  /**
   * Where steps read time and wait: run deadlines, retry backoff, node timeouts (default the system clock). A step
   * reads it set to the store's time of its claim (from the lease), so a sleep's end and a wait's timeout are the
   * store's, whatever this machine's clock says. Leases, heartbeats and idle polling keep wall-clock time.
   */
  readonly clock?: Clock;
}

/** Default {@link WorkerOptions.handoffLimit}. */
export const DEFAULT_HANDOFF_LIMIT = 8;

/** How long a stopping worker lets its in-flight items finish before it gives them back (`WorkerOptions.graceMs`). */
export const DEFAULT_GRACE_MS = 30_000;

/** A worker id unique across processes and machines: `host:pid:random`. */
export function newWorkerId(prefix?: string): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'host';
  const id = `${host.slice(0, 60)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  return prefix ? `${prefix}-${id}` : id;
}

function positiveInt(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive integer, got ${String(v)}`);
  return v;
}

function nonNegativeInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`${what} must be a non-negative integer, got ${String(v)}`);
  return v;
}

/** A grace period: ms >= 0, `Infinity` for no limit; anything else is an `InvalidArgumentError`. */
export function graceMsOf(v: number): number {
  if (typeof v !== 'number' || !(v >= 0)) throw new InvalidArgumentError(`graceMs must be a number of ms >= 0 (Infinity: no limit), got ${String(v)}`);
  return v;
}

function positiveMs(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${what} must be a positive number of ms, got ${String(v)}`);
  return v;
}

/** Counters of one worker since it started. */
export interface WorkerStats {
  /** Commits applied (any outcome). */
  processed: number;
  /** Retries and failures committed. */
  errors: number;
  /** Items given back without a commit. */
  released: number;
  /** Commits the store refused as duplicate, lease lost or run finished. */
  refused: number;
}

/**
 * Processes items of one workflow. `start()` begins the loop; `stop()` stops claiming, lets in-flight items finish
 * (up to `graceMs`, then gives them back to the queue) and resolves when the worker is idle.
 */
export class Worker {
  readonly workerId: string;
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly stats: WorkerStats = { processed: 0, errors: 0, released: 0, refused: 0 };
  private readonly wf: CompiledWorkflow;
  private readonly env: ExecutionEnv;
  /** One execution environment per graph version served, by fingerprint (the current one first). */
  private readonly envs: ReadonlyMap<string, ExecutionEnv>;
  private readonly accepted: readonly string[];
  /** What claims ask for: the versions executed, then the ones accepted. */
  private readonly claimVersions: readonly string[];
  private readonly idleMinMs: number;
  private readonly idleMaxMs: number;
  private readonly graceMs: number;
  private readonly info: Readonly<Record<string, string>>;
  private readonly inflight = new Map<string, { f: InFlight; done: Promise<void> }>();
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private loopDone: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private beat: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly scheduler: Scheduler | undefined;
  private readonly retention: Retention | undefined;

  constructor(
    private readonly backend: DistributedBackend,
    def: AnyWorkflowDef,
    instance: object,
    private readonly options: WorkerOptions = {},
  ) {
    this.workerId = options.workerId ?? newWorkerId();
    assertWorkerId(this.workerId);
    this.concurrency = positiveInt(options.concurrency, 1, 'concurrency');
    this.leaseMs = positiveMs(options.leaseMs, DEFAULT_LEASE_MS, 'leaseMs');
    this.heartbeatMs = timerPeriodMs(options.heartbeatMs, defaultHeartbeatMs(this.leaseMs), 'heartbeatMs');
    if (this.heartbeatMs >= this.leaseMs) throw new InvalidArgumentError(`heartbeatMs (${this.heartbeatMs}) must be shorter than leaseMs (${this.leaseMs})`);
    this.idleMinMs = positiveMs(options.idleMinMs, 20, 'idleMinMs');
    this.idleMaxMs = Math.max(this.idleMinMs, positiveMs(options.idleMaxMs, 1_000, 'idleMaxMs'));
    this.graceMs = options.graceMs === undefined ? DEFAULT_GRACE_MS : graceMsOf(options.graceMs);
    const handoffLimit = options.handoffLimit === undefined ? DEFAULT_HANDOFF_LIMIT : nonNegativeInt(options.handoffLimit, 'handoffLimit');
    this.wf = compileForWorker(def, instance);
    const mismatchReported = new Set<string>();
    const commits = options.batchCommits !== false && supportsBatchCommit(backend) ? new CommitBatcher(backend) : undefined;
    const tracing = WorkerTracing.of(options.tracing, this.workerId);
    const callbacks = tracing ? tracing.callbacks(options.callbacks) : options.callbacks;
    const envOf = (wf: CompiledWorkflow, inst: object): ExecutionEnv => ({
      backend,
      workerId: this.workerId,
      wf,
      instance: inst,
      cache: new ContextCache(wf.codec),
      leaseMs: this.leaseMs,
      maxRedeliveries: options.maxRedeliveries === undefined ? DEFAULT_MAX_REDELIVERIES : Math.max(0, options.maxRedeliveries),
      callbacks,
      ...(tracing ? { tracing } : {}),
      mismatchReported,
      isClosing: () => this.closing,
      ...(commits ? { commits } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(handoffLimit > 0 ? { handoff: { workerId: this.workerId, limit: handoffLimit, accepting: () => this.state === 'running' } } : {}),
    });
    this.env = envOf(this.wf, instance);
    const envs = new Map([[def.fingerprint, this.env]]);
    for (const v of options.versions ?? []) {
      if (v.def.name !== def.name) throw new InvalidArgumentError(`versions: ${v.def.name} is another workflow than ${def.name}: a worker serves versions of one workflow`);
      if (envs.has(v.def.fingerprint)) throw new InvalidArgumentError(`versions: graph version ${v.def.fingerprint} of ${def.name} is given twice`);
      envs.set(v.def.fingerprint, envOf(compileForWorker(v.def, v.instance), v.instance));
    }
    this.envs = envs;
    // Older versions the current definition accepts (a safe change, found by floxide build): their runs are claimed
    // too, and moved to the current version before their item runs (runLeased).
    this.accepted = supportsMigration(backend) ? (def.accepts ?? []).filter((v) => !envs.has(v)) : [];
    this.claimVersions = [...envs.keys(), ...this.accepted];
    const schedules = options.schedules !== false && supportsSchedules(backend);
    this.info = {
      host: hostname(),
      pid: String(process.pid),
      workflow: def.name,
      versions: [...envs.keys()].join(','),
      ...(this.accepted.length > 0 ? { accepts: this.accepted.join(',') } : {}),
      ...(def.supersedes?.length ? { supersedes: def.supersedes.join(',') } : {}),
      // an older build's scheduler leaves its ticks only to a newer build's worker that starts them (scheduler.ts)
      ...(schedules ? {} : { schedules: 'off' }),
      ...(options.info ?? {}),
    };
    if (schedules) {
      this.scheduler = new Scheduler(backend, this.wf, {
        onError: (e) => this.report(e),
        ...(options.schedulePollMs === undefined ? {} : { pollMs: options.schedulePollMs }),
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.tracing ? { tracing: options.tracing } : {}),
      });
    }
    const purgeEveryMs = options.purgeEveryMs ?? DEFAULT_PURGE_EVERY_MS;
    if (purgeEveryMs !== 0) this.retention = new Retention(backend, purgeEveryMs, (e) => this.report(e));
  }

  /** The workflow this worker serves. */
  get workflow(): string {
    return this.wf.def.name;
  }

  /** The graph versions (fingerprints) this worker executes, the current one first. */
  get versions(): string[] {
    return [...this.envs.keys()];
  }

  /**
   * Older graph versions the current definition `accepts` (docs/deploying.md): this worker claims their runs' items
   * too and moves each such run to the current version (`RunMigrator.migrate`, no renames) before running its item.
   * Empty when the backend cannot move runs.
   */
  get accepts(): string[] {
    return [...this.accepted];
  }

  /** Items being processed right now. */
  get inFlight(): number {
    return this.inflight.size;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Starts the loop (idempotent). Resolves once the first liveness record is written. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    await this.publishHealth().catch((e: unknown) => this.report(e));
    this.beat = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.loopDone = this.loop();
    this.scheduler?.start();
    this.retention?.start();
  }

  /**
   * Graceful stop: no new claims; in-flight items may finish for `graceMs` (default: the worker's `graceMs`),
   * then the rest are aborted and given back to the queue untouched. Resolves when nothing is in flight and the
   * worker's liveness record is removed. Idempotent.
   */
  stop(graceMs: number = this.graceMs): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    try {
      graceMsOf(graceMs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.state === 'new') {
      this.state = 'stopped';
      return (this.stopPromise = Promise.resolve());
    }
    this.state = 'stopping';
    this.wake?.();
    this.stopPromise = (async () => {
      await Promise.all([this.scheduler?.stop(), this.retention?.stop()]);
      await this.publishHealth().catch(() => undefined);
      await this.loopDone;
      const drained = this.drained();
      // (systemClock's timer, not setTimeout: Node fires a timeout longer than 2^31-1 ms, or Infinity, at once)
      let cancel: (() => void) | undefined;
      const timedOut = await Promise.race([drained.then(() => false), new Promise<boolean>((r) => (cancel = systemClock.setTimer(() => r(true), graceMs)))]);
      cancel?.();
      if (timedOut) {
        this.closing = true;
        for (const { f } of this.inflight.values()) {
          f.releasing = true;
          f.abort.abort(new Error(`worker ${this.workerId} is stopping`));
        }
        await drained;
      }
      if (this.beat) clearInterval(this.beat);
      // the spans of its last attempts, queued to be made on the next turn (WorkerTracing.flush)
      this.env.tracing?.flush();
      this.state = 'stopped';
      await this.backend.removeWorker(this.workerId).catch(() => undefined);
    })();
    return this.stopPromise;
  }

  private async drained(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight.values()].map((x) => x.done));
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // ignore
    }
  }

  private health(): WorkerHealth {
    return {
      status: this.state === 'running' ? (this.inflight.size > 0 ? 'busy' : 'idle') : 'stopping',
      current: [...this.inflight.values()].map(({ f }) => ({ runId: f.lease.runId, itemId: f.lease.item.id })),
      processed: this.stats.processed,
      errors: this.stats.errors,
      info: this.info,
    };
  }

  private publishHealth(): Promise<void> {
    return this.backend.heartbeat(this.workerId, this.health());
  }

  private async heartbeat(): Promise<void> {
    const items = [...this.inflight.values()].map(({ f }) => f);
    await Promise.all([
      ...items.map((f) => extendInFlight(this.backend, f, this.leaseMs)),
      this.publishHealth().catch((e: unknown) => this.report(e)),
    ]);
  }

  /** Sleeps `ms`, waking early on stop or when an item finishes. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = systemClock.setTimer(done, ms);
      function done() {
        cancel();
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async loop(): Promise<void> {
    let idle = this.idleMinMs;
    while (this.state === 'running') {
      const free = this.concurrency - this.inflight.size;
      // Claim in batches: with many items in flight, wait for a quarter of the slots to free up (one claim round
      // trip then serves several items) instead of claiming once per finished item.
      if (free <= 0 || (this.inflight.size > 0 && free < Math.ceil(this.concurrency / 4))) {
        await this.pause(this.idleMaxMs);
        continue;
      }
      const claimedAt = Date.now();
      const clockAt = this.env.clock?.now();
      let leases;
      try {
        leases = await this.backend.claim(this.workerId, free, this.leaseMs, { workflow: this.wf.def.name, fingerprints: this.claimVersions });
      } catch (err) {
        this.report(err);
        await this.pause(jitter(idle));
        idle = Math.min(idle * 2, this.idleMaxMs);
        continue;
      }
      if (this.state !== 'running') {
        // Stopped while claiming: give the items straight back.
        await Promise.all(leases.map((l) => this.backend.release(l.runId, l.item.id, l.leaseToken).catch(() => false)));
        break;
      }
      for (const lease of leases) this.launch(new InFlight(lease, this.leaseMs, claimedAt, 0, clockAt));
      if (leases.length === free) {
        idle = this.idleMinMs;
        continue;
      }
      if (leases.length > 0) idle = this.idleMinMs;
      // Fewer than asked: the queue is drained for now. Wait (an item finishing wakes us: it may have produced work).
      await this.pause(jitter(idle));
      if (leases.length === 0) idle = Math.min(idle * 2, this.idleMaxMs);
    }
  }

  private launch(f: InFlight): void {
    const key = f.key;
    const done = runLeased(this.envs.get(f.lease.fingerprint) ?? this.env, f).then(
      (res) => {
        this.account(res);
        // A successor handed off by the commit takes the slot this item frees (or goes back when stopping).
        if (res.kind === 'committed' && res.result.status === 'applied' && res.result.next) {
          this.adopt(new InFlight(res.result.next, this.leaseMs, res.sentAt, f.handoffs + 1, res.clockAt));
        }
      },
      (err: unknown) => {
        this.stats.released += 1;
        this.report(err);
      },
    );
    const entry = {
      f,
      done: done.finally(() => {
        this.inflight.delete(key);
        this.wake?.();
      }),
    };
    this.inflight.set(key, entry);
  }

  /** Runs a handed-off item, or gives it straight back when the worker stopped taking work meanwhile. */
  private adopt(f: InFlight): void {
    if (this.state === 'running') {
      this.launch(f);
      return;
    }
    const key = f.key;
    const done = releaseLease(this.env, f, 'stopping')
      .then((res) => this.account(res))
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, { f, done });
  }

  private account(res: LeaseResult): void {
    if (res.kind === 'released') {
      this.stats.released += 1;
      if (res.reason === 'store_error' && res.error !== undefined) this.report(res.error);
      return;
    }
    if (res.result.status !== 'applied') {
      this.stats.refused += 1;
      return;
    }
    this.stats.processed += 1;
    if (res.outcome.type === 'retry' || res.outcome.type === 'failed') this.stats.errors += 1;
  }
}

/** `ms` with up to ±25 % uniform jitter, so idle workers do not poll in lockstep. */
function jitter(ms: number): number {
  return Math.max(1, Math.round(ms * (0.75 + Math.random() * 0.5)));
}

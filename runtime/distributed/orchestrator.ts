/**
 * `Orchestrator`: the control side of distributed execution. It starts runs (record, context and first item in
 * one atomic write: the record exists before any worker can see the item), reads their status, context,
 * metrics, errors and pending work, lists workers by liveness, cancels, pauses and resumes runs, and waits for
 * completion with a timeout. Every operation is a thin, typed call on the {@link DistributedBackend}.
 */
import type { AnyWorkflowDef, WorkflowDef } from '../graph/definition.js';
import { compiledOf, type CompiledWorkflow } from '../engine/compile.js';
import {
  deadlinePassed,
  InvalidArgumentError,
  RunNotFoundError,
  RunStateError,
  otherWorkflowError,
  WaitTimeoutError,
  serializeError,
} from '../core/errors.js';
import {
  isFinalRunStatus,
  supportsSchedules,
  supportsSignals,
  type DeadLetter,
  type DistributedBackend,
  type ErrorRecord,
  type ListRunsFilter,
  type PendingWork,
  type PendingWorkOptions,
  type WorkQueue,
  type RunMetrics,
  readableRun,
  type RunRecord,
  type RunStatus,
  type RunTransition,
  type ScheduleDefinition,
  type ScheduleRecord,
  type ScheduleStore,
  type WorkItemState,
  type WorkerRecord,
} from './contracts.js';
import { startDistributedRun, type StartDistributedOptions } from './execution.js';
import { assertRunId, newRunId } from '../core/ids.js';
import { sleep as sleepOn, systemClock } from '../core/time.js';
import { checkSignal, checkSignalName, signalNodesOf } from '../nodes/wait.js';
import type { PendingSignal, SignalDelivery, SignalReceipt } from '../engine/parked.js';
import { Tracing, type TracingOption } from '../engine/tracing.js';

/** A run as the orchestrator reports it (the stored record). */
export type RunInfo = RunRecord;

/**
 * Reads run `runId` with `read` every `pollMs` until its status is final and returns that record. Throws
 * {@link WaitTimeoutError} after `timeoutMs`, and whatever `read` throws (e.g. `RunNotFoundError`).
 */
export async function waitForFinalRun(read: (runId: string) => Promise<RunRecord>, runId: string, options: WaitOptions = {}): Promise<RunRecord> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const pollMs = options.pollMs ?? 100;
  if (!(timeoutMs >= 0)) throw new InvalidArgumentError(`timeoutMs must be >= 0, got ${String(timeoutMs)}`);
  if (!(pollMs > 0) || !Number.isFinite(pollMs)) throw new InvalidArgumentError(`pollMs must be a positive number, got ${String(pollMs)}`);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rec = await read(runId);
    if (isFinalRunStatus(rec.status)) return rec;
    const left = until - Date.now();
    if (left <= 0) {
      throw new WaitTimeoutError(`run ${runId} is still ${rec.status} after ${timeoutMs} ms`);
    }
    await sleep(Math.min(pollMs, left), options.signal);
  }
}

/** Options of {@link Orchestrator.startRun}. */
export interface StartRunOptions extends StartDistributedOptions {
  /** The run id (default: a random UUID). Starting again with the same id and input is a no-op. */
  readonly runId?: string;
}

/**
 * A schedule of the orchestrator's workflow ({@link Orchestrator.schedule}): a {@link ScheduleDefinition} whose
 * `workflow` defaults to the orchestrator's and whose `input` has the workflow's input type.
 */
export interface ScheduleOptions<I> extends Omit<ScheduleDefinition, 'workflow' | 'input'> {
  readonly workflow?: string;
  readonly input?: I;
}

/** Options of {@link Orchestrator.waitForCompletion}. */
export interface WaitOptions {
  /** Give up after this many ms with {@link WaitTimeoutError} (default 60 000; `Infinity` waits forever). */
  readonly timeoutMs?: number;
  /** Poll period in ms (default 100). */
  readonly pollMs?: number;
  /** Stops waiting (rejects with the signal's reason); the run is not affected. */
  readonly signal?: AbortSignal;
}

/** Options of the {@link Orchestrator}. */
export interface OrchestratorOptions {
  /**
   * OpenTelemetry: the runs it starts are traced (as {@link StartRunOptions.tracing}, which overrides it), and a run it
   * finishes itself (a cancel, a deadline no worker observed) gets its run span (`floxide.run <workflow>`) in the
   * trace stored with the run. (A run a worker finishes gets it from that worker.)
   */
  readonly tracing?: TracingOption;
}

/** How long after its deadline a run nobody is executing is failed by the orchestrator (clock-skew margin). */
const DEADLINE_MARGIN_MS = 1_000;

/** A bound workflow (what `bindWorkflow` returns), seen only through its definition. */
interface BoundLike<I, O, C, S> {
  readonly def: WorkflowDef<any, any, I, O, C, S>;
  readonly instance?: object;
}

/** What an {@link Orchestrator} is made for: a bound workflow, or a generated definition alone. */
export type WorkflowLike<I, O, C, S> = BoundLike<I, O, C, S> | WorkflowDef<any, any, I, O, C, S>;

function isBound(w: WorkflowLike<unknown, unknown, unknown, unknown>): w is BoundLike<unknown, unknown, unknown, unknown> {
  return typeof (w as AnyWorkflowDef).processWorkItem !== 'function' && typeof (w as BoundLike<unknown, unknown, unknown, unknown>).def === 'object';
}

/**
 * Sleeps `ms`, or rejects with the signal's own reason (a wait's caller stopped waiting: the run was not cancelled). On
 * the clock's timer: node's fires a period past 2^31 - 1 ms after 1 ms, and a wait polled its run non-stop.
 */
const sleep = (ms: number, signal?: AbortSignal) => sleepOn(ms, signal, systemClock, (s) => s.reason as Error);

/**
 * Controls the runs of a backend. Give it a workflow (bound, or its generated definition) to start runs, fold
 * contexts and type its signals (`S`, generated by `floxide build`); without one it can still observe and control
 * any run, and signals are untyped.
 */
export class Orchestrator<I = unknown, O = unknown, C = unknown, S = Record<string, unknown>> {
  private readonly wf: CompiledWorkflow | undefined;
  /** The `WaitFor` nodes of a bound workflow, by signal name (undefined without an instance: payloads go unchecked). */
  private readonly signalNodes: ReturnType<typeof signalNodesOf> | undefined;
  private readonly tracing: Tracing | undefined;

  constructor(
    readonly backend: DistributedBackend,
    workflow?: WorkflowLike<I, O, C, S>,
    private readonly options: OrchestratorOptions = {},
  ) {
    this.tracing = Tracing.of(options.tracing);
    const bound = workflow !== undefined && isBound(workflow as WorkflowLike<unknown, unknown, unknown, unknown>) ? (workflow as BoundLike<I, O, C, S>) : undefined;
    this.wf = workflow === undefined ? undefined : compiledOf(bound ? bound.def : (workflow as AnyWorkflowDef));
    this.signalNodes = bound?.instance && this.wf ? signalNodesOf(this.wf.def, bound.instance) : undefined;
  }

  /**
   * Sends signal `name` with `payload` to run `runId`: the oldest wait of that name takes it, or it waits in the
   * run's mailbox for the next one (both answer `delivered`: {@link signalWithReceipt} says which). With a workflow the
   * name is checked first, and with a bound one the payload too (`InvalidSignalError`, nothing changes); a repeated
   * `key` with the same name and payload answers `duplicate`, with another name or payload it is refused with
   * `SignalKeyConflictError` (nothing changes). Throws `RunNotFoundError`, `RunStateError` for a finished run,
   * `InvalidArgumentError` for a backend that takes no signals.
   */
  async signal<N extends keyof S & string>(runId: string, name: N, payload: S[N], options: { readonly key?: string } = {}): Promise<SignalDelivery> {
    return (await this.signalWithReceipt(runId, name, payload, options)).delivery;
  }

  /**
   * {@link signal}, answering where the signal went, as the store's delivering operation saw it: `{ delivery, itemId,
   * kept }`, `itemId` the parked wait that took it, or `kept: true` when no wait of its name was parked and it went to
   * the run's mailbox (the next wait on the name takes it: a misspelt name, sent without the workflow, stays there).
   */
  async signalWithReceipt<N extends keyof S & string>(runId: string, name: N, payload: S[N], options: { readonly key?: string } = {}): Promise<SignalReceipt> {
    const backend = this.backend;
    if (!supportsSignals(backend)) throw new InvalidArgumentError(`the ${backend.kind} backend does not take signals yet`);
    let value: unknown = payload;
    if (this.signalNodes && this.wf) value = checkSignal(this.signalNodes, this.wf.def.name, name, payload);
    else if (this.wf) checkSignalName(this.wf.def, name);
    // the store checks the run's workflow in the same atomic operation (no read before)
    return backend.signal(runId, name, value, options.key, this.wf ? { workflow: this.wf.def.name } : undefined);
  }

  /** Signals in the run's mailbox that no wait took yet (empty for a backend that takes no signals). */
  async pendingSignals(runId: string): Promise<PendingSignal[]> {
    return supportsSignals(this.backend) ? this.backend.pendingSignals(runId) : [];
  }

  private workflowOrThrow(op: string): CompiledWorkflow {
    if (!this.wf) throw new InvalidArgumentError(`Orchestrator.${op} needs the workflow: construct the orchestrator with a bound workflow or its generated definition`);
    return this.wf;
  }

  /**
   * Starts a run of the orchestrator's workflow and returns its id. The run record, the initial context `ctx` and
   * the start item are written atomically. With an explicit `runId` that already exists with the same input the
   * call is a no-op; another input is `RunInputMismatchError`.
   */
  async startRun(ctx: C, input: I, options: StartRunOptions = {}): Promise<string> {
    const wf = this.workflowOrThrow('startRun');
    const runId = options.runId ?? newRunId();
    assertRunId(runId);
    const tracing = options.tracing ?? this.options.tracing;
    await startDistributedRun(wf, ctx, input, this.backend, runId, tracing === undefined ? options : { ...options, tracing });
    return runId;
  }

  /**
   * The run record. Throws {@link RunNotFoundError} for an unknown run, the record's `CorruptStateError` when fields of
   * the stored record cannot be read.
   */
  async run(runId: string): Promise<RunInfo> {
    const rec = readableRun(await this.backend.getRun(runId));
    if (!rec) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
    return this.enforceDeadline(rec);
  }

  /** The run's status. Throws {@link RunNotFoundError} for an unknown run. */
  async status(runId: string): Promise<RunStatus> {
    return (await this.run(runId)).status;
  }

  /**
   * Runs, newest first, filtered by status and workflow name, at most `limit`. A run whose stored record cannot be
   * fully read is listed with {@link RunRecord.corrupt} set.
   */
  listRuns(filter: ListRunsFilter = {}): Promise<RunInfo[]> {
    return this.backend.listRuns(filter);
  }

  /** Cancels a running or paused run: its queued work is dropped and in-flight nodes see `ctx.signal` abort. */
  async cancel(runId: string, reason?: string): Promise<RunTransition> {
    const t = await this.backend.cancelRun(runId, reason);
    if (t.applied) await this.traceFinished(runId);
    return t;
  }

  /** Pauses a running run: workers stop taking its items (items already running finish). */
  pause(runId: string): Promise<RunTransition> {
    return this.backend.pauseRun(runId);
  }

  /** Resumes a paused run. A final run throws `RunStateError` (a finished run's status is final). */
  resume(runId: string): Promise<RunTransition> {
    return this.backend.resumeRun(runId);
  }

  /** The run's errors (retries, failures, worker records), oldest first. */
  errors(runId: string): Promise<ErrorRecord[]> {
    return this.backend.errors(runId);
  }

  /** The run's dead-lettered items. */
  deadLetters(runId: string): Promise<DeadLetter[]> {
    return this.backend.deadLetters(runId);
  }

  /** The run's counters (zeros for a run that did nothing yet). */
  metrics(runId: string): Promise<RunMetrics> {
    return this.backend.metrics(runId);
  }

  /** Every known worker with its liveness (`alive` < threshold, `stale` < 3x, `dead` otherwise). */
  liveness(options: { readonly thresholdMs?: number } = {}): Promise<WorkerRecord[]> {
    return this.backend.listWorkers(options);
  }

  /** Workers currently holding items of `runId`, with their liveness. */
  async workersOf(runId: string, options: { readonly thresholdMs?: number } = {}): Promise<WorkerRecord[]> {
    assertRunId(runId);
    return (await this.backend.listWorkers(options)).filter((w) => w.health.current.some((c) => c.runId === runId));
  }

  /** The run's context: the initial context with every committed delta folded in, as the workflow's context class. */
  async context(runId: string): Promise<C> {
    const wf = this.workflowOrThrow('context');
    // (another workflow's context, revived by this one's codec, would be its deltas merged by the wrong rules)
    const run = await this.backend.getRun(runId);
    if (!run) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
    if (run.workflow !== wf.def.name) throw otherWorkflowError(runId, run.workflow, wf.def.name);
    const snap = await this.backend.readContext(runId);
    const ctx = wf.codec.revive(snap.initial);
    for (const d of snap.deltas) wf.codec.apply(ctx, d.delta);
    return ctx as C;
  }

  /**
   * Outstanding items (pending, in progress, waiting retry, parked) in enqueue order, or those `options` select (their
   * states, the first `limit`: {@link WorkQueue.pendingWork}); `[]` for a finished run.
   */
  pendingWork(runId: string, options?: PendingWorkOptions): Promise<PendingWork[]> {
    return this.backend.pendingWork(runId, options);
  }

  /** Every item's state, in enqueue order. */
  workItems(runId: string): Promise<WorkItemState[]> {
    return this.backend.itemStates(runId);
  }

  /**
   * Polls until the run is `completed`, `failed` or `cancelled` and returns its record (a failed or cancelled run
   * is returned, not thrown: look at `status` and `error`). A paused run keeps the wait going. Throws
   * {@link WaitTimeoutError} after `timeoutMs` and {@link RunNotFoundError} for an unknown run. A run whose
   * deadline passed while no worker executed it is failed with `DeadlineExceededError`.
   */
  async waitForCompletion(runId: string, options: WaitOptions = {}): Promise<RunInfo> {
    return waitForFinalRun((id) => this.run(id), runId, options);
  }

  // ---- schedules (see docs/schedules.md)

  /**
   * Creates or updates a schedule: a run of the workflow with `input` on every tick of `cron`, started by the
   * workers serving the workflow (one run per tick, however many workers). Throws `InvalidScheduleError` (quoting
   * the expression) for a cron expression or time zone croner refuses, before anything is stored.
   */
  async schedule(def: ScheduleOptions<I>): Promise<ScheduleRecord> {
    const workflow = def.workflow ?? this.wf?.def.name;
    if (workflow === undefined) throw new InvalidArgumentError('Orchestrator.schedule needs the workflow: pass `workflow` or construct the orchestrator with the workflow');
    return await this.scheduleStore().putSchedule({ ...def, workflow });
  }

  /** The schedule, or `undefined` when there is none with this id. */
  getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    return this.scheduleStore().getSchedule(id);
  }

  /** Every schedule (of the given workflow), ordered by id. */
  schedules(filter: { readonly workflow?: string } = {}): Promise<ScheduleRecord[]> {
    return this.scheduleStore().listSchedules(filter);
  }

  /** Stops a schedule's ticks. Throws `ScheduleNotFoundError` for an unknown id. */
  pauseSchedule(id: string): Promise<ScheduleRecord> {
    return this.scheduleStore().pauseSchedule(id);
  }

  /** Restarts a paused schedule; the ticks it missed follow its catch-up policy. Throws `ScheduleNotFoundError`. */
  resumeSchedule(id: string): Promise<ScheduleRecord> {
    return this.scheduleStore().resumeSchedule(id);
  }

  /** Deletes a schedule (its runs are kept). False when there was none. */
  removeSchedule(id: string): Promise<boolean> {
    return this.scheduleStore().removeSchedule(id);
  }

  private scheduleStore(): ScheduleStore {
    if (!supportsSchedules(this.backend)) throw new InvalidArgumentError(`the ${this.backend.kind} backend keeps no schedules`);
    return this.backend;
  }

  /** Fails a run whose deadline passed (plus a margin) while it was not final: nobody else would. */
  private async enforceDeadline(rec: RunInfo): Promise<RunInfo> {
    if (isFinalRunStatus(rec.status) || rec.deadline === undefined || Date.now() < rec.deadline + DEADLINE_MARGIN_MS) return rec;
    const err = deadlinePassed(rec.deadline);
    let failed = false;
    try {
      failed = (await this.backend.failRun(rec.runId, serializeError(err))).applied;
    } catch (e) {
      if (!(e instanceof RunStateError)) throw e;
    }
    const now = (await this.backend.getRun(rec.runId)) ?? rec;
    if (failed) this.tracing?.finishedRun(now, undefined);
    return now;
  }

  /** Records the run span of a run this orchestrator finished, when it is traced. */
  private async traceFinished(runId: string): Promise<void> {
    if (this.tracing === undefined) return;
    const run = await this.backend.getRun(runId);
    if (run !== undefined && isFinalRunStatus(run.status)) this.tracing.finishedRun(run, undefined);
  }
}

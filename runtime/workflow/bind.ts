/**
 * `bindWorkflow`: a generated definition plus a workflow instance gives a {@link Workflow} with the local modes:
 * `run` (in memory), `runWithCheckpoint` and `resume` (durable, on a {@link CheckpointStore}), and `toDot`.
 */
import type { AnyWorkflowDef, WorkflowClassOf, WorkflowContextOf, WorkflowDef, WorkflowInputOf, WorkflowOutputOf, WorkflowSignalsOf } from '../graph/definition.js';
import {
  CancelledError,
  deadlinePassed,
  InvalidArgumentError,
  FingerprintMismatchError,
  RunInputMismatchError,
  RunNotFoundError,
  RunStateError,
  otherWorkflowError,
  StaleGeneratedModuleError,
  RunBusyError,
  isRunAbortError,
  serializeError,
} from '../core/errors.js';
import { cancelledRunError, type Checkpoint, type CheckpointStore } from '../stores/contract.js';
import { endClaim, newOwner, processName, releaseClaim, type RunOwner } from '../stores/ownership.js';
import { keepClaimFresh } from '../stores/claim-heartbeat.js';
import { MemoryMailbox, ParkedItems, isParked, type SignalDelivery } from '../engine/parked.js';
import { ItemQueue } from '../engine/queue.js';
import { AbortSource } from '../engine/abort.js';
import { checkSignal, signalNodesOf, type WaitFor } from '../nodes/wait.js';
import { creatingRun, notifyArrival, runCreated, storeMailbox } from './signals.js';
import { assertRunId } from '../core/ids.js';
import { runInputJson } from '../core/json.js';
import { assertStorableStart } from '../engine/validate.js';
import { checkInstance, compiledOf, type CompiledWorkflow } from '../engine/compile.js';
import { noTerminalError, passedNothing } from '../engine/commit.js';
import { completedEvent, emitStep, failureEvent, makeScope, nodeFailedError, runLoop, stepCore, stepHistoryOf, type ChildIdFn, type RunScope } from '../engine/core.js';
import type { RunResult, WorkflowEvent } from '../engine/events.js';
import { migratedEvent } from '../engine/migration.js';
import { Tracing, type RunSpan, type TracingOption } from '../engine/tracing.js';
import { absoluteDeadline } from '../engine/retry.js';
import { atTime, Breath, systemClock, type Clock } from '../core/time.js';
import type { EngineItem, StepOutcome } from '../engine/types.js';
import type { CreateRunResult, DistributedBackend } from '../distributed/contracts.js';
import {
  startDistributedRun,
  stepDistributedOnce,
  type DistributedStepResult,
  type StartDistributedOptions,
  type StepCallbacks,
  type StepDistributedOptions,
} from '../distributed/execution.js';

/** Options of every local run. */
export interface RunOptions {
  /** Cancels the run: the node's `ctx.signal` aborts and the run fails with `CancelledError`. */
  signal?: AbortSignal;
  /** Workflow-wide deadline, absolute (epoch ms or Date). The run fails with `DeadlineExceededError`. */
  deadline?: number | Date;
  /** Workflow-wide time limit from now, in ms (an alternative to `deadline`). */
  timeoutMs?: number;
  /** Progress events (the one {@link WorkflowEvent} union): run created, each attempt started, finished or retried, completion, failure, cancellation. */
  onEvent?: (event: WorkflowEvent) => void;
  /**
   * OpenTelemetry spans: a span for the run and one per attempt of a step (docs/observability.md). `true` sends them
   * to the global tracer provider; `{ tracerProvider }` to that one. Needs the optional peer `@opentelemetry/api`
   * (loaded only when this is set). A checkpointed run stores its span's `traceparent`, so a resume continues the
   * same trace. Node code runs with its attempt's span active; a nested workflow's run gets its own span under it.
   */
  tracing?: TracingOption;
  /**
   * Run id for `run` (default `"run"`); checkpointed modes take it as an argument. Every mode takes the same ids
   * (`assertRunId`: 1-128 characters of `[A-Za-z0-9._:-]`): `InvalidArgumentError` otherwise.
   */
  runId?: string;
  /** Random source for retry jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /**
   * Where the run reads time and waits: retry backoff, node timeouts, the deadline. Default {@link systemClock};
   * a test kit passes a virtual clock.
   */
  clock?: Clock;
  /**
   * Checkpointed runs: while every item left waits for a signal, how often the store is read for signals sent by
   * another process (a signal sent through this process's `Workflow.signal` wakes the run at once; on a store with
   * `arrivalMark`, SQLite's, one look per period for all the runs waiting in this process, and a run reads only when it
   * moved: runtime/workflow/arrival-poll.ts). Default 1 000 ms;
   * `Infinity`: never (only this process signals the run). Not a positive number: `InvalidArgumentError`.
   */
  signalPollMs?: number;
}

/** Options of a signal. */
export interface SignalOptions {
  /**
   * Idempotency key: it names one signal of the run. Sent again with the same name and payload (compared as canonical
   * JSON), it is not delivered again (`duplicate`); with another name or payload it is refused with
   * `SignalKeyConflictError` (nothing delivered or kept).
   */
  key?: string;
}

/** A run started with {@link Workflow.start}: its result, and a way to signal it. */
export interface RunHandle<O, S> {
  readonly runId: string;
  /** The run's output (rejects like `run`). */
  readonly result: Promise<O>;
  /**
   * Sends signal `name` to the run: kept until a `WaitFor` node of that name takes it (or delivered at once to one
   * that waits). Returns `duplicate` for a repeated `key` (same name and payload). Throws `InvalidSignalError`
   * (nothing changes) for an unknown name or a payload that fails its node's check, and `SignalKeyConflictError`, a
   * kind of it, for a `key` the run received with another name or payload.
   */
  signal<N extends keyof S & string>(name: N, payload: S[N], options?: SignalOptions): SignalDelivery;
}

/** Options of `resume` (the deadline is the stored one). */
export type ResumeOptions = Omit<RunOptions, 'deadline' | 'timeoutMs' | 'runId'>;

/** A bound workflow: the runnable form of a generated definition with its node instances. */
export interface Workflow<I, O, C, S = Record<never, never>> {
  readonly def: WorkflowDef<any, any, I, O, C, S>;
  readonly instance: object;
  readonly name: string;
  /** Runs in memory to the first terminal output. `ctx` is mutated in place (it is the run's context). */
  run(ctx: C, input: I, options?: RunOptions): Promise<O>;
  /** Like {@link run}, with the dropped items, step count and context. */
  runDetailed(ctx: C, input: I, options?: RunOptions): Promise<RunResult<O, C>>;
  /** Like {@link run}, returning at once a {@link RunHandle} to signal the run's `WaitFor` nodes. */
  start(ctx: C, input: I, options?: RunOptions): RunHandle<O, S>;
  /**
   * Sends signal `name` to checkpointed run `runId` in `store` (durably: a run resumed later finds it). A run
   * waiting in this process wakes at once; one in another process reads it within its `signalPollMs`. Throws
   * `InvalidSignalError` (nothing changes) for an unknown name or a failing payload, `RunStateError` for a finished
   * run, `RunNotFoundError` for an unknown one (a run this process's `runWithCheckpoint` is creating is waited for, so
   * a signal sent right after that call is kept for it); `duplicate` for a repeated `key` (same name and payload),
   * `SignalKeyConflictError` for one the run received with another name or payload.
   */
  signal<N extends keyof S & string>(store: CheckpointStore, runId: string, name: N, payload: S[N], options?: SignalOptions): Promise<SignalDelivery>;
  /**
   * Runs with a checkpoint per step in `store` under `runId`. A new id saves the run (input, initial context,
   * deadline, fingerprint) before the first step. An existing id continues it as {@link resume} does; another
   * input is `RunInputMismatchError`. `ctx` is the initial context only: the run's context lives in the store
   * (read it with {@link storedContext}).
   */
  runWithCheckpoint(ctx: C, input: I, store: CheckpointStore, runId: string, options?: RunOptions): Promise<O>;
  /**
   * Continues a stored run from its last commit, with its stored deadline. A completed run returns its stored
   * output without executing anything; failed or interrupted runs continue from their last commit (the stored
   * context is the run's). Unknown id: `RunNotFoundError`; cancelled: `CancelledError`; other graph:
   * `FingerprintMismatchError`.
   */
  resume(store: CheckpointStore, runId: string, options?: ResumeOptions): Promise<O>;
  /**
   * The context of the run stored under `runId`: its initial context with every committed step's delta applied,
   * as the workflow's context class. Unknown id: `RunNotFoundError`.
   */
  storedContext(store: CheckpointStore, runId: string): Promise<C>;
  /** The workflow graph in Graphviz DOT (generated by `floxide build`). */
  toDot(): string;
  /** The workflow graph as Mermaid flowchart text. */
  toMermaid(): string;

  // ---- Distributed mode -------------------------------------------------------------------------------------
  /**
   * Seeds a distributed run on `backend`: run record, initial context and start item in one atomic write, before
   * any worker can see the item. Idempotent per run id (same input and graph); another input is
   * `RunInputMismatchError`, another graph `FingerprintMismatchError`. Executes nothing.
   */
  startDistributed(ctx: C, input: I, backend: DistributedBackend, runId: string, options?: StartDistributedOptions): Promise<CreateRunResult>;
  /**
   * Claims one item of this workflow from `backend`, runs it under a heartbeated lease (its `ctx.signal` aborts on
   * cancel and at the run's deadline) and commits the outcome atomically (retries are durable, delayed
   * re-enqueues; the last attempt dead-letters the item and fails the run). Resolves with `{ runId, output }` when
   * the step completed its run, `undefined` otherwise (including when nothing was claimable).
   */
  stepDistributed(backend: DistributedBackend, workerId: string, callbacks?: StepCallbacks, options?: StepDistributedOptions): Promise<DistributedStepResult<O> | undefined>;
}

/** The bound workflow type of a generated definition (its signals are the ones `floxide build` generated). */
export type WorkflowOf<D> = Workflow<WorkflowInputOf<D>, WorkflowOutputOf<D>, WorkflowContextOf<D>, WorkflowSignalsOf<D>>;

/**
 * Binds a generated definition to a workflow instance. Throws `StaleGeneratedModuleError` ("run floxide build")
 * when the definition no longer matches the decorated class, and `InvalidArgumentError` when a node field of the
 * instance is missing or is not a node.
 */
export function bindWorkflow<D extends AnyWorkflowDef>(def: D, instance: WorkflowClassOf<D>): WorkflowOf<D> {
  if (def === undefined || def === null) {
    // A named import of a definition the generated module does not export (yet) reads as undefined under CommonJS.
    const cls = instance && typeof instance === 'object' ? instance.constructor?.name : undefined;
    throw new StaleGeneratedModuleError(`bindWorkflow got no generated definition${cls ? ` for ${cls}` : ''} (${String(def)}): its generated module does not export it; run floxide build`);
  }
  const wf = compiledOf(def);
  checkInstance(wf, instance);
  return new BoundWorkflow(wf, instance) as unknown as WorkflowOf<D>;
}

const NEVER = new AbortController().signal;

/** The run's `onEvent` with its span (if traced) fed first: tracing is one more observer of the events. */
function observed(span: RunSpan | undefined, onEvent: ((e: WorkflowEvent) => void) | undefined): ((e: WorkflowEvent) => void) | undefined {
  if (!span) return onEvent;
  if (!onEvent) return (e) => span.observe(e);
  return (e) => {
    span.observe(e);
    onEvent(e);
  };
}

interface RunSignal {
  signal: AbortSignal | AbortSource;
  abortable: boolean;
  dispose(): void;
}

/**
 * One signal for the run: the caller's cancel, the deadline timer on `clock` and `lost` (the call lost its claim on
 * the run, or the run was cancelled from elsewhere: aborts with its reason, a `RunBusyError` or a `CancelledError`). None at all when none is given. `lost` alone does not make the
 * run `abortable` (a node's promise raced against the signal, at a cost per step): a node that ignores its
 * `ctx.signal` then ends as it will, and its commit is refused (the store fences a call that lost its claim).
 */
function runSignal(signal: AbortSignal | undefined, deadline: number | undefined, clock: Clock, lost?: AbortSource): RunSignal {
  if (!signal && deadline === undefined && !lost) return { signal: NEVER, abortable: false, dispose() {} };
  // (an AbortSource: no EventTarget per run, and its AbortSignal is made only if a node reads ctx.signal)
  const run = new AbortSource();
  let cancelTimer: (() => void) | undefined;
  const onCancel = () => run.abort(new CancelledError('the run was cancelled', signal!.reason === undefined ? undefined : { cause: signal!.reason }));
  if (signal) {
    if (signal.aborted) onCancel();
    else signal.addEventListener('abort', onCancel, { once: true });
  }
  const offLost = lost?.onAbort(() => run.abort(lost.reason));
  if (deadline !== undefined && !run.aborted) {
    cancelTimer = atTime(clock, deadline, () => run.abort(deadlinePassed(deadline)));
  }
  return {
    signal: run,
    abortable: signal !== undefined || deadline !== undefined,
    dispose() {
      cancelTimer?.();
      signal?.removeEventListener('abort', onCancel);
      offLost?.();
    },
  };
}


class BoundWorkflow<I, O, C> implements Workflow<I, O, C, Record<string, unknown>> {
  private readonly signalNodes: ReadonlyMap<string, readonly WaitFor<string, unknown>[]>;

  constructor(
    private readonly wf: CompiledWorkflow,
    readonly instance: object,
  ) {
    this.signalNodes = signalNodesOf(wf.def, instance);
  }

  get def(): WorkflowDef<any, any, I, O, C, Record<string, unknown>> {
    return this.wf.def;
  }

  get name(): string {
    return this.wf.def.name;
  }

  toDot(): string {
    return this.wf.def.dot;
  }

  startDistributed(ctx: C, input: I, backend: DistributedBackend, runId: string, options?: StartDistributedOptions): Promise<CreateRunResult> {
    return startDistributedRun(this.wf, ctx, input, backend, runId, options);
  }

  stepDistributed(backend: DistributedBackend, workerId: string, callbacks?: StepCallbacks, options?: StepDistributedOptions): Promise<DistributedStepResult<O> | undefined> {
    return stepDistributedOnce(this.wf, this.instance, backend, workerId, callbacks, options) as Promise<DistributedStepResult<O> | undefined>;
  }

  toMermaid(): string {
    return this.wf.def.mermaid;
  }

  async run(ctx: C, input: I, options?: RunOptions): Promise<O> {
    return (await this.runDetailed(ctx, input, options)).output;
  }

  runDetailed(ctx: C, input: I, options?: RunOptions): Promise<RunResult<O, C>> {
    return this.runInMemory(ctx, input, options, undefined);
  }

  start(ctx: C, input: I, options?: RunOptions): RunHandle<O, Record<string, unknown>> {
    const runId = options?.runId ?? 'run';
    const mailbox = new MemoryMailbox(runId);
    const result = this.runInMemory(ctx, input, options, mailbox).then((r) => r.output);
    return {
      runId,
      result,
      signal: (name, payload, opts) => mailbox.send(name, checkSignal(this.signalNodes, this.name, name, payload), opts?.key),
    };
  }

  async signal(store: CheckpointStore, runId: string, name: string, payload: unknown, options?: SignalOptions): Promise<SignalDelivery> {
    assertRunId(runId);
    const value = checkSignal(this.signalNodes, this.name, name, payload);
    // a run this process began creating (`runWithCheckpoint` called, its first write not done yet) is waited for
    await runCreated(store, runId);
    const run = await store.getRun(runId);
    if (!run) throw new RunNotFoundError(`no checkpoint for run ${runId}`);
    if (run.workflow !== this.wf.def.name) throw otherWorkflowError(runId, run.workflow, this.wf.def.name);
    const r = await store.signal(runId, name, value, options?.key);
    if (r === 'delivered') notifyArrival(store, runId);
    return r;
  }

  private async runInMemory(ctx: C, input: I, options: RunOptions | undefined, mailbox: MemoryMailbox | undefined): Promise<RunResult<O, C>> {
    // what a store refuses to start a run with, plain `run` refuses too (it stores nothing)
    assertStorableStart(input, this.wf.codec.serialize(ctx));
    // the id a node sees as `ctx.runId` follows the one rule every store's ids follow
    if (options?.runId !== undefined) assertRunId(options.runId);
    const runId = options?.runId ?? 'run';
    const clock = options?.clock ?? systemClock;
    const rs = runSignal(options?.signal, absoluteDeadline(options, clock), clock);
    const span = Tracing.of(options?.tracing)?.startRun(runId, this.wf.def.name);
    const onEvent = observed(span, options?.onEvent);
    const scope = makeScope(this.wf, this.instance, runId, rs.signal, rs.abortable, options?.random ?? Math.random, onEvent, clock);
    scope.trace = span;
    if (onEvent) onEvent({ type: 'run.created', runId, at: clock.now(), workflow: this.wf.def.name });
    try {
      return (await runLoop(scope, ctx, input, mailbox)) as RunResult<O, C>;
    } catch (err) {
      if (onEvent) onEvent(failureEvent(runId, clock.now(), err));
      throw err;
    } finally {
      rs.dispose();
    }
  }

  async runWithCheckpoint(ctx: C, input: I, store: CheckpointStore, runId: string, options?: RunOptions): Promise<O> {
    assertRunId(runId);
    assertSignalPollMs(options);
    // (registered before the first await: a signal sent right after this call waits for the run's first write)
    const created = this.loadOrCreate(ctx, input, store, runId, options);
    creatingRun(store, runId, created);
    const { cp, span } = await created;
    return this.continueRun(store, cp, options, span);
  }

  /** The stored run `runId`, created first when there is none (with the span of a run this call created). */
  private async loadOrCreate(ctx: C, input: I, store: CheckpointStore, runId: string, options?: RunOptions): Promise<{ cp: Checkpoint; span: RunSpan | undefined }> {
    let cp = await store.load(runId);
    let span: RunSpan | undefined;
    if (!cp) {
      // The run's span starts before the run is saved: its traceparent is saved with it.
      const context = this.wf.codec.serialize(ctx);
      assertStorableStart(input, context);
      span = Tracing.of(options?.tracing)?.startRun(runId, this.wf.def.name);
      const created = await store.createRun({
        runId,
        workflow: this.wf.def.name,
        fingerprint: this.wf.def.fingerprint,
        input,
        context,
        deadline: absoluteDeadline(options, options?.clock),
        start: { node: this.wf.start, id: '0', input },
        ...(span?.traceparent === undefined ? {} : { traceparent: span.traceparent }),
      });
      cp = await store.load(runId);
      if (!cp) throw new RunNotFoundError(`run ${runId} vanished right after it was created`);
      if (!created) {
        // Another caller created it first: its span is the run's (this one is dropped unended, never exported).
        span = undefined;
        this.checkInput(cp, input);
      } else if (options?.onEvent) options.onEvent({ type: 'run.created', runId, at: (options.clock ?? systemClock).now(), workflow: this.wf.def.name });
    } else {
      this.checkInput(cp, input);
    }
    return { cp, span };
  }

  async resume(store: CheckpointStore, runId: string, options?: ResumeOptions): Promise<O> {
    assertSignalPollMs(options);
    return this.continueRun(store, await this.loadOrThrow(store, runId), options);
  }

  /**
   * The checkpoint on this graph: as it is, or (a run of an older version this one `accepts`) moved to it in the
   * store first when it is open; a finished one is read as it ended (its stored output or error), unmoved. Any other
   * graph: `FingerprintMismatchError`.
   */
  private async onThisVersion(store: CheckpointStore, cp: Checkpoint, onEvent: ((e: WorkflowEvent) => void) | undefined): Promise<Checkpoint> {
    if (!this.accepted(cp)) return cp;
    if (cp.run.status !== 'running' && cp.run.status !== 'failed') return cp;
    const move = { from: cp.run.fingerprint, to: this.wf.def.fingerprint, renames: {}, workerId: processName() };
    await store.migrate(cp.run.runId, move);
    const moved = await this.loadOrThrow(store, cp.run.runId);
    onEvent?.(migratedEvent(cp.run.runId, moved.run.migratedAt ?? moved.run.updatedAt, move));
    return moved;
  }

  /** True for a run of an older version this one `accepts`; false for one of this graph; else `FingerprintMismatchError`. */
  private accepted(cp: Checkpoint): boolean {
    const def = this.wf.def;
    if (cp.run.workflow === def.name && cp.run.fingerprint !== def.fingerprint && def.accepts?.includes(cp.run.fingerprint)) return true;
    this.checkFingerprint(cp);
    return false;
  }

  async storedContext(store: CheckpointStore, runId: string): Promise<C> {
    const cp = await this.loadOrThrow(store, runId);
    // (another workflow's context, revived by this one's codec, would be its deltas merged by the wrong rules)
    if (cp.run.workflow !== this.wf.def.name) throw otherWorkflowError(runId, cp.run.workflow, this.wf.def.name);
    return this.contextOf(cp) as C;
  }

  private async loadOrThrow(store: CheckpointStore, runId: string): Promise<Checkpoint> {
    assertRunId(runId);
    const cp = await store.load(runId);
    if (!cp) throw new RunNotFoundError(`no checkpoint for run ${runId}`);
    return cp;
  }

  /** A checkpoint's context: the initial one with every committed delta applied. */
  private contextOf(cp: Checkpoint): unknown {
    const codec = this.wf.codec;
    const context = codec.revive(cp.context);
    for (const d of cp.deltas) codec.apply(context, d);
    return context;
  }

  /** The same input as stored: equal canonical JSON (tags included, so a Set of Dates compares by value). */
  private checkInput(cp: Checkpoint, input: I): void {
    if (runInputJson(input) !== runInputJson(cp.run.input)) {
      throw new RunInputMismatchError(`run ${cp.run.runId} already exists with a different input; use another run id`);
    }
  }

  private checkFingerprint(cp: Checkpoint): void {
    if (cp.run.fingerprint !== this.wf.def.fingerprint || cp.run.workflow !== this.wf.def.name) {
      const { runId, workflow, fingerprint, status } = cp.run;
      const to = this.wf.def.fingerprint;
      // the same workflow: the way on (a run that can still run can be moved, `floxide runs migrate`: running or failed)
      const hint =
        workflow !== this.wf.def.name
          ? ''
          : `: use the build of graph ${fingerprint}${status === 'running' || status === 'failed' ? `, or move the run to graph ${to} first (floxide runs migrate ${runId} --to ${to}; docs/deploying.md)` : ''}`;
      throw new FingerprintMismatchError(`run ${runId} was checkpointed by ${workflow} (graph ${fingerprint}), not by ${this.wf.def.name} (graph ${to})${hint}`);
    }
  }

  /**
   * The one rule for a stored run, whether `runWithCheckpoint` or `resume` reached it: completed returns its stored
   * output, cancelled is `CancelledError`, and an open one is continued by this call alone: it claims the run
   * (runtime/stores/ownership.ts: `RunBusyError` while another call, here or in another process, runs it), reads it
   * again (what that call did before it let go counts), keeps the claim fresh while it runs and lets go at its end.
   */
  private async continueRun(store: CheckpointStore, loaded: Checkpoint, options: ResumeOptions | undefined, span?: RunSpan): Promise<O> {
    const runId = loaded.run.runId;
    // before any claim: a run of another graph (not one this version accepts) is FingerprintMismatchError
    this.accepted(loaded);
    if (finishedRun(loaded)) return loaded.run.output as O;
    if (!store.claim) return this.runClaimed(store, await this.onThisVersion(store, loaded, options?.onEvent), options, span);
    const owner = newOwner();
    // a heartbeat refused stops this call: another process took the run over (this call looked dead to it), or the run
    // was cancelled from elsewhere (`floxide runs cancel`): the node running sees its ctx.signal abort
    const lost = new AbortSource();
    let stopBeat: (() => void) | undefined;
    try {
      await store.claim(runId, owner);
      // (one heartbeat per process and store refreshes every claim it holds: runtime/stores/claim-heartbeat.ts)
      stopBeat = keepClaimFresh(store, runId, owner, async (err) => {
        if (err instanceof RunBusyError) lost.abort(err);
        else if (err instanceof RunStateError) {
          const cancelled = await cancelledInstead(store, runId, err);
          if (cancelled instanceof CancelledError) lost.abort(cancelled);
        }
      });
      // (moved to this version only now that it is this call's: a call refused above changes nothing)
      const cp = await this.onThisVersion(store, await this.loadOrThrow(store, runId), options?.onEvent);
      if (finishedRun(cp)) return cp.run.output as O;
      return await this.runClaimed(store, cp, options, span, { owner, lost });
    } finally {
      stopBeat?.();
      endClaim(owner);
      // (a release that fails is tried again in the background: the next process is not refused the run meanwhile)
      await releaseClaim(store, runId, owner);
    }
  }

  /**
   * The durable loop, on an open run this call holds: one store commit per step, keyed by the consumed item's id. A
   * failed run is reopened, and the run continues from its last commit. With `claim` (a store with claims), every
   * commit names the claim, and `claim.lost` aborting (the heartbeat's claim was refused) stops the run at once:
   * either way a call that lost the run to another ends with `RunBusyError` and writes nothing more to it.
   */
  private async runClaimed(store: CheckpointStore, cp: Checkpoint, options: ResumeOptions | undefined, span?: RunSpan, claim?: { owner: RunOwner; lost: AbortSource }): Promise<O> {
    const runId = cp.run.runId;
    if (cp.run.status === 'failed') await store.reopen(runId);
    const codec = this.wf.codec;
    const context = this.contextOf(cp);
    let counter = cp.run.counter;
    let seq = cp.run.steps;
    const childId: ChildIdFn = () => String(++counter);
    const queue = new ItemQueue();
    const parked = new ParkedItems();
    const enqueue = (it: EngineItem) => {
      if (!isParked(it)) queue.push(it);
      else parked.add(it);
    };
    for (const it of cp.items) enqueue(it);
    // A run continued here (not created by this call) gets a span in the trace stored with it.
    span ??= Tracing.of(options?.tracing)?.startRun(runId, this.wf.def.name, { traceparent: cp.run.traceparent });
    const onEvent = observed(span, options?.onEvent);
    const clock = options?.clock ?? systemClock;
    const rs = runSignal(options?.signal, cp.run.deadline, clock, claim?.lost);
    const owner = claim?.owner;
    const scope: RunScope = makeScope(this.wf, this.instance, runId, rs.signal, rs.abortable, options?.random ?? Math.random, onEvent, clock);
    scope.trace = span;
    // the items parked from here on are reported (the resumed ones were when they parked)
    parked.observe(runId, onEvent, clock);
    // Every commit carries its step's history record (stepHistoryOf): the attempts' start times and retries.
    scope.history = true;
    const mailbox = storeMailbox(store, runId);
    const offArrival = mailbox.onArrival(() => parked.signalled());
    const pollMs = options?.signalPollMs ?? 1_000;
    // every commit names this graph: a run moved to another meanwhile (`floxide runs migrate`) refuses it
    const fingerprint = this.wf.def.fingerprint;
    // the last step (the no-terminal error names its node when it passed nothing on)
    let item: EngineItem | undefined;
    let out: StepOutcome | undefined;
    // timers fire during a run of synchronous steps too (its deadline, the claim's heartbeat): the time is read every
    // 64 steps (a step commits to the store: 64 of them take a few ms)
    const breath = new Breath();
    let turns = 0;
    try {
      for (;;) {
        if ((++turns & 63) === 0 && breath.due()) await breath.take();
        const due = parked.size > 0 ? parked.due(queue.empty, clock, scope.abort, mailbox, pollMs) : undefined;
        if (due !== undefined) {
          for (const it of await due) queue.push(it);
          if (queue.empty) continue;
        }
        if (queue.empty) break;
        item = queue.shift();
        scope.retried = undefined;
        out = await stepCore(scope, item, context, undefined, 1, true, childId);
        if (onEvent) emitStep(scope, out);
        const history = stepHistoryOf(scope, out);
        if (out.type === 'continue') {
          const r = await store.commitStep(runId, { itemId: item.id, items: out.items, arrivals: out.arrivals, delta: out.delta, counter, seq: ++seq, history, fingerprint, owner });
          if (out.delta) codec.apply(context, out.delta);
          for (const it of out.items) enqueue(it);
          for (const it of r.created) queue.push(it);
        } else if (out.type === 'terminal') {
          const { dropped } = await store.complete(runId, { itemId: item.id, output: out.output, delta: out.delta, counter, seq: ++seq, history, fingerprint, owner });
          if (out.delta) codec.apply(context, out.delta);
          if (onEvent) onEvent(completedEvent(runId, clock.now(), out.output, dropped));
          return out.output as O;
        } else if (out.type === 'failed') {
          await store.fail(runId, out.error, { ...history, itemId: item.id, owner });
          throw nodeFailedError(scope, out.error);
        }
      }
      const err = noTerminalError(runId, passedNothing(item?.node, out));
      await store.fail(runId, serializeError(err));
      throw err;
    } catch (caught) {
      // a run cancelled from elsewhere (another process, `floxide runs cancel`) refuses this call's next commit with
      // RunStateError: the call ends cancelled, as it does when the cancel finds its items parked
      const err = caught instanceof RunStateError ? await cancelledInstead(store, runId, caught) : caught;
      if (isRunAbortError(err)) {
        if (err instanceof CancelledError) await store.cancel(runId, serializeError(err));
        else await store.fail(runId, serializeError(err));
      }
      // a call that lost the run to another: the run did not fail, it goes on there (its span ends as `lost`)
      if (err instanceof RunBusyError) span?.end('lost', serializeError(err), clock.now());
      else if (onEvent) onEvent(failureEvent(runId, clock.now(), err));
      throw err;
    } finally {
      offArrival();
      rs.dispose();
    }
  }
}

/** `cancelledRunError` (with the stored reason) when run `runId` is cancelled in `store`, else `refusal` (a commit refused). */
async function cancelledInstead(store: CheckpointStore, runId: string, refusal: RunStateError): Promise<Error> {
  const run = await store.getRun(runId).catch(() => undefined);
  return run?.status === 'cancelled' ? cancelledRunError(run) : refusal;
}

/**
 * True for a completed run (its stored output is the answer); `CancelledError` for a cancelled one; false for an
 * open one (running, or failed: a resume reopens it).
 */
function finishedRun(cp: Checkpoint): boolean {
  if (cp.run.status === 'completed') return true;
  if (cp.run.status === 'cancelled') throw cancelledRunError(cp.run);
  return false;
}

/** Refuses a `signalPollMs` that is not a positive number of ms (0, a negative or NaN one read the store without pause). */
function assertSignalPollMs(options: { readonly signalPollMs?: number } | undefined): void {
  const ms = options?.signalPollMs;
  if (ms !== undefined && !(typeof ms === 'number' && ms > 0)) {
    throw new InvalidArgumentError(`signalPollMs must be a positive number of ms (Infinity: never read the store for signals), got ${String(ms)}`);
  }
}

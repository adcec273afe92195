/**
 * The step core shared by every mode (attempts, retries, timeouts, fallbacks, routing, fan-out frames, join
 * arrivals), the in-memory run loop used by `run` and by nested workflows, and {@link executeStep}, one step for the
 * durable and distributed modes. Nothing here touches a store: callers commit the outcome their own way.
 *
 * The hot path (plain `run`) allocates one work item, one node context and one outcome per step: no clone of a
 * context of primitives (context/frame.ts), no JSON, no Proxy and no AbortSignal unless node code reads
 * `ctx.signal` (see abort.ts).
 */
import type { AnyWorkflowDef, NodeExecutor, NodeSpec, WorkflowDef } from '../graph/definition.js';
import { CancelledError, CorruptStateError, deadlinePassed, NodeFailedError, NodeTimeoutError, SignalRefusedError, SignalTimeoutError, abortReason, isRunAbortError, reviveError, serializeError, type SerializedError } from '../core/errors.js';
import type { FailureInfo, Node, WorkflowCtx } from '../core/node.js';
import { Transition } from '../core/transition.js';
import { assertStorable } from '../core/json.js';
import { Breath, MAX_EPOCH_MS, sleep, systemClock, type Clock } from '../core/time.js';
import type { ContextDelta } from '../context/codec.js';
import type { ContextFrame } from '../context/frame.js';
import { AbortSource } from './abort.js';
import { checkInstance, compiledOf, type CompiledNode, type CompiledWorkflow, type Target } from './compile.js';
import type { RetriedAttempt, RunResult, StepHistoryEntry, WorkflowEvent } from './events.js';
import { noTerminalError, passedNothing } from './commit.js';
import { JoinBook, heldArrival, settle } from './joins.js';
import { WaitFor } from '../nodes/wait.js';
import { ParkedItems, earliestWakeUp, isParked, parkedAttempt, type Mailbox } from './parked.js';
import { ItemQueue } from './queue.js';
import { backoffDelay, shouldRetry } from './retry.js';
import type { StepTracing } from './tracing.js';
import type { EngineItem, JoinArrival, JoinFrame, NestedState, StepDeadline, StepEnv, StepOutcome } from './types.js';

/** Id of the `index`-th child of `parent`. */
export type ChildIdFn = (parent: EngineItem, index: number) => string;

const EMPTY_ITEMS = Object.freeze([]) as unknown as EngineItem[];
const EMPTY_ARRIVALS = Object.freeze([]) as unknown as JoinArrival[];

// ---------------------------------------------------------------------------------------------------------------
// Run scope and node invocation

/** Per-run state the step core needs. Mutable `last*` fields describe the step that just returned. */
export interface RunScope {
  readonly wf: CompiledWorkflow;
  readonly instance: object;
  readonly runId: string;
  /** Cancellation (cancel, deadline, lost lease); nodes see it as `ctx.signal`. */
  readonly abort: AbortSource;
  /** It can abort: node calls are raced against it. */
  readonly abortable: boolean;
  readonly random: () => number;
  /** Where the run reads time and waits (retry backoff, node timeouts). */
  readonly clock: Clock;
  readonly onEvent: ((e: WorkflowEvent) => void) | undefined;
  readonly exec: StepExecutor;
  /** OpenTelemetry, when the run is traced: node code runs in its attempt's span, nested runs get spans. */
  trace: StepTracing | undefined;
  /**
   * Prefixes the item ids that seed default EventLog ids in a nested run (`<outer item id>/`, per level), whose item
   * ids restart at "0": undefined at the top level.
   */
  eventPrefix: string | undefined;
  /** The item the step ran: the one given, or the join item its settlement item became. */
  lastItem: EngineItem | undefined;
  lastAttempt: number;
  /** When the step's last attempt started (set only when someone listens to events or {@link history} is on). */
  lastStartedAt: number;
  /**
   * Record each attempt's start and the attempts retried in process ({@link retried}) for a store's step history,
   * even when nobody listens to events (the checkpointed loop sets it).
   */
  history: boolean;
  /** With {@link history}: the attempts of the current step that failed and were retried, oldest first; the loop resets it. */
  retried: RetriedAttempt[] | undefined;
  lastTransition: Dispatched | undefined;
  lastError: unknown;
  /** See {@link StepEnv.deadline}: parked items wake by then at the latest. */
  parkDeadline: StepDeadline | undefined;
  /**
   * The signal a wait of this run refused (`Step.refused`): a nested run's refusal of the signal its outer item took
   * is that outer step's error (see {@link runNested}).
   */
  refused?: SerializedError;
}

/** The {@link NodeExecutor} the generated dispatch calls. `pending` is the node context for the call in flight. */
export class StepExecutor implements NodeExecutor {
  pending: NodeCtx | undefined = undefined;
  /** The item of the call in flight when it carries a parked nested run (`EngineItem.nested`) to continue. */
  resuming: EngineItem | undefined = undefined;
  scope!: RunScope;

  run<I, O>(node: Node<I, O, any>, input: I): Promise<Transition<O>> {
    const c = this.pending!;
    this.pending = undefined;
    return node.process(c, input) as Promise<Transition<O>>;
  }

  /** A nested run that parks answers in its call's {@link NodeCtx.parked} (see {@link runNested}). */
  runWorkflow<I, O>(def: WorkflowDef<any, any, I, O, any>, instance: object, input: I, spec: NodeSpec): Promise<Transition<O>> {
    const c = this.pending!;
    const resuming = this.resuming;
    this.pending = undefined;
    this.resuming = undefined;
    return runNested(this.scope, def, instance, input, c, spec.name, resuming) as Promise<Transition<O>>;
  }
}

/**
 * `signal`: the run's cancellation, as an {@link AbortSource} (the distributed worker's, whose signal is made only if
 * a node reads it) or a plain `AbortSignal`.
 */
export function makeScope(
  wf: CompiledWorkflow,
  instance: object,
  runId: string,
  signal: AbortSignal | AbortSource,
  abortable: boolean,
  random: () => number,
  onEvent: ((e: WorkflowEvent) => void) | undefined,
  clock: Clock = systemClock,
): RunScope {
  const exec = new StepExecutor();
  const abort = signal instanceof AbortSource ? signal : AbortSource.of(signal);
  const scope: RunScope = { wf, instance, runId, abort, abortable, random, clock, onEvent, exec, trace: undefined, eventPrefix: undefined, lastItem: undefined, lastAttempt: 1, lastStartedAt: 0, history: false, retried: undefined, lastTransition: undefined, lastError: undefined, parkDeadline: undefined };
  exec.scope = scope;
  return scope;
}

/**
 * The {@link WorkflowCtx} a node gets, one per attempt. `signal` is a getter: the step's {@link AbortSource} creates
 * an `AbortSignal` only for nodes that read it.
 */
class NodeCtx implements WorkflowCtx<unknown> {
  /**
   * @internal Set when this call ran a nested workflow that parked instead of finishing: the step parks with it, and
   * the Transition the dispatch resolved to is not read. Per call, so an abandoned attempt cannot set another's.
   */
  parked: NestedPark | undefined = undefined;

  constructor(
    readonly store: unknown,
    /** @internal the attempt's cancellation: the run's, or its own for a node with a timeout (nested workflows inherit it). */
    readonly abortSource: AbortSource,
    readonly runId: string,
    readonly itemId: string,
    readonly attempt: number,
    readonly failure: FailureInfo | undefined,
  ) {}

  get signal(): AbortSignal {
    return this.abortSource.signal;
  }
}

/** Settles like `p`, or rejects with the abort error as soon as `abort` aborts (a node ignoring its signal). */
function raceAbort<T>(p: PromiseLike<T> | T, abort: AbortSource): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (abort.aborted) {
      Promise.resolve(p).catch(() => undefined);
      reject(abortReason(abort));
      return;
    }
    const off = abort.onAbort(() => reject(abortReason(abort)));
    Promise.resolve(p).then(
      (v) => {
        off();
        resolve(v);
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}

/**
 * Calls the node of `item` with `call` (its context for this attempt). A node that answered synchronously has nothing
 * left to race, even in a cancellable run.
 */
function invoke(scope: RunScope, node: CompiledNode, item: EngineItem, call: NodeCtx): Transition<unknown> | PromiseLike<Transition<unknown>> {
  if (node.timeoutMs !== undefined) return invokeWithTimeout(scope, node, item, call, node.timeoutMs);
  const p = dispatch(scope, item, call);
  return scope.abortable && isThenable(p) ? raceAbort(p, scope.abort) : p;
}

/** The generated dispatch of `item` (in the span of the attempt in progress, in a traced run). */
function dispatch(scope: RunScope, item: EngineItem, call: NodeCtx): Transition<unknown> | PromiseLike<Transition<unknown>> {
  scope.exec.pending = call;
  // only the attempt the nested run parked at continues it: a retry runs the nested workflow again from its start
  // (continuing would give the wait the payload it already took, and fail the same way)
  scope.exec.resuming = item.nested !== undefined && call.attempt <= item.nested.attempt ? item : undefined;
  const def = scope.wf.def;
  return scope.trace === undefined ? def.processWorkItem(scope.instance, item, scope.exec) : scope.trace.within(() => def.processWorkItem(scope.instance, item, scope.exec));
}

/** {@link invoke} for a node with a timeout: `call` has the node's own source, aborted by the run's or the timeout. */
async function invokeWithTimeout(scope: RunScope, node: CompiledNode, item: EngineItem, call: NodeCtx, ms: number): Promise<Transition<unknown>> {
  const own = call.abortSource;
  const off = scope.abortable ? scope.abort.onAbort(() => own.abort(scope.abort.reason)) : undefined;
  if (scope.abort.aborted) own.abort(scope.abort.reason);
  const cancelTimer = scope.clock.setTimer(() => own.abort(new NodeTimeoutError(`node "${node.name}" timed out after ${ms} ms (attempt ${call.attempt})`)), ms);
  try {
    return await raceAbort(dispatch(scope, item, call), own);
  } finally {
    cancelTimer();
    off?.();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The step core

function armOf(node: CompiledNode, value: unknown): readonly Target[] {
  const tag = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[node.discriminant] : undefined;
  const arm = typeof tag === 'string' || typeof tag === 'number' || typeof tag === 'boolean' ? node.arms!.get(String(tag)) : undefined;
  const targets = arm ?? node.otherwise;
  if (!targets) {
    throw new TypeError(`node "${node.name}" produced ${node.discriminant}=${JSON.stringify(tag)}, which no @edge.when arm handles`);
  }
  return targets;
}

const HOLD = Transition.hold();

/**
 * A node's return value when it is a Transition, else the failure of that node (a typed {@link NodeFailedError}
 * naming the node and saying what it returned), thrown inside the attempt so retries and fallbacks apply as for a throw.
 */
function checkTransition(node: CompiledNode, t: unknown): Transition<unknown> {
  const type = t !== null && typeof t === 'object' ? (t as { type?: unknown }).type : undefined;
  const r = t as Transition<unknown>;
  if (type === 'next' || type === 'hold') return r;
  if (type === 'nextAll' && Array.isArray((r as { values?: unknown }).values)) return r;
  if (type === 'abort' && typeof (r as { error?: unknown }).error === 'object' && (r as { error?: unknown }).error !== null) return r;
  if (type === 'wait' && typeof (r as { name?: unknown }).name === 'string') return r;
  if (type === 'sleep') return r;
  throw new NodeFailedError(
    `node "${node.name}" returned ${describeReturn(t)}, which is not a Transition (return Transition.next(v), Transition.nextAll([...]), Transition.hold() or Transition.abort(err))`,
  );
}

/** A short, safe description of a value a node returned (for the error message). */
function describeReturn(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'a function';
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = Object.prototype.toString.call(v);
  }
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/**
 * Processes one item: attempts (with inline or deferred retries), timeout, fallbacks, routing. Returns what it
 * produced; throws only the run's cancellation/deadline error (or {@link CorruptStateError} for an unknown node).
 * A settlement item (`item.settle`) is settled first (engine/joins.ts): a group with values runs its join item here,
 * under the same id; a group whose arrivals all held returns a `continue` outcome with its empty arrival (or none).
 *
 * The context: with a `frame` (plain `run`, nested workflows) the step updates the frame's context in place, as
 * its delta would, and leaves it untouched when it fails; otherwise every attempt runs on a copy of `base`, which is
 * not touched, and the outcome carries the delta. Either way a failed attempt's writes are discarded.
 *
 * A step whose node answers synchronously (and needs no retry delay) returns its outcome synchronously: callers
 * await only a thenable.
 */
export function stepCore(
  scope: RunScope,
  item: EngineItem,
  base: unknown,
  frame: ContextFrame | undefined,
  firstAttempt: number,
  inline: boolean,
  childId: ChildIdFn,
): StepOutcome | Promise<StepOutcome> {
  if (item.settle !== undefined) {
    const settled = settle(item);
    if (settled === undefined || !('id' in settled)) {
      scope.lastItem = item;
      scope.lastAttempt = firstAttempt;
      scope.lastTransition = HOLD;
      scope.lastError = undefined;
      started(scope, item, firstAttempt);
      return { type: 'continue', items: EMPTY_ITEMS, arrivals: settled === undefined ? EMPTY_ARRIVALS : [settled], delta: undefined };
    }
    item = settled;
  }
  scope.lastItem = item;
  const node = scope.wf.nodes.get(item.node);
  if (node === undefined) throw new CorruptStateError(`work item "${item.id}" targets unknown node "${item.node}" of ${scope.wf.def.name}`);
  const stamp = scope.eventPrefix === undefined ? item.id : scope.eventPrefix + item.id;
  const step = new Step(scope, node, item, base, frame, inline, childId, stamp);
  if (item.wait !== undefined || item.sleep !== undefined || item.nested !== undefined) {
    // A parked item continues at the attempt it parked at (a store keeps it at that attempt, a local loop starts at
    // 1): a wait or a sleep resumes, a nested run continues by running its node again (runNested picks up the state).
    // A later attempt is a store's retry of the node, which runs it again: a wait waits anew, a nested workflow
    // starts from its start (see invoke).
    // An item the store woke at the run's deadline (parkedItem capped its wake-up there) fails so, whatever this
    // machine's clock says (a worker behind the one that parked it has not seen the deadline pass yet: the sleep
    // ended early, the wait timed out into its fallback, a nested run went on).
    if (item.byDeadline && item.received === undefined) throw deadlinePassed(scope.parkDeadline?.run ?? item.notBefore ?? 0);
    const parkedAt = parkedAttempt(item);
    if (item.nested === undefined && firstAttempt <= parkedAt) return step.resumed(parkedAt);
    return step.attempt(Math.max(firstAttempt, parkedAt));
  }
  return step.attempt(firstAttempt);
}

/** The attempts of one step (see {@link stepCore}): synchronous as long as the node is. */
class Step {
  constructor(
    readonly scope: RunScope,
    readonly node: CompiledNode,
    readonly item: EngineItem,
    readonly base: unknown,
    readonly frame: ContextFrame | undefined,
    readonly inline: boolean,
    readonly childId: ChildIdFn,
    /** Seeds default EventLog ids. */
    readonly stamp: string,
  ) {}

  attempt(attempt: number): StepOutcome | Promise<StepOutcome> {
    const scope = this.scope;
    if (scope.abort.aborted) throw abortReason(scope.abort);
    started(scope, this.item, attempt);
    const store = this.begin();
    const { node, item } = this;
    // a node with a timeout gets its own source (see invokeWithTimeout)
    const call = new NodeCtx(store, node.timeoutMs === undefined ? scope.abort : new AbortSource(), scope.runId, item.id, attempt, item.failure);
    let r: Transition<unknown> | PromiseLike<Transition<unknown>>;
    try {
      r = invoke(scope, node, item, call);
    } catch (err) {
      return this.failed(attempt, err);
    }
    // A synchronous node's Transition is used as is: awaiting a non-thenable would only cost a microtask tick. (A
    // nested workflow, which may park, always answers with a promise.)
    if (!isThenable(r)) return this.returned(attempt, store, r);
    return Promise.resolve(r).then(
      (t) => this.returned(attempt, store, call.parked ?? t),
      (err: unknown) => this.failed(attempt, err),
    );
  }

  /** The context an attempt writes: the frame's, or a copy of `base` (see {@link stepCore}). */
  private begin(): unknown {
    return this.frame ? this.frame.begin(this.stamp) : this.scope.wf.codec.clone(this.base, this.stamp);
  }

  /**
   * A parked item back from the store (see parked.ts), at the attempt that parked it ({@link parkedAttempt}): its
   * signal, its wake-up or its timeout stands in for the node's answer. A wait without its signal fails as a
   * `SignalTimeoutError` of that attempt.
   */
  resumed(attempt: number): StepOutcome | Promise<StepOutcome> {
    const { scope, item } = this;
    if (scope.abort.aborted) throw abortReason(scope.abort);
    started(scope, item, attempt);
    let value: unknown;
    if (item.wait !== undefined) {
      if (item.received === undefined) {
        const at = new Date(item.notBefore ?? 0).toISOString();
        return this.failed(attempt, new SignalTimeoutError(`node "${this.node.name}" waited for signal "${item.wait.name}" until ${at} and it did not come (attempt ${attempt})`));
      }
      // The wait's check runs here, when it takes the signal, whoever sent it (a sender without the workflow's code,
      // `floxide runs signal` or the dashboard, could not check it): its result is the node's output, and a payload
      // that fails is refused: the signal is consumed and the wait goes on as if it had not come (refused).
      const n = (scope.instance as Record<string, unknown>)[item.node];
      try {
        value = n instanceof WaitFor ? n.check(item.received.payload) : item.received.payload;
      } catch (err) {
        return this.refused(attempt, item.wait, err);
      }
    } else value = item.sleep!.value;
    return this.returned(attempt, this.begin(), Transition.next(value));
  }

  /**
   * A parked wait took a signal whose payload fails its check: the signal is consumed, and the step parks the same
   * wait again (same attempt, same timeout deadline, frames and failure kept) under its first child id, recording the
   * refusal as its error ({@link SignalRefusedError}). No attempt is used, no retry or fallback runs, the context is
   * untouched: the run goes on as if the signal had not come. Every mode commits it as any parked item.
   */
  private refused(attempt: number, wait: NonNullable<EngineItem['wait']>, err: unknown): StepOutcome {
    const { scope, item } = this;
    const reason = err instanceof Error ? err.message : String(err);
    const refusal = new SignalRefusedError(`node "${item.node}" refused signal "${wait.name}" (item ${item.id}) and waits on for it: ${reason}`, { cause: err });
    const { received: _taken, ...waiting } = item;
    scope.lastAttempt = attempt;
    scope.lastTransition = { type: 'wait', name: wait.name, timeoutMs: undefined };
    scope.lastError = undefined;
    scope.refused = serializeError(refusal);
    return { type: 'continue', items: [{ ...waiting, id: this.childId(item, 0) }], arrivals: EMPTY_ARRIVALS, delta: undefined, error: scope.refused };
  }

  /**
   * The node returned `value` (a nested workflow: its {@link NestedPark} when it parked): a success, or (not a
   * Transition, an abort, an arm no edge handles) a failure.
   */
  private returned(attempt: number, store: unknown, value: unknown): StepOutcome | Promise<StepOutcome> {
    const { scope, node } = this;
    let t: Dispatched;
    try {
      t = value instanceof NestedPark ? value : checkTransition(node, value);
      if (t.type === 'abort') throw t.error;
      if (node.arms && !node.terminal) {
        if (t.type === 'next') armOf(node, t.value);
        else if (t.type === 'nextAll') for (const v of t.values) armOf(node, v);
      }
      // What a store would refuse, every mode refuses here, as the node's failure (retries and fallbacks apply).
      if (t.type === 'next' || t.type === 'sleep') assertStorable(t.value, 'the output');
      else if (t.type === 'nextAll') assertStorable(t.values, 'the outputs');
      // (the frame's commit refuses a context write no store keeps, the frame as it was)
      if (this.frame) this.frame.commit();
    } catch (err) {
      return this.failed(attempt, err);
    }
    let delta: ContextDelta | undefined;
    if (!this.frame) {
      delta = scope.wf.codec.diff(this.base, store);
      try {
        if (delta !== undefined) assertStorable(delta, 'the context');
      } catch (err) {
        return this.failed(attempt, err);
      }
    }
    scope.lastAttempt = attempt;
    scope.lastTransition = t;
    scope.lastError = undefined;
    if (t.type === 'wait' || t.type === 'sleep' || t.type === 'nested') {
      const items = [parkedItem(scope, this.item, t, attempt, this.childId)];
      // a nested run that refused the signal its outer item took parks again: the refusal is this step's error
      return t.type === 'nested' && t.refused !== undefined ? { type: 'continue', items, arrivals: EMPTY_ARRIVALS, delta, error: t.refused } : { type: 'continue', items, arrivals: EMPTY_ARRIVALS, delta };
    }
    return route(node, this.item, t, delta, this.childId);
  }

  /**
   * The attempt failed with `err`: retry (inline after its delay, or deferred), take the fallbacks, or fail. A parked
   * wait that timed out or refused its signal is retried as any attempt: deferred, the store's next attempt of the
   * item runs the node again (see {@link stepCore}).
   */
  private failed(attempt: number, err: unknown): StepOutcome | Promise<StepOutcome> {
    const { scope, node, item } = this;
    if (this.frame) this.frame.rollback();
    if (scope.abort.aborted) throw abortReason(scope.abort);
    if (isRunAbortError(err)) throw err;
    scope.lastAttempt = attempt;
    scope.lastError = err;
    if (shouldRetry(node.retry, err, attempt)) {
      const delayMs = backoffDelay(node.retry!, attempt, scope.random);
      if (scope.onEvent) {
        scope.onEvent({ type: 'step.retry', runId: scope.runId, at: scope.clock.now(), node: node.name, itemId: item.id, attempt, workerId: undefined, startedAt: scope.lastStartedAt, delayMs, error: serializeError(err) });
      }
      if (scope.history) (scope.retried ??= []).push({ attempt, startedAt: scope.lastStartedAt, finishedAt: scope.clock.now(), error: serializeError(err) });
      if (!this.inline) return { type: 'retry', attempt: attempt + 1, delayMs: untilDeadline(scope, delayMs), error: serializeError(err) };
      return sleep(delayMs, scope.abort.signal, scope.clock).then(() => this.attempt(attempt + 1));
    }
    scope.lastTransition = undefined;
    if (node.fallbacks.length > 0) {
      const failure: FailureInfo = failureInfo(node.name, err, attempt);
      const { items, arrivals } = produce(item, [item.input], () => node.fallbacks, this.childId, failure);
      return { type: 'continue', items, arrivals, delta: undefined, error: serializeError(err) };
    }
    return { type: 'failed', error: serializeError(err), attempts: attempt };
  }
}

/**
 * The item a `wait`, a `sleep` or a parked nested run parks: the same node and input (frames and failure kept) under
 * the step's first child id, with its wake-up time (`notBefore`: the sleep's end, the wait's timeout, the nested
 * run's earliest wake-up) read on the run's clock.
 */
function parkedItem(scope: RunScope, item: EngineItem, t: Park, attempt: number, childId: ChildIdFn): EngineItem {
  const it: { -readonly [K in keyof EngineItem]: EngineItem[K] } = { node: item.node, id: childId(item, 0), input: item.input };
  if (item.join !== undefined) it.join = item.join;
  if (item.failure !== undefined) it.failure = item.failure;
  if (t.type === 'nested') {
    it.nested = { ...t.state, attempt };
    if (t.name !== undefined) it.wait = { name: t.name, attempt };
    if (t.at !== undefined) it.notBefore = t.at;
  } else if (t.type === 'wait') {
    it.wait = { name: t.name, attempt };
    if (t.timeoutMs !== undefined) it.notBefore = scope.clock.now() + t.timeoutMs;
  } else {
    it.sleep = { value: t.value };
    it.notBefore = t.until ?? scope.clock.now() + (t.ms ?? 0);
  }
  // a store-kept item wakes by the run's deadline at the latest (on the store's clock), and then fails the run with
  // DeadlineExceededError (stepCore)
  const d = scope.parkDeadline?.at;
  if (d !== undefined && (it.notBefore === undefined || it.notBefore >= d)) {
    it.notBefore = d;
    it.byDeadline = true;
  }
  // a wake-up past the last time a Date holds is that time: every store keeps it (Postgres' bigint would refuse
  // 1e300 and fail the commit on every delivery) and every listing can print it (a deadline at that time, taken to the
  // store's clock, can be past it too)
  if (it.notBefore !== undefined && it.notBefore > MAX_EPOCH_MS) it.notBefore = MAX_EPOCH_MS;
  return it;
}

/**
 * A store-kept retry's delay: `delayMs`, or less, so that it wakes by the run's deadline at the latest, as a parked
 * item does (a backoff past the deadline kept the run running until the backoff's end, where the local modes fail it
 * at the deadline); the worker that takes it then fails the run.
 */
function untilDeadline(scope: RunScope, delayMs: number): number {
  const d = scope.parkDeadline;
  return d === undefined ? delayMs : Math.min(delayMs, Math.max(0, d.at - scope.clock.now()));
}

/** Generated dispatch returns what `process()` returned: a Transition, or a promise of one for async nodes. */
function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function failureInfo(node: string, err: unknown, attempts: number): FailureInfo {
  // as the run's error says it (`serializeError`: a thrown value that is no Error as its JSON, a part whose getter
  // throws described)
  const e = serializeError(err);
  return e.code === undefined ? { node, name: e.name, message: e.message, attempts } : { node, name: e.name, message: e.message, code: e.code, attempts };
}

/** Routes a node's answer that neither parks nor fails: `next`, `nextAll` or `hold`. */
function route(node: CompiledNode, item: EngineItem, t: Extract<Dispatched, { type: 'next' | 'nextAll' | 'hold' }>, delta: ContextDelta | undefined, childId: ChildIdFn): StepOutcome {
  if (t.type === 'hold') return held(item, delta);
  if (node.terminal) {
    if (t.type === 'next') return { type: 'terminal', output: t.value, items: EMPTY_ITEMS, arrivals: EMPTY_ARRIVALS, delta };
    if (t.type === 'nextAll' && t.values.length > 0) return { type: 'terminal', output: t.values[0], items: EMPTY_ITEMS, arrivals: EMPTY_ARRIVALS, delta };
    return held(item, delta);
  }
  if (t.type === 'next' && item.join === undefined) {
    // The common case: one value, one plain successor (direct or through a branch arm), no frames.
    const targets = node.arms ? armOf(node, t.value) : node.successors;
    if (targets.length === 1 && !targets[0].join) {
      return { type: 'continue', items: [{ node: targets[0].name, id: childId(item, 0), input: t.value }], arrivals: EMPTY_ARRIVALS, delta };
    }
  }
  const values = t.type === 'next' ? [t.value] : t.values;
  const targetsOf = node.arms ? (v: unknown) => armOf(node, v) : () => node.successors;
  const { items, arrivals } = produce(item, values, targetsOf, childId, undefined);
  return { type: 'continue', items, arrivals, delta };
}

/** A step that produced nothing: inside a fan-out, an empty arrival of its innermost group. */
function held(item: EngineItem, delta: ContextDelta | undefined): StepOutcome {
  return { type: 'continue', items: EMPTY_ITEMS, arrivals: heldArrivals(item.join), delta };
}

/** The arrivals of an item with `frames` that produced nothing: the empty arrival of its innermost group, if any. */
function heldArrivals(frames: readonly JoinFrame[] | undefined): JoinArrival[] {
  return frames === undefined || frames.length === 0 ? EMPTY_ARRIVALS : [heldArrival(frames)];
}

/**
 * Routes `values` to their targets: item-major, a new fan-out frame when more than one item results, join targets
 * inside a fan-out become arrivals, a join target outside any fan-out gets `[value]`.
 */
function produce(
  parent: EngineItem,
  values: readonly unknown[],
  targetsOf: (v: unknown) => readonly Target[],
  childId: ChildIdFn,
  failure: FailureInfo | undefined,
): { items: EngineItem[]; arrivals: JoinArrival[] } {
  let n = 0;
  for (const v of values) n += targetsOf(v).length;
  const frames = parent.join;
  if (n === 0) return { items: EMPTY_ITEMS, arrivals: heldArrivals(frames) };
  const items: EngineItem[] = [];
  let arrivals: JoinArrival[] = EMPTY_ARRIVALS;
  const base = frames ?? [];
  let i = 0;
  for (const v of values) {
    for (const t of targetsOf(v)) {
      const stack = n > 1 ? [...base, { g: parent.id, i, n }] : base;
      let input = v;
      if (t.join) {
        if (stack.length > 0) {
          const top = stack[stack.length - 1];
          if (arrivals === EMPTY_ARRIVALS) arrivals = [];
          arrivals.push({ group: top.g, index: top.i, size: top.n, node: t.name, value: v, held: false, outer: stack.slice(0, -1) });
          i++;
          continue;
        }
        input = [v];
      }
      const id = childId(parent, i);
      const it: { node: string; id: string; input: unknown; join?: readonly JoinFrame[]; failure?: FailureInfo } = { node: t.name, id, input };
      if (stack.length > 0) it.join = stack;
      if (failure) it.failure = failure;
      items.push(it);
      i++;
    }
  }
  return { items, arrivals };
}

// ---------------------------------------------------------------------------------------------------------------
// The in-memory loop (plain `run`, nested workflows)

/** Fails a run for a node failure that no fallback took (the item: the one the step ran, see {@link RunScope.lastItem}). */
export function nodeFailedError(scope: RunScope, error: SerializedError): NodeFailedError {
  const item = scope.lastItem!;
  const cause = scope.lastError ?? reviveError(error);
  return new NodeFailedError(`node "${item.node}" failed (item ${item.id}): ${error.message}`, { cause });
}

/**
 * An attempt began: emits `step.started` when someone listens, and notes when it started when someone listens or the
 * step history is kept ({@link RunScope.history}); otherwise reads no clock.
 */
function started(scope: RunScope, item: EngineItem, attempt: number): void {
  if (scope.onEvent) {
    const at = scope.clock.now();
    scope.lastStartedAt = at;
    scope.onEvent({ type: 'step.started', runId: scope.runId, at, node: item.node, itemId: item.id, attempt, workerId: undefined });
  } else if (scope.history) scope.lastStartedAt = scope.clock.now();
}

/** Emits `step.finished` for an outcome (only called when someone listens; a deferred retry emitted `step.retry`). */
export function emitStep(scope: RunScope, out: StepOutcome): void {
  if (!scope.onEvent || out.type === 'retry') return;
  const item = scope.lastItem!;
  const base = { type: 'step.finished', runId: scope.runId, at: scope.clock.now(), node: item.node, itemId: item.id, attempt: scope.lastAttempt, workerId: undefined, startedAt: scope.lastStartedAt } as const;
  if (out.type === 'failed') {
    scope.onEvent({ ...base, outcome: 'failed', error: out.error });
    return;
  }
  const t = scope.lastTransition;
  const transition = out.type === 'terminal' ? 'terminal' : t === undefined || t.type === 'abort' ? 'fallback' : t.type === 'nested' ? t.waits : t.type;
  const output = t === undefined ? undefined : t.type === 'next' ? t.value : t.type === 'nextAll' ? t.values : undefined;
  const error = out.type === 'continue' ? out.error : undefined;
  scope.onEvent({ ...base, outcome: out.type, error, local: { transition, input: item.input, output, produced: out.items } });
}

/**
 * The history record of the step that just returned `out` (the scope must have {@link RunScope.history} on): with
 * the failure its fallbacks took, if they did, or the signal its wait refused.
 */
export function stepHistoryOf(scope: RunScope, out: StepOutcome): StepHistoryEntry {
  const item = scope.lastItem!;
  const entry: { -readonly [K in keyof StepHistoryEntry]: StepHistoryEntry[K] } = { node: item.node, attempt: scope.lastAttempt, startedAt: scope.lastStartedAt, finishedAt: scope.clock.now() };
  if (scope.retried !== undefined) entry.retries = scope.retried;
  if (out.type === 'continue' && out.error !== undefined) entry.error = out.error;
  return entry;
}

/** The `run.completed` event of a local run. */
export function completedEvent(runId: string, at: number, output: unknown, dropped: readonly EngineItem[]): WorkflowEvent {
  return { type: 'run.completed', runId, at, output, dropped: dropped.map((d) => ({ id: d.id, node: d.node, reason: 'terminal' })) };
}

/** The final event of a local run that threw `err`: `run.cancelled` for a cancellation, else `run.failed`. */
export function failureEvent(runId: string, at: number, err: unknown): WorkflowEvent {
  const error = serializeError(err);
  return err instanceof CancelledError ? { type: 'run.cancelled', runId, at, error } : { type: 'run.failed', runId, at, error };
}

/**
 * Runs a workflow to its first terminal in memory, FIFO, updating `context` in place step by step (the values of
 * its deltas; a failed step's writes are discarded).
 * Throws NodeFailedError / NoTerminalReachedError / the run's cancellation or deadline error.
 */
export function runLoop(scope: RunScope, context: unknown, input: unknown, mailbox?: Mailbox): Promise<RunResult> {
  return loop(scope, context, input, mailbox, undefined) as Promise<RunResult>;
}

/**
 * A nested run: `nested` is the state it continues from (undefined: it starts), `received` the signal its outer item
 * got (for the parked wait the outer item waited as).
 */
interface NestedRun {
  readonly state: NestedState | undefined;
  readonly received: { readonly payload: unknown } | undefined;
}

/**
 * {@link runLoop}; with `nested` (a nested workflow's run), when nothing is left to run but parked items, it returns
 * its state instead of waiting in process: the outer item parks with it, durably in every store, and the outer
 * node runs again (and this loop continues from the state) when the signal or the wake-up time comes.
 */
async function loop(scope: RunScope, context: unknown, input: unknown, mailbox: Mailbox | undefined, nested: NestedRun | undefined): Promise<RunResult | NestedState> {
  const queue = new ItemQueue();
  let counter = 0;
  let steps = 0;
  const childId: ChildIdFn = () => String(++counter);
  const book = new JoinBook();
  const frame = scope.wf.codec.frame(context);
  const onEvent = scope.onEvent;
  // Made when the first item parks (a sleep or a wait): runs without either pay nothing for it.
  let parked: ParkedItems | undefined;
  const state = nested?.state;
  if (state === undefined) queue.push({ node: scope.wf.start, id: '0', input });
  else {
    counter = state.counter;
    for (const a of state.arrivals) book.park(a);
    parked = new ParkedItems();
    for (const it of state.items) {
      if (it.id === state.waiting && nested!.received !== undefined) queue.push({ ...it, received: nested!.received });
      else parked.add(it);
    }
    // what is due now runs (timeouts, timers); the rest waits, in the outer item again if nothing else can run
    for (const it of await parked.release(scope.clock.now(), undefined)) queue.push(it);
  }
  const offArrival = mailbox?.onArrival(() => parked?.signalled());
  const breath = new Breath();
  // the last step (the no-terminal error names its node when it passed nothing on)
  let item: EngineItem | undefined;
  let out: StepOutcome | undefined;
  try {
    for (;;) {
      if (parked !== undefined && parked.size > 0) {
        const idle = queue.empty;
        if (nested !== undefined) {
          // A nested run releases nothing while it runs: with nothing left to run it parks in its outer item (even
          // what is due already: the outer item is then due too), so the same steps are committed however long its
          // steps take. What is due runs when the outer item comes back (above).
          if (idle) return nestedState(parked, book, counter);
        } else {
          const due = parked.due(idle, scope.clock, scope.abort, mailbox, undefined);
          if (due !== undefined) {
            for (const it of await due) queue.push(it);
            if (queue.empty) continue;
          }
        }
      }
      if (queue.empty) break;
      item = queue.shift();
      const step = stepCore(scope, item, context, frame, 1, true, childId);
      out = isThenable(step) ? await step : step;
      // Synchronous steps do not wait for a tick: hand control back after the first step (to the caller of `run`) and
      // every 1024 steps after it (to other promise jobs; and to timers and I/O every 20 ms: core/time.ts Breath).
      if ((steps++ & 1023) === 0) {
        if (breath.due()) await breath.take();
        else await undefined;
      }
      if (onEvent) emitStep(scope, out);
      if (out.type === 'continue') {
        for (const it of out.items) {
          if (isParked(it)) (parked ??= new ParkedItems().observe(scope.runId, onEvent, scope.clock)).add(it);
          else queue.push(it);
        }
        if (out.arrivals.length > 0) {
          for (const a of out.arrivals) {
            const settlement = book.park(a);
            if (settlement) queue.push(settlement);
          }
        }
      } else if (out.type === 'terminal') {
        const dropped = queue.rest().concat(parked?.waits ?? [], out.items);
        if (onEvent) onEvent(completedEvent(scope.runId, scope.clock.now(), out.output, dropped));
        return { runId: scope.runId, output: out.output, dropped, pendingArrivals: book.pending, steps, context };
      } else if (out.type === 'failed') {
        throw nodeFailedError(scope, out.error);
      } else {
        throw new CorruptStateError('an inline step asked for a deferred retry');
      }
    }
  } finally {
    offArrival?.();
  }
  throw noTerminalError(scope.runId, passedNothing(item?.node, out));
}

/**
 * What a nested workflow's node answers when its run parked instead of finishing (see {@link runNested}): the outer
 * item parks with the state (see {@link parkedItem}). A class, so no value a node returns can pass for one.
 */
class NestedPark {
  readonly type = 'nested';
  constructor(
    /** The qualified name of the nested run's first parked wait (`<node>.<signal>`); undefined when only timers wait. */
    readonly name: string | undefined,
    /** The nested run's earliest wake-up (a timeout or a timer), epoch ms. */
    readonly at: number | undefined,
    readonly state: NestedState,
    /** The signal the outer item took, when a wait of the nested run refused it ({@link RunScope.refused}). */
    readonly refused?: SerializedError,
  ) {}

  /** How the outer step parks, as its `step.finished` event says: waiting for a signal, or only for time. */
  get waits(): 'wait' | 'sleep' {
    return this.name === undefined ? 'sleep' : 'wait';
  }
}

/** What a node's dispatch answers, as the engine sees it: the node's Transition, or a nested run's park. */
type Dispatched = Transition<unknown> | NestedPark;

/** The answers that park the item (see {@link parkedItem}). */
type Park = Extract<Dispatched, { type: 'wait' | 'sleep' | 'nested' }>;

/** The state of a nested run that parks (its `key` and `attempt` are set by the caller). */
function nestedState(parked: ParkedItems, book: JoinBook, counter: number): NestedState {
  const items = parked.waits;
  const waiting = items.find((it) => it.wait !== undefined)?.id;
  return { key: '', attempt: 0, items: [...items], arrivals: book.arrivals(), counter, waiting };
}

/**
 * Runs nested workflow `def` as the step of node `node` (or continues it: `resuming` is the outer item carrying its
 * parked state). When the nested run parks, so does the outer item: the nested run's first parked wait becomes the
 * outer wait, signal `<node>.<signal>` (qualified at every level), and its earliest timeout or timer the outer wake-up.
 * Its answer then is the {@link NestedPark} it sets on `call` (the generated dispatch can only carry a Transition: it
 * gets a hold, which the step does not read).
 */
async function runNested(outer: RunScope, def: AnyWorkflowDef, instance: object, input: unknown, call: NodeCtx, node: string, resuming: EngineItem | undefined): Promise<Transition<unknown>> {
  const wf = compiledOf(def);
  checkInstance(wf, instance);
  const abort = call.abortSource;
  const key = resuming?.nested?.key ?? call.itemId;
  const runId = `${outer.runId}/${key}`;
  // A traced run traces its nested runs: a run span under the outer attempt's, fed by the nested run's events.
  const span = outer.trace?.nested(runId, wf.def.name);
  const scope = makeScope(wf, instance, runId, abort, outer.abortable || abort !== outer.abort, outer.random, span === undefined ? undefined : (e) => span.observe(e), outer.clock);
  scope.trace = span;
  scope.eventPrefix = `${outer.eventPrefix ?? ''}${key}/`;
  scope.parkDeadline = outer.parkDeadline;
  let r: RunResult | NestedState;
  try {
    r = await loop(scope, call.store, input, undefined, { state: resuming?.nested, received: resuming?.received });
  } catch (err) {
    span?.observe(failureEvent(runId, outer.clock.now(), err));
    throw err;
  }
  if ('runId' in r) return Transition.next(r.output);
  // The nested run parked (a wait, a sleep): its span ends here; the attempt that continues it gets a new one.
  span?.end('parked', undefined, outer.clock.now());
  const waiting = r.items.find((it) => it.id === r.waiting);
  call.parked = new NestedPark(waiting === undefined ? undefined : `${node}.${waiting.wait!.name}`, earliestWakeUp(r.items), { ...r, key }, scope.refused);
  return HOLD;
}

/**
 * Process one item of a bound workflow (see ARCHITECTURE.md "Step semantics") and say what it produced, without
 * touching any store: the caller commits the outcome. `env.context` is not mutated; the attempt runs on a copy and
 * the outcome carries the delta. With `env.inlineRetries` false a retryable failure returns `{type: 'retry'}`.
 * The run's cancellation or deadline (an aborted `env.signal`) comes back as `failed` with a `CancelledError` or
 * `DeadlineExceededError`; it is never retried nor routed to fallbacks. Throws `StaleGeneratedModuleError` for a
 * stale definition and `CorruptStateError` for an item naming an unknown node. With `trace` (a traced worker's
 * attempt), node code runs in the attempt's span and nested runs get spans under it.
 */
export async function executeStep(def: AnyWorkflowDef, instance: object, item: EngineItem, env: StepEnv, trace?: StepTracing): Promise<StepOutcome> {
  const wf = compiledOf(def);
  checkInstance(wf, instance);
  const scope = makeScope(wf, instance, env.runId, env.signal, true, Math.random, undefined, env.clock);
  scope.parkDeadline = env.deadline;
  scope.trace = trace;
  try {
    return await stepCore(scope, item, env.context, undefined, env.attempt, env.inlineRetries, (parent, index) => env.childId(parent, index));
  } catch (err) {
    if (isRunAbortError(err)) return { type: 'failed', error: serializeError(err), attempts: env.attempt };
    throw err;
  }
}

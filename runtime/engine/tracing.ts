/**
 * OpenTelemetry spans of runs and steps, made from what the engine already reports: local runs feed their
 * {@link WorkflowEvent}s to {@link RunSpan.observe} (a span per attempt from its `step.started` to its end, node code
 * running in it through {@link StepTracing.within}, a nested workflow's run as a span under the outer attempt);
 * distributed workers start an {@link AttemptSpan} per leased attempt (runtime/distributed/tracing.ts), under the
 * start span whose `traceparent` the run stores ({@link Tracing.startDistributed}), and the process that finishes a
 * run records its run span ({@link Tracing.finishedRun}). Names: `floxide.start <workflow>`, `floxide.run
 * <workflow>`, `floxide.step <node>`, with the attributes of {@link ATTR}.
 *
 * `@opentelemetry/api` is an optional peer dependency: it is loaded (synchronously, once) the first time tracing is
 * turned on, never by importing `floxide`. Spans go to the global tracer provider unless
 * {@link TracingOptions.tracerProvider} names one; with no SDK registered they cost next to nothing.
 */
import type * as Api from '@opentelemetry/api';
import { requireOptional } from '../core/optional.js';
import type { SerializedError } from '../core/errors.js';
import { formatTraceparent, isSampledTraceparent, parseTraceparent } from '../core/trace-context.js';
import { stepRecordOf, type StepOutcomeKind, type StepRecord, type WorkflowEvent } from './events.js';

/** Where spans go, when tracing is on. */
export interface TracingOptions {
  /**
   * An OpenTelemetry `TracerProvider` (e.g. the SDK's `BasicTracerProvider`). Default: the global one
   * (`trace.getTracerProvider()` of `@opentelemetry/api`).
   */
  readonly tracerProvider?: { getTracer(name: string, version?: string): unknown };
}

/** The `tracing` option of runs, starts and workers: `true` (the global tracer provider) or {@link TracingOptions}. */
export type TracingOption = boolean | TracingOptions;

/** The span attributes floxide sets (the one list; docs/observability.md explains them). */
export const ATTR = {
  workflow: 'floxide.workflow',
  runId: 'floxide.run.id',
  mode: 'floxide.run.mode',
  resumed: 'floxide.run.resumed',
  node: 'floxide.node',
  itemId: 'floxide.item.id',
  attempt: 'floxide.attempt',
  workerId: 'floxide.worker.id',
  outcome: 'floxide.outcome',
  error: 'floxide.error',
  commit: 'floxide.commit',
  released: 'floxide.released',
} as const;

/** How many parent contexts a {@link Tracing} keeps (then it starts over). */
const PARENTS_KEPT = 4096;

/** The tracer name (the instrumentation scope of every floxide span). */
export const TRACER_NAME = 'floxide';

/** How a traced attempt ended: a committed outcome, or `released` (the item went back without a commit). */
export type StepSpanOutcome = StepOutcomeKind | 'released';

/** One leased attempt of a step, as its span starts: the start of its history record, and its workflow. */
export interface AttemptStart extends Pick<StepRecord, 'runId' | 'node' | 'itemId' | 'attempt' | 'workerId' | 'startedAt'> {
  readonly workflow: string;
}

/** A finished distributed run, as its run span records it (what the store's run record says). */
export interface FinishedRun {
  readonly runId: string;
  readonly workflow: string;
  readonly status: string;
  readonly createdAt: number;
  readonly finishedAt: number | undefined;
  readonly error: SerializedError | undefined;
  readonly traceparent?: string;
}

/**
 * The tracing of a run's steps as the step core (engine/core.ts) uses it: undefined when tracing is off, so an
 * untraced step pays one check.
 */
export interface StepTracing {
  /**
   * Calls `fn` (a node's `process`, through the generated dispatch) with the span of the attempt in progress as the
   * active OpenTelemetry context: spans made inside `process` (the user's own, auto-instrumented HTTP or database
   * calls) are its children. (OpenTelemetry propagates it across `await` when a context manager is registered, as
   * an SDK's `register()` does.)
   */
  within<T>(fn: () => T): T;
  /** The span of a nested workflow's run inside the attempt in progress: a child of the attempt's span. */
  nested(runId: string, workflow: string): RunSpan;
}

/** The span of a distributed run's start (see {@link Tracing.startDistributed}). */
export interface StartSpan {
  /** The span's context as a W3C `traceparent`: what the run record stores (see {@link traceparentOf}). */
  readonly traceparent: string | undefined;
  /** Ends the span once (later calls do nothing): `started`, or `failed` when the run could not be stored. */
  end(outcome: string, error: SerializedError | undefined, at: number): void;
}

/** The span of one leased attempt of a distributed step (see {@link Tracing.startAttempt}). */
export interface AttemptSpan extends StepTracing {
  /**
   * Ends the attempt's span at `at` with its outcome, the error of a failed attempt, and extra attributes; returns
   * when it ended: `at`, or the end of a nested run's span under it when that is later (its times are the step's
   * clock, which may run ahead of this one's by the claim's round trip: a span ends no earlier than its children).
   */
  end(outcome: StepSpanOutcome, error: SerializedError | undefined, extra: Readonly<Record<string, string>> | undefined, at: number): number;
}

type OtelApi = typeof Api;
let api: OtelApi | undefined;

function loadApi(): OtelApi {
  return (api ??= requireOptional<OtelApi>('@opentelemetry/api', 'tracing'));
}

/**
 * A span's context as a W3C `traceparent`, or undefined when it has no valid one: the API's no-op tracer (no SDK
 * registered, or a provider that records nothing) makes spans with an all-zero context, which no store accepts. The
 * run then stores no trace context, as a run started without tracing.
 */
function traceparentOf(api: OtelApi, span: Api.Span): string | undefined {
  const ctx = span.spanContext();
  return api.trace.isSpanContextValid(ctx) ? formatTraceparent(ctx) : undefined;
}

function isOn(option: TracingOption | undefined): option is true | TracingOptions {
  return option !== undefined && option !== false && option !== null;
}

/**
 * The spans of one process. Make one with {@link Tracing.of}; it is `undefined` when tracing is off, so callers pay
 * one check.
 */
export class Tracing {
  /** The contexts of the stored `traceparent`s seen lately (a worker sees each run's many times). */
  private readonly parents = new Map<string, Api.Context>();
  /** Spans of attempts and runs that are over, to be made on the next turn of the event loop: see {@link later}. */
  private pending: Array<() => void> = [];
  private readonly flushPending = () => this.flush();
  /** A context of its own, and whether it is the active one inside `context.with(probe, ...)`: see {@link propagates}. */
  private readonly probe: Api.Context;
  private readonly probeActive: () => boolean;

  /** What an {@link OtelAttemptSpan} uses of this (private: the published declarations never name OpenTelemetry's types). */
  private readonly parts: SpanParts;

  private constructor(
    private readonly api: OtelApi,
    private readonly tracer: Api.Tracer,
  ) {
    const probe = api.ROOT_CONTEXT.setValue(api.createContextKey('floxide.probe'), true);
    this.probe = probe;
    this.probeActive = () => api.context.active() === probe;
    this.parts = { api, tracer, spanKey: spanKeyOf(api), contextOf: (traceparent) => this.contextOf(traceparent), later: (span) => this.later(span) };
  }

  /** The tracing `option` asks for (loading `@opentelemetry/api` the first time), or undefined when it is off. */
  static of(option: TracingOption | undefined): Tracing | undefined {
    if (!isOn(option)) return undefined;
    const a = loadApi();
    const provider = option === true ? undefined : option.tracerProvider;
    const tracer = (provider ? provider.getTracer(TRACER_NAME) : a.trace.getTracer(TRACER_NAME)) as Api.Tracer;
    return new Tracing(a, tracer);
  }

  /**
   * Starts the span of a local run: a child of the active context (a run started inside a span of the caller nests
   * under it), or for a stored run continued here (`resumed`), of the `traceparent` stored with it, so it joins its
   * trace.
   */
  startRun(runId: string, workflow: string, resumed?: { readonly traceparent: string | undefined }): RunSpan {
    const extra = resumed ? { [ATTR.resumed]: true } : undefined;
    return startRunSpan(this.api, this.tracer, runId, workflow, 'local', this.contextOf(resumed?.traceparent), extra);
  }

  /**
   * Starts the span of a distributed run's start (`floxide.start <workflow>`, a child of the active context): its
   * `traceparent` is stored with the run, and every span of the run (steps, the run span) is its child.
   */
  startDistributed(runId: string, workflow: string): StartSpan {
    const attributes: Api.Attributes = { [ATTR.workflow]: workflow, [ATTR.runId]: runId, [ATTR.mode]: 'distributed' };
    const span = this.tracer.startSpan(`floxide.start ${workflow}`, { attributes }, this.api.context.active());
    return new OtelStartSpan(this.api, span);
  }

  /**
   * The span of one leased attempt, a child of the span whose `traceparent` the run stored, with the attempt's start
   * time. It is made when the attempt ends ({@link later}: one `startSpan` with every attribute, with the others of
   * its batch), or sooner when something needs it: a nested run's span (its parent), or, when a context manager
   * carries the active context (as an SDK's `register()` installs), node code that looks at the active span (a span
   * of its own, an instrumented HTTP or database call): the node runs in a context whose span is made the first time
   * it is asked for (see {@link AttemptContext}), so an attempt whose code makes no span costs no span start of its
   * own. A run whose start was not sampled (the stored `traceparent`'s sampled flag is off) gets no step span: its
   * attempts are never given to the SDK, which a parent-based sampler (the SDK's default) would only have answered
   * with a span that records nothing; node code still runs in the run's (unsampled) trace context when a context
   * manager carries it, else there is nothing to do (undefined). `attempt` is asked (now) only for an attempt that
   * gets a span.
   */
  startAttempt(traceparent: string | undefined, attempt: () => AttemptStart): AttemptSpan | undefined {
    const live = this.propagates();
    if (traceparent !== undefined && !isSampledTraceparent(traceparent)) return live ? new UnsampledAttempt(this.parts, traceparent) : undefined;
    return new OtelAttemptSpan(this.parts, attempt(), traceparent, live);
  }

  /**
   * Makes `span` (the span of something that is over: an attempt made at its end, a finished run) on the next turn
   * of the event loop, with the others queued by then. Made one at a time between a worker's steps, the SDK's span
   * code runs cold (about 12 us a span in a busy worker, against 3 in a row); its times are explicit, so making it
   * a moment later changes nothing it records. {@link flush} makes the queued ones at once.
   */
  later(span: () => void): void {
    if (this.pending.push(span) === 1) setImmediate(this.flushPending);
  }

  /**
   * Makes every span queued for later now (a worker's `stop()` and `stepDistributed` call it before they return, so
   * that the spans of the attempts they ran are in the SDK's hands when they resolve). A span that fails to be made
   * is reported to OpenTelemetry's diagnostic logger (`diag`), never to the caller: tracing never fails a step.
   */
  flush(): void {
    const spans = this.pending;
    if (spans.length === 0) return;
    this.pending = [];
    for (const make of spans) {
      try {
        make();
      } catch (err) {
        this.api.diag.error('floxide: a span could not be made', err);
      }
    }
  }

  /**
   * True when the active context follows `context.with` (a context manager is registered: an SDK's `register()`, or
   * `context.setGlobalContextManager`). Asked per attempt, since one may be registered after this was made.
   */
  private propagates(): boolean {
    return this.api.context.with(this.probe, this.probeActive);
  }

  /**
   * Records the span of a finished distributed run (`floxide.run <workflow>`, from its creation to its end, with
   * its outcome and error) in the trace it stored, as a child of its start span: the process that finished the run
   * records it (docs/observability.md says why it is not the steps' parent). A run stored without a trace, or whose
   * trace is not sampled: nothing. `later`: the span is made with the spans queued for the next turn of the event
   * loop ({@link later}), as a worker makes those of its attempts.
   */
  finishedRun(run: FinishedRun, workerId: string | undefined, when: 'now' | 'later' = 'now'): void {
    const traceparent = run.traceparent;
    if (traceparent === undefined || !isSampledTraceparent(traceparent)) return;
    const make = (): void => {
      const attributes: Api.Attributes = { [ATTR.workflow]: run.workflow, [ATTR.runId]: run.runId, [ATTR.mode]: 'distributed', [ATTR.outcome]: run.status };
      if (workerId !== undefined) attributes[ATTR.workerId] = workerId;
      const span = this.tracer.startSpan(`floxide.run ${run.workflow}`, { attributes, startTime: run.createdAt }, this.contextOf(traceparent));
      endSpan(this.api, span, run.status === 'completed' ? undefined : run.error, run.finishedAt ?? Date.now());
    };
    if (when === 'later') this.later(make);
    else make();
  }

  /** The context a span starts in: the stored `traceparent`'s (when valid), else the active one. */
  private contextOf(traceparent: string | undefined): Api.Context {
    if (traceparent === undefined) return this.api.context.active();
    let ctx = this.parents.get(traceparent);
    if (ctx !== undefined) return ctx;
    const p = parseTraceparent(traceparent);
    if (p === undefined) return this.api.context.active();
    ctx = this.api.trace.setSpanContext(this.api.ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags: p.traceFlags, isRemote: true });
    if (this.parents.size >= PARENTS_KEPT) this.parents.clear();
    this.parents.set(traceparent, ctx);
    return ctx;
  }
}

/**
 * Starts a run span in `ctx`. (OpenTelemetry types stay inside this module: the declarations `floxide` publishes
 * never name `@opentelemetry/api`, so a project without it type-checks.)
 */
function startRunSpan(
  api: OtelApi,
  tracer: Api.Tracer,
  runId: string,
  workflow: string,
  mode: 'local' | 'nested',
  ctx: Api.Context,
  extra?: Api.Attributes,
  onEnd?: (at: number) => void,
): RunSpan {
  const attributes: Api.Attributes = { [ATTR.workflow]: workflow, [ATTR.runId]: runId, [ATTR.mode]: mode, ...extra };
  return new OtelRunSpan(api, tracer, tracer.startSpan(`floxide.run ${workflow}`, { attributes }, ctx), workflow, onEnd);
}

/**
 * Starts the span of one attempt of a step (`floxide.step <node>`) in `ctx`: local, nested and distributed alike.
 * `outcome` and `extra`: the attributes of an attempt that is over (its span made at its end).
 */
function startStepSpan(
  tracer: Api.Tracer,
  workflow: string,
  a: { readonly runId: string; readonly node: string; readonly itemId: string; readonly attempt: number },
  startTime: number,
  ctx: Api.Context,
  workerId: string | undefined,
  outcome?: StepSpanOutcome,
  extra?: Readonly<Record<string, string>>,
): Api.Span {
  const attributes: Api.Attributes = { [ATTR.workflow]: workflow, [ATTR.runId]: a.runId, [ATTR.node]: a.node, [ATTR.itemId]: a.itemId, [ATTR.attempt]: a.attempt };
  if (workerId !== undefined) attributes[ATTR.workerId] = workerId;
  if (outcome !== undefined) attributes[ATTR.outcome] = outcome;
  if (extra !== undefined) Object.assign(attributes, extra);
  return tracer.startSpan(`floxide.step ${a.node}`, { attributes, startTime }, ctx);
}

/** Calls `fn` with `span` as the active span (on top of the active context). */
function within<T>(api: OtelApi, span: Api.Span, fn: () => T): T {
  return api.context.with(api.trace.setSpan(api.context.active(), span), fn);
}

/** Ends `span` at `at`, with status error and the exception recorded when there is an `error`. */
function endSpan(api: OtelApi, span: Api.Span, error: SerializedError | undefined, at: number): void {
  if (error !== undefined) {
    span.setAttribute(ATTR.error, `${error.name}: ${error.message}`);
    span.recordException({ name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}), ...(error.code ? { code: error.code } : {}) }, at);
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
  }
  span.end(at);
}

/** The span of one run in this process (see {@link Tracing.startRun}; a nested run's, see {@link StepTracing.nested}). */
export interface RunSpan extends StepTracing {
  /** The run span's context as a W3C `traceparent`: what the run record stores (see {@link traceparentOf}). */
  readonly traceparent: string | undefined;
  /**
   * Records what a local run reports: a span per attempt (a child of this one, from its `step.started` to its
   * `step.finished` or `step.retry`), and the run's end (an attempt still open then ends with it).
   */
  observe(e: WorkflowEvent): void;
  /** Ends the run span once (later calls do nothing): `completed`, `failed` or `cancelled`. */
  end(outcome: string, error: SerializedError | undefined, at: number): void;
}

class OtelStartSpan implements StartSpan {
  private ended = false;

  constructor(
    private readonly api: OtelApi,
    private readonly span: Api.Span,
  ) {}

  get traceparent(): string | undefined {
    return traceparentOf(this.api, this.span);
  }

  end(outcome: string, error: SerializedError | undefined, at: number): void {
    if (this.ended) return;
    this.ended = true;
    this.span.setAttribute(ATTR.outcome, outcome);
    endSpan(this.api, this.span, error, at);
  }
}

/** What a span made by this module needs of its {@link Tracing}. */
interface SpanParts {
  readonly api: OtelApi;
  readonly tracer: Api.Tracer;
  /** The key of a context's span (see {@link spanKeyOf}). */
  readonly spanKey: symbol;
  /** The parent context of a stored `traceparent` (see `Tracing.contextOf`). */
  contextOf(traceparent: string | undefined): Api.Context;
  /** Makes a span of something that is over on the next turn of the event loop (see `Tracing.later`). */
  later(span: () => void): void;
}

/**
 * An attempt of a run whose trace is not sampled, with a context manager registered (see
 * {@link Tracing.startAttempt}): no span, but node code runs in the stored trace context, so its own spans follow
 * the run's sampling decision; a nested run's span is the SDK's to decide, under that context.
 */
class UnsampledAttempt implements AttemptSpan {
  constructor(
    private readonly tracing: SpanParts,
    private readonly traceparent: string,
  ) {}

  within<T>(fn: () => T): T {
    return this.tracing.api.context.with(this.tracing.contextOf(this.traceparent), fn);
  }

  nested(runId: string, workflow: string): RunSpan {
    return startRunSpan(this.tracing.api, this.tracing.tracer, runId, workflow, 'nested', this.tracing.contextOf(this.traceparent));
  }

  end(_outcome: StepSpanOutcome, _error: SerializedError | undefined, _extra: Readonly<Record<string, string>> | undefined, at: number): number {
    // nothing was started
    return at;
  }
}

/**
 * The key under which OpenTelemetry keeps a context's span: the API's own, as `trace.getSpan` asks a context for it
 * (its spelling is the API's to choose).
 */
function spanKeyOf(api: OtelApi): symbol {
  let key: symbol | undefined;
  const spy: Api.Context = {
    getValue: (k) => void (key = k),
    setValue: () => spy,
    deleteValue: () => spy,
  };
  api.trace.getSpan(spy);
  if (key === undefined) throw new Error('floxide: @opentelemetry/api asked no key of a context for its span');
  return key;
}

/**
 * The active context while an attempt's node code runs (with a context manager): `base` (the context active when the
 * node was called) with the attempt's span, made the first time it is asked for (see {@link Tracing.startAttempt}).
 * A span set or deleted on it replaces the attempt's, as on any context.
 */
class AttemptContext implements Api.Context {
  constructor(
    private readonly base: Api.Context,
    private readonly spanKey: symbol,
    private readonly attempt: OtelAttemptSpan,
  ) {}

  getValue(key: symbol): unknown {
    return key === this.spanKey ? this.attempt.started() : this.base.getValue(key);
  }

  setValue(key: symbol, value: unknown): Api.Context {
    const base = this.base.setValue(key, value);
    return key === this.spanKey ? base : new AttemptContext(base, this.spanKey, this.attempt);
  }

  deleteValue(key: symbol): Api.Context {
    const base = this.base.deleteValue(key);
    return key === this.spanKey ? base : new AttemptContext(base, this.spanKey, this.attempt);
  }
}

/**
 * See {@link Tracing.startAttempt}: `span` is made when first needed, or after the attempt's end
 * ({@link Tracing.later}); its parent context is resolved only then.
 */
class OtelAttemptSpan implements AttemptSpan {
  private span: Api.Span | undefined;
  /** The latest end of a nested run's span under this attempt (see {@link AttemptSpan.end}). */
  private childEnd = 0;
  /**
   * The parent context of a run stored without a trace, with a context manager: the one active as the attempt
   * starts (once node code runs, the active context is the attempt's own).
   */
  private readonly parent: Api.Context | undefined;

  constructor(
    private readonly tracing: SpanParts,
    private readonly a: AttemptStart,
    private readonly traceparent: string | undefined,
    /** Whether a context manager carries the active context (node code can then find the span). */
    private readonly live: boolean,
  ) {
    this.parent = live && traceparent === undefined ? tracing.api.context.active() : undefined;
  }

  /** The attempt's span, started now (with the attempt's start time) if it was not yet. */
  started(): Api.Span {
    return (this.span ??= this.start());
  }

  private start(outcome?: StepSpanOutcome, extra?: Readonly<Record<string, string>>): Api.Span {
    return startStepSpan(this.tracing.tracer, this.a.workflow, this.a, this.a.startedAt, this.parent ?? this.tracing.contextOf(this.traceparent), this.a.workerId, outcome, extra);
  }

  within<T>(fn: () => T): T {
    if (!this.live) return fn();
    const api = this.tracing.api;
    return api.context.with(new AttemptContext(api.context.active(), this.tracing.spanKey, this), fn);
  }

  nested(runId: string, workflow: string): RunSpan {
    const ctx = this.tracing.api.trace.setSpan(this.tracing.api.ROOT_CONTEXT, this.started());
    return startRunSpan(this.tracing.api, this.tracing.tracer, runId, workflow, 'nested', ctx, undefined, (at) => void (this.childEnd = Math.max(this.childEnd, at)));
  }

  end(outcome: StepSpanOutcome, error: SerializedError | undefined, extra: Readonly<Record<string, string>> | undefined, end: number): number {
    // (an end taken from the store's clock, see runtime/distributed/tracing.ts, may precede a start on this one's,
    // and a nested run's end, on the step's clock, may follow it)
    const at = Math.max(end, this.a.startedAt, this.childEnd);
    const span = this.span;
    if (span === undefined) {
      // made with its batch; node code that kept the context and asks for the span later (work it left running)
      // gets this one, made on the spot if it asks before the batch
      this.tracing.later(() => {
        const made = this.span;
        if (made !== undefined) setEnd(made, outcome, extra);
        endSpan(this.tracing.api, made ?? (this.span = this.start(outcome, extra)), error, at);
      });
      return at;
    }
    setEnd(span, outcome, extra);
    endSpan(this.tracing.api, span, error, at);
    return at;
  }
}

/** The attributes of an attempt's end on its span. */
function setEnd(span: Api.Span, outcome: StepSpanOutcome, extra: Readonly<Record<string, string>> | undefined): void {
  span.setAttribute(ATTR.outcome, outcome);
  if (extra !== undefined) span.setAttributes(extra);
}

class OtelRunSpan implements RunSpan {
  private ended = false;
  /** The context of this span: the parent of its attempts' spans. */
  private readonly ctx: Api.Context;
  /** The span of the attempt in progress (a local run runs one step at a time). */
  private step: Api.Span | undefined;

  constructor(
    private readonly api: OtelApi,
    private readonly tracer: Api.Tracer,
    private readonly span: Api.Span,
    private readonly workflow: string,
    /** Told when the span ends, and at what time (a nested run's attempt: see {@link AttemptSpan.end}). */
    private readonly onEnd?: (at: number) => void,
  ) {
    this.ctx = api.trace.setSpan(api.ROOT_CONTEXT, span);
  }

  get traceparent(): string | undefined {
    return traceparentOf(this.api, this.span);
  }

  within<T>(fn: () => T): T {
    const step = this.step;
    return step === undefined ? fn() : within(this.api, step, fn);
  }

  nested(runId: string, workflow: string): RunSpan {
    return startRunSpan(this.api, this.tracer, runId, workflow, 'nested', this.step === undefined ? this.ctx : this.api.trace.setSpan(this.api.ROOT_CONTEXT, this.step));
  }

  observe(e: WorkflowEvent): void {
    switch (e.type) {
      case 'step.started':
        this.step = startStepSpan(this.tracer, this.workflow, e, e.at, this.ctx, undefined);
        return;
      case 'step.finished':
      case 'step.retry': {
        const r = stepRecordOf(e);
        const span = this.step ?? startStepSpan(this.tracer, this.workflow, r, r.startedAt, this.ctx, undefined);
        this.step = undefined;
        span.setAttribute(ATTR.outcome, r.outcome);
        endSpan(this.api, span, r.error, r.finishedAt);
        return;
      }
      case 'run.completed':
        return this.end('completed', undefined, e.at);
      case 'run.failed':
        return this.end('failed', e.error, e.at);
      case 'run.cancelled':
        return this.end('cancelled', e.error, e.at);
      default:
        return;
    }
  }

  end(outcome: string, error: SerializedError | undefined, at: number): void {
    if (this.ended) return;
    this.ended = true;
    // An attempt the run's end cut short (cancelled, deadline) ends with the run.
    const step = this.step;
    if (step !== undefined) {
      this.step = undefined;
      step.setAttribute(ATTR.outcome, outcome);
      endSpan(this.api, step, error, at);
    }
    this.span.setAttribute(ATTR.outcome, outcome);
    endSpan(this.api, this.span, error, at);
    this.onEnd?.(at);
  }
}

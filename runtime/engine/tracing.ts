/**
 * OpenTelemetry spans of runs and steps, made from what the engine already reports: local runs feed their
 * {@link WorkflowEvent}s to {@link RunSpan.observe}, distributed workers describe each leased attempt as a
 * {@link StepSpanData} (runtime/distributed/tracing.ts). One span per run (`floxide.run <workflow>`) and one per
 * attempt of a step (`floxide.step <node>`), with the attributes of {@link ATTR}.
 *
 * `@opentelemetry/api` is an optional peer dependency: it is loaded (synchronously, once) the first time tracing is
 * turned on, never by importing `floxide`. Spans go to the global tracer provider unless
 * {@link TracingOptions.tracerProvider} names one; with no SDK registered they cost next to nothing.
 */
import type * as Api from '@opentelemetry/api';
import { requireOptional } from '../core/optional.js';
import type { SerializedError } from '../core/errors.js';
import { formatTraceparent, parseTraceparent } from '../core/trace-context.js';
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

/** One attempt of a step, as its span records it: its history record (times are epoch ms) and more. */
export interface StepSpanData extends Omit<StepRecord, 'outcome' | 'error'> {
  readonly workflow: string;
  readonly outcome: StepSpanOutcome;
  /** Why the attempt failed (`retry`, `failed`), or why it was released. */
  readonly error: SerializedError | undefined;
  /** Extra attributes (e.g. {@link ATTR.commit}, {@link ATTR.released}). */
  readonly extra?: Readonly<Record<string, string>>;
}

type OtelApi = typeof Api;
let api: OtelApi | undefined;

function loadApi(): OtelApi {
  return (api ??= requireOptional<OtelApi>('@opentelemetry/api', 'tracing'));
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

  private constructor(
    private readonly api: OtelApi,
    private readonly tracer: Api.Tracer,
  ) {}

  /** The tracing `option` asks for (loading `@opentelemetry/api` the first time), or undefined when it is off. */
  static of(option: TracingOption | undefined): Tracing | undefined {
    if (!isOn(option)) return undefined;
    const a = loadApi();
    const provider = option === true ? undefined : option.tracerProvider;
    const tracer = (provider ? provider.getTracer(TRACER_NAME) : a.trace.getTracer(TRACER_NAME)) as Api.Tracer;
    return new Tracing(a, tracer);
  }

  /**
   * Starts the span of a run: a child of the active context (a run started inside a span of the caller nests under
   * it), or for a stored run continued here (`resumed`), of the `traceparent` stored with it, so it joins its trace.
   */
  startRun(runId: string, workflow: string, mode: 'local' | 'distributed', resumed?: { readonly traceparent: string | undefined }): RunSpan {
    const attributes: Api.Attributes = { [ATTR.workflow]: workflow, [ATTR.runId]: runId, [ATTR.mode]: mode };
    if (resumed) attributes[ATTR.resumed] = true;
    const span = this.tracer.startSpan(`floxide.run ${workflow}`, { attributes }, this.contextOf(resumed?.traceparent));
    return new RunSpan(this, span, runId, workflow);
  }

  /** Records the span of one attempt, a child of `parent` (a run span, or a run's stored `traceparent`). */
  step(s: StepSpanData, parent: RunSpan | string | undefined): void {
    const attributes: Api.Attributes = {
      [ATTR.workflow]: s.workflow,
      [ATTR.runId]: s.runId,
      [ATTR.node]: s.node,
      [ATTR.itemId]: s.itemId,
      [ATTR.attempt]: s.attempt,
      [ATTR.outcome]: s.outcome,
      ...s.extra,
    };
    if (s.workerId !== undefined) attributes[ATTR.workerId] = s.workerId;
    const ctx = parent instanceof RunSpan ? this.api.trace.setSpan(this.api.ROOT_CONTEXT, parent.span) : this.contextOf(parent);
    const span = this.tracer.startSpan(`floxide.step ${s.node}`, { attributes, startTime: s.startedAt }, ctx);
    this.endWith(span, s.error, s.finishedAt);
  }

  /** Ends `span` at `at`, with status error and the exception recorded when there is an `error`. */
  endWith(span: Api.Span, error: SerializedError | undefined, at: number): void {
    if (error !== undefined) {
      span.setAttribute(ATTR.error, `${error.name}: ${error.message}`);
      span.recordException({ name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}), ...(error.code ? { code: error.code } : {}) }, at);
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error.message });
    }
    span.end(at);
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

/** The span of one run (see {@link Tracing.startRun}). */
export class RunSpan {
  private ended = false;

  constructor(
    private readonly tracing: Tracing,
    /** @internal */
    readonly span: Api.Span,
    readonly runId: string,
    readonly workflow: string,
  ) {}

  /** The run span's context as a W3C `traceparent`: what the run record stores. */
  get traceparent(): string {
    return formatTraceparent(this.span.spanContext());
  }

  /** Records what a local run reports: a span per attempt (children of this one), the run's end. */
  observe(e: WorkflowEvent): void {
    switch (e.type) {
      case 'step.finished':
      case 'step.retry':
        this.tracing.step({ ...stepRecordOf(e), workflow: this.workflow }, this);
        return;
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

  /** Ends the run span once (later calls do nothing). `outcome`: completed, failed, cancelled, or started (distributed). */
  end(outcome: string, error: SerializedError | undefined, at: number): void {
    if (this.ended) return;
    this.ended = true;
    this.span.setAttribute(ATTR.outcome, outcome);
    this.tracing.endWith(this.span, error, at);
  }
}

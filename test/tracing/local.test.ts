/**
 * Runs traced with the SDK's in-memory exporter, in this process: local runs (one trace with a run span and a span
 * per attempt, error status on failures, the trace context stored with a checkpointed run and continued by `resume`),
 * a distributed run on the memory backend (`startDistributed` and `stepDistributed` with `tracing`: the start span,
 * the attempts, the run span its finishing worker records, or its orchestrator for a cancel), node code running in
 * its attempt's span (with an async-hooks context manager, as an SDK registers) and nested workflows' runs as spans
 * under the outer attempt, in local and distributed modes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, createContextKey, trace, type Context, type SpanOptions } from '@opentelemetry/api';
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindWorkflow, parseTraceparent, InvalidArgumentError, MemoryBackend, MemoryCheckpointStore, NodeFailedError, Orchestrator, Worker, type CheckpointStore, type WorkflowEvent } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { ChainWorkflow, CountCtx } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef } from '../fixtures/distributed/flows.floxide.js';
import { RetryWorkflow } from '../../examples/retry.js';
import { RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { ApprovalWorkflow } from '../../examples/approval.js';
import { ApprovalWorkflowDef } from '../../examples/approval.floxide.js';
import { VirtualClock } from 'floxide/testing';
import { Probe, ProbeOuter } from '../fixtures/tracing/flows.js';
import { ProbeOuterDef } from '../fixtures/tracing/flows.floxide.js';
import { SlowWorkflow } from '../fixtures/distributed/flows.js';
import { SlowWorkflowDef } from '../fixtures/distributed/flows.floxide.js';
import { until } from '../distributed/helpers.js';
import { NestedNapFlow, RetriedReviewFlow, RetryCtx } from '../fixtures/signals/flows.js';
import { NestedNapFlowDef, RetriedReviewFlowDef } from '../fixtures/signals/flows.floxide.js';
import { memoryTracing, spanRecord, type SpanRecord } from './spans.js';
import { Tracing } from '../../runtime/engine/tracing.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const steps = (spans: SpanRecord[]) => spans.filter((s) => s.name.startsWith('floxide.step '));
const runs = (spans: SpanRecord[]) => spans.filter((s) => s.name.startsWith('floxide.run '));

/**
 * Starts ProbeOuter distributed as run `runId` on `backend` and steps it (one worker, `stepDistributed`) until it
 * completes, traced into `t` (the probes' own spans too); answers the completing step's result.
 */
async function stepProbeOuter(t: ReturnType<typeof memoryTracing>, backend: MemoryBackend, runId: string): Promise<unknown> {
  const tracing = { tracerProvider: t.provider };
  Probe.tracer = t.provider.getTracer('user');
  Probe.seen.length = 0;
  const wf = bindWorkflow(ProbeOuterDef, new ProbeOuter());
  await wf.startDistributed(undefined, 0, backend, runId, { tracing });
  let done: unknown;
  for (let i = 0; i < 20 && done === undefined; i++) done = await wf.stepDistributed(backend, 'w1', undefined, { tracing });
  return done;
}

describe('tracing a local run', () => {
  it('gives one trace: a run span and a span per step, children of it, with their attributes', async () => {
    const t = memoryTracing();
    const events: WorkflowEvent[] = [];
    const out = await bindWorkflow(ChainWorkflowDef, new ChainWorkflow()).run(new CountCtx(), 1, { runId: 'traced', tracing: { tracerProvider: t.provider }, onEvent: (e) => events.push(e) });
    expect(out).toBe(6);
    const spans = t.spans();
    const [run] = runs(spans);
    expect(runs(spans)).toHaveLength(1);
    expect(run!.name).toBe('floxide.run ChainWorkflow');
    expect(run!.parentSpanId).toBeUndefined();
    expect(run!.attributes).toEqual({ 'floxide.workflow': 'ChainWorkflow', 'floxide.run.id': 'traced', 'floxide.run.mode': 'local', 'floxide.outcome': 'completed' });
    expect(run!.status).toBe(0);
    const s = steps(spans);
    expect(s.map((x) => x.name)).toEqual(['s1', 's2', 's3', 's4', 's5'].map((n) => `floxide.step ${n}`));
    expect(new Set(spans.map((x) => x.traceId))).toEqual(new Set([run!.traceId]));
    for (const x of s) {
      expect(x.parentSpanId).toBe(run!.spanId);
      expect(x.start).toBeGreaterThanOrEqual(run!.start);
      expect(x.end).toBeLessThanOrEqual(run!.end);
    }
    expect(s[4]!.attributes).toEqual({
      'floxide.workflow': 'ChainWorkflow',
      'floxide.run.id': 'traced',
      'floxide.node': 's5',
      'floxide.item.id': '4',
      'floxide.attempt': 1,
      'floxide.outcome': 'terminal',
    });
    expect(s.slice(0, 4).map((x) => x.attributes['floxide.outcome'])).toEqual(['continue', 'continue', 'continue', 'continue']);
    // the caller's onEvent still gets every event
    expect(events.map((e) => e.type)).toContain('run.completed');
  });

  it('marks failed attempts and the failed run with error status and the exception', async () => {
    const t = memoryTracing();
    const wf = bindWorkflow(RetryWorkflowDef, new RetryWorkflow(5));
    await expect(wf.run(undefined, undefined, { runId: 'failing', tracing: { tracerProvider: t.provider } })).rejects.toThrow(NodeFailedError);
    const spans = t.spans();
    const s = steps(spans);
    expect(s.map((x) => [x.attributes['floxide.attempt'], x.attributes['floxide.outcome'], x.status, x.exceptions])).toEqual([
      [1, 'retry', 2, 1],
      [2, 'retry', 2, 1],
      [3, 'failed', 2, 1],
    ]);
    expect(s[2]!.attributes['floxide.error']).toBe('Error: flaky failure on attempt 3');
    expect(s[2]!.statusMessage).toBe('flaky failure on attempt 3');
    const [run] = runs(spans);
    expect(run!.status).toBe(2);
    expect(run!.attributes['floxide.outcome']).toBe('failed');
    expect(run!.exceptions).toBe(1);
    expect(String(run!.attributes['floxide.error'])).toMatch(/^NodeFailedError: node "flaky" failed/);
  });

  it('ends the attempt the run\'s cancellation cut short with the run (outcome cancelled)', async () => {
    const t = memoryTracing();
    const ac = new AbortController();
    const wf = bindWorkflow(SlowWorkflowDef, new SlowWorkflow());
    const done = wf.run(new CountCtx(), 60_000, { runId: 'cut', signal: ac.signal, tracing: { tracerProvider: t.provider } });
    await until(() => (wf.instance as SlowWorkflow).wait.started.length > 0, 5_000, 'the wait');
    ac.abort();
    await expect(done).rejects.toThrow(/cancelled/);
    const spans = t.spans();
    const [run] = runs(spans);
    expect(run!.attributes['floxide.outcome']).toBe('cancelled');
    expect(steps(spans).map((x) => [x.name, x.attributes['floxide.outcome'], x.status, x.parentSpanId, x.end])).toEqual([
      ['floxide.step fan', 'continue', 0, run!.spanId, expect.any(Number)],
      ['floxide.step wait', 'cancelled', 2, run!.spanId, run!.end],
    ]);
  });

  it('makes no span without the option', async () => {
    const t = memoryTracing();
    await bindWorkflow(ChainWorkflowDef, new ChainWorkflow()).run(new CountCtx(), 1, { tracing: false });
    expect(t.spans()).toEqual([]);
  });

  const stores: Array<[string, () => CheckpointStore]> = [
    ['memory', () => new MemoryCheckpointStore()],
    ['sqlite', () => new SqliteCheckpointStore(join(dir, `tp-${Math.random().toString(36).slice(2)}.db`))],
  ];
  for (const [name, open] of stores) {
    it(`${name}: a checkpointed run stores its traceparent; resume continues the same trace`, async () => {
      const store = open();
      try {
        const t = memoryTracing();
        const tracing = { tracerProvider: t.provider };
        await expect(bindWorkflow(RetryWorkflowDef, new RetryWorkflow(5)).runWithCheckpoint(undefined, undefined, store, 'cp', { tracing })).rejects.toThrow(NodeFailedError);
        const [first] = runs(t.spans());
        const stored = (await store.getRun('cp'))!.traceparent;
        expect(stored).toBe(`00-${first!.traceId}-${first!.spanId}-01`);
        t.reset();
        expect(await bindWorkflow(RetryWorkflowDef, new RetryWorkflow(0)).resume(store, 'cp', { tracing })).toBe('success');
        const spans = t.spans();
        const [again] = runs(spans);
        expect(again!.traceId).toBe(first!.traceId);
        expect(again!.parentSpanId).toBe(first!.spanId);
        expect(again!.attributes['floxide.run.resumed']).toBe(true);
        expect(steps(spans).map((x) => [x.traceId, x.parentSpanId, x.attributes['floxide.outcome']])).toEqual([[first!.traceId, again!.spanId, 'terminal']]);
      } finally {
        await store.close();
      }
    });

    it(`${name}: \`tracing: true\` with no SDK registered (the API's no-op tracer) runs, resumes and stores no trace context`, async () => {
      const store = open();
      const backend = new MemoryBackend();
      try {
        await expect(bindWorkflow(RetryWorkflowDef, new RetryWorkflow(5)).runWithCheckpoint(undefined, undefined, store, 'noop', { tracing: true })).rejects.toThrow(NodeFailedError);
        expect((await store.getRun('noop'))!.traceparent).toBeUndefined();
        expect(await bindWorkflow(RetryWorkflowDef, new RetryWorkflow(0)).resume(store, 'noop', { tracing: true })).toBe('success');
        const runId = await new Orchestrator(backend, bindWorkflow(ChainWorkflowDef, new ChainWorkflow())).startRun(new CountCtx(), 1, { tracing: true });
        expect((await backend.getRun(runId))!.traceparent).toBeUndefined();
      } finally {
        await store.close();
        await backend.close();
      }
    });

    it(`${name}: refuses a malformed traceparent`, async () => {
      const store = open();
      try {
        const run = { runId: 'bad', workflow: 'W', fingerprint: 'f', input: null, context: null, deadline: undefined, start: { node: 'a', id: '0', input: null } };
        await expect(store.createRun({ ...run, traceparent: '00-xyz' })).rejects.toThrow(InvalidArgumentError);
        expect(await store.getRun('bad')).toBeUndefined();
      } finally {
        await store.close();
      }
    });
  }
});

/** `t.provider`, counting the spans asked of it whose name and run id `counts` picks (`asked`). */
function countingProvider(t: ReturnType<typeof memoryTracing>, counts: (spanName: string, runId: unknown) => boolean) {
  const provider = {
    asked: 0,
    getTracer(name: string, version?: string) {
      const tracer = t.provider.getTracer(name, version);
      return {
        startSpan(spanName: string, options?: SpanOptions, ctx?: Context) {
          if (counts(spanName, options?.attributes?.['floxide.run.id'])) provider.asked++;
          return tracer.startSpan(spanName, options, ctx);
        },
        startActiveSpan: tracer.startActiveSpan.bind(tracer),
      };
    },
  };
  return provider;
}

/**
 * Starts ProbeOuter distributed as run 'unsampled' where the sampler said no (as a ratio sampler does for most runs:
 * the stored context says so), its probes making their own spans in `t`.
 */
async function startUnsampled(t: ReturnType<typeof memoryTracing>, backend: MemoryBackend) {
  Probe.tracer = t.provider.getTracer('user');
  Probe.seen.length = 0;
  const wf = bindWorkflow(ProbeOuterDef, new ProbeOuter());
  await wf.startDistributed(undefined, 0, backend, 'unsampled', { tracing: { tracerProvider: new BasicTracerProvider({ sampler: new AlwaysOffSampler() }) } });
  return wf;
}

it("observability.md's recipe for a test: an in-memory exporter, virtual time, a signal", async () => {
  const wf = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const clock = new VirtualClock();
  const run = wf.start(undefined, { id: 'exp-7', amount: 420 }, { clock, tracing: { tracerProvider } });
  run.signal('approval', { approved: true, by: 'ana' });
  expect(await clock.until(run.result)).toBe('approved by ana');
  expect(exporter.getFinishedSpans().map((s) => s.name).sort()).toEqual([
    'floxide.run ApprovalWorkflow', 'floxide.step approval', 'floxide.step approval', 'floxide.step record', 'floxide.step submit',
  ]);
});

describe('tracing a distributed run in process (memory backend)', () => {
  it('a run whose start was not sampled, without a context manager: the worker asks the SDK for no span of it at all', async () => {
    const t = memoryTracing();
    const counting = countingProvider(t, (_name, runId) => String(runId).startsWith('unsampled'));
    const backend = new MemoryBackend();
    try {
      const wf = await startUnsampled(t, backend);
      let done: unknown;
      for (let i = 0; i < 20 && done === undefined; i++) done = await wf.stepDistributed(backend, 'w1', undefined, { tracing: { tracerProvider: counting } });
      expect(done).toEqual({ runId: 'unsampled', output: 4 });
      // not its steps, not its nested run's, not its run span
      expect(counting.asked).toBe(0);
      expect(t.spans().filter((x) => x.name.startsWith('floxide.'))).toEqual([]);
      expect(Probe.seen.map((x) => x.activeSpanId)).toEqual([undefined, undefined, undefined, undefined]);
    } finally {
      await backend.close();
    }
  });

  it('records each attempt a worker runs, failed attempts with error status, in the trace stored with the run', async () => {
    const t = memoryTracing();
    const tracing = { tracerProvider: t.provider };
    const backend = new MemoryBackend();
    try {
      const wf = bindWorkflow(RetryWorkflowDef, new RetryWorkflow(5));
      const { created } = await wf.startDistributed(undefined, undefined, backend, 'dist', { tracing });
      expect(created).toBe(true);
      // a second start of the same run keeps the stored trace and exports no second run span
      await wf.startDistributed(undefined, undefined, backend, 'dist', { tracing });
      for (let i = 0; i < 50 && (await backend.getRun('dist'))!.status === 'running'; i++) {
        await wf.stepDistributed(backend, 'w1', undefined, { tracing });
        await new Promise((r) => setTimeout(r, 20));
      }
      const record = (await backend.getRun('dist'))!;
      expect(record.status).toBe('failed');
      // the finishing worker records the run span as its commit is answered (the answer carries the run's life)
      const spans = t.spans();
      const starts = spans.filter((x) => x.name === 'floxide.start RetryWorkflow');
      expect(starts).toHaveLength(1);
      const start = starts[0]!;
      expect(start.parentSpanId).toBeUndefined();
      expect(start.attributes).toEqual({ 'floxide.workflow': 'RetryWorkflow', 'floxide.run.id': 'dist', 'floxide.run.mode': 'distributed', 'floxide.outcome': 'started' });
      expect(record.traceparent).toBe(`00-${start.traceId}-${start.spanId}-01`);
      // the run span: from the run's creation to its end, with its outcome and error, in the trace the run stored
      expect(runs(spans)).toHaveLength(1);
      const [run] = runs(spans);
      expect(run).toMatchObject({ name: 'floxide.run RetryWorkflow', traceId: start.traceId, parentSpanId: start.spanId, status: 2, exceptions: 1, start: record.createdAt, end: record.finishedAt });
      expect(run!.attributes).toMatchObject({ 'floxide.run.id': 'dist', 'floxide.run.mode': 'distributed', 'floxide.outcome': 'failed', 'floxide.worker.id': 'w1' });
      expect(String(run!.attributes['floxide.error'])).toBe(`${record.error!.name}: ${record.error!.message}`);
      const s = steps(spans);
      expect(s.map((x) => [x.attributes['floxide.attempt'], x.attributes['floxide.outcome'], x.attributes['floxide.worker.id'], x.status, x.exceptions, x.parentSpanId])).toEqual([
        [1, 'retry', 'w1', 2, 1, start.spanId],
        [2, 'retry', 'w1', 2, 1, start.spanId],
        [3, 'failed', 'w1', 2, 1, start.spanId],
      ]);
      expect(new Set(spans.map((x) => x.traceId))).toEqual(new Set([start.traceId]));
      for (const x of s) expect(x.start >= run!.start && x.end <= run!.end).toBe(true);
    } finally {
      await backend.close();
    }
  });

  it('without a context manager: node code sees no span, the attempts are made at their end with their start time, a nested run still hangs under its attempt', async () => {
    const t = memoryTracing();
    const backend = new MemoryBackend();
    try {
      const before = Date.now();
      expect(await stepProbeOuter(t, backend, 'flat')).toEqual({ runId: 'flat', output: 4 });
      const spans = t.spans();
      const start = spans.find((x) => x.name === 'floxide.start ProbeOuter')!;
      const outer = steps(spans).filter((x) => x.attributes['floxide.run.id'] === 'flat');
      expect(outer.map((x) => [x.attributes['floxide.node'], x.attributes['floxide.outcome'], x.parentSpanId])).toEqual([
        ['first', 'continue', start.spanId],
        ['inner', 'continue', start.spanId],
        ['last', 'terminal', start.spanId],
      ]);
      // made at the end, yet from the attempt's start: each covers its node's own span, in order
      const own = spans.filter((x) => x.name === 'user.work');
      for (const x of outer) expect(x.start).toBeGreaterThanOrEqual(before);
      expect(outer[0]!.end).toBeLessThanOrEqual(outer[1]!.start);
      expect(own[0]!.start).toBeGreaterThanOrEqual(outer[0]!.start);
      expect(Math.floor(own[0]!.end)).toBeLessThanOrEqual(outer[0]!.end); // (the SDK's own times have sub-ms digits)
      // the nested run needs its parent while the attempt runs: the inner attempt's span, started then
      const innerItem = String(outer[1]!.attributes['floxide.item.id']);
      const nested = runs(spans).find((x) => x.attributes['floxide.run.id'] === `flat/${innerItem}`)!;
      expect(nested).toMatchObject({ name: 'floxide.run ProbeInner', parentSpanId: outer[1]!.spanId, status: 0 });
      expect(nested.start).toBeGreaterThanOrEqual(outer[1]!.start);
      expect(nested.end).toBeLessThanOrEqual(outer[1]!.end);
      expect(outer[1]!.attributes).toMatchObject({ 'floxide.outcome': 'continue', 'floxide.worker.id': 'w1', 'floxide.attempt': 1 });
      // no context manager: node code cannot see the attempt, so its own spans are roots of their own traces
      expect(Probe.seen.map((p) => p.activeSpanId)).toEqual([undefined, undefined, undefined, undefined]);
      expect(runs(spans).filter((x) => x.name === 'floxide.run ProbeOuter')).toHaveLength(1);
    } finally {
      await backend.close();
    }
  });
});

describe('a distributed run the orchestrator finishes', () => {
  it('gets its run span from the orchestrator that cancelled it (traced), outcome cancelled', async () => {
    const t = memoryTracing();
    const tracing = { tracerProvider: t.provider };
    const backend = new MemoryBackend();
    try {
      const orchestrator = new Orchestrator(backend, bindWorkflow(SlowWorkflowDef, new SlowWorkflow()), { tracing });
      const runId = await orchestrator.startRun(new CountCtx(), 2);
      const [start] = t.spans();
      expect(start!.name).toBe('floxide.start SlowWorkflow');
      expect((await orchestrator.cancel(runId, 'no longer needed')).applied).toBe(true);
      const record = (await backend.getRun(runId))!;
      const [run] = runs(t.spans());
      expect(run).toMatchObject({ traceId: start!.traceId, parentSpanId: start!.spanId, status: 2, start: record.createdAt, end: record.finishedAt });
      expect(run!.attributes).toMatchObject({ 'floxide.run.id': runId, 'floxide.outcome': 'cancelled' });
      expect(run!.attributes['floxide.worker.id']).toBeUndefined();
      // cancelling again changes nothing and records nothing
      expect((await orchestrator.cancel(runId)).applied).toBe(false);
      expect(runs(t.spans())).toHaveLength(1);
    } finally {
      await backend.close();
    }
  });

  it('a run whose deadline no worker observed gets its run span from the orchestrator that failed it', async () => {
    const t = memoryTracing();
    const backend = new MemoryBackend();
    try {
      const orchestrator = new Orchestrator(backend, bindWorkflow(SlowWorkflowDef, new SlowWorkflow()), { tracing: { tracerProvider: t.provider } });
      const runId = await orchestrator.startRun(new CountCtx(), 2, { timeoutMs: 1 });
      // no worker: the orchestrator fails the run once the deadline (plus its clock-skew margin) has passed
      await until(async () => (await orchestrator.status(runId)) === 'failed', 5_000, 'the deadline');
      const [run] = runs(t.spans());
      expect(run!.attributes).toMatchObject({ 'floxide.run.id': runId, 'floxide.outcome': 'failed' });
      expect(String(run!.attributes['floxide.error'])).toMatch(/^DeadlineExceededError: /);
      await orchestrator.status(runId);
      expect(runs(t.spans())).toHaveLength(1);
    } finally {
      await backend.close();
    }
  });
});

describe('node code and nested workflows in the trace', () => {
  // What an SDK's register() does: a context manager that carries the active span across awaits.
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    context.disable();
  });

  /** The span of the step that ran item `itemId` of run `runId`. */
  const stepOf = (spans: SpanRecord[], runId: string, itemId: string) => {
    const found = steps(spans).filter((x) => x.attributes['floxide.run.id'] === runId && x.attributes['floxide.item.id'] === itemId);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  /**
   * The shape both modes give ProbeOuter (first -> inner (ProbeInner: a -> b) -> last) run `runId` whose outer step
   * spans hang under `parent`: the nested run's span under the `inner` attempt, its steps under it, and each probe's
   * code in its attempt's span (its own span a child of it).
   */
  function checkNested(spans: SpanRecord[], runId: string, parent: SpanRecord, innerItem: string) {
    const outer = ['first', 'inner', 'last'].map((n) => steps(spans).find((x) => x.attributes['floxide.run.id'] === runId && x.attributes['floxide.node'] === n)!);
    for (const x of outer) expect(x.parentSpanId).toBe(parent.spanId);
    const innerStep = outer[1]!;
    const nestedRunId = `${runId}/${innerItem}`;
    const nested = runs(spans).filter((x) => x.attributes['floxide.run.id'] === nestedRunId);
    expect(nested).toHaveLength(1);
    expect(nested[0]).toMatchObject({ name: 'floxide.run ProbeInner', parentSpanId: innerStep.spanId, status: 0 });
    expect(nested[0]!.attributes).toEqual({ 'floxide.workflow': 'ProbeInner', 'floxide.run.id': nestedRunId, 'floxide.run.mode': 'nested', 'floxide.outcome': 'completed' });
    expect(nested[0]!.start).toBeGreaterThanOrEqual(innerStep.start);
    expect(nested[0]!.end).toBeLessThanOrEqual(innerStep.end);
    const inner = steps(spans).filter((x) => x.attributes['floxide.run.id'] === nestedRunId);
    expect(inner.map((x) => [x.name, x.parentSpanId, x.attributes['floxide.outcome']])).toEqual([
      ['floxide.step a', nested[0]!.spanId, 'continue'],
      ['floxide.step b', nested[0]!.spanId, 'terminal'],
    ]);
    // every probe ran in its attempt's span, and the span it made is that attempt's child
    const seen = Probe.seen.filter((p) => p.runId === runId || p.runId === nestedRunId);
    expect(seen).toHaveLength(4);
    const own = spans.filter((x) => x.name === 'user.work');
    for (const p of seen) {
      const step = stepOf(spans, p.runId, p.itemId);
      expect(p.activeSpanId).toBe(step.spanId);
      expect(p.activeTraceId).toBe(parent.traceId);
      expect(own.find((x) => x.spanId === p.ownSpanId)?.parentSpanId).toBe(step.spanId);
    }
    expect(new Set(spans.map((x) => x.traceId))).toEqual(new Set([parent.traceId]));
  }

  it("a worker's spans are made by the time its stop() resolves (a worker makes a batch of commits' spans a turn later)", async () => {
    const t = memoryTracing();
    const tracing = { tracerProvider: t.provider };
    const backend = new MemoryBackend();
    try {
      await bindWorkflow(ChainWorkflowDef, new ChainWorkflow()).startDistributed(new CountCtx(), 1, backend, 'stopped', { tracing });
      let completed!: () => void;
      const done = new Promise<void>((r) => (completed = r));
      const worker = new Worker(backend, ChainWorkflowDef, new ChainWorkflow(), {
        tracing,
        idleMinMs: 1,
        idleMaxMs: 5,
        schedules: false,
        callbacks: { onCommitted: (_lease, _outcome, result) => void (result.status === 'applied' && result.runStatus === 'completed' && completed()) },
      });
      await worker.start();
      await done;
      // stopped at once after the commit that completed the run, in the same turn of the event loop
      await worker.stop();
      const spans = t.spans().filter((x) => x.attributes['floxide.run.id'] === 'stopped');
      expect(steps(spans).map((x) => x.attributes['floxide.node'])).toEqual(['s1', 's2', 's3', 's4', 's5']);
      expect(runs(spans).map((x) => x.attributes['floxide.outcome'])).toEqual(['completed']);
    } finally {
      await backend.close();
    }
  });

  it('local run: the nested run is a span under the outer attempt; node code runs in its attempt span', async () => {
    const t = memoryTracing();
    Probe.tracer = t.provider.getTracer('user');
    Probe.seen.length = 0;
    expect(await bindWorkflow(ProbeOuterDef, new ProbeOuter()).run(undefined, 0, { runId: 'nest', tracing: { tracerProvider: t.provider } })).toBe(4);
    const spans = t.spans();
    const run = runs(spans).find((x) => x.attributes['floxide.run.id'] === 'nest')!;
    expect(run).toMatchObject({ name: 'floxide.run ProbeOuter', parentSpanId: undefined });
    checkNested(spans, 'nest', run, '1');
  });

  it('checkpointed run: the same', async () => {
    const t = memoryTracing();
    Probe.tracer = t.provider.getTracer('user');
    Probe.seen.length = 0;
    const store = new MemoryCheckpointStore();
    expect(await bindWorkflow(ProbeOuterDef, new ProbeOuter()).runWithCheckpoint(undefined, 0, store, 'nest-cp', { tracing: { tracerProvider: t.provider } })).toBe(4);
    const spans = t.spans();
    checkNested(spans, 'nest-cp', runs(spans).find((x) => x.attributes['floxide.run.id'] === 'nest-cp')!, '1');
  });

  it('distributed run: the same under the worker attempt of the nested step', async () => {
    const t = memoryTracing();
    const backend = new MemoryBackend();
    try {
      expect(await stepProbeOuter(t, backend, 'nest-dist')).toEqual({ runId: 'nest-dist', output: 4 });
      await until(() => t.spans().some((x) => x.name === 'floxide.run ProbeOuter'), 5_000, 'the run span');
      const spans = t.spans();
      const start = spans.find((x) => x.name === 'floxide.start ProbeOuter')!;
      const innerItem = String(steps(spans).find((x) => x.attributes['floxide.node'] === 'inner')!.attributes['floxide.item.id']);
      checkNested(spans, 'nest-dist', start, innerItem);
    } finally {
      await backend.close();
    }
  });

  it("distributed run whose claims are slow: the nested run's span (on the step's clock, ahead by the claim's round trip) still ends within its attempt's", async () => {
    const t = memoryTracing();
    // the store reads its clock 40 ms after the claim was sent: the step's clock runs 40 ms ahead of this process's
    const backend = new (class extends MemoryBackend {
      override async claim(...args: Parameters<MemoryBackend['claim']>) {
        await new Promise((r) => setTimeout(r, 40));
        return super.claim(...args);
      }
    })();
    try {
      expect(await stepProbeOuter(t, backend, 'nest-slow')).toEqual({ runId: 'nest-slow', output: 4 });
      await until(() => t.spans().some((x) => x.name === 'floxide.run ProbeOuter'), 5_000, 'the run span');
      const spans = t.spans();
      const start = spans.find((x) => x.name === 'floxide.start ProbeOuter')!;
      const innerItem = String(steps(spans).find((x) => x.attributes['floxide.node'] === 'inner')!.attributes['floxide.item.id']);
      checkNested(spans, 'nest-slow', start, innerItem);
    } finally {
      await backend.close();
    }
  });

  it('a run whose start was not sampled: its attempts never reach the SDK, nothing of it is recorded, node code runs in its trace context', async () => {
    const t = memoryTracing();
    // the step spans of run 'unsampled' the worker asks the SDK for
    const counting = countingProvider(t, (spanName, runId) => spanName.startsWith('floxide.step ') && runId === 'unsampled');
    const backend = new MemoryBackend();
    try {
      const wf = await startUnsampled(t, backend);
      const stored = parseTraceparent((await backend.getRun('unsampled'))!.traceparent)!;
      expect(stored.traceFlags).toBe(0);
      await wf.startDistributed(undefined, 0, backend, 'sampled', { tracing: { tracerProvider: t.provider } });
      const done: unknown[] = [];
      for (let i = 0; i < 30 && done.length < 2; i++) {
        const r = await wf.stepDistributed(backend, 'w1', undefined, { tracing: { tracerProvider: counting } });
        if (r !== undefined) done.push(r);
      }
      expect(done).toHaveLength(2);
      const spans = t.spans();
      expect(counting.asked).toBe(0);
      expect(spans.filter((x) => String(x.attributes['floxide.run.id']).startsWith('unsampled'))).toEqual([]);
      // the probes of the unsampled run ran in its stored context: their own spans, children of it, not recorded either
      const seen = Probe.seen.filter((x) => x.runId.startsWith('unsampled'));
      expect(seen.map((x) => [x.runId === 'unsampled' ? 'outer' : 'nested', x.activeTraceId, x.activeSpanId])).toEqual([
        ['outer', stored.traceId, stored.spanId],
        // (the nested run's steps: under its span, which the SDK made and does not record)
        ['nested', stored.traceId, expect.any(String)],
        ['nested', stored.traceId, expect.any(String)],
        ['outer', stored.traceId, stored.spanId],
      ]);
      const own = new Set(spans.filter((x) => x.name === 'user.work').map((x) => x.spanId));
      for (const x of seen) expect(own.has(x.ownSpanId)).toBe(false);
      // the sampled run beside it: every attempt, the nested run and the run span
      const start = spans.find((x) => x.name === 'floxide.start ProbeOuter')!;
      const innerItem = String(steps(spans).find((x) => x.attributes['floxide.run.id'] === 'sampled' && x.attributes['floxide.node'] === 'inner')!.attributes['floxide.item.id']);
      checkNested(spans, 'sampled', start, innerItem);
      expect(runs(spans).filter((x) => x.attributes['floxide.run.id'] === 'sampled').map((x) => x.attributes['floxide.outcome'])).toEqual(['completed']);
    } finally {
      await backend.close();
    }
  });

  it('a nested run that parks (a durable sleep): a span per attempt of the outer step, the first one parked', async () => {
    const t = memoryTracing();
    expect(await bindWorkflow(NestedNapFlowDef, new NestedNapFlow()).run(undefined, { ms: 30 }, { runId: 'napping', tracing: { tracerProvider: t.provider } })).toMatch(/^report: /);
    const spans = t.spans();
    const naps = steps(spans).filter((x) => x.attributes['floxide.run.id'] === 'napping' && x.attributes['floxide.node'] === 'nap');
    expect(naps).toHaveLength(2);
    const nested = runs(spans).filter((x) => x.name === 'floxide.run SleepFlow');
    expect(nested.map((x) => [x.attributes['floxide.outcome'], x.parentSpanId])).toEqual([
      ['parked', naps[0]!.spanId],
      ['completed', naps[1]!.spanId],
    ]);
    expect(new Set(nested.map((x) => x.attributes['floxide.run.id'])).size).toBe(1);
    // the nested steps hang under the nested run span of the attempt that ran them
    for (const x of steps(spans).filter((x) => x.attributes['floxide.run.id'] === nested[0]!.attributes['floxide.run.id'])) {
      expect(nested.map((n) => n.spanId)).toContain(x.parentSpanId);
    }
    expect(new Set(spans.map((x) => x.traceId)).size).toBe(1);
  });

  // The attempt that continues a nested run parked at attempt 2 was attempt 1 on a worker (the store kept every parked
  // item at attempt 1).
  it('a nested run retried after its wait took a signal: the spans of the outer step carry the same attempts in a local run and on a worker', async () => {
    const decisions = () => [
      { approved: false, by: 'ana' },
      { approved: true, by: 'bo' },
    ];
    const attempts = (spans: SpanRecord[], runId: string) =>
      steps(spans).filter((x) => x.attributes['floxide.run.id'] === runId && x.attributes['floxide.node'] === 'review').map((x) => x.attributes['floxide.attempt']);
    const t = memoryTracing();
    const tracing = { tracerProvider: t.provider };
    const wf = bindWorkflow(RetriedReviewFlowDef, new RetriedReviewFlow());
    const local = decisions();
    const h = wf.start(new RetryCtx(), 'o', {
      runId: 'retried-local',
      tracing,
      onEvent: (e) => void (e.type === 'wait.started' && setImmediate(() => h.signal('review.approval', local.shift()!))),
    });
    await expect(h.result).resolves.toBe('report: approved by bo');
    const backend = new MemoryBackend();
    try {
      const orch = new Orchestrator(backend, wf);
      await wf.startDistributed(new RetryCtx(), 'o', backend, 'retried-dist', { tracing });
      const remote = decisions();
      let done: unknown;
      for (let i = 0; i < 200 && done === undefined; i++) {
        done = await wf.stepDistributed(backend, 'w1', undefined, { tracing });
        if ((await backend.itemStates('retried-dist')).some((s) => s.status === 'parked')) await orch.signal('retried-dist', 'review.approval', remote.shift()!);
        else if (done === undefined) await new Promise((r) => setTimeout(r, 2));
      }
      expect(done).toEqual({ runId: 'retried-dist', output: 'report: approved by bo' });
      await until(() => t.spans().some((x) => x.name === 'floxide.run RetriedReviewFlow' && x.attributes['floxide.run.id'] === 'retried-dist'), 5_000, 'the run span');
    } finally {
      await backend.close();
    }
    // parks at 1; continued at 1, its nested run fails; run again at 2, parks; continued at 2
    expect(attempts(t.spans(), 'retried-local')).toEqual([1, 1, 2, 2]);
    expect(attempts(t.spans(), 'retried-dist')).toEqual([1, 1, 2, 2]);
  });

  it("an attempt's span is started once, when node code first asks for it (during the attempt, after its end, after its batch), else with its batch", () => {
    const exporter = new InMemorySpanExporter();
    const started: string[] = [];
    const counting: SpanProcessor = {
      onStart: (span: Span) => void started.push(String(span.attributes['floxide.item.id'] ?? span.name)),
      onEnd: () => undefined,
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const provider = new BasicTracerProvider({ spanProcessors: [counting, new SimpleSpanProcessor(exporter)] });
    const tracing = Tracing.of({ tracerProvider: provider })!;
    const user = provider.getTracer('user');
    const spans = () => exporter.getFinishedSpans().map(spanRecord);
    const t0 = Date.now() - 1_000;
    const stepsOf = (itemId: string) => steps(spans()).filter((x) => x.attributes['floxide.item.id'] === itemId);
    /** Runs an attempt of item `itemId` whose node code keeps its active context (as work it leaves running would). */
    const attempt = (itemId: string, ask: boolean) => {
      const a = tracing.startAttempt(undefined, () => ({ workflow: 'W', runId: 'r', node: 'n', itemId, attempt: 1, workerId: 'w', startedAt: t0 }))!;
      const kept = a.within(() => {
        if (ask) user.startSpan('user.during').end();
        return context.active();
      });
      a.end('continue', undefined, undefined, t0 + 500);
      return kept;
    };

    attempt('quiet', false);
    const during = attempt('during', true);
    const between = attempt('between', false);
    const after = attempt('after', false);
    // the attempt that asked started its span then and ended it with the attempt; the others wait for their batch
    expect(started).toEqual(['during', 'user.during']);
    expect(stepsOf('during')).toHaveLength(1);
    expect(spans().find((x) => x.name === 'user.during')!.parentSpanId).toBe(stepsOf('during')[0]!.spanId);
    // asked after the attempt's end, before its batch: started now, ended by the batch
    const lateChild = user.startSpan('user.between', {}, between);
    lateChild.end();
    expect(stepsOf('between')).toHaveLength(0);
    tracing.flush();
    expect(started).toEqual(['during', 'user.during', 'between', 'user.between', 'quiet', 'after']);
    for (const itemId of ['quiet', 'during', 'between', 'after']) {
      const [x, ...more] = stepsOf(itemId);
      expect(more).toEqual([]);
      expect(x).toMatchObject({ start: t0, end: t0 + 500, parentSpanId: undefined });
      expect(x!.attributes).toEqual({ 'floxide.workflow': 'W', 'floxide.run.id': 'r', 'floxide.node': 'n', 'floxide.item.id': itemId, 'floxide.attempt': 1, 'floxide.worker.id': 'w', 'floxide.outcome': 'continue' });
    }
    expect(spans().find((x) => x.name === 'user.between')!.parentSpanId).toBe(stepsOf('between')[0]!.spanId);
    // asked after its batch: the span the batch made (ended), never a second one
    expect(trace.getSpan(after)!.spanContext().spanId).toBe(stepsOf('after')[0]!.spanId);
    expect(trace.getSpan(during)!.spanContext().spanId).toBe(stepsOf('during')[0]!.spanId);
    tracing.flush();
    expect(steps(spans())).toHaveLength(4);
    // the kept context is a context like any other: another value keeps the attempt's span, a span set or deleted replaces it
    const key = createContextKey('user.key');
    const withValue = after.setValue(key, 7);
    expect(withValue.getValue(key)).toBe(7);
    expect(trace.getSpan(withValue)!.spanContext().spanId).toBe(stepsOf('after')[0]!.spanId);
    expect(trace.getSpan(withValue.deleteValue(key))!.spanContext().spanId).toBe(stepsOf('after')[0]!.spanId);
    expect(trace.getSpan(trace.deleteSpan(after))).toBeUndefined();
    const other = user.startSpan('user.other');
    expect(trace.getSpan(trace.setSpan(after, other))).toBe(other);
    other.end();
  });

  it('without tracing, node code sees no floxide span', async () => {
    Probe.seen.length = 0;
    expect(await bindWorkflow(ProbeOuterDef, new ProbeOuter()).run(undefined, 0, { runId: 'plain' })).toBe(4);
    expect(Probe.seen.map((p) => p.activeSpanId)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

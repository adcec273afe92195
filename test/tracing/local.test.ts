/**
 * Runs traced with the SDK's in-memory exporter, in this process: local runs (one trace with a run span and a span
 * per attempt, error status on failures, the trace context stored with a checkpointed run and continued by `resume`)
 * and a distributed run on the memory backend (`startDistributed` and `stepDistributed` with `tracing`).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindWorkflow, InvalidArgumentError, MemoryBackend, MemoryCheckpointStore, NodeFailedError, type CheckpointStore, type WorkflowEvent } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { ChainWorkflow, CountCtx } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef } from '../fixtures/distributed/flows.floxide.js';
import { RetryWorkflow } from '../../examples/retry.js';
import { RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { memoryTracing, type SpanRecord } from './spans.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const steps = (spans: SpanRecord[]) => spans.filter((s) => s.name.startsWith('floxide.step '));
const runs = (spans: SpanRecord[]) => spans.filter((s) => s.name.startsWith('floxide.run '));

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

describe('tracing a distributed run in process (memory backend)', () => {
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
      expect((await backend.getRun('dist'))!.status).toBe('failed');
      const spans = t.spans();
      const [run] = runs(spans);
      expect(runs(spans)).toHaveLength(1);
      expect(run!.attributes).toMatchObject({ 'floxide.run.mode': 'distributed', 'floxide.outcome': 'started' });
      expect((await backend.getRun('dist'))!.traceparent).toBe(`00-${run!.traceId}-${run!.spanId}-01`);
      const s = steps(spans);
      expect(s.map((x) => [x.attributes['floxide.attempt'], x.attributes['floxide.outcome'], x.attributes['floxide.worker.id'], x.status, x.exceptions, x.parentSpanId])).toEqual([
        [1, 'retry', 'w1', 2, 1, run!.spanId],
        [2, 'retry', 'w1', 2, 1, run!.spanId],
        [3, 'failed', 'w1', 2, 1, run!.spanId],
      ]);
      expect(new Set(s.map((x) => x.traceId))).toEqual(new Set([run!.traceId]));
    } finally {
      await backend.close();
    }
  });
});

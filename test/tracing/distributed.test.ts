/**
 * One trace per distributed run, across processes: the run is started (traced) in this process, then processed by
 * TWO `floxide worker --tracing` child processes, each exporting its spans through the SDK to a file this test
 * reads (test/fixtures/tracing/export-spans.ts). Every span shares the start span's trace id, there is one step
 * span, a child of the start span, per committed item, and the worker whose commit completed the run records the run
 * span: from the run's creation to its end, outcome `completed`. And many runs at once through one traced worker
 * (chains handed off from step to step, in the same milliseconds): every step of every run has its span, in its
 * run's trace.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBackend, Orchestrator, Worker, type DistributedBackend } from 'floxide';
import { ChainWorkflow } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef, CountCtx, REAL_BACKENDS, chain, fan, openTestBackend, spawnTsxWorker, until } from '../distributed/helpers.js';
import { memoryTracing, type SpanRecord } from './spans.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Enough work (each step sleeps up to 200 ms, two at a time per worker) that the second worker's idle poll (at most every
// second) finds some of it.
const N = 24;

describe.each(REAL_BACKENDS)('a distributed run on %s processed by two worker processes', (name) => {
  it('yields one trace: the run span and a span per step from both workers', { timeout: 120_000 }, async () => {
    const tb = await openTestBackend(name, 'trace');
    const spansFile = join(dir, `${name}.jsonl`);
    const workers = [0, 1].map(() =>
      spawnTsxWorker(tb.storeUrl, ['--tracing', '--json', '--concurrency', '2', '--no-schedules'], { FLOXIDE_TEST_SPANS_FILE: spansFile, FLOXIDE_TEST_MAX_DELAY_MS: '200' }, undefined, [
        '--import',
        './test/fixtures/tracing/export-spans.ts',
      ]),
    );
    try {
      await Promise.all(workers.map((w) => w.ready));
      const t = memoryTracing();
      const orchestrator = new Orchestrator(tb.backend, fan());
      const runId = await orchestrator.startRun(new CountCtx(), N, { tracing: { tracerProvider: t.provider } });
      const info = await orchestrator.waitForCompletion(runId, { timeoutMs: 60_000 });
      expect(info.status).toBe('completed');

      const [start] = t.spans();
      expect(t.spans()).toHaveLength(1);
      expect(start).toMatchObject({ name: 'floxide.start FanWorkflow', attributes: { 'floxide.run.id': runId, 'floxide.run.mode': 'distributed', 'floxide.outcome': 'started' } });
      const record = (await tb.backend.getRun(runId))!;
      expect(record.traceparent).toBe(`00-${start!.traceId}-${start!.spanId}-01`);

      // every committed item has its step span (the last one is exported right after its commit is answered), and
      // the finishing worker's run span, recorded from that commit's answer
      const committed = (await tb.backend.itemStates(runId)).filter((s) => s.status === 'completed');
      const read = (): Array<SpanRecord & { pid: number }> => readFileSync(spansFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      await until(() => read().length >= committed.length + 1, 10_000, 'the step spans and the run span');
      const all = read();
      const runs = all.filter((s) => s.name.startsWith('floxide.run '));
      expect(runs).toHaveLength(1);
      const terminal = all.find((s) => s.attributes['floxide.outcome'] === 'terminal')!;
      expect(runs[0]).toMatchObject({
        name: 'floxide.run FanWorkflow',
        traceId: start!.traceId,
        parentSpanId: start!.spanId,
        status: 0,
        start: record.createdAt,
        end: record.finishedAt,
        pid: terminal.pid,
        attributes: { 'floxide.run.id': runId, 'floxide.run.mode': 'distributed', 'floxide.outcome': 'completed', 'floxide.worker.id': terminal.attributes['floxide.worker.id'] },
      });
      const steps = all.filter((s) => s.name.startsWith('floxide.step '));
      expect(steps.map((s) => s.attributes['floxide.item.id']).sort()).toEqual(committed.map((s) => s.itemId).sort());
      expect(committed).toHaveLength(N + 3);
      for (const s of steps) {
        expect(s.traceId).toBe(start!.traceId);
        expect(s.parentSpanId).toBe(start!.spanId);
        expect(s.name).toBe(`floxide.step ${s.attributes['floxide.node']}`);
        expect(s.attributes).toMatchObject({ 'floxide.workflow': 'FanWorkflow', 'floxide.run.id': runId, 'floxide.attempt': 1 });
        expect(s.status).toBe(0);
      }
      expect(steps.filter((s) => s.attributes['floxide.outcome'] === 'terminal').map((s) => s.attributes['floxide.node'])).toEqual(['done']);
      // both processes (and their workers) took part
      expect(new Set(steps.map((s) => s.pid)).size).toBe(2);
      expect(new Set(steps.map((s) => s.attributes['floxide.worker.id'])).size).toBe(2);
    } finally {
      for (const w of workers) w.proc.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exit));
      await tb.dispose();
    }
  });
});

describe.each(['memory', ...REAL_BACKENDS] as const)('many runs at once through one traced worker on %s', (name) => {
  it('every step of every run has exactly one span, in its own run\'s trace, and every run its run span', { timeout: 60_000 }, async () => {
    const tb = name === 'memory' ? { backend: new MemoryBackend() as DistributedBackend, dispose: async () => undefined } : await openTestBackend(name, 'tracemany');
    const t = memoryTracing();
    const tracing = { tracerProvider: t.provider };
    const RUNS = 60;
    let worker: Worker | undefined;
    try {
      const wf = chain();
      const runIds = Array.from({ length: RUNS }, (_, i) => `many-${i}`);
      await Promise.all(runIds.map((id) => wf.startDistributed(new CountCtx(), 0, tb.backend, id, { tracing })));
      let completed = 0;
      worker = new Worker(tb.backend, ChainWorkflowDef, new ChainWorkflow(), {
        tracing,
        concurrency: 32,
        idleMinMs: 1,
        idleMaxMs: 5,
        schedules: false,
        callbacks: { onCommitted: (_lease, _outcome, result) => void (result.status === 'applied' && result.runStatus === 'completed' && completed++) },
      });
      await worker.start();
      await until(() => completed === RUNS, 30_000, 'every run completed');
      await worker.stop();

      const spans = t.spans();
      const traceOf = new Map(spans.filter((x) => x.name === 'floxide.start ChainWorkflow').map((x) => [x.attributes['floxide.run.id'], x]));
      expect(traceOf.size).toBe(RUNS);
      const stepSpans = spans.filter((x) => x.name.startsWith('floxide.step '));
      const keys = stepSpans.map((x) => `${String(x.attributes['floxide.run.id'])} ${String(x.attributes['floxide.node'])}`);
      expect(new Set(keys).size).toBe(RUNS * 5);
      expect(stepSpans).toHaveLength(RUNS * 5);
      for (const x of stepSpans) {
        const start = traceOf.get(x.attributes['floxide.run.id'])!;
        expect([x.traceId, x.parentSpanId, x.name, x.attributes['floxide.outcome']]).toEqual([start.traceId, start.spanId, `floxide.step ${String(x.attributes['floxide.node'])}`, x.attributes['floxide.node'] === 's5' ? 'terminal' : 'continue']);
      }
      const runSpans = spans.filter((x) => x.name === 'floxide.run ChainWorkflow');
      expect(runSpans.map((x) => x.attributes['floxide.run.id']).sort()).toEqual([...runIds].sort());
      for (const x of runSpans) expect(x.traceId).toBe(traceOf.get(x.attributes['floxide.run.id'])!.traceId);
    } finally {
      await worker?.stop();
      await tb.dispose();
    }
  });
});

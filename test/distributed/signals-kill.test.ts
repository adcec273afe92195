/**
 * Fault test (issue 11): a 2 s durable sleep on the real Redis and Postgres servers survives a SIGKILL of the worker
 * process that parked it, mid-sleep, and fires exactly once: the timer lives in the store, not in a process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindWorkflow, Orchestrator, supportsObservation, Worker } from 'floxide';
import { SleepFlow } from '../fixtures/signals/flows.js';
import { SleepFlowDef } from '../fixtures/signals/flows.floxide.js';
import { REAL_BACKENDS, openTestBackend, spawnWorker, until, type TestBackend } from './helpers.js';

const sleeper = bindWorkflow(SleepFlowDef, new SleepFlow());

describe.each(REAL_BACKENDS)('a durable sleep across a SIGKILL of its worker (%s)', (name) => {
  let tb: TestBackend;
  beforeAll(async () => {
    tb = await openTestBackend(name, 'nap');
  });
  afterAll(async () => {
    await tb?.dispose();
  });

  it('fires once, after its time, on another worker', { timeout: 60_000 }, async () => {
    const orch = new Orchestrator(tb.backend, sleeper);
    const child = spawnWorker(tb.storeUrl, ['--concurrency', '2', '--lease-ms', '1000'], {}, 'test/fixtures/signals/sleep-worker.ts');
    await child.ready;
    const runId = await orch.startRun(undefined, { ms: 2_000 });
    await until(async () => (await tb.backend.itemStates(runId)).some((s) => s.status === 'parked'), 20_000, 'the sleep to park');
    const parkedAt = (await tb.backend.itemStates(runId)).find((s) => s.status === 'parked')!;
    child.proc.kill('SIGKILL');
    expect(await child.exit).toBe('SIGKILL');
    // Every worker that could hold the timer in memory is gone: only the store knows it.
    const rescue = new Worker(tb.backend, sleeper.def, sleeper.instance, { concurrency: 2, leaseMs: 1_000, heartbeatMs: 100, idleMinMs: 5, idleMaxMs: 100 });
    await rescue.start();
    try {
      const done = await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
      expect(done.output).toBe('woke after 2000 ms');
      // nap (parks), nap (the sleep's item, once), woke (once)
      const states = await tb.backend.itemStates(runId);
      expect(states.map((s) => [s.node, s.status, s.attempt])).toEqual([
        ['nap', 'completed', 1],
        ['nap', 'completed', 1],
        ['woke', 'completed', 1],
      ]);
      expect(await tb.backend.metrics(runId)).toMatchObject({ completed: 3, enqueued: 3, redeliveries: 0, retries: 0 });
      if (supportsObservation(tb.backend)) {
        const history = await tb.backend.stepHistory(runId);
        expect(history.map((h) => [h.node, h.outcome])).toEqual([
          ['nap', 'continue'],
          ['nap', 'continue'],
          ['woke', 'terminal'],
        ]);
        expect(history[1]!.startedAt).toBeGreaterThanOrEqual(parkedAt.notBefore!);
      }
    } finally {
      await rescue.stop();
    }
  });
});

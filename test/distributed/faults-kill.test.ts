/**
 * Fault test: SIGKILL of a worker child process mid-step, 20 times per backend with random timing, on the real
 * Redis and Postgres servers. A child `floxide worker` takes items under short leases and is killed while it
 * holds some; an in-process worker then finishes the runs. Every run must complete with the right output, each
 * item committed exactly once, and the context counter (+1 per committed step) equal to the number of items.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { CountCtx, REAL_BACKENDS, checkFanRun, fan, openTestBackend, sleep, spawnWorker, type ChildWorker, type TestBackend } from './helpers.js';

const ROUNDS = 20;
const WIDTH = 4;
const LEASE_MS = 400;

describe.each(REAL_BACKENDS)('SIGKILL of a worker process mid-step (%s)', (name) => {
  let tb: TestBackend;
  beforeAll(async () => {
    tb = await openTestBackend(name, 'kill');
  });
  afterAll(async () => {
    await tb?.dispose();
  });

  it(`recovers every run exactly once over ${ROUNDS} random kills`, { timeout: 110_000 }, async () => {
    const wf = fan({ maxDelayMs: 4 });
    const orch = new Orchestrator(tb.backend, wf);
    const childArgs = ['--concurrency', '8', '--lease-ms', String(LEASE_MS)];
    const childEnv = { FLOXIDE_TEST_MAX_DELAY_MS: '40' };
    let child: ChildWorker = spawnWorker(tb.storeUrl, childArgs, childEnv);
    let redeliveries = 0;
    let killedHolding = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await child.ready;
      const runs = await Promise.all([0, 1].map(() => orch.startRun(new CountCtx(), WIDTH)));
      await sleep(10 + Math.random() * 120);
      const pending = (await Promise.all(runs.map((r) => tb.backend.pendingWork(r)))).flat();
      const held = pending.filter((p) => p.state.status === 'in_progress' && p.state.workerId?.includes(`:${child.proc.pid}:`)).length;
      child.proc.kill('SIGKILL');
      expect(await child.exit).toBe('SIGKILL');
      if (held > 0) killedHolding++;
      // The next child starts up while the in-process worker finishes this round's runs.
      child = spawnWorker(tb.storeUrl, childArgs, childEnv);
      const rescue = new Worker(tb.backend, wf.def, wf.instance, { concurrency: 4, leaseMs: LEASE_MS, heartbeatMs: 100, idleMinMs: 5, idleMaxMs: 50 });
      await rescue.start();
      try {
        for (const runId of runs) {
          const done = await orch.waitForCompletion(runId, { timeoutMs: 20_000, pollMs: 10 });
          expect(done.status).toBe('completed');
          expect(done.output).toEqual([0, 2, 4, 6]);
          const check = await checkFanRun(tb.backend, runId, WIDTH);
          expect(check).toMatchObject({ count: WIDTH + 3, enqueued: WIDTH + 3, completed: WIDTH + 3 });
          redeliveries += (await tb.backend.metrics(runId)).redeliveries;
        }
      } finally {
        await rescue.stop();
      }
    }
    child.proc.kill('SIGKILL');
    await child.exit;
    // The kills really happened mid-step: leased items came back after their lease expired.
    expect(redeliveries).toBeGreaterThan(0);
    expect(killedHolding).toBeGreaterThan(0);
  });
});

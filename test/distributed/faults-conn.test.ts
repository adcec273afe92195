/**
 * Fault test: the store kills the workers' connections mid-run (Redis `CLIENT KILL` of this test's clients,
 * Postgres `pg_terminate_backend` of this test's sessions), 20 rounds per backend at random moments. Workers
 * reconnect, retry failed commits while their lease lasts (commits are idempotent per item id) and every run
 * completes with the right output, each item committed exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { CountCtx, REAL_BACKENDS, checkFanRun, fan, openTestBackend, sleep, type TestBackend } from './helpers.js';

const ROUNDS = 20;
const WIDTH = 5;

describe.each(REAL_BACKENDS)('connections killed server-side mid-run (%s)', (name) => {
  let tb: TestBackend;
  beforeAll(async () => {
    tb = await openTestBackend(name, 'conn');
  });
  afterAll(async () => {
    await tb?.dispose();
  });

  it(`completes every run exactly once over ${ROUNDS} rounds of killed connections`, { timeout: 110_000 }, async () => {
    const wf = fan({ maxDelayMs: 8, failRate: 0.1 });
    const orch = new Orchestrator(tb.backend, wf);
    const pool = new WorkerPool(tb.backend, wf.def, wf.instance, { size: 2, concurrency: 4, leaseMs: 1_500, heartbeatMs: 100, idleMinMs: 5, idleMaxMs: 40 });
    await pool.start();
    let killed = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const runs = await Promise.all([0, 1].map(() => orch.startRun(new CountCtx(), WIDTH)));
        for (let k = 0; k < 2; k++) {
          await sleep(Math.random() * 40);
          killed += await tb.killConnections();
        }
        for (const runId of runs) {
          let done;
          for (;;) {
            try {
              done = await orch.waitForCompletion(runId, { timeoutMs: 20_000, pollMs: 10 });
              break;
            } catch (err) {
              // The orchestrator shares the killed connections: a poll may fail while they come back.
              if ((err as Error).name !== 'StoreError') throw err;
              await sleep(20);
            }
          }
          expect(done.status).toBe('completed');
          expect(done.output).toEqual([0, 2, 4, 6, 8]);
          expect(await checkFanRun(tb.backend, runId, WIDTH)).toMatchObject({ count: WIDTH + 3, enqueued: WIDTH + 3, completed: WIDTH + 3 });
        }
      }
    } finally {
      await pool.stop(1_000);
    }
    expect(killed).toBeGreaterThan(0);
  });
});

/**
 * Fault test: SIGTERM of a `floxide worker` pool under load, 20 times per backend at random moments. The pool
 * must stop gracefully (exit code 0, liveness records removed): running items either finish and commit or are
 * given back. An in-process worker then finishes the runs: right outputs, each item committed exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { CountCtx, REAL_BACKENDS, checkFanRun, fan, openTestBackend, sleep, spawnWorker, type ChildWorker, type TestBackend } from './helpers.js';

const ROUNDS = 20;
const WIDTH = 6;

describe.each(REAL_BACKENDS)('SIGTERM of a worker pool under load (%s)', (name) => {
  let tb: TestBackend;
  beforeAll(async () => {
    tb = await openTestBackend(name, 'term');
  });
  afterAll(async () => {
    await tb?.dispose();
  });

  it(`drains gracefully and loses nothing over ${ROUNDS} random SIGTERMs`, { timeout: 110_000 }, async () => {
    const wf = fan({ maxDelayMs: 4 });
    const orch = new Orchestrator(tb.backend, wf);
    const spawnOne = () =>
      spawnWorker(tb.storeUrl, ['--workers', '2', '--concurrency', '4', '--lease-ms', '2000', '--grace-ms', String(Math.floor(Math.random() * 60))], { FLOXIDE_TEST_MAX_DELAY_MS: '60' });
    let child: ChildWorker = spawnOne();
    for (let round = 0; round < ROUNDS; round++) {
      await child.ready;
      const runs = await Promise.all([0, 1].map(() => orch.startRun(new CountCtx(), WIDTH)));
      await sleep(20 + Math.random() * 150);
      const pid = child.proc.pid;
      child.proc.kill('SIGTERM');
      const code = await child.exit;
      expect(code, child.output()).toBe(0);
      expect((await tb.backend.listWorkers()).filter((w) => w.workerId.includes(`:${pid}:`))).toEqual([]);
      // Nothing of the stopped pool is still leased: finished items were committed, the rest given back.
      const pending = (await Promise.all(runs.map((r) => tb.backend.pendingWork(r)))).flat();
      expect(pending.filter((p) => p.state.status === 'in_progress' && p.state.workerId?.includes(`:${pid}:`))).toEqual([]);
      child = spawnOne();
      const rescue = new Worker(tb.backend, wf.def, wf.instance, { concurrency: 4, idleMinMs: 5, idleMaxMs: 50 });
      await rescue.start();
      try {
        for (const runId of runs) {
          const done = await orch.waitForCompletion(runId, { timeoutMs: 20_000, pollMs: 10 });
          expect(done.output).toEqual([0, 2, 4, 6, 8, 10]);
          expect(await checkFanRun(tb.backend, runId, WIDTH)).toMatchObject({ count: WIDTH + 3, enqueued: WIDTH + 3, completed: WIDTH + 3 });
          expect((await tb.backend.metrics(runId)).redeliveries).toBe(0);
        }
      } finally {
        await rescue.stop();
      }
    }
    await child.ready;
    child.proc.kill('SIGTERM');
    expect(await child.exit).toBe(0);
  });

  it('exits after its grace period though node code it gave back still runs (a call that ignores ctx.signal)', { timeout: 30_000 }, async () => {
    // each `work` step is stuck for a minute: the process must not wait for it (the test's timeout would end first)
    const child = spawnWorker(tb.storeUrl, ['--concurrency', '4', '--grace-ms', '200', '--no-schedules'], { FLOXIDE_TEST_STUCK_MS: '60000' });
    await child.ready;
    const runId = await new Orchestrator(tb.backend, fan({})).startRun(new CountCtx(), 2);
    while (!(await tb.backend.pendingWork(runId)).some((p) => p.state.status === 'in_progress' && p.item.node === 'work')) await sleep(20);
    child.proc.kill('SIGTERM');
    expect(await child.exit, child.output()).toBe(0);
    expect(child.output()).toMatch(/"event":"released".*"reason":"stopping"/);
    expect(child.output()).toContain('"event":"stopped"');
    // what it gave back is claimable again
    expect((await tb.backend.pendingWork(runId)).filter((p) => p.state.status === 'in_progress')).toEqual([]);
    await tb.backend.cancelRun(runId);
  });
});

/** The distributed examples, on the real Redis and Postgres servers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEventLogExample, runOrchestratedMergeExample, runScheduledExample } from '../../examples/distributed/run.js';
import { scheduledRunOf } from '../../runtime/distributed/schedule-rules.js';
import { REAL_BACKENDS, openTestBackend, type TestBackend } from './helpers.js';

describe.each(REAL_BACKENDS)('distributed examples (%s)', (name) => {
  let tb: TestBackend;
  beforeAll(async () => {
    tb = await openTestBackend(name, 'ex');
  });
  afterAll(async () => {
    await tb?.dispose();
  });

  it('event log: two worker loops, one gets the terminal; replay gives 27 and the four lines', async () => {
    for (let i = 0; i < 3; i++) {
      const out = await runEventLogExample(tb.backend, `event-log-${i}`);
      expect(out.run.status).toBe('completed');
      expect(out.results.filter((r) => r !== undefined)).toEqual([['branch_a_success', 'branch_b_success']]);
      expect(out.counter).toBe(27);
      // Events are in commit order: the two branches commit concurrently, in either order.
      expect(out.lines.slice(0, 2)).toEqual(['InitialNode: started with 10', 'SplitNode: 10 goes to branch a and branch b']);
      expect([...out.lines.slice(2)].sort()).toEqual(['BranchA executed', 'BranchB executed']);
    }
  });

  it('orchestrated merge: 10 items join once; 30% failures are retried durably; output [0,10,...,90]', async () => {
    const out = await runOrchestratedMergeExample(tb.backend, 'merge-run');
    expect(out.run.status).toBe('completed');
    expect(out.run.output).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(out.metrics).toMatchObject({ enqueued: 13, completed: 13, failed: 0, deadLettered: 0, retries: out.errors.length });
    expect(out.errors.every((e) => e.kind === 'retry' && (e.node === 'merge' || e.node === 'sortValues'))).toBe(true);
    expect(out.context.steps).toBe(13);
    expect(out.context.failureRate).toBe(0.3);
    expect(out.pending).toEqual([]);
  });

  it('schedule: a run of the merge workflow every second, one per tick, each completed', async () => {
    const runs = await runScheduledExample(tb.backend, 3);
    const ticks = runs.map((r) => scheduledRunOf(r.runId)!.tick);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1_000);
    for (const r of runs) expect(r).toMatchObject({ status: 'completed', input: 4, output: [0, 10, 20, 30] });
  });
});

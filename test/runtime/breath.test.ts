/**
 * A run whose steps never wait for I/O (a node that computes, awaiting only settled promises; SQLite's synchronous
 * commits) still lets the event loop run every few ms (core/time.ts `Breath`): its deadline fires, the claim's
 * heartbeat of a checkpointed run refreshes (or another process would take a healthy run over), the caller's timers
 * and I/O go on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow, DeadlineExceededError } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { LoopCtx, LoopWorkflow } from './flows/loop.js';
import { LoopWorkflowDef } from './flows/loop.floxide.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-breath-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Counts the ticks of a 5 ms interval while `work` runs. */
async function ticksDuring<T>(work: () => Promise<T>): Promise<{ ticks: number; ms: number; result: T | Error }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const start = performance.now();
  try {
    const result = await work().catch((err: Error) => err);
    return { ticks, ms: performance.now() - start, result };
  } finally {
    clearInterval(timer);
  }
}

describe('a run of steps that never wait for I/O lets timers fire', () => {
  it('in memory: its timeoutMs ends it, and the caller\'s interval ticks meanwhile', async () => {
    const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
    const { ticks, ms, result } = await ticksDuring(() => wf.run(new LoopCtx(), { i: 0, limit: 50_000_000 }, { timeoutMs: 600 }));
    expect(result).toBeInstanceOf(DeadlineExceededError);
    // (the 50 M steps would take many seconds: the deadline fired about when it was due)
    expect(ms).toBeLessThan(8_000);
    // a breath every 20 ms would give ~30 ticks; a loaded machine gives fewer (5 seen under load ~12), a run that never
    // breathes none or one
    expect(ticks).toBeGreaterThan(2);
  });

  it('on SQLite: its timeoutMs ends it (the run is failed with it, as the deadline says), and the interval ticks', async () => {
    const store = new SqliteCheckpointStore(join(dir, 'runs.db'));
    try {
      const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
      const { ticks, ms, result } = await ticksDuring(() => wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 5_000_000 }, store, 'long', { timeoutMs: 300 }));
      expect(result).toBeInstanceOf(DeadlineExceededError);
      expect(ms).toBeLessThan(10_000);
      // (~15 on a quiet machine, 5 seen under load ~12; a run that never breathes: none or one)
      expect(ticks).toBeGreaterThan(2);
      expect((await store.getRun('long'))?.status).toBe('failed');
    } finally {
      await store.close();
    }
  });
});

// Many runWithCheckpoint calls waiting in one process on one SQLite file: what they cost the store while nothing
// happens must not grow with their number (runtime/workflow/arrival-poll.ts), and what another process sends still
// reaches them (a signal, a cancel).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow, CancelledError } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { SteadyApprovalFlow } from '../fixtures/signals/flows.js';
import { SteadyApprovalFlowDef } from '../fixtures/signals/flows.floxide.js';
import { until } from '../distributed/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-waiting-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runs waiting for signals in one process', () => {
  it('read nothing per poll while no signal or cancel came from elsewhere; one from another connection reaches its run', async () => {
    const file = join(dir, 'many.db');
    const store = new SqliteCheckpointStore(file);
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    const reads = { getRun: 0, takeSignal: 0 };
    const getRun = store.getRun.bind(store);
    store.getRun = (runId) => (reads.getRun++, getRun(runId));
    const takeSignal = store.takeSignal.bind(store);
    store.takeSignal = (runId, name, itemId) => (reads.takeSignal++, takeSignal(runId, name, itemId));
    const n = 30;
    const pollMs = 5;
    const calls = Array.from({ length: n }, (_, i) => wf.runWithCheckpoint({} as never, `w${i}`, store, `w${i}`, { signalPollMs: pollMs }).catch((err: unknown) => err));
    const other = new SqliteCheckpointStore(file);
    try {
      await until(async () => (await Promise.all(calls.map((_, i) => store.load(`w${i}`)))).every((cp) => cp?.items.some((it) => it.wait !== undefined)), 30_000);
      // every run has looked at its mailbox since it parked (once at least), and nothing came since
      await until(() => reads.takeSignal >= n);
      await new Promise((r) => setTimeout(r, 4 * pollMs));
      const before = { ...reads };
      // 40 poll periods (at least) with nothing new: before, 2 reads per run per period (2,400 here)
      await new Promise((r) => setTimeout(r, 40 * pollMs));
      expect(reads).toEqual(before);
      // another connection (another process) signals one run and cancels another: each reaches its run
      await other.signal('w3', 'approval', { approved: true, by: 'ana' });
      expect(await calls[3]).toBe('approved by ana');
      await other.cancel('w4');
      expect(await calls[4]).toBeInstanceOf(CancelledError);
      // so does a cancel through this store (this connection's commits do not move SQLite's data_version)
      await store.cancel('w5');
      expect(await calls[5]).toBeInstanceOf(CancelledError);
      expect((await store.getRun('w6'))?.status).toBe('running');
    } finally {
      for (let i = 0; i < n; i++) await store.cancel(`w${i}`).catch(() => undefined);
      await Promise.all(calls);
      await other.close();
      await store.close();
    }
  }, 60_000);
});

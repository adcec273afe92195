/**
 * The event feed of a SQLite checkpoint file (`floxide runs watch`, `floxide ui` on `sqlite:<file>`) runs for days over
 * a file that keeps every run: a failed run is read again only when a run-level write (a resume, a cancel) touched it,
 * not on every change of the file, and a resumed one still delivers its events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { CounterCtx, CounterWorkflow } from '../../examples/checkpoint.js';
import { CounterWorkflowDef } from '../../examples/checkpoint.floxide.js';
import { SqliteRunsStore } from '../../cli/store/sqlite-runs.js';
import { SqliteRunReader } from '../../runtime/stores/sqlite-inspect.js';
import type { WorkflowEvent } from '../../runtime/engine/events.js';
import { until } from '../distributed/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-feed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the event feed of a SQLite file', () => {
  it('reads no failed run again until something writes it, and follows one that is resumed', async () => {
    const file = join(dir, 'runs.db');
    const writer = new SqliteCheckpointStore(file);
    const instance = new CounterWorkflow(3);
    const wf = bindWorkflow(CounterWorkflowDef, instance);
    for (let i = 0; i < 30; i++) {
      instance.counter.failAt = 1;
      await expect(wf.runWithCheckpoint(new CounterCtx(), 0, writer, `failed-${i}`)).rejects.toThrow();
    }
    // failed an hour ago, as the failed runs a file keeps pile up
    writer.db.prepare('UPDATE floxide_runs SET updated_at = updated_at - 3600000, created_at = created_at - 3600000').run();
    const runs = SqliteRunsStore.open(file);
    const reads = vi.spyOn(SqliteRunReader.prototype, 'runByNo');
    const ac = new AbortController();
    const events: WorkflowEvent[] = [];
    const watching = (async () => {
      for await (const { event } of runs.subscribe({ after: 'now', signal: ac.signal })) events.push(event);
    })();
    try {
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 5; i++) {
        await wf.runWithCheckpoint(new CounterCtx(), 0, writer, `ok-${i}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await until(() => events.filter((e) => e.type === 'run.completed').length === 5, 10_000, 'the new runs to complete');
      // run numbers 1-30 are the failed runs: none changed, none was read (each was, on every change of the file)
      expect(reads.mock.calls.filter(([runNo]) => runNo <= 30)).toEqual([]);
      expect(await wf.resume(writer, 'failed-7')).toBe(3);
      await until(() => events.some((e) => e.type === 'run.completed' && e.runId === 'failed-7'), 10_000, 'the resumed run to complete');
      expect(events.filter((e) => e.runId === 'failed-7').map((e) => e.type)).toEqual(['step.started', 'step.finished', 'step.started', 'step.finished', 'step.started', 'step.finished', 'step.started', 'step.finished', 'run.completed']);
    } finally {
      ac.abort();
      await watching;
      reads.mockRestore();
      await runs.close();
      await writer.close();
    }
  });
});

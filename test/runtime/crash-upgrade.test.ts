// A run interrupted while its file was at schema 001 resumes after the store upgrades the file (migration 002
// rebuilds floxide_runs with its columns reordered): same output as an uninterrupted run, exactly-once counter.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SQLITE_MIGRATIONS, SqliteCheckpointStore } from 'floxide/sqlite';
import { CrashCtx, CrashWorkflow } from '../fixtures/crash/flow.js';
import { CrashWorkflowDef } from '../fixtures/crash/flow.floxide.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-upgrade-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite schema upgrade of an interrupted run', () => {
  it('a run checkpointed under migration 001 resumes under the current schema', async () => {
    const wf = bindWorkflow(CrashWorkflowDef, new CrashWorkflow());
    const input = { round: 0, limit: 30, acc: 1 };
    const ref = new SqliteCheckpointStore(join(dir, 'ref.db'));
    const expected = await wf.runWithCheckpoint(new CrashCtx(), input, ref, 'up');
    const total = (await ref.getRun('up'))!.steps;
    await ref.close();

    // The file as the 001 store left it after one committed step (tick 0 -> check 1), then the process died.
    const file = join(dir, 'v1.db');
    const v1 = new Database(file);
    v1.pragma('journal_mode = WAL');
    v1.exec(readFileSync(new URL(`../../runtime/stores/migrations/${SQLITE_MIGRATIONS[0]}`, import.meta.url), 'utf8'));
    v1.pragma('user_version = 1');
    v1.prepare(
      `INSERT INTO floxide_runs (run_id, workflow, fingerprint, input, context, start, status, created_at, updated_at)
       VALUES ('up', ?, ?, ?, ?, ?, 'running', 1, 1)`,
    ).run(
      CrashWorkflowDef.name,
      CrashWorkflowDef.fingerprint,
      JSON.stringify({ acc: 1, limit: 30, round: 0 }),
      JSON.stringify({ count: 0, fans: [] }),
      JSON.stringify({ node: 'tick', id: '0', input }),
    );
    v1.prepare(`INSERT INTO floxide_steps (run_id, item_id, seq, delta, items, counter) VALUES ('up', '0', 1, ?, ?, 1)`).run(
      JSON.stringify({ count: 1 }),
      JSON.stringify([{ node: 'check', id: '1', input: { round: 1, limit: 30, acc: 31 } }]),
    );
    v1.close();

    const store = new SqliteCheckpointStore(file);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
      const columns = (store.db.pragma('table_info(floxide_runs)') as { name: string }[]).map((c) => c.name);
      // Small hot columns first (002), behind the run number that keys the journal (003).
      expect(columns.slice(0, 3)).toEqual(['run_no', 'run_id', 'status']);
      expect((await store.getRun('up'))!.steps).toBe(1);
      expect(await wf.resume(store, 'up')).toEqual(expected);
      const run = (await store.getRun('up'))!;
      expect(run.steps).toBe(total);
      const cp = (await store.load('up'))!;
      expect(cp.deltas.reduce((n, d) => n + (typeof d.count === 'number' ? d.count : 0), 0)).toBe(total);
    } finally {
      await store.close();
    }
  });
});

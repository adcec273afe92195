/**
 * Several processes on one SQLite checkpoint file, as users run them: a process writing (a long transaction, a sqlite3
 * shell) while another opens the file to read it (`floxide runs`) or to run other runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { cliCaptured } from '../cli/run-cli.js';
import { SqliteRunsStore } from '../../cli/store/sqlite-runs.js';
import { startUiServer } from '../../cli/ui/server.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-processes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const locker = fileURLToPath(new URL('./sqlite-locker.ts', import.meta.url));
const newRun = (runId: string) => ({ runId, workflow: 'W', fingerprint: '0123456789abcdef', input: 1, context: null, deadline: undefined, start: { node: 'a', id: '0', input: 1 } });

/** A process holding `file`'s write lock (sqlite-locker.ts), once it holds it; `free()` commits and waits for its exit. */
export async function lockFile(file: string): Promise<{ child: ChildProcess; free: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', locker, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()).includes('locked\n') && resolve());
    child.once('exit', (code) => reject(new Error(`the locker exited (${code}) before it held the lock`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  return { child, free: async () => void (child.stdin!.end(), await exited) };
}

describe('a process holding the write lock', () => {
  it('does not stop another process from opening the file and reading it (floxide runs list, show)', async () => {
    const file = join(dir, 'read-while-locked.db');
    const store = new SqliteCheckpointStore(file);
    await store.createRun(newRun('r1'));
    await store.close();
    const lock = await lockFile(file);
    try {
      // WAL: readers do not wait for the writer; opening an up-to-date file takes no write lock either
      const listed = await cliCaptured(['runs', 'list', '--store', `sqlite:${file}`, '--json']);
      expect([listed.code, listed.err]).toEqual([0, '']);
      expect((JSON.parse(listed.out) as { runId: string }[]).map((r) => r.runId)).toEqual(['r1']);
      const shown = await cliCaptured(['runs', 'show', 'r1', '--store', `sqlite:${file}`]);
      expect([shown.code, shown.err]).toEqual([0, '']);
    } finally {
      await lock.free();
    }
  }, 60_000);

  it('does not freeze the dashboard: an action waits for the lock without holding the thread, and applies once it is free', async () => {
    const file = join(dir, 'ui-while-locked.db');
    const store = new SqliteCheckpointStore(file);
    await store.createRun(newRun('w1'));
    await store.close();
    const lock = await lockFile(file);
    const backend = SqliteRunsStore.open(file);
    const server = await startUiServer({ backend });
    try {
      const cancel = fetch(`${server.url}api/runs/w1/cancel`, { method: 'POST', headers: { 'x-floxide-action': '1' } });
      let cancelled = false;
      void cancel.finally(() => (cancelled = true));
      // (this test and the server share one thread: a server waiting in SQLite's busy handler would stop both)
      const page = await fetch(`${server.url}api/runs`);
      expect(page.status).toBe(200);
      expect(((await page.json()) as { runs: { runId: string; status: string }[] }).runs.map((r) => [r.runId, r.status])).toEqual([['w1', 'running']]);
      expect(cancelled).toBe(false);
      await lock.free();
      const res = await cancel;
      expect([res.status, ((await res.json()) as { applied: boolean }).applied]).toEqual([200, true]);
      expect((await backend.getRun('w1'))?.status).toBe('cancelled');
    } finally {
      await server.close();
      await backend.close();
      await lock.free();
    }
  }, 60_000);
});

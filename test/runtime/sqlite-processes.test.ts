/**
 * Several processes on one SQLite checkpoint file, as users run them: a process writing (a long transaction, a sqlite3
 * shell) while another opens the file to read it (`floxide runs`) or to run other runs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { bindWorkflow, CancelledError } from 'floxide';
import { OWNER_HEARTBEAT_MS } from '../../runtime/stores/ownership.js';
import { LoopCtx, LoopWorkflow } from './flows/loop.js';
import { LoopWorkflowDef } from './flows/loop.floxide.js';
import { untilAborted } from './long-node.js';
import { until } from '../distributed/helpers.js';
import { cliCaptured } from '../cli/run-cli.js';
import { SqliteRunsStore } from '../../cli/store/sqlite-runs.js';
import { startUiServer } from '../../cli/ui/server.js';
import { time } from '../../cli/commands/runs.js';
import { SteadyApprovalFlow } from '../fixtures/signals/flows.js';
import { SteadyApprovalFlowDef } from '../fixtures/signals/flows.floxide.js';
import { builtModule } from '../built-module.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-processes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const locker = fileURLToPath(new URL('./sqlite-locker.ts', import.meta.url));
const releaseChild = fileURLToPath(new URL('./release-child.ts', import.meta.url));
const manyRuns = fileURLToPath(new URL('./many-runs-child.ts', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));

/** `floxide runs <args>` in a process of its own (the built bin); its exit code and what it wrote. */
function floxideProcess(...args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['dist/cli/cli.js', ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}
const newRun = (runId: string) => ({ runId, workflow: 'W', fingerprint: '0123456789abcdef', input: 1, context: null, deadline: undefined, start: { node: 'a', id: '0', input: 1 } });

/** A process holding `file`'s write lock (sqlite-locker.ts), once it holds it; `free()` commits and waits for its exit. */
async function lockFile(file: string): Promise<{ free: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', locker, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  await printed(child, 'locked');
  return { free: async () => void (child.stdin!.end(), await exited) };
}

/** A new checkpoint file `name` holding one run, `runId` (no process runs it), locked by {@link lockFile}. */
async function lockedWithRun(name: string, runId: string): Promise<{ file: string; free: () => Promise<void> }> {
  const file = join(dir, name);
  const store = new SqliteCheckpointStore(file);
  await store.createRun(newRun(runId));
  await store.close();
  return { file, ...(await lockFile(file)) };
}

/** Resolves once `child` printed `line` (all it printed so far). */
function printed(child: ChildProcess, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const seen = (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').includes(line)) {
        child.stdout!.off('data', seen);
        resolve(out);
      }
    };
    child.stdout!.on('data', seen);
    child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it printed ${line}: ${out}`)));
  });
}

describe('several processes starting runs on one file at once', () => {
  it('every run completes once, each step runs once; of calls of one run id in several processes, one runs it and the others are refused (RunBusyError) or read its output', async () => {
    const file = join(dir, 'many.db');
    const log = join(dir, 'many.log');
    const [processes, own, shared] = [3, 40, 8];
    const at = String(Date.now() + 3000);
    const ended = await Promise.all(
      Array.from({ length: processes }, (_, p) =>
        new Promise<Record<string, number>>((resolve, reject) =>
          execFile(process.execPath, [builtModule(manyRuns), file, `p${p}`, String(own), String(shared), log, at], (err, out) => (err ? reject(err) : resolve(JSON.parse(out) as Record<string, number>))),
        ),
      ),
    );
    // no SQLITE_BUSY, no other error: a shared run another process runs is RunBusyError, one it finished is its output
    for (const e of ended) {
      expect(Object.keys(e).filter((how) => how !== 'output 40' && how !== 'RunBusyError FLOXIDE_RUN_BUSY')).toEqual([]);
      expect((e['output 40'] ?? 0) + (e['RunBusyError FLOXIDE_RUN_BUSY'] ?? 0)).toBe(own + shared);
    }
    const attempts = readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string, string]);
    const steps = attempts.map(([, runId, itemId]) => `${runId} ${itemId}`);
    // each run's 5 steps (4 loop steps and the end), each once, whatever process ran it
    expect(new Set(steps).size).toBe(steps.length);
    expect(steps.length).toBe((processes * own + shared) * 5);
    for (let i = 0; i < shared; i++) expect(new Set(attempts.filter(([, runId]) => runId === `shared-${i}`).map(([pid]) => pid)).size).toBe(1);
    const store = new SqliteCheckpointStore(file);
    try {
      const runs = store.db.prepare('SELECT status, count(*) AS n FROM floxide_runs GROUP BY status').all();
      expect(runs).toEqual([{ status: 'completed', n: processes * own + shared }]);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe('a process holding the write lock', () => {
  it('does not stop another process from opening the file and reading it (floxide runs list, show)', async () => {
    const lock = await lockedWithRun('read-while-locked.db', 'r1');
    const file = lock.file;
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
    const lock = await lockedWithRun('ui-while-locked.db', 'w1');
    // (the action may wait 30 s for the lock: this test frees it long before, however loaded the machine)
    const backend = SqliteRunsStore.open(lock.file, { busyTimeoutMs: 30_000 });
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

  it('when a call cannot release its claim (the file locked at its end), its process lets go once it can: the next process resumes the run', async () => {
    const file = join(dir, 'release-while-locked.db');
    new SqliteCheckpointStore(file).close();
    // a long-lived process (a web server) whose run fails at step 1 while another process holds the file's lock
    const server = spawn(process.execPath, [builtModule(releaseChild), file, 'rel-1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const store = new SqliteCheckpointStore(file);
    try {
      await printed(server, 'paused');
      const lock = await lockFile(file);
      server.stdin!.write('go\n');
      // failing the run and releasing the claim both met the lock (busy timeout): the call ended with the StoreError
      await printed(server, 'ended StoreError');
      await lock.free();
      // the server lives on; its claim is released all the same, and another process resumes the run at once
      await until(() => (store.db.prepare('SELECT owner FROM floxide_runs WHERE run_id = ?').get('rel-1') as { owner: string | null }).owner === null, 30_000, 'the claim released');
      expect(await bindWorkflow(LoopWorkflowDef, new LoopWorkflow()).resume(store, 'rel-1')).toBe(30);
    } finally {
      server.stdin!.end();
      server.kill('SIGKILL');
      await store.close();
    }
  }, 90_000);
});

describe('floxide runs cancel from another process, while a process runs the run', () => {
  it('aborts the node running (ctx.signal, reason CancelledError) at the next heartbeat of the claim, not only at its next commit', async () => {
    const file = join(dir, 'cancel-running.db');
    const store = new SqliteCheckpointStore(file);
    const flow = new LoopWorkflow();
    let reason: unknown;
    let waiting = false;
    flow.step.hook = (ctx, i) => {
      if (i !== 1) return;
      waiting = true;
      // a long node (a call to a slow service): it ends only when its signal aborts
      return untilAborted(ctx.signal, (r) => (reason = r));
    };
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const settled = bindWorkflow(LoopWorkflowDef, flow)
        .runWithCheckpoint(new LoopCtx(), { i: 0, limit: 5 }, store, 'c1')
        .then(() => 'completed', (err: unknown) => err);
      await until(() => waiting, 30_000, 'the node running');
      expect(await floxideProcess('runs', 'cancel', 'c1', '--store', `sqlite:${file}`, '--reason', 'operator stop')).toEqual({ code: 0, out: 'run c1: cancelled (1 outstanding item(s) dropped)\n' });
      // the claim's next heartbeat reads the run cancelled
      vi.advanceTimersByTime(OWNER_HEARTBEAT_MS);
      const err = await settled;
      expect(err).toEqual(new CancelledError('run c1 was cancelled: operator stop'));
      expect(reason).toBe(err);
      expect(await store.getRun('c1')).toMatchObject({ status: 'cancelled', steps: 1, error: { name: 'CancelledError', message: 'operator stop' } });
      expect((store.db.prepare('SELECT owner FROM floxide_runs WHERE run_id = ?').get('c1') as { owner: string | null }).owner).toBeNull();
    } finally {
      vi.useRealTimers();
      await store.close();
    }
  }, 60_000);
});

describe('a run whose process was killed mid-run (orphaned)', () => {
  const ownerChild = fileURLToPath(new URL('./owner-child.ts', import.meta.url));
  type Listed = { runId: string; status: string; orphaned?: boolean; owner?: { pid: number; host: string; lastSeen: number; liveness: string } };

  it('shows as running (orphaned) in runs list, runs show and the dashboard, with its owner; while the process lives, as running with its owner alive', async () => {
    const file = join(dir, 'orphan.db');
    const store = new SqliteCheckpointStore(file);
    const run = spawn(process.execPath, [builtModule(ownerChild), 'run', file, 'orph-1', join(dir, 'orphan.log')], { stdio: 'ignore' });
    const backend = SqliteRunsStore.open(file);
    const server = await startUiServer({ backend });
    const url = `sqlite:${file}`;
    try {
      // the run waits for its signal in the child, which heartbeats its claim
      await until(async () => (await store.load('orph-1'))?.items.some((it) => it.wait !== undefined) ?? false, 60_000, 'the run waiting');
      const live = JSON.parse((await cliCaptured(['runs', 'list', '--store', url, '--json'])).out) as Listed[];
      expect(live).toMatchObject([{ runId: 'orph-1', status: 'running', orphaned: false, owner: { pid: run.pid, liveness: 'alive' } }]);
      expect((await cliCaptured(['runs', 'list', '--store', url])).out).not.toContain('orphaned');

      run.kill('SIGKILL');
      await new Promise((r) => run.once('exit', r));
      // the same rule as a takeover: its pid is dead on this machine, so it is orphaned at once
      const [listed] = JSON.parse((await cliCaptured(['runs', 'list', '--store', url, '--json'])).out) as Listed[];
      expect(listed).toMatchObject({ runId: 'orph-1', status: 'running', orphaned: true, owner: { pid: run.pid, liveness: 'dead' } });
      const seen = time(listed!.owner!.lastSeen);
      const table = (await cliCaptured(['runs', 'list', '--store', url])).out;
      expect(table).toMatch(/orph-1 .* running \(orphaned\) .* no process holds it since .*; resume\(store, runId\) continues it/);
      const shown = await cliCaptured(['runs', 'show', 'orph-1', '--store', url]);
      expect(shown.out).toContain(`status    running (orphaned: no process holds it since ${seen}; resume(store, runId) continues it)\n`);
      expect(shown.out).toMatch(new RegExp(`\\nowner     process ${run.pid} on .+ \\(dead\\), last heartbeat \\d+ s ago\\n`));
      expect((JSON.parse((await cliCaptured(['runs', 'show', 'orph-1', '--store', url, '--json'])).out) as { run: Listed }).run).toMatchObject({ status: 'running', orphaned: true, owner: { pid: run.pid, liveness: 'dead' } });
      // the dashboard: the list's row and the run page
      const page = (await (await fetch(`${server.url}api/runs`)).json()) as { runs: Array<Listed & { orphan?: string }> };
      expect(page.runs).toMatchObject([{ runId: 'orph-1', status: 'running', orphaned: true, orphan: expect.stringMatching(/^orphaned: no process holds it since /), owner: { pid: run.pid, liveness: 'dead' } }]);
      const view = (await (await fetch(`${server.url}api/runs/orph-1`)).json()) as { run: Listed; orphan?: string; owner?: string };
      expect(view.run).toMatchObject({ orphaned: true, owner: { pid: run.pid, liveness: 'dead' } });
      expect(view.orphan).toMatch(/^orphaned: no process holds it since .*; resume\(store, runId\) continues it$/);
      expect(view.owner).toMatch(new RegExp(`^process ${run.pid} on .+ \\(dead\\), last heartbeat \\d+ s ago$`));
      // a finished run has no owner to show
      const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
      const resumed = wf.resume(store, 'orph-1', { signalPollMs: 20 });
      await wf.signal(store, 'orph-1', 'approval', { approved: true, by: 'ana' });
      await resumed;
      const [done] = JSON.parse((await cliCaptured(['runs', 'list', '--store', url, '--json'])).out) as Listed[];
      expect(done).toMatchObject({ status: 'completed' });
      expect(done).not.toHaveProperty('orphaned');
      expect(done).not.toHaveProperty('owner');
    } finally {
      run.kill('SIGKILL');
      await server.close();
      await backend.close();
      await store.close();
    }
  }, 120_000);
});

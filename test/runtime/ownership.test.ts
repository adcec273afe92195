/**
 * One call at a time runs a checkpointed run (runtime/stores/ownership.ts), across real processes on one SQLite file:
 * a second process is refused with RunBusyError while the first lives (no node runs twice, the run is not failed by
 * the loser), and takes the run over at once when the first was killed.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { bindWorkflow, RunBusyError } from 'floxide';
import { assertClaimable, endClaim, newOwner, OWNER_HEARTBEAT_MS, OWNER_SILENT_MS, OWNER_STALE_MS } from '../../runtime/stores/ownership.js';
import { LoopCtx, LoopWorkflow } from './flows/loop.js';
import { untilAborted } from './long-node.js';
import { LoopWorkflowDef } from './flows/loop.floxide.js';
import { SteadyApprovalFlow } from '../fixtures/signals/flows.js';
import { SteadyApprovalFlowDef } from '../fixtures/signals/flows.floxide.js';
import { builtModule } from '../built-module.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-owner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const child = fileURLToPath(new URL('./owner-child.ts', import.meta.url));

function runChild(mode: 'run' | 'resume', file: string, runId: string, log: string): Promise<{ output?: string; error?: string; message?: string }> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [builtModule(child), mode, file, runId, log], (err, out) => (err && !out ? reject(err) : resolve(JSON.parse(out) as { output?: string }))),
  );
}

async function until(what: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a checkpointed run is run by one process at a time', () => {
  it('a second process is refused while the first runs it; once the first is killed, a resume takes it over at once', async () => {
    const file = join(dir, 'runs.db');
    const log = join(dir, 'events.log');
    const store = new SqliteCheckpointStore(file);
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    const first = spawn(process.execPath, [builtModule(child), 'run', file, 'o1', log], { stdio: 'ignore' });
    try {
      await until(async () => (await store.load('o1'))?.items.some((it) => it.wait !== undefined) ?? false);
      // the first waits for its signal: a second process (resume, or runWithCheckpoint of the same run) is refused
      for (const mode of ['resume', 'run'] as const) {
        const second = await runChild(mode, file, 'o1', log);
        expect(second.error).toBe('RunBusyError');
        expect(second.message).toMatch(new RegExp(`^run o1 is being run by process ${first.pid} on .+: a second run of it would run its nodes again`));
      }
      // in this process too
      await expect(wf.resume(store, 'o1')).rejects.toBeInstanceOf(RunBusyError);
      expect((await store.getRun('o1'))?.status).toBe('running');
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      // the owner is dead: taken over at once, and the run continues where it was (ask ran once)
      const resumed = runChild('resume', file, 'o1', log);
      await wf.signal(store, 'o1', 'approval', { approved: true, by: 'ana' });
      expect(await resumed).toEqual({ output: 'approved by ana' });
      const started = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('step.started ask'));
      expect(started).toHaveLength(1);
      expect((await store.getRun('o1'))?.status).toBe('completed');
    } finally {
      first.kill('SIGKILL');
      await store.close();
    }
  }, 120_000);
});

describe('a call that lost its run to another process (it looked dead: a stalled event loop or host) writes nothing more', () => {
  // what another machine's process writes when it takes the run over (the store's claim, as it would store it)
  const other = { id: 'elsewhere', host: 'other-host', pid: 1, machine: 'other-host/boot/ns' };
  const takeOver = (file: string, runId: string) => {
    const db = new Database(file);
    db.prepare('UPDATE floxide_runs SET owner = ?, owner_seen = ? WHERE run_id = ?').run(JSON.stringify(other), Date.now(), runId);
    db.close();
  };
  const ownerOfRun = (file: string, runId: string) => {
    const db = new Database(file, { readonly: true });
    const row = db.prepare('SELECT owner FROM floxide_runs WHERE run_id = ?').get(runId) as { owner: string | null };
    db.close();
    return row.owner;
  };
  const lostMessage = (runId: string) => new RegExp(`^run ${runId} is no longer this call's: process 1 on other-host took it over .*This call stops and commits nothing more`);

  it('its commit is refused with RunBusyError: the step is not recorded, the run is not failed, the new owner keeps it', async () => {
    const file = join(dir, 'taken.db');
    const store = new SqliteCheckpointStore(file);
    const flow = new LoopWorkflow();
    const wf = bindWorkflow(LoopWorkflowDef, flow);
    const events: string[] = [];
    flow.step.hook = (_ctx, i) => {
      if (i === 1) takeOver(file, 'taken');
    };
    try {
      const call = wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 5 }, store, 'taken', { onEvent: (e) => events.push(e.type) });
      await expect(call).rejects.toBeInstanceOf(RunBusyError);
      await expect(call).rejects.toThrow(lostMessage('taken'));
      expect(await store.getRun('taken')).toMatchObject({ status: 'running', steps: 1 });
      expect(events).not.toContain('run.failed');
      // its end let go of nothing: the run is the other owner's
      expect(ownerOfRun(file, 'taken')).toBe(JSON.stringify(other));
      // once that owner is silent for good, a resume takes the run over and completes it from its last commit
      flow.step.hook = undefined;
      const db = new Database(file);
      db.prepare('UPDATE floxide_runs SET owner_seen = ? WHERE run_id = ?').run(Date.now() - OWNER_STALE_MS - 1_000, 'taken');
      db.close();
      expect(await wf.resume(store, 'taken')).toBe(50);
      expect(ownerOfRun(file, 'taken')).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('its heartbeat, refused, aborts the node running (ctx.signal, reason RunBusyError) and ends the call', async () => {
    const file = join(dir, 'beat.db');
    const store = new SqliteCheckpointStore(file);
    const flow = new LoopWorkflow();
    const wf = bindWorkflow(LoopWorkflowDef, flow);
    let reason: unknown;
    let waiting = false;
    flow.step.hook = (ctx, i) => {
      if (i !== 1) return;
      takeOver(file, 'beat');
      waiting = true;
      // a long node: it ends only when its signal aborts
      return untilAborted(ctx.signal, (r) => (reason = r));
    };
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const call = wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 5 }, store, 'beat');
      const settled = call.then(
        () => 'completed',
        (err: unknown) => err,
      );
      await until(() => waiting);
      // the next heartbeat finds the run another's
      vi.advanceTimersByTime(OWNER_HEARTBEAT_MS);
      const err = await settled;
      expect(err).toBeInstanceOf(RunBusyError);
      expect((err as Error).message).toMatch(lostMessage('beat'));
      expect(reason).toBe(err);
      expect(await store.getRun('beat')).toMatchObject({ status: 'running', steps: 1 });
      expect(ownerOfRun(file, 'beat')).toBe(JSON.stringify(other));
    } finally {
      vi.useRealTimers();
      await store.close();
    }
  });

  it('one heartbeat refreshes every claim of the process: waiting runs cost one store write per period, whatever their number; a refused claim ends only its call', async () => {
    const file = join(dir, 'many.db');
    const store = new SqliteCheckpointStore(file);
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    // the store calls a heartbeat makes: a refreshing claim(), or a refreshClaims() of many
    const beats: string[] = [];
    const claim = store.claim.bind(store);
    store.claim = (runId, owner, refresh) => (refresh && beats.push(`claim ${runId}`), claim(runId, owner, refresh));
    const refreshClaims = store.refreshClaims?.bind(store);
    if (refreshClaims) store.refreshClaims = (claims) => (beats.push(`refreshClaims ${claims.length}`), refreshClaims(claims));
    const seen = () => new Database(file, { readonly: true }).prepare("SELECT count(*) AS n FROM floxide_runs WHERE owner_seen > 0").get() as { n: number };
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const calls: Promise<unknown>[] = [];
    try {
      for (const n of [1, 40]) {
        // runs waiting for a signal this test never sends (and polling for none from other processes)
        while (calls.length < n) {
          const runId = `many${calls.length}`;
          calls.push(wf.runWithCheckpoint({} as never, runId, store, runId, { signalPollMs: Infinity }).catch((err: unknown) => err));
        }
        await until(async () => (await Promise.all(calls.map((_, i) => store.load(`many${i}`)))).every((cp) => cp?.items.some((it) => it.wait !== undefined)));
        const db = new Database(file);
        db.prepare('UPDATE floxide_runs SET owner_seen = 0').run();
        db.close();
        beats.length = 0;
        vi.advanceTimersByTime(OWNER_HEARTBEAT_MS);
        await until(() => seen().n === n);
        expect(beats).toEqual([`refreshClaims ${n}`]);
      }
      // another process takes one run over: the next beat ends that call alone
      takeOver(file, 'many7');
      vi.advanceTimersByTime(OWNER_HEARTBEAT_MS);
      const err = await calls[7];
      expect(err).toBeInstanceOf(RunBusyError);
      expect((err as Error).message).toMatch(lostMessage('many7'));
      expect(ownerOfRun(file, 'many7')).toBe(JSON.stringify(other));
      await wf.signal(store, 'many3', 'approval', { approved: true, by: 'ana' });
      expect(await calls[3]).toBe('approved by ana');
      // the others still wait, still claimed by this process
      expect((await store.getRun('many8'))?.status).toBe('running');
      expect(JSON.parse(ownerOfRun(file, 'many8')!).pid).toBe(process.pid);
    } finally {
      for (let i = 0; i < calls.length; i++) await store.cancel(`many${i}`).catch(() => undefined);
      vi.advanceTimersByTime(OWNER_HEARTBEAT_MS);
      await Promise.all(calls);
      vi.useRealTimers();
      await store.close();
    }
  }, 60_000);
});

describe('whose claim lives (assertClaimable)', () => {
  const mine = newOwner();
  const now = Date.now();
  it('an owner of another machine (host, boot or PID namespace: a container of its own) by its heartbeat only, whatever its pid', () => {
    // pid 1 exists here too, and would be judged alive on the same machine
    const container = { id: 'other', host: mine.host, pid: 1, machine: `${mine.host}/same-boot/pid:[1]` };
    expect(() => assertClaimable('r', container, now - 1_000, mine, now)).toThrow(RunBusyError);
    expect(() => assertClaimable('r', container, now - OWNER_STALE_MS - 1, mine, now)).not.toThrow();
  });
  it('an owner of this machine by its process: alive while it exists and beats, dead once gone, or silent for long (its pid reused)', () => {
    const parent = { id: 'parent', host: mine.host, pid: process.ppid, machine: mine.machine };
    expect(() => assertClaimable('r', parent, now - 60_000, mine, now)).toThrow(/^run r is being run by process \d+ on /);
    expect(() => assertClaimable('r', parent, now - OWNER_SILENT_MS - 1, mine, now)).not.toThrow();
    const gone = { ...parent, pid: 2 ** 22 + 12_345 };
    expect(() => assertClaimable('r', gone, now, mine, now)).not.toThrow();
  });
  it('a zombie (killed, not reaped by its parent) of this machine is dead', async () => {
    // `sleep 30` execs over the shell that started a short sleep in the background: nobody reaps that one when it ends
    const holder = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => holder.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      await until(() => readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '));
      const zombie = { id: 'zombie', host: mine.host, pid, machine: mine.machine };
      expect(() => assertClaimable('r', zombie, now, mine, now)).not.toThrow();
      // while it ran, it lived
      const living = { ...zombie, pid: holder.pid! };
      expect(() => assertClaimable('r', living, now, mine, now)).toThrow(RunBusyError);
    } finally {
      holder.kill('SIGKILL');
    }
  });
  it('a call of this process while it runs, not after', () => {
    const other = newOwner();
    expect(() => assertClaimable('r', other, now, mine, now)).toThrow(/another call in this process/);
    endClaim(other);
    expect(() => assertClaimable('r', other, now, mine, now)).not.toThrow();
    endClaim(mine);
  });
});


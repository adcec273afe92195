// Waits and sleeps survive a real process death (issue 11, SQLite): a child process (the built package, no tsx:
// test/built-module.ts) runs a checkpointed run until its wait or sleep is committed and is SIGKILLed; this process
// then signals and resumes the stored run. The sleep fires exactly once, and only for the time that was left.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { NestedNapFlow, SleepFlow, SteadyApprovalFlow, SteadyReviewFlow } from '../fixtures/signals/flows.js';
import { NestedNapFlowDef, SleepFlowDef, SteadyApprovalFlowDef, SteadyReviewFlowDef } from '../fixtures/signals/flows.floxide.js';
import { builtModule } from '../built-module.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../fixtures/signals/child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'floxide-signals-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the child until it prints `parked`, then SIGKILLs it. Resolves with what it printed. */
function runUntilParked(file: string, runId: string, flow: 'approval' | 'sleep' | 'review' | 'nap'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [builtModule(CHILD), file, runId, flow], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (err += d));
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('parked\n') && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => (signal === 'SIGKILL' ? resolve(out) : reject(new Error(`child ended without being killed: ${out}${err}`))));
  });
}

describe('SIGKILL while parked, then resume (SQLite)', () => {
  it('an approval wait survives the death of its process; the signal sent afterwards completes the run', async () => {
    const file = join(dir, 'approval.db');
    await runUntilParked(file, 'a-1', 'approval');
    const store = new SqliteCheckpointStore(file);
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    expect((await store.load('a-1'))?.items.map((it) => it.wait?.name)).toEqual(['approval']);
    expect(await wf.signal(store, 'a-1', 'approval', { approved: true, by: 'after the crash' }, { key: 'k' })).toBe('delivered');
    await expect(wf.resume(store, 'a-1')).resolves.toBe('approved by after the crash');
    await store.close();
  }, 120_000);

  it('a 2 s sleep survives SIGKILL mid-sleep, fires exactly once, and the resumed run waits only the remainder', async () => {
    const file = join(dir, 'sleep.db');
    const out = await runUntilParked(file, 's-1', 'sleep');
    expect(out).not.toContain('woke');
    const store = new SqliteCheckpointStore(file);
    const parked = (await store.load('s-1'))!.items;
    expect(parked).toHaveLength(1);
    const due = parked[0].notBefore!;
    const steps: string[] = [];
    const output = await bindWorkflow(SleepFlowDef, new SleepFlow()).resume(store, 's-1', {
      onEvent: (e) => {
        if (e.type === 'step.finished') steps.push(e.node);
      },
    });
    expect(output).toBe('woke after 2000 ms');
    expect(Date.now()).toBeGreaterThanOrEqual(due); // it did not wake early
    // The resumed run woke the sleep once and ran the next node once.
    expect(steps).toEqual(['nap', 'woke']);
    expect((await store.load('s-1'))!.run.steps).toBe(3);
    await store.close();
  }, 120_000);

  it('a wait inside a nested workflow survives the death of its process: its outer item keeps the nested run', async () => {
    const file = join(dir, 'review.db');
    await runUntilParked(file, 'r-1', 'review');
    const store = new SqliteCheckpointStore(file);
    const wf = bindWorkflow(SteadyReviewFlowDef, new SteadyReviewFlow());
    expect((await store.load('r-1'))?.items.map((it) => it.wait?.name)).toEqual(['review.approval']);
    expect(await wf.signal(store, 'r-1', 'review.approval', { approved: true, by: 'after the crash' }, { key: 'k' })).toBe('delivered');
    await expect(wf.resume(store, 'r-1')).resolves.toBe('report: approved by after the crash');
    await store.close();
  }, 120_000);

  it('a 2 s sleep inside a nested workflow survives SIGKILL mid-sleep and fires once, after the remainder', async () => {
    const file = join(dir, 'nap.db');
    const out = await runUntilParked(file, 'n-1', 'nap');
    expect(out).not.toContain('woke');
    const store = new SqliteCheckpointStore(file);
    const parked = (await store.load('n-1'))!.items;
    expect(parked.map((it) => it.node)).toEqual(['nap']);
    const due = parked[0].notBefore!;
    const steps: string[] = [];
    const output = await bindWorkflow(NestedNapFlowDef, new NestedNapFlow()).resume(store, 'n-1', {
      onEvent: (e) => {
        if (e.type === 'step.finished') steps.push(e.node);
      },
    });
    expect(output).toBe('report: woke after 2000 ms');
    expect(Date.now()).toBeGreaterThanOrEqual(due);
    expect(steps).toEqual(['nap', 'report']);
    await store.close();
  }, 120_000);
});

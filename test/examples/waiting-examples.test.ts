// The examples that wait for a person and for time (issue 11), run as users run them, on virtual time
// (floxide/testing's VirtualClock): the 24 h approval timeout and a reminder weeks away take milliseconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, MemoryBackend, Orchestrator, Worker } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { VirtualClock } from 'floxide/testing';
import { dyingStore } from '../runtime/dying-store.js';
import { APPROVAL_TIMEOUT_MS, ApprovalWorkflow } from '../../examples/approval.js';
import { ApprovalWorkflowDef } from '../../examples/approval.floxide.js';
import { ReminderWorkflow } from '../../examples/reminder.js';
import { ReminderWorkflowDef } from '../../examples/reminder.floxide.js';
import { settle, track } from '../runtime/virtual-clock.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-waiting-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const expense = { id: 'exp-7', amount: 420 };

describe('examples/approval.ts: wait for a human, 24 h, then escalate', () => {
  it('an approver\'s signal continues the run with the decision', async () => {
    const clock = new VirtualClock();
    const run = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow()).start(undefined, expense, { clock });
    await clock.advance(APPROVAL_TIMEOUT_MS - 1);
    expect(run.signal('approval', { approved: true, by: 'ana' })).toBe('delivered');
    await expect(run.result).resolves.toBe('approved by ana');
  });

  it('a payload that is not a Decision is refused and the run keeps waiting', async () => {
    const clock = new VirtualClock();
    const run = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow()).start(undefined, expense, { clock });
    // @ts-expect-error: the payload of "approval" is a Decision (ApprovalWorkflowSignals)
    expect(() => run.signal('approval', { approved: 'yes' })).toThrow(InvalidSignalError);
    run.signal('approval', { approved: false, by: 'bo' });
    await expect(run.result).resolves.toBe('rejected by bo');
  });

  it('without a decision for 24 h the wait times out and the fallback escalates', async () => {
    const clock = new VirtualClock();
    const started = clock.now();
    const result = track(bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow()).start(undefined, expense, { clock }).result);
    await clock.advance(APPROVAL_TIMEOUT_MS - 1);
    expect(result.done()).toBe(false);
    await clock.advance(1);
    await expect(result.p).resolves.toBe('exp-7 (420): escalated to a manager after SignalTimeoutError');
    expect(clock.now() - started).toBe(APPROVAL_TIMEOUT_MS);
  });

  it('checkpointed on SQLite: the decision sent through the store reaches the waiting run', async () => {
    const store = new SqliteCheckpointStore(join(dir, 'approval.db'));
    const wf = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());
    const clock = new VirtualClock();
    const result = track(wf.runWithCheckpoint(undefined, expense, store, 'exp-7', { clock }));
    await settle();
    expect(await wf.signal(store, 'exp-7', 'approval', { approved: true, by: 'cy' }, { key: 'mail-1' })).toBe('delivered');
    await expect(result.p).resolves.toBe('approved by cy');
    await store.close();
  });

  it('distributed (memory backend): the orchestrator signals a run parked by a worker', async () => {
    const backend = new MemoryBackend();
    const wf = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());
    const orch = new Orchestrator(backend, wf);
    const worker = new Worker(backend, wf.def, wf.instance, { workerId: 'w1', idleMinMs: 1, idleMaxMs: 20 });
    void worker.start();
    try {
      const runId = await orch.startRun(undefined, expense);
      await orch.signal(runId, 'approval', { approved: true, by: 'dee' });
      expect((await orch.waitForCompletion(runId, { timeoutMs: 30_000 })).output).toBe('approved by dee');
    } finally {
      await worker.stop(0);
    }
  });
});

describe('examples/reminder.ts: sleep until the time, then send', () => {
  const at = Date.UTC(2026, 5, 1);
  const reminder = { to: 'ana', text: 'renew the passport', at };

  it('sends nothing before the time and the reminder at it', async () => {
    const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
    const flow = new ReminderWorkflow();
    const result = track(bindWorkflow(ReminderWorkflowDef, flow).run(undefined, reminder, { clock }));
    await clock.advance(at - clock.now() - 1);
    expect(result.done()).toBe(false);
    expect(flow.send.sent).toEqual([]);
    await clock.advance(1);
    await expect(result.p).resolves.toBe('to ana: renew the passport');
    expect(flow.send.sent).toEqual(['to ana: renew the passport']);
  });

  it('checkpointed on SQLite: another process resuming the run sleeps only until the same time, and it sends once', async () => {
    const store = new SqliteCheckpointStore(join(dir, 'reminder.db'));
    const clock = new VirtualClock({ start: Date.UTC(2026, 0, 1) });
    const first = new ReminderWorkflow();
    const dying = dyingStore(store);
    const ac = new AbortController();
    const abandoned = track(bindWorkflow(ReminderWorkflowDef, first).runWithCheckpoint(undefined, reminder, dying.store, 'r-1', { clock, signal: ac.signal }));
    await clock.advance(24 * 60 * 60 * 1000);
    expect(abandoned.done()).toBe(false);
    // The first process dies (it writes nothing more, as after a crash); another resumes the stored run.
    dying.die();
    ac.abort();
    await expect(abandoned.p).rejects.toThrow();
    const clock2 = new VirtualClock({ start: clock.now() });
    const second = new ReminderWorkflow();
    const resumed = track(bindWorkflow(ReminderWorkflowDef, second).resume(store, 'r-1', { clock: clock2 }));
    await clock2.advance(at - clock2.now() - 1);
    expect(resumed.done()).toBe(false);
    await clock2.advance(1);
    await expect(resumed.p).resolves.toBe('to ana: renew the passport');
    expect([...first.send.sent, ...second.send.sent]).toEqual(['to ana: renew the passport']);
    expect((await store.load('r-1'))?.run.status).toBe('completed');
    await store.close();
  });
});

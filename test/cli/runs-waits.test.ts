/**
 * `floxide runs list` and `runs show` say what an open run waits for (issue 11): a signal (and when the wait times
 * out) or the end of a sleep. Real runs parked by a real worker on the in-process memory backend (the one distributed
 * backend that keeps parked items today), read through runCli as the binary does; time is fixed, so the times are exact.
 * `runs signal` refuses a name the run's recorded graph version has no wait for (the versions files under its cwd).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindWorkflow, MemoryBackend, Worker } from 'floxide';
import { VirtualClock } from 'floxide/testing';
import { ApprovalWorkflow } from '../../examples/approval.js';
import { ApprovalWorkflowDef } from '../../examples/approval.floxide.js';
import { ReminderWorkflow } from '../../examples/reminder.js';
import { ReminderWorkflowDef } from '../../examples/reminder.floxide.js';
import { until } from '../distributed/helpers.js';
import { cliCaptured } from './run-cli.js';

const T = Date.UTC(2026, 0, 1);
const backend = new MemoryBackend({ clock: () => T });
const workers: Worker[] = [];

const cli = (...argv: string[]) => cliCaptured(argv, { connect: async () => backend });

const parked = async (runId: string) => (await backend.itemStates(runId)).some((s) => s.status === 'parked');

beforeAll(async () => {
  for (const [def, instance] of [
    [ApprovalWorkflowDef, new ApprovalWorkflow()],
    [ReminderWorkflowDef, new ReminderWorkflow()],
  ] as const) {
    const w = new Worker(backend, def, instance, { clock: new VirtualClock({ start: T }), idleMinMs: 1, idleMaxMs: 20 });
    workers.push(w);
    void w.start();
  }
  await bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow()).startDistributed(undefined, { id: 'exp-7', amount: 420 }, backend, 'approve-1');
  await bindWorkflow(ReminderWorkflowDef, new ReminderWorkflow()).startDistributed(undefined, { to: 'ana', text: 'call', at: T + 3_600_000 }, backend, 'remind-1');
  await until(async () => (await parked('approve-1')) && (await parked('remind-1')), 20_000, 'both runs to park');
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop(0)));
});

describe('floxide runs: waits', () => {
  it('list shows what each open run waits for (table and JSON)', async () => {
    const table = await cli('runs', 'list', '--store', 'memory:');
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/approve-1 .* running .* waiting for approval \(times out 2026-01-02 00:00:00Z\)\n/);
    expect(table.out).toMatch(/remind-1 .* running .* sleeping until 2026-01-01 01:00:00Z\n/);
    const json = JSON.parse((await cli('runs', 'list', '--store', 'memory:', '--json')).out) as Array<{ runId: string; waits?: unknown[] }>;
    expect(json.find((r) => r.runId === 'approve-1')?.waits).toEqual([{ itemId: expect.any(String), node: 'approval', kind: 'signal', signal: 'approval', until: T + 24 * 3_600_000 }]);
    expect(json.find((r) => r.runId === 'remind-1')?.waits).toEqual([{ itemId: expect.any(String), node: 'wait', kind: 'sleep', until: T + 3_600_000 }]);
  });

  it('show lists the run\'s waits; once the signal arrives the run waits no more', async () => {
    const show = await cli('runs', 'show', 'approve-1', '--store', 'memory:');
    expect(show.code).toBe(0);
    expect(show.out).toContain('waiting   approval: waiting for approval (times out 2026-01-02 00:00:00Z)\n');
    expect(show.out).toMatch(/\nwaits \(1\)\nITEM +NODE +WAITING\n\S+ +approval +waiting for approval \(times out 2026-01-02 00:00:00Z\)\n/);
    const sent = await cli('runs', 'signal', 'approve-1', 'approval', '--data', '{"approved":true,"by":"ana"}', '--store', 'memory:', '--json');
    expect([sent.code, JSON.parse(sent.out)]).toEqual([0, { runId: 'approve-1', name: 'approval', delivery: 'delivered', kept: false }]);
    await until(async () => (await backend.getRun('approve-1'))?.status === 'completed', 20_000, 'the run to complete');
    const after = await cli('runs', 'show', 'approve-1', '--store', 'memory:', '--json');
    expect(JSON.parse(after.out)).toMatchObject({ run: { status: 'completed', output: 'approved by ana' }, waits: [] });
    expect((await cli('runs', 'list', '--store', 'memory:')).out).not.toContain('waiting for approval');
  });

  it('show of a finished run calls the signals left in its mailbox what they are: none will be taken', async () => {
    await bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow()).startDistributed(undefined, { id: 'exp-9', amount: 5 }, backend, 'approve-3');
    await until(() => parked('approve-3'), 20_000, 'approve-3 to park');
    await backend.signal('approve-3', 'approval', { approved: true, by: 'ana' }, 'first');
    await backend.signal('approve-3', 'approval', { approved: false, by: 'bo' }, 'second');
    await until(async () => (await backend.getRun('approve-3'))?.status === 'completed', 20_000, 'approve-3 to complete');
    const show = await cli('runs', 'show', 'approve-3', '--store', 'memory:');
    expect(show.out).toMatch(/\nsignals no wait took \(1\): the run ended first\nAT +NAME +KEY +PAYLOAD\n\S+ \S+ +approval +second +\{"approved":false,"by":"bo"\}\n/);
    expect(show.out).not.toContain('signals waiting for a wait');
  });
});

describe('floxide runs signal: a name the run\'s graph has no wait for', () => {
  // approve-2 waits for `approval`; examples/approval.floxide.versions.json (under the repository, the cwd) records its version
  beforeAll(async () => {
    await bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow()).startDistributed(undefined, { id: 'exp-8', amount: 10 }, backend, 'approve-2');
    await until(() => parked('approve-2'), 20_000, 'approve-2 to park');
  });

  it('is refused, naming the signals the versions file records, and nothing is sent', async () => {
    const sent = await cli('runs', 'signal', 'approve-2', 'aproval', '--data', '{"approved":true,"by":"ana"}', '--store', 'memory:');
    expect(sent).toEqual({
      code: 1,
      out: '',
      err: `floxide runs: run approve-2 (ApprovalWorkflow, version ${ApprovalWorkflowDef.fingerprint}) has no WaitFor on signal "aproval": its signals are approval (examples/approval.floxide.versions.json); nothing was sent: check the name\n`,
    });
    expect(await backend.pendingSignals('approve-2')).toEqual([]);
  });

  it('without a versions file of its version under the current folder, is kept, saying what the run waits for and that the name was not checked', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'floxide-signal-cwd-'));
    try {
      const sent = await cliCaptured(['runs', 'signal', 'approve-2', 'aproval', '--data', '{"approved":true,"by":"ana"}', '--store', 'memory:'], { connect: async () => backend, cwd: elsewhere });
      expect(sent.code).toBe(0);
      expect(sent.out).toBe(
        `run approve-2: signal aproval kept in the run's mailbox: no item of the run waits for aproval now (it waits for approval); the next WaitFor on aproval in it takes it; the name was not checked: no *.floxide.versions.json under ${elsewhere} records version ${ApprovalWorkflowDef.fingerprint} of ApprovalWorkflow (run this from the project's folder to have it checked)\n`,
      );
      expect(await backend.pendingSignals('approve-2')).toEqual([expect.objectContaining({ name: 'aproval' })]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('runs watch: the line of each wait, signal and timer event says what happened', () => {
  it('names the node, item, signal and times', async () => {
    const { eventLine, time } = await import('../../cli/commands/runs.js');
    const base = { at: T, runId: 'r1' };
    const lines = [
      eventLine({ ...base, type: 'wait.started', node: 'approve', itemId: 'i1', signal: 'approval', timeoutAt: T + 86_400_000 }),
      eventLine({ ...base, type: 'wait.started', node: 'approve', itemId: 'i1', signal: 'approval' }),
      eventLine({ ...base, type: 'wait.timedOut', node: 'approve', itemId: 'i1', signal: 'approval' }),
      eventLine({ ...base, type: 'signal.received', name: 'approval', itemId: 'i1', key: 'k-1' }),
      eventLine({ ...base, type: 'signal.received', name: 'approval' }),
      eventLine({ ...base, type: 'timer.started', node: 'nap', itemId: 'i2', until: T + 60_000 }),
      eventLine({ ...base, type: 'timer.fired', node: 'nap', itemId: 'i2' }),
      eventLine({ ...base, type: 'run.paused' }),
    ];
    const at = time(T);
    expect(lines).toEqual([
      `${at}  r1  wait.started   approve item i1 waits for signal approval until ${time(T + 86_400_000)}`,
      `${at}  r1  wait.started   approve item i1 waits for signal approval (no timeout)`,
      `${at}  r1  wait.timedOut  approve item i1: no signal approval before its timeout`,
      `${at}  r1  signal.received  approval to item i1 (key k-1)`,
      `${at}  r1  signal.received  approval kept in the mailbox`,
      `${at}  r1  timer.started  nap item i2 sleeps until ${time(T + 60_000)}`,
      `${at}  r1  timer.fired    nap item i2 wakes`,
      `${at}  r1  run.paused`,
    ]);
  });
});

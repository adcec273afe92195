/**
 * `floxide runs signal` sends payloads without the workflow's code, so it cannot run a `WaitFor`'s check; the wait
 * runs it when it takes the signal (issue 11). A payload that fails is never lost silently: the wait fails with
 * `InvalidSignalError` (its @retry waits again, its fallback takes the item, or the run fails naming it), on Redis and
 * Postgres through the CLI's own store URL, and on a SQLite checkpoint file. The typed senders refuse it up front.
 * A failure a fallback takes is in the run's errors (`runs show`, kind `fallback`): the wait's node, its item and the
 * check's message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, Orchestrator, type DistributedBackend } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { ApprovalWorkflow } from '../../examples/approval.js';
import { ApprovalWorkflowDef } from '../../examples/approval.floxide.js';
import { SteadyApprovalFlow, VoteFlow } from '../fixtures/signals/flows.js';
import { SteadyApprovalFlowDef, VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { until } from '../distributed/helpers.js';
import { signalBackends, signalHarness, SIGNAL_WAIT_MS } from '../distributed/signal-harness.js';
import { cliCaptured } from './run-cli.js';

// waits with timeouts no test reaches (24 h, 1 h): a wait here fails only by its payload
const approval = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());
const patient = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
const votes = bindWorkflow(VoteFlowDef, new VoteFlow());

const dir = mkdtempSync(join(tmpdir(), 'floxide-signal-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...argv: string[]) => cliCaptured(argv);

/** `runs show` lists the wait's failure that its fallback took: as data (--json) and in its errors table. */
async function expectFallbackError(runId: string, url: string, itemId: string): Promise<void> {
  const shown = await cli('runs', 'show', runId, '--store', url, '--json');
  expect(shown.code).toBe(0);
  const { errors, history } = JSON.parse(shown.out) as { errors: any[]; history: any[] };
  expect(errors).toEqual([
    expect.objectContaining({ itemId, node: 'approval', attempt: 1, kind: 'fallback', error: expect.objectContaining({ name: 'InvalidSignalError', message: expect.stringMatching(/payload of signal "approval" fails its check \(isDecision\)/) }) }),
  ]);
  expect(history.find((h) => h.itemId === itemId)).toMatchObject({ node: 'approval', outcome: 'continue', error: { name: 'InvalidSignalError' } });
  const text = await cli('runs', 'show', runId, '--store', url);
  expect(text.out).toMatch(new RegExp(`errors \\(1\\)\\n[^\\n]*\\n[^\\n]*${itemId} +approval +1 +fallback +InvalidSignalError: the payload of signal "approval" fails its check`));
  expect(text.out).toMatch(new RegExp(`step history \\(\\d+\\)\\n(?:[^\\n]*\\n)*[^\\n]* approval +${itemId} +1 +[^ ]+ +fallback: InvalidSignalError: the payload`));
}

describe.each(signalBackends('sigchk', 'real'))('floxide runs signal on %s: the wait checks the payload', (_name, openBackend) => {
  const h = signalHarness(openBackend);

  async function open(wf: { def: any; instance: object }): Promise<{ b: DistributedBackend; url: string }> {
    const o = await h.open();
    h.worker(o.backend, wf);
    return { b: o.backend, url: o.storeUrl! };
  }

  const parked = async (b: DistributedBackend, runId: string) => (await h.parkedCount(b, runId)) > 0;

  it('a payload failing the guard fails the wait with InvalidSignalError: its fallback takes the item, visibly', async () => {
    const { b, url } = await open(approval);
    const orch = new Orchestrator(b, approval);
    // the typed sender refuses it, and nothing changes
    const typed = await orch.startRun(undefined, { id: 'typed', amount: 1 });
    // @ts-expect-error: the payload of "approval" is a Decision
    await expect(orch.signal(typed, 'approval', { approved: 'yes' })).rejects.toBeInstanceOf(InvalidSignalError);
    expect(await orch.pendingSignals(typed)).toEqual([]);

    const runId = await orch.startRun(undefined, { id: 'exp-1', amount: 5 });
    await until(() => parked(b, runId), SIGNAL_WAIT_MS, 'the wait to park');
    const waitItem = (await b.itemStates(runId)).find((s) => s.status === 'parked')!.itemId;
    const sent = await cli('runs', 'signal', runId, 'approval', '--data', '{"approved":"yes"}', '--store', url);
    expect(sent).toMatchObject({ code: 0, out: `run ${runId}: signal approval delivered to the wait for it\n` });
    // the fallback's ctx.failure names the error (a failure a fallback takes is not a run error)
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('exp-1 (5): escalated to a manager after InvalidSignalError');
    await expectFallbackError(runId, url, waitItem);
  });

  it('with @retry the wait waits again: the next, valid signal is delivered', async () => {
    const { b, url } = await open(patient);
    const orch = new Orchestrator(b, patient);
    const runId = await orch.startRun(undefined, 'o');
    await until(() => parked(b, runId), SIGNAL_WAIT_MS, 'the wait to park');
    expect((await cli('runs', 'signal', runId, 'approval', '--data', '{"by":"nobody"}', '--store', url)).code).toBe(0);
    await until(async () => (await b.itemStates(runId)).filter((s) => s.status === 'parked').length === 1 && (await b.itemStates(runId)).length >= 4, SIGNAL_WAIT_MS, 'the retried wait to park');
    expect((await cli('runs', 'signal', runId, 'approval', '--data', '{"approved":true,"by":"ana"}', '--store', url)).code).toBe(0);
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by ana');
  });

  it('without retry or fallback the run fails with a NodeFailedError caused by InvalidSignalError', async () => {
    const { b, url } = await open(votes);
    const orch = new Orchestrator(b, votes);
    const runId = await orch.startRun(undefined, 1);
    await until(async () => (await b.itemStates(runId)).filter((s) => s.status === 'parked').length === 2, SIGNAL_WAIT_MS, 'both waits to park');
    expect((await cli('runs', 'signal', runId, 'vote', '--data', '42', '--store', url)).code).toBe(0);
    await until(async () => (await b.getRun(runId))!.status !== 'running', SIGNAL_WAIT_MS, 'the run to end');
    const rec = (await b.getRun(runId))!;
    expect(rec.status).toBe('failed');
    expect(rec.error?.message).toMatch(/signal "vote" fails its check/);
  });
});

describe('floxide runs signal on a SQLite checkpoint file: the wait checks the payload', () => {
  it('a payload failing the guard fails the wait; its fallback takes the item', async () => {
    const file = join(dir, 'approval.db');
    const store = new SqliteCheckpointStore(file);
    const run = approval.runWithCheckpoint(undefined, { id: 'exp-2', amount: 7 }, store, 's-1', { signalPollMs: 20 });
    await until(async () => (await store.load('s-1'))?.items.some((it) => it.wait !== undefined) ?? false, SIGNAL_WAIT_MS, 'the wait to park');
    const waitItem = (await store.load('s-1'))!.items.find((it) => it.wait !== undefined)!.id;
    const sent = await cli('runs', 'signal', 's-1', 'approval', '--data', '{"approved":1}', '--store', `sqlite:${file}`);
    expect(sent.code).toBe(0);
    await expect(run).resolves.toBe('exp-2 (7): escalated to a manager after InvalidSignalError');
    await expectFallbackError('s-1', `sqlite:${file}`, waitItem);
    await store.close();
  });

  it('a payload no store keeps (nesting deeper than 200 levels) is bad input: exit 2, nothing kept', async () => {
    const file = join(dir, 'deep.db');
    const store = new SqliteCheckpointStore(file);
    await store.createRun({ runId: 'deep-1', workflow: approval.def.name, fingerprint: approval.def.fingerprint, input: { id: 'exp-3', amount: 1 }, context: null, deadline: undefined, start: { node: 'submit', id: '0', input: { id: 'exp-3', amount: 1 } } });
    const sent = await cli('runs', 'signal', 'deep-1', 'approval', '--data', `${'['.repeat(300)}${']'.repeat(300)}`, '--store', `sqlite:${file}`);
    expect([sent.code, sent.out]).toEqual([2, '']);
    expect(sent.err).toMatch(/^floxide runs: the payload of signal "approval" is not JSON data: value nests too deeply to store \(at \$\[0\]/);
    expect(await store.pendingSignals('deep-1')).toEqual([]);
    await store.close();
  });

  it('a second signal for one wait, sent before its process read the first, says it is kept in the mailbox, not delivered', async () => {
    const file = join(dir, 'twice.db');
    const store = new SqliteCheckpointStore(file);
    const stop = new AbortController();
    // (the process reads its mailbox once a minute: both signals arrive before it reads the first)
    const run = approval.runWithCheckpoint(undefined, { id: 'exp-3', amount: 9 }, store, 's-2', { signalPollMs: 60_000, signal: stop.signal });
    await until(async () => (await store.load('s-2'))?.items.some((it) => it.wait !== undefined) ?? false, SIGNAL_WAIT_MS, 'the wait to park');
    const url = `sqlite:${file}`;
    const first = await cli('runs', 'signal', 's-2', 'approval', '--data', '{"approved":true,"by":"ana"}', '--store', url);
    expect([first.code, first.out]).toEqual([0, 'run s-2: signal approval delivered to the wait for it\n']);
    const second = await cli('runs', 'signal', 's-2', 'approval', '--data', '{"approved":false,"by":"bob"}', '--store', url);
    expect([second.code, second.out]).toEqual([0, "run s-2: signal approval kept in the run's mailbox: no item of the run waits for approval now without a signal to take (it waits for approval, which takes the one sent before); the next WaitFor on approval in it takes it\n"]);
    expect(JSON.parse((await cli('runs', 'signal', 's-2', 'approval', '--data', '{"approved":false,"by":"eve"}', '--store', url, '--json')).out)).toMatchObject({ kept: true });
    stop.abort();
    await run.catch(() => undefined);
    await store.close();
  });
});

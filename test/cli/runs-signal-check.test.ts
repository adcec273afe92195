/**
 * `floxide runs signal` sends payloads without the workflow's code, so it cannot run a `WaitFor`'s check; the wait
 * runs it when it takes the signal (issue 11). A payload that fails is refused there and changes nothing about the
 * run's course: the signal is consumed, the wait goes on waiting at the same attempt and with the same timeout
 * deadline (no retry, no fallback, no failed run), and the next valid signal continues it; on Redis and Postgres
 * through the CLI's own store URL, and on a SQLite checkpoint file. The refusal is never silent: `runs show` lists it
 * in the run's errors (kind `signal`: the wait's node, its item and the check's message) and its step history
 * (`refused`). The typed senders refuse such a payload up front.
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

// waits with timeouts no test reaches (24 h, 1 h): a wait here could fail only by its payload
const approval = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());
const patient = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
const votes = bindWorkflow(VoteFlowDef, new VoteFlow());

const dir = mkdtempSync(join(tmpdir(), 'floxide-signal-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...argv: string[]) => cliCaptured(argv);

const REFUSAL = /^node "approval" refused signal "approval" \(item [^)]+\) and waits on for it: the payload of signal "approval" fails its check \(isDecision\)/;

/** `runs show` lists the signal the wait (item `itemId`) refused: as data (--json) and in its errors and history tables. */
async function expectRefused(runId: string, url: string, itemId: string): Promise<void> {
  const shown = await cli('runs', 'show', runId, '--store', url, '--json');
  expect(shown.code).toBe(0);
  const { errors, history } = JSON.parse(shown.out) as { errors: any[]; history: any[] };
  expect(errors).toEqual([expect.objectContaining({ itemId, node: 'approval', attempt: 1, kind: 'signal', error: expect.objectContaining({ name: 'SignalRefusedError', message: expect.stringMatching(REFUSAL) }) })]);
  expect(history.find((h) => h.itemId === itemId)).toMatchObject({ node: 'approval', attempt: 1, outcome: 'continue', error: { name: 'SignalRefusedError' } });
  const text = await cli('runs', 'show', runId, '--store', url);
  expect(text.out).toMatch(new RegExp(`errors \\(1\\)\\n[^\\n]*\\n[^\\n]*${itemId} +approval +1 +signal +SignalRefusedError: node "approval" refused signal`));
  expect(text.out).toMatch(new RegExp(`step history \\(\\d+\\)\\n(?:[^\\n]*\\n)*[^\\n]* approval +${itemId} +1 +[^ ]+ +refused: SignalRefusedError: node "approval"`));
}

describe.each(signalBackends('sigchk', 'real'))('floxide runs signal on %s: the wait checks the payload', (_name, openBackend) => {
  const h = signalHarness(openBackend);

  async function open(wf: { def: any; instance: object }): Promise<{ b: DistributedBackend; url: string }> {
    const o = await h.open();
    h.worker(o.backend, wf);
    return { b: o.backend, url: o.storeUrl! };
  }

  const parkedItems = async (b: DistributedBackend, runId: string) => (await b.itemStates(runId)).filter((s) => s.status === 'parked');

  it('a payload failing the guard is refused, visibly: the wait waits on (its attempt, its deadline, no fallback) and the next valid signal continues it', async () => {
    const { b, url } = await open(approval);
    const orch = new Orchestrator(b, approval);
    // the typed sender refuses it, and nothing changes
    const typed = await orch.startRun(undefined, { id: 'typed', amount: 1 });
    // @ts-expect-error: the payload of "approval" is a Decision
    await expect(orch.signal(typed, 'approval', { approved: 'yes' })).rejects.toBeInstanceOf(InvalidSignalError);
    expect(await orch.pendingSignals(typed)).toEqual([]);

    const runId = await orch.startRun(undefined, { id: 'exp-1', amount: 5 });
    await h.untilParked(b, runId);
    const [wait] = await parkedItems(b, runId);
    const sent = await cli('runs', 'signal', runId, 'approval', '--data', '{"approved":"yes"}', '--store', url);
    expect(sent).toMatchObject({ code: 0, out: `run ${runId}: signal approval delivered to the wait for it\n` });
    // the same wait parks again under a new item: same attempt, same deadline; the signal is consumed
    await until(async () => (await parkedItems(b, runId)).some((s) => s.itemId !== wait.itemId), SIGNAL_WAIT_MS, 'the wait to park again');
    const [again] = await parkedItems(b, runId);
    expect(again).toMatchObject({ node: 'approval', attempt: 1, notBefore: wait.notBefore });
    expect(await orch.pendingSignals(runId)).toEqual([]);
    expect((await b.getRun(runId))!.status).toBe('running');
    await expectRefused(runId, url, wait.itemId);
    expect((await cli('runs', 'signal', runId, 'approval', '--data', '{"approved":true,"by":"ana"}', '--store', url)).code).toBe(0);
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by ana');
  });

  it('with @retry nothing is retried: the wait waits on at attempt 1 and the next, valid signal is delivered', async () => {
    const { b, url } = await open(patient);
    const orch = new Orchestrator(b, patient);
    const runId = await orch.startRun(undefined, 'o');
    await h.untilParked(b, runId);
    const [wait] = await parkedItems(b, runId);
    expect((await cli('runs', 'signal', runId, 'approval', '--data', '{"by":"nobody"}', '--store', url)).code).toBe(0);
    await until(async () => (await parkedItems(b, runId)).some((s) => s.itemId !== wait.itemId), SIGNAL_WAIT_MS, 'the wait to park again');
    expect(await parkedItems(b, runId)).toEqual([expect.objectContaining({ attempt: 1, notBefore: wait.notBefore })]);
    expect((await cli('runs', 'signal', runId, 'approval', '--data', '{"approved":true,"by":"ana"}', '--store', url)).code).toBe(0);
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by ana');
    expect((await b.errors(runId)).map((e) => e.kind)).toEqual(['signal']);
  });

  it('without retry or fallback the run does not fail: both waits take the valid votes sent after', async () => {
    const { b, url } = await open(votes);
    const orch = new Orchestrator(b, votes);
    const runId = await orch.startRun(undefined, 1);
    await h.untilParked(b, runId, 2, 'both waits to park');
    expect((await cli('runs', 'signal', runId, 'vote', '--data', '42', '--store', url)).code).toBe(0);
    await until(async () => (await b.errors(runId)).length === 1, SIGNAL_WAIT_MS, 'the refusal to be recorded');
    await h.untilParked(b, runId, 2, 'both waits to wait on');
    expect((await b.getRun(runId))!.status).toBe('running');
    for (const vote of ['yes', 'no']) expect((await cli('runs', 'signal', runId, 'vote', '--data', JSON.stringify({ vote }), '--store', url)).code).toBe(0);
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).status).toBe('completed');
  });
});

describe('floxide runs signal on a SQLite checkpoint file: the wait checks the payload', () => {
  it('a payload failing the guard is refused, visibly: the wait waits on (its attempt, its deadline, no fallback) and the next valid signal continues it', async () => {
    const file = join(dir, 'approval.db');
    const store = new SqliteCheckpointStore(file);
    const run = approval.runWithCheckpoint(undefined, { id: 'exp-2', amount: 7 }, store, 's-1', { signalPollMs: 20 });
    const waiting = async () => (await store.load('s-1'))?.items.filter((it) => it.wait !== undefined && it.received === undefined) ?? [];
    await until(async () => (await waiting()).length === 1, SIGNAL_WAIT_MS, 'the wait to park');
    const [wait] = await waiting();
    const sent = await cli('runs', 'signal', 's-1', 'approval', '--data', '{"approved":1}', '--store', `sqlite:${file}`);
    expect(sent.code).toBe(0);
    await until(async () => (await waiting()).some((it) => it.id !== wait.id), SIGNAL_WAIT_MS, 'the wait to park again');
    expect(await waiting()).toEqual([expect.objectContaining({ node: 'approval', wait: wait.wait, notBefore: wait.notBefore })]);
    await expectRefused('s-1', `sqlite:${file}`, wait.id);
    expect((await cli('runs', 'signal', 's-1', 'approval', '--data', '{"approved":false,"by":"bo"}', '--store', `sqlite:${file}`)).code).toBe(0);
    await expect(run).resolves.toBe('rejected by bo');
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

// Waits and sleeps inside nested workflows on the distributed backends (issue 11): the nested run parks in its
// outer item (a parked wait on signal `<node>.<signal>`, with the nested run's state), which holds no lease; the
// signal (before, during or after the wait begins), the nested wait's timeout and a nested sleep continue it, on
// memory, Redis and Postgres alike.
import { describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, Orchestrator, type DistributedBackend } from 'floxide';
import { BallotFlow, NestedNapFlow, ReviewFlow, SteadyAuditFlow, SteadyReviewFlow } from '../fixtures/signals/flows.js';
import { BallotFlowDef, NestedNapFlowDef, ReviewFlowDef, SteadyAuditFlowDef, SteadyReviewFlowDef } from '../fixtures/signals/flows.floxide.js';
import { signalBackends, signalHarness, SIGNAL_WAIT_MS } from './signal-harness.js';
import { until } from './helpers.js';

// A nested wait that a test ends with its signal waits 1 h (the Steady flows), so a loaded machine cannot time it out
// first; ReviewFlow's 1 s timeout serves the test of the timeout itself.
const review = bindWorkflow(SteadyReviewFlowDef, new SteadyReviewFlow());
const impatient = bindWorkflow(ReviewFlowDef, new ReviewFlow());
const audit = bindWorkflow(SteadyAuditFlowDef, new SteadyAuditFlow());
const ballot = bindWorkflow(BallotFlowDef, new BallotFlow());
const nap = bindWorkflow(NestedNapFlowDef, new NestedNapFlow());

describe.each(signalBackends('nsig'))('waits inside nested workflows on %s', (_name, openBackend) => {
  const h = signalHarness(openBackend);
  const open = async (): Promise<DistributedBackend> => (await h.open()).backend;
  const worker = h.worker;

  it('the outer item parks on "<node>.<signal>" holding no lease; a new worker continues the nested run on its signal', async () => {
    const b = await open();
    const orch = new Orchestrator(b, review);
    const runId = await orch.startRun(undefined, 'order-1');
    const w = worker(b, review);
    await h.untilParked(b, runId, 1, 'the nested wait to park');
    // (parked when the commit lands; the slot is freed when its answer comes back)
    await until(() => w.inFlight === 0, 2_000, 'the worker to free the slot of the parked item');
    expect((await b.itemStates(runId)).filter((s) => s.status === 'parked').map((s) => s.node)).toEqual(['review']);
    await h.stop(w);
    // @ts-expect-error: "approval" alone is the nested workflow's name, not the outer one's
    await expect(orch.signal(runId, 'approval', { approved: true, by: 'x' })).rejects.toBeInstanceOf(InvalidSignalError);
    // @ts-expect-error: the payload of "review.approval" is a Decision
    await expect(orch.signal(runId, 'review.approval', { approved: 'yes' })).rejects.toBeInstanceOf(InvalidSignalError);
    expect(await orch.signal(runId, 'review.approval', { approved: true, by: 'ana' }, { key: 'k' })).toBe('delivered');
    expect(await orch.signal(runId, 'review.approval', { approved: true, by: 'ana' }, { key: 'k' })).toBe('duplicate');
    await expect(orch.signal(runId, 'review.approval', { approved: false, by: 'bo' }, { key: 'k' })).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['payload'] });
    worker(b, review);
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('report: approved by ana');
  });

  it('two levels deep: signal before, during and after the wait begins (12 random rounds), each applied once', async () => {
    const b = await open();
    const orch = new Orchestrator(b, audit);
    worker(b, audit);
    for (let round = 0; round < 12; round++) {
      const runId = `nrace-${round}`;
      const when = round % 3;
      await orch.startRun(undefined, 'o', { runId });
      if (when === 1) for (let i = 0; i < Math.floor(Math.random() * 4); i++) await new Promise((r) => setImmediate(r));
      if (when === 2) await h.untilParked(b, runId);
      await orch.signal(runId, 'audit.review.approval', { approved: true, by: `r${round}` }, { key: 'once' });
      expect(await orch.signal(runId, 'audit.review.approval', { approved: true, by: `r${round}` }, { key: 'once' })).toBe('duplicate');
      expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe(`report: approved by r${round}`);
      expect(await orch.pendingSignals(runId)).toEqual([]);
    }
  });

  it('parallel waits inside a nested workflow each get their own signal', async () => {
    const b = await open();
    const orch = new Orchestrator(b, ballot);
    worker(b, ballot);
    const runId = await orch.startRun(undefined, 1);
    await orch.signal(runId, 'ballot.vote', { vote: 'yes' });
    await orch.signal(runId, 'ballot.vote', { vote: 'no' });
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('report: no,yes');
  });

  it('never: the nested wait times out into the nested workflow\'s fallback', async () => {
    const b = await open();
    const orch = new Orchestrator(b, impatient);
    worker(b, impatient);
    const runId = await orch.startRun(undefined, 'late');
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('report: escalated late after SignalTimeoutError x1');
  });

  it('a nested sleep parks the outer item in the delayed queue and fires once', async () => {
    const b = await open();
    const orch = new Orchestrator(b, nap);
    worker(b, nap);
    const t0 = Date.now();
    const runId = await orch.startRun(undefined, { ms: 300 });
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('report: woke after 300 ms');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    const states = await b.itemStates(runId);
    expect(states.filter((s) => s.node === 'report').map((s) => s.status)).toEqual(['completed']);
  });
});

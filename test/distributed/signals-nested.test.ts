// Waits and sleeps inside nested workflows on the distributed backends (issue 11): the nested run parks in its
// outer item (a parked wait on signal `<node>.<signal>`, with the nested run's state), which holds no lease; the
// signal (before, during or after the wait begins), the nested wait's timeout and a nested sleep continue it, on
// memory, Redis and Postgres alike.
import { afterEach, describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, MemoryBackend, Orchestrator, Worker, type DistributedBackend } from 'floxide';
import { AuditFlow, BallotFlow, NestedNapFlow, ReviewFlow } from '../fixtures/signals/flows.js';
import { AuditFlowDef, BallotFlowDef, NestedNapFlowDef, ReviewFlowDef } from '../fixtures/signals/flows.floxide.js';
import { openTestBackend, REAL_BACKENDS, until } from './helpers.js';

const review = bindWorkflow(ReviewFlowDef, new ReviewFlow());
const audit = bindWorkflow(AuditFlowDef, new AuditFlow());
const ballot = bindWorkflow(BallotFlowDef, new BallotFlow());
const nap = bindWorkflow(NestedNapFlowDef, new NestedNapFlow());

const backends: Array<[string, () => Promise<{ backend: DistributedBackend; dispose(): Promise<void> }>]> = [
  ['memory', async () => {
    const backend = new MemoryBackend();
    return { backend, dispose: () => backend.close() };
  }],
  ...REAL_BACKENDS.map((name): [string, () => Promise<{ backend: DistributedBackend; dispose(): Promise<void> }>] => [name, () => openTestBackend(name, 'nsig')]),
];

describe.each(backends)('waits inside nested workflows on %s', (_name, openBackend) => {
  const workers: Worker[] = [];
  const opened: Array<{ dispose(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(0)));
    await Promise.all(opened.splice(0).map((o) => o.dispose()));
  });

  async function open(): Promise<DistributedBackend> {
    const o = await openBackend();
    opened.push(o);
    return o.backend;
  }

  function worker(b: DistributedBackend, wf: { def: any; instance: object }): Worker {
    const w = new Worker(b, wf.def, wf.instance, { concurrency: 4, idleMinMs: 1, idleMaxMs: 20, leaseMs: 2_000, heartbeatMs: 200 });
    workers.push(w);
    void w.start();
    return w;
  }

  const parkedCount = async (b: DistributedBackend, runId: string) => (await b.itemStates(runId)).filter((s) => s.status === 'parked').length;

  it('the outer item parks on "<node>.<signal>" holding no lease; a new worker continues the nested run on its signal', async () => {
    const b = await open();
    const orch = new Orchestrator(b, review);
    const runId = await orch.startRun(undefined, 'order-1');
    const w = worker(b, review);
    await until(async () => (await parkedCount(b, runId)) === 1, 10_000, 'the nested wait to park');
    expect(w.inFlight).toBe(0);
    expect((await b.itemStates(runId)).filter((s) => s.status === 'parked').map((s) => s.node)).toEqual(['review']);
    await w.stop(0);
    workers.length = 0;
    // @ts-expect-error: "approval" alone is the nested workflow's name, not the outer one's
    await expect(orch.signal(runId, 'approval', { approved: true, by: 'x' })).rejects.toBeInstanceOf(InvalidSignalError);
    // @ts-expect-error: the payload of "review.approval" is a Decision
    await expect(orch.signal(runId, 'review.approval', { approved: 'yes' })).rejects.toBeInstanceOf(InvalidSignalError);
    expect(await orch.signal(runId, 'review.approval', { approved: true, by: 'ana' }, { key: 'k' })).toBe('delivered');
    expect(await orch.signal(runId, 'review.approval', { approved: false, by: 'bo' }, { key: 'k' })).toBe('duplicate');
    worker(b, review);
    expect((await orch.waitForCompletion(runId, { timeoutMs: 30_000 })).output).toBe('report: approved by ana');
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
      if (when === 2) await until(async () => (await parkedCount(b, runId)) === 1, 10_000, 'the wait to park');
      await orch.signal(runId, 'audit.review.approval', { approved: true, by: `r${round}` }, { key: 'once' });
      expect(await orch.signal(runId, 'audit.review.approval', { approved: false, by: 'again' }, { key: 'once' })).toBe('duplicate');
      expect((await orch.waitForCompletion(runId, { timeoutMs: 30_000 })).output).toBe(`report: approved by r${round}`);
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
    expect((await orch.waitForCompletion(runId, { timeoutMs: 30_000 })).output).toBe('report: no,yes');
  });

  it('never: the nested wait times out into the nested workflow\'s fallback', async () => {
    const b = await open();
    const orch = new Orchestrator(b, review);
    worker(b, review);
    const runId = await orch.startRun(undefined, 'late');
    expect((await orch.waitForCompletion(runId, { timeoutMs: 30_000 })).output).toBe('report: escalated late after SignalTimeoutError x1');
  });

  it('a nested sleep parks the outer item in the delayed queue and fires once', async () => {
    const b = await open();
    const orch = new Orchestrator(b, nap);
    worker(b, nap);
    const t0 = Date.now();
    const runId = await orch.startRun(undefined, { ms: 300 });
    expect((await orch.waitForCompletion(runId, { timeoutMs: 30_000 })).output).toBe('report: woke after 300 ms');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    const states = await b.itemStates(runId);
    expect(states.filter((s) => s.node === 'report').map((s) => s.status)).toEqual(['completed']);
  });
});

// Signals and durable sleep on the distributed backends (issue 11). The same suite runs on every backend that keeps
// parked items (SignalReceiver): a waiting run holds no lease and no worker slot, survives losing every worker,
// takes a signal sent before, during or after its wait (20 random rounds), applies a repeated key once, refuses a
// wrong payload without changing anything, and routes a timeout to its fallback; a sleep fires once.
import { afterEach, describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, MemoryBackend, Orchestrator, RunStateError, Worker, type DistributedBackend } from 'floxide';
import { ApprovalFlow, SleepFlow, VoteFlow } from '../fixtures/signals/flows.js';
import { ApprovalFlowDef, SleepFlowDef, VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { until } from './helpers.js';

const approval = bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
const votes = bindWorkflow(VoteFlowDef, new VoteFlow());
const sleeper = bindWorkflow(SleepFlowDef, new SleepFlow());

const backends: Array<[string, () => Promise<DistributedBackend>]> = [['memory', async () => new MemoryBackend()]];

describe.each(backends)('signals on %s', (_name, open) => {
  const workers: Worker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(0)));
  });

  function worker(b: DistributedBackend, wf: { def: typeof ApprovalFlowDef | typeof VoteFlowDef | typeof SleepFlowDef; instance: object }): Worker {
    const w = new Worker(b, wf.def, wf.instance, { concurrency: 4, idleMinMs: 1, idleMaxMs: 20, leaseMs: 2_000, heartbeatMs: 200 });
    workers.push(w);
    void w.start();
    return w;
  }

  async function parked(b: DistributedBackend, runId: string): Promise<boolean> {
    return (await b.itemStates(runId)).some((s) => s.status === 'parked');
  }

  it('a waiting run holds no lease or slot, survives losing every worker, and completes on its signal', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'order-1');
    const w = worker(b, approval);
    await until(() => parked(b, runId), 10_000, 'the wait to park');
    expect(w.inFlight).toBe(0);
    expect((await b.itemStates(runId)).filter((s) => s.status === 'in_progress')).toEqual([]);
    await w.stop(0);
    workers.length = 0;
    expect(await orch.signal(runId, 'approval', { approved: true, by: 'ana' }, { key: 'k' })).toBe('delivered');
    expect(await orch.signal(runId, 'approval', { approved: false, by: 'bo' }, { key: 'k' })).toBe('duplicate');
    worker(b, approval); // a new worker after every worker died
    const rec = await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
    expect(rec.output).toBe('approved by ana');
    await b.close();
  });

  it('signal before, during and after the wait begins (20 random rounds), each applied once', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    worker(b, approval);
    for (let round = 0; round < 20; round++) {
      const runId = `race-${round}`;
      const when = round % 3;
      await orch.startRun(undefined, 'o', { runId });
      if (when === 1) for (let i = 0; i < Math.floor(Math.random() * 4); i++) await new Promise((r) => setImmediate(r));
      if (when === 2) await until(() => parked(b, runId), 10_000, 'the wait to park');
      await orch.signal(runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' });
      expect(await orch.signal(runId, 'approval', { approved: false, by: 'again' }, { key: 'once' })).toBe('duplicate');
      const rec = await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
      expect(rec.output).toBe(`approved by r${round}`);
      expect(await orch.pendingSignals(runId)).toEqual([]);
    }
    await b.close();
  });

  it('a wrong payload or an unknown name is InvalidSignalError and changes nothing', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'o');
    await expect(orch.signal(runId, 'approval', { approved: 'yes' })).rejects.toBeInstanceOf(InvalidSignalError);
    await expect(orch.signal(runId, 'nope', {})).rejects.toBeInstanceOf(InvalidSignalError);
    expect(await orch.pendingSignals(runId)).toEqual([]);
    await orch.cancel(runId);
    await expect(orch.signal(runId, 'approval', { approved: true, by: 'late' })).rejects.toBeInstanceOf(RunStateError);
    await b.close();
  });

  it('never: the timeout fails the node and the fallback takes the item', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    worker(b, approval);
    const runId = await orch.startRun(undefined, 'o');
    const rec = await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
    expect(rec.output).toBe('escalated o after SignalTimeoutError x1');
    await b.close();
  });

  it('two waits in parallel branches each get their own signal', async () => {
    const b = await open();
    const orch = new Orchestrator(b, votes);
    worker(b, votes);
    const runId = await orch.startRun(undefined, 1);
    await orch.signal(runId, 'vote', { vote: 'yes' });
    await until(async () => (await b.itemStates(runId)).filter((s) => s.status === 'parked').length >= 1, 10_000, 'a wait');
    await orch.signal(runId, 'vote', { vote: 'no' });
    expect((await orch.waitForCompletion(runId, { timeoutMs: 30_000 })).output).toBe('no,yes');
    await b.close();
  });

  it('a sleep parks (no lease), survives its worker, and fires once', async () => {
    const b = await open();
    const orch = new Orchestrator(b, sleeper);
    const w = worker(b, sleeper);
    const runId = await orch.startRun(undefined, { ms: 1_000 });
    await until(() => parked(b, runId), 10_000, 'the sleep to park');
    expect(w.inFlight).toBe(0);
    await w.stop(0);
    workers.length = 0;
    worker(b, sleeper);
    const rec = await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
    expect(rec.output).toBe('woke after 1000 ms');
    const states = await b.itemStates(runId);
    expect(states.map((s) => [s.node, s.status])).toEqual([
      ['nap', 'completed'],
      ['nap', 'completed'],
      ['woke', 'completed'],
    ]);
    await b.close();
  });
});

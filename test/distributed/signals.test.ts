// Signals and durable sleep on the distributed backends (issue 11). The same suite runs on every backend that keeps
// parked items (SignalReceiver): a waiting run holds no lease and no worker slot, survives losing every worker,
// takes a signal sent before, during or after its wait (20 random rounds), applies a repeated key once, refuses a
// wrong payload without changing anything, and routes a timeout to its fallback; a sleep fires once.
import { afterEach, describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, MemoryBackend, Orchestrator, RunStateError, supportsObservation, Worker, type DistributedBackend, type WorkflowEvent } from 'floxide';
import { ApprovalFlow, SleepFlow, VoteFlow } from '../fixtures/signals/flows.js';
import { ApprovalFlowDef, SleepFlowDef, VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { openTestBackend, REAL_BACKENDS, until } from './helpers.js';

const approval = bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
const votes = bindWorkflow(VoteFlowDef, new VoteFlow());
const sleeper = bindWorkflow(SleepFlowDef, new SleepFlow());

interface Opened {
  readonly backend: DistributedBackend;
  /** Kills the backend's store connections server-side (a no-op in memory). */
  killConnections(): Promise<unknown>;
  dispose(): Promise<void>;
}

const backends: Array<[string, () => Promise<Opened>]> = [
  ['memory', async () => {
    const backend = new MemoryBackend();
    return { backend, killConnections: async () => 0, dispose: () => backend.close() };
  }],
  ...REAL_BACKENDS.map((name): [string, () => Promise<Opened>] => [name, () => openTestBackend(name, 'sig')]),
];

describe.each(backends)('signals on %s', (_name, openBackend) => {
  const workers: Worker[] = [];
  const opened: Opened[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(0)));
    await Promise.all(opened.splice(0).map((o) => o.dispose()));
  });

  async function open(): Promise<DistributedBackend> {
    const o = await openBackend();
    opened.push(o);
    return o.backend;
  }

  function worker(b: DistributedBackend, wf: { def: typeof ApprovalFlowDef | typeof VoteFlowDef | typeof SleepFlowDef; instance: object }): Worker {
    const w = new Worker(b, wf.def, wf.instance, { concurrency: 4, idleMinMs: 1, idleMaxMs: 20, leaseMs: 2_000, heartbeatMs: 200 });
    workers.push(w);
    void w.start();
    return w;
  }

  async function parked(b: DistributedBackend, runId: string): Promise<boolean> {
    return (await b.itemStates(runId)).some((s) => s.status === 'parked');
  }

  it('a waiting run holds no lease or slot, survives losing every worker and the store connection, and completes on its signal', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'order-1');
    const w = worker(b, approval);
    await until(() => parked(b, runId), 10_000, 'the wait to park');
    expect(w.inFlight).toBe(0);
    expect((await b.itemStates(runId)).filter((s) => s.status === 'in_progress')).toEqual([]);
    await w.stop(0);
    workers.length = 0;
    await opened[0]!.killConnections();
    await until(async () => parked(b, runId).catch(() => false), 10_000, 'the store connection to come back');
    expect(await orch.signal(runId, 'approval', { approved: true, by: 'ana' }, { key: 'k' })).toBe('delivered');
    expect(await orch.signal(runId, 'approval', { approved: false, by: 'bo' }, { key: 'k' })).toBe('duplicate');
    worker(b, approval); // a new worker after every worker died
    const rec = await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
    expect(rec.output).toBe('approved by ana');
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
      // a retried delivery after the run finished is still a duplicate; a new signal is refused
      expect(await orch.signal(runId, 'approval', { approved: false, by: 'again' }, { key: 'once' })).toBe('duplicate');
      await expect(orch.signal(runId, 'approval', { approved: false, by: 'late' }, { key: 'new' })).rejects.toBeInstanceOf(RunStateError);
    }
  });

  it('a wrong payload or an unknown name is InvalidSignalError and changes nothing', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'o');
    // @ts-expect-error: the payload of "approval" is a Decision (ApprovalFlowSignals, generated by floxide build)
    await expect(orch.signal(runId, 'approval', { approved: 'yes' })).rejects.toBeInstanceOf(InvalidSignalError);
    // @ts-expect-error: ApprovalFlow has no signal "nope"
    await expect(orch.signal(runId, 'nope', {})).rejects.toBeInstanceOf(InvalidSignalError);
    // With the generated definition alone (no instance to check payloads), names are still checked.
    // @ts-expect-error: ApprovalFlow has no signal "nope"
    await expect(new Orchestrator(b, approval.def).signal(runId, 'nope', {})).rejects.toThrow(/has no signal "nope" \(its signals: "approval"\)/);
    // a run of another workflow: refused by the store in the signal's own atomic operation, nothing changes
    await expect(new Orchestrator(b, votes).signal(runId, 'vote', { vote: 'x' })).rejects.toThrow(new RunStateError(`run ${runId} is a run of ApprovalFlow, not of VoteFlow`));
    expect(await orch.pendingSignals(runId)).toEqual([]);
    await orch.cancel(runId);
    await expect(orch.signal(runId, 'approval', { approved: true, by: 'late' })).rejects.toBeInstanceOf(RunStateError);
  });

  it('cancel drops a parked wait; a paused run takes its signal but runs only when resumed', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    worker(b, approval);
    const cancelled = await orch.startRun(undefined, 'c');
    await until(() => parked(b, cancelled), 10_000, 'the wait to park');
    await orch.cancel(cancelled);
    expect((await b.getRun(cancelled))!.status).toBe('cancelled');
    expect((await b.itemStates(cancelled)).filter((s) => s.status === 'parked')).toEqual([]);
    await expect(orch.signal(cancelled, 'approval', { approved: true, by: 'late' })).rejects.toBeInstanceOf(RunStateError);

    const paused = await orch.startRun(undefined, 'p');
    await until(() => parked(b, paused), 10_000, 'the wait to park');
    await orch.pause(paused);
    expect(await orch.signal(paused, 'approval', { approved: true, by: 'pat' })).toBe('delivered');
    await new Promise((r) => setTimeout(r, 100));
    expect((await b.itemStates(paused)).map((s) => s.status)).toEqual(['completed', 'completed', 'pending']);
    await orch.resume(paused);
    expect((await orch.waitForCompletion(paused, { timeoutMs: 30_000 })).output).toBe('approved by pat');
  });

  it('reports waits, signals and timers in the event stream', async () => {
    const b = await open();
    if (!supportsObservation(b)) return;
    const orch = new Orchestrator(b, approval);
    worker(b, approval);
    const events: WorkflowEvent[] = [];
    const ac = new AbortController();
    const runId = 'ev-1';
    const reading = (async () => {
      for await (const e of b.subscribe({ runId, signal: ac.signal })) {
        events.push(e.event);
        if (e.event.type === 'run.completed') break;
      }
    })();
    await orch.startRun(undefined, 'e', { runId });
    await until(() => parked(b, runId), 10_000, 'the wait to park');
    await orch.signal(runId, 'approval', { approved: true, by: 'eve' }, { key: 'k1' });
    await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
    await reading;
    ac.abort();
    const types = events.map((e) => e.type);
    expect(types).toContain('wait.started');
    expect(events.find((e) => e.type === 'signal.received')).toMatchObject({ name: 'approval', key: 'k1' });
    expect(types.indexOf('wait.started')).toBeLessThan(types.indexOf('signal.received'));

    const timedOut = 'ev-2';
    const seen: WorkflowEvent[] = [];
    const reading2 = (async () => {
      for await (const e of b.subscribe({ runId: timedOut })) {
        seen.push(e.event);
        if (e.event.type === 'run.completed') break;
      }
    })();
    await orch.startRun(undefined, 't', { runId: timedOut });
    await orch.waitForCompletion(timedOut, { timeoutMs: 30_000 });
    await reading2;
    expect(seen.map((e) => e.type)).toContain('wait.timedOut');
  });

  it('the run deadline reaches a waiting run: it fails with DeadlineExceededError (no fallback)', async () => {
    const b = await open();
    const orch = new Orchestrator(b, votes);
    worker(b, votes);
    // two waits without a timeout of their own: only the deadline can end them
    const runId = await orch.startRun(undefined, 1, { timeoutMs: 300 });
    await until(async () => (await b.getRun(runId))!.status !== 'running', 20_000, 'the run to end');
    const rec = (await b.getRun(runId))!;
    expect(rec.status).toBe('failed');
    expect(rec.error?.name).toBe('DeadlineExceededError');
    expect((await b.itemStates(runId)).map((s) => s.node)).not.toContain('tally');
  });

  it('never: the timeout fails the node and the fallback takes the item', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    worker(b, approval);
    const runId = await orch.startRun(undefined, 'o');
    const rec = await orch.waitForCompletion(runId, { timeoutMs: 30_000 });
    expect(rec.output).toBe('escalated o after SignalTimeoutError x1');
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
  });
});

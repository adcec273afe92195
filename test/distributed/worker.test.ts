import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { Worker, newWorkerId } from '../../runtime/distributed/worker.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { ContextCache } from '../../runtime/distributed/context-cache.js';
import { FingerprintMismatchError, InvalidArgumentError, PoisonItemError, RunNotFoundError, RunStateError } from '../../runtime/core/errors.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { PaymentService, PaymentsCtx, PaymentsWorkflow } from '../../examples/payments.js';
import { PaymentsWorkflowDef } from '../../examples/payments.floxide.js';
import { CountCtx, ChainWorkflowDef, chain, checkFanRun, fan, slow, sleep, until } from './helpers.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

function track<T extends { stop(): Promise<void> }>(w: T): T {
  stops.push(() => (w as unknown as { stop(g?: number): Promise<void> }).stop(0));
  return w;
}

describe('Workflow.startDistributed / stepDistributed (memory backend)', () => {
  it('runs a fan-out/join run step by step and returns the terminal output once', async () => {
    const b = new MemoryBackend();
    const wf = fan();
    const created = await wf.startDistributed(new CountCtx(), 4, b, 'run-1');
    expect(created.created).toBe(true);
    expect((await wf.startDistributed(new CountCtx(), 4, b, 'run-1')).created).toBe(false);
    const outputs: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await wf.stepDistributed(b, 'w1');
      if (r) outputs.push(r);
    }
    expect(outputs).toEqual([{ runId: 'run-1', output: [0, 2, 4, 6] }]);
    expect(await checkFanRun(b, 'run-1', 4)).toMatchObject({ count: 7, enqueued: 7, completed: 7 });
    expect(await wf.stepDistributed(b, 'w1')).toBeUndefined();
  });

  it('calls the step callbacks and turns retries into durable delayed re-enqueues', async () => {
    const b = new MemoryBackend();
    const wf = fan({ failRate: 1 });
    await wf.startDistributed(new CountCtx(), 1, b, 'r');
    const seen: string[] = [];
    const cb = { onStarted: (l: { item: { node: string } }) => seen.push(`start ${l.item.node}`), onCommitted: (_l: unknown, o: { type: string }) => seen.push(`commit ${o.type}`) };
    await wf.stepDistributed(b, 'w', cb);
    await wf.stepDistributed(b, 'w', cb);
    expect(seen).toEqual(['start split', 'commit continue', 'start work', 'commit retry']);
    const [state] = (await b.itemStates('r')).filter((s) => s.node === 'work');
    expect(state).toMatchObject({ status: 'waiting_retry', attempt: 2 });
    expect((await b.errors('r'))[0]).toMatchObject({ kind: 'retry', error: { message: 'flaky work on 0' } });
  });

  it('never claims items of a run started by another graph version', async () => {
    const b = new MemoryBackend();
    await b.createRun({ runId: 'old', workflow: 'FanWorkflow', fingerprint: 'other', input: 1, context: {}, firstItem: { node: 'split', id: '0', input: 1 } });
    expect(await fan().stepDistributed(b, 'w')).toBeUndefined();
    expect(await b.errors('old')).toEqual([]);
    expect(await b.itemState('old', '0')).toMatchObject({ status: 'pending', workerId: undefined });
  });

  it('gives back, as misrouted, an item of another graph that a store handed out anyway, and records why once', async () => {
    const b = new MemoryBackend();
    // A store that ignores the version filter.
    const unfiltered = new Proxy(b, {
      get: (t, k) => (k === 'claim' ? (w: string, m: number, l: number, o?: { workflow?: string }) => t.claim(w, m, l, { workflow: o?.workflow }) : Reflect.get(t, k, t)),
    });
    await b.createRun({ runId: 'old', workflow: 'FanWorkflow', fingerprint: 'other', input: 1, context: {}, firstItem: { node: 'split', id: '0', input: 1 } });
    expect(await fan().stepDistributed(unfiltered, 'w')).toBeUndefined();
    expect(await fan().stepDistributed(unfiltered, 'w')).toBeUndefined();
    const errors = await b.errors('old');
    expect(errors).toHaveLength(2);
    expect(errors[0]!.error.name).toBe(FingerprintMismatchError.name);
    expect(await b.itemState('old', '0')).toMatchObject({ status: 'pending' });
    expect((await b.metrics('old')).misrouted).toBe(2);
  });

  it('dead-letters an item redelivered too often instead of looping forever', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    await wf.startDistributed(new CountCtx(), 0, b, 'p');
    for (let i = 0; i < 3; i++) {
      const [l] = await b.claim('crasher', 1, 5);
      expect(l).toBeDefined();
      await sleep(10);
    }
    expect(await wf.stepDistributed(b, 'w', undefined, { maxRedeliveries: 2 })).toBeUndefined();
    const run = await b.getRun('p');
    expect(run).toMatchObject({ status: 'failed', error: { name: PoisonItemError.name } });
    // three crashed deliveries and this worker's: four of attempt 1 (counted from the attempt, not from the item's first delivery)
    expect(run!.error!.message).toContain('was delivered 4 times at attempt 1 without a commit');
    expect(await b.deadLetters('p')).toHaveLength(1);
  });
});

describe('Worker', () => {
  it('processes many runs concurrently with exactly-once effects', async () => {
    const b = new MemoryBackend();
    const wf = fan({ maxDelayMs: 3, failRate: 0.2 });
    const orch = new Orchestrator(b, wf);
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => orch.startRun(new CountCtx(), 5, { runId: `r${i}` })));
    const w = track(new Worker(b, wf.def, wf.instance, { concurrency: 8, idleMinMs: 1, idleMaxMs: 20 }));
    await w.start();
    for (const id of ids) {
      const done = await orch.waitForCompletion(id, { timeoutMs: 20_000, pollMs: 5 });
      expect(done.output).toEqual([0, 2, 4, 6, 8]);
      expect(await checkFanRun(b, id, 5)).toMatchObject({ count: 8, enqueued: 8, completed: 8 });
    }
    expect(w.stats.processed).toBeGreaterThanOrEqual(80);
  });

  it('publishes liveness with a unique host:pid:random id and removes it on stop', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    expect(newWorkerId()).toMatch(/^[A-Za-z0-9][^:]*:\d+:[0-9a-f]{8}$/);
    expect(newWorkerId()).not.toBe(newWorkerId());
    const w = new Worker(b, wf.def, wf.instance, { heartbeatMs: 10, leaseMs: 1000 });
    await w.start();
    const [rec] = await b.listWorkers();
    expect(rec).toMatchObject({ workerId: w.workerId, liveness: 'alive', health: { status: 'idle', info: { pid: String(process.pid) } } });
    await w.stop();
    expect(await b.listWorkers()).toEqual([]);
  });

  it('removes the records of workers unseen for a day (killed ones leave theirs), every purgeEveryMs', async () => {
    let now = Date.UTC(2026, 0, 1);
    const b = new MemoryBackend({ clock: () => now });
    const wf = chain();
    const health = { status: 'idle' as const, current: [], processed: 0, errors: 0 };
    await b.heartbeat('killed-yesterday', health);
    now += 25 * 3_600_000;
    await b.heartbeat('killed-an-hour-ago', health);
    now += 3_600_000;
    const w = track(new Worker(b, wf.def, wf.instance, { purgeEveryMs: 20 }));
    await w.start();
    await until(async () => (await b.listWorkers()).every((r) => r.workerId !== 'killed-yesterday'), 5_000, 'the dead record to go');
    expect((await b.listWorkers()).map((r) => [r.workerId, r.liveness])).toEqual([
      ['killed-an-hour-ago', 'dead'],
      [w.workerId, 'alive'],
    ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)));
  });

  it('a purgeEveryMs past the largest timer (2^31 - 1 ms) purges no sooner than that', async () => {
    // (node's timer fired it after 1 ms: the worker purged and listed workers back to back, non-stop)
    const b = new MemoryBackend();
    let passes = 0;
    const listWorkers = b.listWorkers.bind(b);
    b.listWorkers = (...args) => ((passes += 1), listWorkers(...args));
    const wf = chain();
    const w = track(new Worker(b, wf.def, wf.instance, { purgeEveryMs: 3e9 }));
    await w.start();
    await sleep(300);
    expect(passes).toBe(0);
  });

  it('aborts the running node on cancel and runs nothing of the run afterwards', async () => {
    const b = new MemoryBackend();
    const wf = slow();
    const orch = new Orchestrator(b, wf);
    const w = track(new Worker(b, wf.def, wf.instance, { concurrency: 4, leaseMs: 300, heartbeatMs: 20, idleMinMs: 1, idleMaxMs: 10 }));
    await w.start();
    const runId = await orch.startRun(new CountCtx(), 10_000);
    const node = (wf.instance as { wait: { started: string[]; aborted: string[]; finished: string[] } }).wait;
    await until(() => node.started.length === 3, 5_000, 'three waits started');
    const t = await orch.cancel(runId, 'user asked');
    expect(t).toMatchObject({ applied: true, status: 'cancelled' });
    await until(() => node.aborted.length === 3, 2_000, 'nodes to see the abort');
    await until(() => w.inFlight === 0, 2_000, 'worker idle');
    expect(node.finished).toEqual([]);
    const run = await orch.run(runId);
    expect(run.status).toBe('cancelled');
    expect((await orch.metrics(runId)).completed).toBe(1);
    expect((await orch.context(runId)).count).toBe(1);
  });

  it("reads no context of a run of another workflow: RunStateError naming both (it revived the other's context as its own)", async () => {
    const b = new MemoryBackend();
    await fan().startDistributed(new CountCtx(), 2, b, 'of-fan');
    const err = await new Orchestrator(b, chain()).context('of-fan').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunStateError);
    expect((err as Error).message).toBe('run of-fan is a run of FanWorkflow, not of ChainWorkflow');
    await expect(new Orchestrator(b, chain()).context('nope')).rejects.toBeInstanceOf(RunNotFoundError);
    expect((await new Orchestrator(b, fan()).context('of-fan')).count).toBe(0);
  });

  it('stops taking a paused run and continues it after resume', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    const orch = new Orchestrator(b, wf);
    const runId = await orch.startRun(new CountCtx(), 0);
    await orch.pause(runId);
    const w = track(new Worker(b, wf.def, wf.instance, { idleMinMs: 1, idleMaxMs: 5 }));
    await w.start();
    await sleep(50);
    expect(await orch.status(runId)).toBe('paused');
    expect((await orch.metrics(runId)).completed).toBe(0);
    await orch.resume(runId);
    const done = await orch.waitForCompletion(runId, { timeoutMs: 5_000, pollMs: 5 });
    expect(done).toMatchObject({ status: 'completed', output: 5 });
  });

  it('fails the run at its deadline: the node sees the abort and the item is failed, not dead-lettered', async () => {
    const b = new MemoryBackend();
    const wf = slow();
    const orch = new Orchestrator(b, wf);
    const w = track(new Worker(b, wf.def, wf.instance, { concurrency: 3, idleMinMs: 1, idleMaxMs: 5 }));
    await w.start();
    const runId = await orch.startRun(new CountCtx(), 10_000, { timeoutMs: 150 });
    const done = await orch.waitForCompletion(runId, { timeoutMs: 5_000, pollMs: 10 });
    expect(done).toMatchObject({ status: 'failed', error: { name: 'DeadlineExceededError' } });
    expect(await orch.deadLetters(runId)).toEqual([]);
  });

  it("a durable retry whose backoff ends after the run's deadline wakes at the deadline and fails the run then (the run stayed running for the hour of its backoff, as the local modes' does not)", async () => {
    const b = new MemoryBackend();
    const wf = bindWorkflow(PaymentsWorkflowDef, new PaymentsWorkflow(new PaymentService(['A-1']))); // the first charge fails, retried in an hour
    const w = new Worker(b, wf.def, wf.instance, { idleMinMs: 1, idleMaxMs: 5 });
    track(w);
    await w.start();
    const runId = await new Orchestrator(b, wf).startRun(new PaymentsCtx(), [{ id: 'A-1', cents: 5 }], { timeoutMs: 300 });
    // (read from the store: the orchestrator's status would fail a run past its deadline by itself)
    await until(async () => (await b.getRun(runId))!.status !== 'running', 10_000, 'the run to end');
    expect((await b.getRun(runId))!.error?.name).toBe('DeadlineExceededError');
  });

  it('graceful stop lets in-flight items finish; after the grace period it gives them back', async () => {
    const b = new MemoryBackend();
    const wf = slow();
    const orch = new Orchestrator(b, wf);
    const w1 = new Worker(b, wf.def, wf.instance, { concurrency: 3, idleMinMs: 1, idleMaxMs: 5 });
    await w1.start();
    const quick = await orch.startRun(new CountCtx(), 50);
    const node = (wf.instance as { wait: { started: string[] } }).wait;
    await until(() => node.started.length === 3, 5_000, 'waits started');
    await w1.stop();
    expect((await orch.metrics(quick)).completed).toBe(4);
    expect(await orch.status(quick)).toBe('running');

    const w2 = new Worker(b, wf.def, wf.instance, { concurrency: 3, idleMinMs: 1, idleMaxMs: 5 });
    await w2.start();
    const long = await orch.startRun(new CountCtx(), 60_000);
    await until(async () => (await orch.pendingWork(long)).filter((p) => p.state.status === 'in_progress' && p.item.node === 'wait').length === 3, 5_000, 'long waits');
    await w2.stop(30);
    expect(w2.stats.released).toBe(3);
    const pending = await orch.pendingWork(long);
    expect(pending.map((p) => p.state.status)).toEqual(['pending', 'pending', 'pending']);
    expect((await orch.errors(long))).toEqual([]);
  });

  it('an item whose context read fails every time is dead-lettered, not claimed and given back for ever', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    const orch = new Orchestrator(b, wf);
    const runId = await orch.startRun(new CountCtx(), 0);
    let reads = 0;
    // a store error the worker takes for transient (not a FloxideError), for this run's context only
    b.readContext = async () => {
      reads++;
      throw new Error('value too large to read');
    };
    const w = track(new Worker(b, wf.def, wf.instance, { concurrency: 1, idleMinMs: 1, idleMaxMs: 5, leaseMs: 50, heartbeatMs: 10, maxRedeliveries: 2 }));
    await w.start();
    const done = await orch.waitForCompletion(runId, { timeoutMs: 10_000 });
    expect(done).toMatchObject({ status: 'failed', error: { name: PoisonItemError.name } });
    // one read per delivery, each after the previous lease ran out: no claim-and-release loop
    expect(reads).toBe(3);
  });

  it('items given back by stopping workers never count as poison deliveries (they were neither crashed on nor stalled)', async () => {
    const b = new MemoryBackend();
    const wf = slow();
    const orch = new Orchestrator(b, wf);
    const opts = { concurrency: 3, idleMinMs: 1, idleMaxMs: 5, maxRedeliveries: 1 };
    const runId = await orch.startRun(new CountCtx(), 300);
    // three rolling stops, each while the run's waits are in flight: their leases are given back, not lost
    for (let k = 0; k < 3; k++) {
      const w = new Worker(b, wf.def, wf.instance, opts);
      await w.start();
      await until(async () => (await orch.pendingWork(runId)).filter((p) => p.state.status === 'in_progress' && p.item.node === 'wait').length === 3, 5_000, 'waits in flight');
      await w.stop(0);
      expect(w.stats.released).toBe(3);
    }
    const last = track(new Worker(b, wf.def, wf.instance, opts));
    await last.start();
    const done = await orch.waitForCompletion(runId, { timeoutMs: 10_000 });
    expect(done).toMatchObject({ status: 'completed', output: 'waited 300' });
    expect(await orch.deadLetters(runId)).toEqual([]);
  });

  it('a grace longer than a 32-bit timer (25 days, Infinity) lets in-flight items finish (Node fired such a timer at once: the items were given back)', async () => {
    const b = new MemoryBackend();
    const wf = slow();
    const orch = new Orchestrator(b, wf);
    for (const graceMs of [25 * 86_400_000, Infinity]) {
      const w = new Worker(b, wf.def, wf.instance, { concurrency: 3, idleMinMs: 1, idleMaxMs: 5, graceMs });
      await w.start();
      const runId = await orch.startRun(new CountCtx(), 100);
      await until(async () => (await orch.pendingWork(runId)).filter((p) => p.state.status === 'in_progress' && p.item.node === 'wait').length === 3, 5_000, 'waits started');
      await w.stop();
      expect(w.stats.released).toBe(0);
      expect((await orch.metrics(runId)).completed).toBe(4);
    }
    expect(() => new Worker(b, wf.def, wf.instance, { graceMs: Number.NaN })).toThrow('graceMs must be a number of ms >= 0 (Infinity: no limit), got NaN');
    // a pool refuses a bad grace before it starts stopping: a later stop() still stops its workers
    const pool = new WorkerPool(b, wf.def, wf.instance, { size: 2 });
    await pool.start();
    await expect(pool.stop(-1)).rejects.toThrow('graceMs must be a number of ms >= 0 (Infinity: no limit), got -1');
    await pool.stop();
    await pool.done;
    expect(await b.listWorkers()).toEqual([]);
  });

  it('runs a chain on hand-offs: one claim per run, at most handoffLimit hand-offs in a row, same results', async () => {
    // One 5-step chain per worker, one item at a time: every claimed item is counted.
    async function runChain(handoffLimit: number | undefined) {
      const b = new MemoryBackend();
      let claimed = 0;
      const claim = b.claim.bind(b);
      b.claim = async (...args) => {
        const got = await claim(...args);
        claimed += got.length;
        return got;
      };
      const wf = chain();
      const orch = new Orchestrator(b, wf);
      const runId = await orch.startRun(new CountCtx(), 0);
      const deliveries: number[] = [];
      const w = track(
        new Worker(b, wf.def, wf.instance, {
          concurrency: 1,
          idleMinMs: 1,
          idleMaxMs: 5,
          ...(handoffLimit === undefined ? {} : { handoffLimit }),
          callbacks: { onStarted: (l) => deliveries.push(l.deliveries) },
        }),
      );
      await w.start();
      const done = await orch.waitForCompletion(runId, { timeoutMs: 10_000, pollMs: 5 });
      await w.stop();
      return { output: done.output, claimed, deliveries, context: await orch.context(runId), metrics: await orch.metrics(runId) };
    }
    const byDefault = await runChain(undefined);
    const limited = await runChain(2);
    const off = await runChain(0);
    for (const r of [byDefault, limited, off]) {
      expect(r.output).toBe(5);
      expect(r.context).toMatchObject({ count: 5 });
      expect(r.metrics).toMatchObject({ enqueued: 5, completed: 5 });
      expect(r.deliveries).toEqual([1, 1, 1, 1, 1]);
    }
    expect(byDefault.claimed).toBe(1);
    expect(limited.claimed).toBe(2); // claim, 2 hand-offs, claim, 1 hand-off
    expect(off.claimed).toBe(5);
    expect(() => new Worker(new MemoryBackend(), ChainWorkflowDef, chain().instance, { handoffLimit: -1 })).toThrow(InvalidArgumentError);
  });

  it('a worker stopping when a hand-off arrives gives the item straight back', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    const orch = new Orchestrator(b, wf);
    const runId = await orch.startRun(new CountCtx(), 0);
    const released: string[] = [];
    const w: Worker = track(
      new Worker(b, wf.def, wf.instance, {
        concurrency: 1,
        idleMinMs: 1,
        idleMaxMs: 5,
        // Stop as soon as the first step's commit (which asked for and got a hand-off) answered.
        callbacks: {
          onCommitted: (l) => void (l.item.node === 's1' ? w.stop() : undefined),
          onReleased: (l, reason) => released.push(`${l.item.node} ${reason}`),
        },
      }),
    );
    await w.start();
    await until(async () => (await orch.metrics(runId)).completed === 1, 5_000, 'first step');
    await w.stop();
    expect(w.stats.released).toBe(1);
    expect(released).toEqual(['s2 stopping']);
    expect((await orch.pendingWork(runId)).map((p) => [p.item.node, p.state.status])).toEqual([['s2', 'pending']]);
    expect(await b.itemState(runId, (await orch.pendingWork(runId))[0]!.item.id)).toMatchObject({ status: 'pending', attempt: 1, leaseExpiresAt: undefined });
  });

  it('rejects bad options with InvalidArgumentError', () => {
    const b = new MemoryBackend();
    const wf = chain();
    expect(() => new Worker(b, ChainWorkflowDef, wf.instance, { concurrency: 0 })).toThrow(InvalidArgumentError);
    expect(() => new Worker(b, ChainWorkflowDef, wf.instance, { workerId: 'bad id' })).toThrow(InvalidArgumentError);
    expect(() => new Worker(b, ChainWorkflowDef, wf.instance, { leaseMs: 100, heartbeatMs: 100 })).toThrow(InvalidArgumentError);
    // a heartbeat no timer keeps (node's fired it every millisecond)
    expect(() => new Worker(b, ChainWorkflowDef, wf.instance, { leaseMs: 4e9, heartbeatMs: 3e9 })).toThrow(/^heartbeatMs must be a number of ms from 1 to 2147483647, got 3000000000$/);
  });

  it('stepDistributed refuses a heartbeat no timer keeps before it claims anything (it extended the lease every millisecond)', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    await wf.startDistributed(new CountCtx(), 1, b, 'hb');
    for (const options of [{ heartbeatMs: 0 }, { heartbeatMs: -5 }, { heartbeatMs: Number.NaN }, { leaseMs: 4e9, heartbeatMs: 3e9 }]) {
      await expect(wf.stepDistributed(b, 'w1', undefined, options), JSON.stringify(options)).rejects.toThrow(/^heartbeatMs must be a number of ms from 1 to 2147483647, got/);
    }
    expect((await b.itemStates('hb')).map((s) => s.status)).toEqual(['pending']);
  });
});

describe('WorkerPool', () => {
  it('runs N workers with distinct ids and stops them all', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    const orch = new Orchestrator(b, wf);
    const pool = new WorkerPool(b, wf.def, wf.instance, { size: 3, concurrency: 2, idleMinMs: 1, idleMaxMs: 5 });
    await pool.start();
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => orch.startRun(new CountCtx(), i)));
    for (const [i, id] of ids.entries()) expect((await orch.waitForCompletion(id, { timeoutMs: 10_000, pollMs: 5 })).output).toBe(i + 5);
    expect(new Set(pool.workers.map((w) => w.workerId)).size).toBe(3);
    expect((await b.listWorkers()).length).toBe(3);
    await pool.stop();
    await pool.done;
    expect(pool.stats().processed).toBe(150);
    expect(await b.listWorkers()).toEqual([]);
  });
});

describe('ContextCache', () => {
  it('folds only the deltas newer than the cached version', async () => {
    const b = new MemoryBackend();
    const wf = chain();
    await wf.startDistributed(Object.assign(new CountCtx(), { count: 10 }), 0, b, 'c');
    const cache = new ContextCache((await import('../../runtime/engine/compile.js')).compiledOf(ChainWorkflowDef).codec);
    expect(await cache.current(b, 'c')).toMatchObject({ count: 10 });
    await wf.stepDistributed(b, 'w');
    await wf.stepDistributed(b, 'w');
    let calls: Array<number | undefined> = [];
    const spy = { readContext: (id: string, since?: number) => (calls.push(since), b.readContext(id, since)) };
    expect(await cache.current(spy as never, 'c')).toMatchObject({ count: 12 });
    expect(calls).toEqual([0]);
    calls = [];
    expect(await cache.current(spy as never, 'c')).toMatchObject({ count: 12 });
    expect(calls).toEqual([2]);
  });
});

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createClient } from '@redis/client';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, StoreError } from '../../runtime/core/errors.js';
import { RedisBackend, type RedisBackendOptions } from '../../runtime/distributed/redis/backend.js';
import { SCRIPT_FILES, loadScript, type ScriptName } from '../../runtime/distributed/redis/scripts.js';
import { describeBackendConformance } from './conformance.js';
import { isFinalRunStatus } from '../../runtime/distributed/contracts.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { ChainWorkflow } from '../fixtures/distributed/flows.js';
import type { EventEnvelope } from '../../runtime/engine/events.js';
import { ChainWorkflowDef } from '../fixtures/distributed/flows.floxide.js';
import { chain, CountCtx, until } from './helpers.js';
import { redisTamper } from './tamper.js';
import { checkTally, tallyAndRecount, tallyChecked } from './redis-tally.js';
import type { EngineItem, JoinArrival, StepOutcome } from '../../runtime/engine/types.js';
import type { LeasedItem } from '../../runtime/distributed/contracts.js';
import { bindWorkflow } from 'floxide';
import { childItemId } from '../../runtime/core/ids.js';
import { WideCtx, WideWorkflow } from '../fixtures/distributed/wide.js';
import { WideWorkflowDef } from '../fixtures/distributed/wide.floxide.js';

const REDIS_URL = process.env.FLOXIDE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const base = `flxtest-${process.pid}-${Date.now()}`;
let n = 0;

/** Deletes every key under the test prefixes. */
async function cleanup(): Promise<void> {
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  for await (const keys of c.scanIterator({ MATCH: `${base}*`, COUNT: 1000 })) if (keys.length > 0) await c.del(keys);
  await c.close();
}

afterAll(cleanup);

// (every call that writes item states is followed by a check that each run's tally is a recount of its states)
describeBackendConformance('redis', async () => tallyChecked(await RedisBackend.connect({ url: REDIS_URL, keyPrefix: `${base}-c${++n}:` })), { tamper: redisTamper });

describe('redis backend specifics', () => {
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const spec = (runId: string, input: unknown = 1) => ({ runId, workflow: 'wf', fingerprint: 'fp', input, context: {}, firstItem: { node: 'a', id: '0', input } });
  const prefix = () => `${base}-s${++n}:`;

  async function admin() {
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    return c;
  }

  /** Runs `fn` with a backend under a prefix of its own (`options` added) and an admin client; closes both. */
  async function withRedis(options: Omit<RedisBackendOptions, 'url' | 'keyPrefix'>, fn: (b: RedisBackend, a: Awaited<ReturnType<typeof admin>>, p: string) => Promise<void>): Promise<void> {
    const p = prefix();
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: p, ...options });
    const a = await admin();
    try {
      await fn(b, a, p);
    } finally {
      await a.close();
      await b.close();
    }
  }

  it("reads a run's counts from its tally: a state written behind the store's back (which no script tallied) is not counted, and no read goes through the states", async () => {
    await withRedis({}, async (b, a) => {
      const wf = bindWorkflow(WideWorkflowDef, new WideWorkflow());
      for (const id of ['open', 'done']) await wf.startDistributed(new WideCtx(), 3, b, id);
      // (runs are served round-robin: one step each fans it out)
      for (let i = 0; i < 2; i++) await wf.stepDistributed(b, 'w1');
      await b.cancelRun('done');
      const counts = { open: await b.itemCounts('open'), done: await b.itemCounts('done') };
      const metrics = { open: await b.metrics('open'), done: await b.metrics('done') };
      expect(counts).toEqual({ open: { scatter: { completed: 1 }, row: { pending: 3 } }, done: { scatter: { completed: 1 }, row: { dropped: 3 } } });
      expect(metrics.done).toMatchObject({ enqueued: 4, completed: 1, dropped: 3 });
      for (const id of ['open', 'done']) {
        const key = `${b.keyPrefix}run:{${id}}:states`;
        const row = childItemId('0', 0);
        const packed = (await a.hGet(key, row))!;
        await a.hSet(key, row, packed.replace(/^[a-z_]+\|/, 'completed|'));
      }
      expect({ open: await b.itemCounts('open'), done: await b.itemCounts('done') }).toEqual(counts);
      expect({ open: await b.metrics('open'), done: await b.metrics('done') }).toEqual(metrics);
      // (the recount, the tally's oracle, sees the stray write)
      expect((await tallyAndRecount(a, b.keyPrefix, 'open')).recount).toMatchObject({ 'completed\nrow': 1, 'pending\nrow': 2 });
    });
  });

  it("a run's tally is a recount of its states after every change: claim, fan-out, retry, release, lease expiry, dead letter, hold and join, signal wait, sleep, pause, resume, version move, cancel", async () => {
    await withRedis({}, async (b, a) => {
      const LONG = 60_000;
      const check = async (runId: string, after: string) => {
        await checkTally(a, b.keyPrefix, runId, after);
        expect((await tallyAndRecount(a, b.keyPrefix, runId)).tallied).toBe(true);
      };
      const item = (node: string, id: string, input: unknown = null): EngineItem => ({ node, id, input });
      const cont = (items: EngineItem[] = [], arrivals: JoinArrival[] = []): StepOutcome => ({ type: 'continue', items, arrivals, delta: undefined });
      const commit = (l: LeasedItem, outcome: StepOutcome) => b.commitStep({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome });
      const claimOf = async (runId: string, id: string, leaseMs = LONG) => {
        // (the others claimed with it are given back: a release puts them back at the head of their run's ready list)
        for (let i = 0; i < 20; i++) {
          const got = await b.claim('w1', 10, leaseMs);
          const mine = got.find((l) => l.runId === runId && l.item.id === id);
          for (const l of got) if (l !== mine) await b.release(l.runId, l.item.id, l.leaseToken);
          if (mine) return mine;
          await sleep(20);
        }
        throw new Error(`${id} of ${runId} was never claimable`);
      };
      const R = 'walk';
      await b.createRun({ ...spec(R), fingerprint: 'v1' });
      // a short run is tallied by its first count, and kept from then on
      expect((await tallyAndRecount(a, b.keyPrefix, R)).tallied).toBe(false);
      await b.itemCounts(R);
      await check(R, 'createRun');
      await commit(await claimOf(R, '0'), cont([item('a', 'a1'), item('a', 'a2'), item('b', 'b1'), item('c', 'c1'), item('d', 'd1'), item('e', 'e1')]));
      await check(R, 'claim and a fan-out commit');
      // a retry, its wake-up when it is due, and a release
      await commit(await claimOf(R, 'a1'), { type: 'retry', attempt: 1, delayMs: 1, error: { name: 'Error', message: 'again' } });
      await check(R, 'retry');
      const again = await claimOf(R, 'a1');
      await check(R, 'a due retry claimed');
      expect(await b.release(R, 'a1', again.leaseToken)).toBe(true);
      await check(R, 'release');
      // a lease that expires, redelivered
      await claimOf(R, 'a2', 1);
      await sleep(10);
      await claimOf(R, 'a2');
      await check(R, 'an expired lease redelivered');
      // two arrivals of a join group: one held, one valued (the second enqueues the settlement)
      await commit(await claimOf(R, 'b1'), cont([], [{ group: 'g', index: 0, size: 2, held: true, outer: [] } as unknown as JoinArrival]));
      await check(R, 'a hold');
      await commit(await claimOf(R, 'c1'), cont([], [{ group: 'g', index: 1, size: 2, node: 'j', value: 1, held: false, outer: [] }]));
      await check(R, 'the join settled');
      // a wait for a signal, then the signal; a sleep, then its end
      await commit(await claimOf(R, 'd1'), cont([{ ...item('w', 'w1'), wait: { name: 'go', attempt: 1 } } as EngineItem, { ...item('s', 's1'), sleep: { value: 1 }, notBefore: Date.now() + 20 } as EngineItem]));
      await check(R, 'a wait and a sleep parked');
      await b.signal(R, 'go', { ok: true });
      await check(R, 'the signal');
      await sleep(30);
      await claimOf(R, 's1');
      await check(R, 'the sleep ended');
      await b.pauseRun(R);
      await check(R, 'pause');
      await b.resumeRun(R);
      await check(R, 'resume');
      // a version move renaming a node of outstanding items (leased ones move too)
      await b.migrate(R, { from: 'v1', to: 'v2', renames: { w: 'w2', a: 'a3' }, leases: 'keep' });
      await check(R, 'a version move');
      expect(await b.itemCounts(R)).toMatchObject({ w2: { pending: 1 }, a3: { pending: 1, in_progress: 1 } });
      await b.cancelRun(R);
      await check(R, 'cancel');
      expect(Object.keys(await b.itemCounts(R)).length).toBeGreaterThan(0);
      // a dead letter that fails its run
      const D = 'dead';
      await b.createRun(spec(D));
      await b.itemCounts(D);
      await commit(await claimOf(D, '0'), cont([item('x', 'x1'), item('x', 'x2')]));
      await commit(await claimOf(D, 'x1'), { type: 'failed', error: { name: 'Error', message: 'fatal' }, attempts: 1 });
      await check(D, 'a dead letter');
      expect(await b.itemCounts(D)).toEqual({ a: { completed: 1 }, x: { dead_lettered: 1, dropped: 1 } });
      // and a hand-off: the one successor leased to the committing worker in the commit
      const H = 'handoff';
      await b.createRun(spec(H));
      await b.itemCounts(H);
      const h = await claimOf(H, '0');
      const res = await b.commitStep({ runId: H, itemId: '0', leaseToken: h.leaseToken, outcome: cont([item('n', 'n1')]), handoff: { workerId: 'w1', leaseMs: LONG } });
      expect(res).toMatchObject({ status: 'applied', next: expect.anything() });
      await check(H, 'a hand-off');
      expect(await b.itemCounts(H)).toEqual({ a: { completed: 1 }, n: { in_progress: 1 } });
    });
  });

  it('a run is tallied and indexed by the commit that takes it to 1,000 items (its in-flight, retrying and parked items too), both kept right after, and its pages read the same as the pass of a smaller run', async () => {
    await withRedis({}, async (b, a) => {
      const LONG = 60_000;
      const item = (node: string, id: string, input: unknown = null): EngineItem => ({ node, id, input });
      const cont = (items: EngineItem[] = []): StepOutcome => ({ type: 'continue', items, arrivals: [], delta: undefined });
      const commit = (l: LeasedItem, outcome: StepOutcome) => b.commitStep({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome });
      const indexed = async () => (await a.hGet(`${b.keyPrefix}run:{big}`, 'indexed')) === '1';
      const R = 'big';
      await b.createRun(spec(R));
      const [first] = await b.claim('w1', 1, LONG);
      await commit(first!, cont(Array.from({ length: 600 }, (_, i) => item('row', `r${i}`))));
      expect(await indexed()).toBe(false);
      expect((await tallyAndRecount(a, b.keyPrefix, R)).tallied).toBe(false);
      // in flight, retrying and parked items before the run reaches 1,000 items
      const leased = await b.claim('w1', 4, LONG);
      expect(leased.map((l) => l.item.id)).toEqual(['r0', 'r1', 'r2', 'r3']);
      await commit(leased[0]!, { type: 'retry', attempt: 1, delayMs: LONG, error: { name: 'Error', message: 'again' } });
      await commit(leased[1]!, cont([{ ...item('w', 'w1'), wait: { name: 'go', attempt: 1 } } as EngineItem]));
      // the next commit takes it to 1,000 items: indexed first, its states as they are
      await commit(leased[2]!, cont(Array.from({ length: 400 }, (_, i) => item('more', `m${i}`))));
      expect(await indexed()).toBe(true);
      expect((await tallyAndRecount(a, b.keyPrefix, R)).tallied).toBe(true);
      await checkTally(a, b.keyPrefix, R, 'the commit that indexed the run');
      const ids = async (options: Parameters<RedisBackend['pendingWork']>[1]) => (await b.pendingWork(R, options)).map((p) => `${p.state.status} ${p.item.id}`);
      expect(await ids({ statuses: ['in_progress', 'waiting_retry', 'parked'] })).toEqual(['waiting_retry r0', 'in_progress r3', 'parked w1']);
      expect(await ids({ limit: 5 })).toEqual(['waiting_retry r0', 'in_progress r3', 'pending r4', 'pending r5', 'pending r6']);
      // kept from then on: completions, a release, a signal to the wait, a cancel of what is left
      await commit(leased[3]!, cont());
      const more = await b.claim('w1', 3, LONG);
      await b.release(R, more[0]!.item.id, more[0]!.leaseToken);
      await commit(more[1]!, cont([item('late', 'l1')]));
      expect(await b.signal(R, 'go', { ok: true })).toMatchObject({ delivery: 'delivered' });
      await checkTally(a, b.keyPrefix, R, 'steps after the index');
      expect(await ids({ statuses: ['in_progress', 'waiting_retry', 'parked'] })).toEqual(['waiting_retry r0', `in_progress ${more[2]!.item.id}`]);
      expect((await ids({ limit: 3 })).slice(0, 1)).toEqual(['waiting_retry r0']);
      expect(await b.itemCounts(R)).toMatchObject({ row: { waiting_retry: 1, completed: 4, in_progress: 1, pending: 594 }, w: { pending: 1 }, more: { pending: 400 }, late: { pending: 1 } });
      // its pages read the index, not the states: a state written behind the store's back (first in enqueue order)
      // is not seen, until the run's outstanding count says the index misses an item (then a pass reads it)
      const states = `${b.keyPrefix}run:{big}:states`;
      await a.hSet(states, 'early', (await a.hGet(states, 'r9'))!.replace(/\|\d+\|(\{[^\n]*)\n/, '|0|$1\n'));
      expect((await ids({ limit: 2 }))[0]).toBe('waiting_retry r0');
      await a.hIncrBy(`${b.keyPrefix}run:{big}`, 'outstanding', 1);
      expect((await ids({ limit: 2 }))[0]).toBe('pending early');
      await a.hDel(states, 'early');
      await a.hIncrBy(`${b.keyPrefix}run:{big}`, 'outstanding', -1);
      expect(await b.cancelRun(R)).toMatchObject({ applied: true });
      expect(await a.exists(`${b.keyPrefix}run:{big}:open`)).toBe(0);
      // a run below 1,000 items has no index nor tally (until counted) and pays nothing for them
      await b.createRun(spec('small'));
      const [s0] = await b.claim('w1', 1, LONG);
      await commit(s0!, cont([item('x', 'x1'), item('x', 'x2')]));
      expect(await a.exists([`${b.keyPrefix}run:{small}:open`, `${b.keyPrefix}run:{small}:tally`])).toBe(0);
      expect((await b.pendingWork('small', { limit: 1 })).map((p) => p.item.id)).toEqual(['x1']);
    });
  });

  it('a run of a floxide before tallies (no tally, no mark) is counted once, whole, and its tally kept right from then on, with the run\'s time to live', async () => {
    await withRedis({ retainFinishedMs: 3_600_000 }, async (b, a) => {
      const wf = bindWorkflow(WideWorkflowDef, new WideWorkflow());
      for (const id of ['old-open', 'old-done']) await wf.startDistributed(new WideCtx(), 3, b, id);
      for (let i = 0; i < 2; i++) await wf.stepDistributed(b, 'w1');
      await b.cancelRun('old-done');
      for (const id of ['old-open', 'old-done']) {
        const run = `${b.keyPrefix}run:{${id}}`;
        // as an older floxide left it (no tally, no index), then a change this one tallied (only that change: -1 / +1)
        await a.hDel(run, ['tallied', 'indexed']);
        await a.del([`${run}:tally`, `${run}:open`]);
        await a.hSet(`${run}:tally`, { 'pending\nrow': '-1', 'in_progress\nrow': '1' });
        expect((await tallyAndRecount(a, b.keyPrefix, id)).tallied).toBe(false);
      }
      expect(await b.metrics('old-open')).toMatchObject({ enqueued: 4, completed: 1 });
      expect(await b.itemCounts('old-done')).toEqual({ scatter: { completed: 1 }, row: { dropped: 3 } });
      for (const id of ['old-open', 'old-done']) {
        const t = await tallyAndRecount(a, b.keyPrefix, id);
        expect(t.tallied).toBe(true);
        expect(t.tally).toEqual(t.recount);
      }
      const ttl = await a.pTTL(`${b.keyPrefix}run:{old-done}:tally`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
      expect(await a.pTTL(`${b.keyPrefix}run:{old-open}:tally`)).toBe(-1);
      // the open run steps on: its tally follows
      await wf.stepDistributed(b, 'w1');
      await checkTally(a, b.keyPrefix, 'old-open', 'a step after the upgrade');
      expect(await b.itemCounts('old-open')).toEqual({ scatter: { completed: 1 }, row: { completed: 1, pending: 2 } });
      // a process of the older floxide (still running during the upgrade) adds an item without counting it: the
      // tally no longer adds up to the run's items, and the next count counts the run again
      const states = `${b.keyPrefix}run:{old-open}:states`;
      const row = (await a.hGet(states, childItemId('0', 2)))!;
      await a.hSet(states, 'late', row.replace(/\|\d+\|(\{[^\n]*)\n/, '|99|$1\n'));
      expect((await tallyAndRecount(a, b.keyPrefix, 'old-open')).recount).toMatchObject({ 'pending\nrow': 3 });
      expect(await b.itemCounts('old-open')).toEqual({ scatter: { completed: 1 }, row: { completed: 1, pending: 3 } });
      expect(await b.metrics('old-open')).toMatchObject({ enqueued: 5, completed: 2 });
      await checkTally(a, b.keyPrefix, 'old-open', 'an item added by an older floxide');
      // its outstanding items are read with a pass (it has no index); so are those of a run whose index misses an item
      // an older floxide's process added (its outstanding count, which that floxide keeps, says so)
      const page = async (id: string) => (await b.pendingWork(id, { limit: 3 })).map((p) => p.item.id);
      expect(await page('old-open')).toEqual([childItemId('0', 1), childItemId('0', 2), 'late']);
      await wf.startDistributed(new WideCtx(), 3, b, 'new');
      // (runs are served round-robin: the old run's rows may come first)
      while ((await b.metrics('new')).completed < 1) await wf.stepDistributed(b, 'w1');
      expect(await page('new')).toEqual([childItemId('0', 0), childItemId('0', 1), childItemId('0', 2)]);
      const newStates = `${b.keyPrefix}run:{new}:states`;
      await a.hSet(newStates, 'early', (await a.hGet(newStates, childItemId('0', 2)))!.replace(/\|\d+\|(\{[^\n]*)\n/, '|0|$1\n'));
      await a.hIncrBy(`${b.keyPrefix}run:{new}`, 'outstanding', 1);
      expect(await page('new')).toEqual(['early', childItemId('0', 0), childItemId('0', 1)]);
    });
  });

  it('a packed item state that cannot be read is a CorruptStateError naming the run and the item', async () => {
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix() });
    const c = await admin();
    try {
      await b.createRun(spec('packed'));
      await c.hSet(`${b.keyPrefix}run:{packed}:states`, '0', 'pending|no more fields');
      const reason = 'run packed item "0": stored item state is corrupt: "pending|no more fields"';
      await expect(b.itemStates('packed')).rejects.toThrow(reason);
      await expect(b.itemState('packed', '0')).rejects.toMatchObject({ name: 'CorruptStateError', message: reason });
      await expect(b.pendingWork('packed')).rejects.toThrow(reason);
    } finally {
      await c.close();
      await b.close();
    }
  });

  it('a run record whose createdAt or outstanding is no number: cancel, pause and a step commit are CorruptStateError and write nothing (a script failing halfway kept its first writes)', async () => {
    const keyPrefix = prefix();
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix });
    const c = await admin();
    try {
      const wf = chain();
      await wf.startDistributed(new CountCtx(), 1, b, 'bad-time');
      await c.hSet(`${keyPrefix}run:{bad-time}`, 'createdAt', 'abc');
      const before = { run: await c.hGetAll(`${keyPrefix}run:{bad-time}`), running: await c.zScore(`${keyPrefix}runs:status:running`, 'bad-time') };
      const reason = /^run bad-time: its stored createdAt "abc" is not a number, so nothing was changed/;
      await expect(b.cancelRun('bad-time')).rejects.toMatchObject({ name: 'CorruptStateError', message: expect.stringMatching(reason) });
      await expect(b.pauseRun('bad-time')).rejects.toThrow(reason);
      // a worker's step: its commit is refused, the item left to its lease (after a store error it comes back when
      // the lease expires, as a counted redelivery), the run record untouched
      const released: unknown[] = [];
      expect(await wf.stepDistributed(b, 'w1', { onReleased: (_lease, _reason, error) => void released.push(error) })).toBeUndefined();
      expect(released).toEqual([expect.objectContaining({ name: 'CorruptStateError', message: expect.stringMatching(reason) })]);
      expect(await b.itemState('bad-time', '0')).toMatchObject({ status: 'in_progress' });
      const after = { run: await c.hGetAll(`${keyPrefix}run:{bad-time}`), running: await c.zScore(`${keyPrefix}runs:status:running`, 'bad-time') };
      expect(after).toEqual(before);
      expect(await c.zScore(`${keyPrefix}runs:status:cancelled`, 'bad-time')).toBeNull();
      await c.hSet(`${keyPrefix}run:{bad-time}`, { createdAt: String(Date.now()), outstanding: 'x' });
      await expect(b.cancelRun('bad-time')).rejects.toThrow(/its stored outstanding "x" is not a number/);
    } finally {
      await c.close();
      await b.close();
    }
  });

  // A Lua error keeps the writes before it: one failing commit of a batch kept the commits before it applied but lost
  // their deferred writes (ring pushes, lease removals, events), so their runs waited for ever with ready work.
  it('a commit of a batch that Redis refuses fails alone: the others apply whole, and it leaves its run as it was', async () => {
    await withRedis({}, async (b, a, p) => {
      for (const id of ['good', 'bad']) await b.createRun(spec(id));
      const leases = await b.claim('w1', 2, 60_000);
      const lease = (id: string) => leases.find((l) => l.runId === id)!;
      // a stray write: the bad run's counters key is no hash (HINCRBYFLOAT fails after the commit began)
      await a.set(`${p}run:{bad}:counters`, 'x');
      const before = { run: await a.hGetAll(`${p}run:{bad}`), states: await a.hGetAll(`${p}run:{bad}:states`), lease: await a.zScore(`${p}leases`, 'bad\n0') };
      const outcome = { type: 'continue' as const, items: [{ node: 'b', id: 'n1', input: 2 }], arrivals: [], delta: undefined };
      const [good, bad] = await b.commitSteps([
        { runId: 'good', itemId: '0', leaseToken: lease('good').leaseToken, outcome },
        { runId: 'bad', itemId: '0', leaseToken: lease('bad').leaseToken, outcome, counters: { c: 1 } },
      ]);
      expect(good).toMatchObject({ ok: true, result: { status: 'applied', enqueued: ['n1'] } });
      expect(bad).toMatchObject({ ok: false, error: { name: 'StoreError', message: expect.stringMatching(/^the commit of run bad item "0" failed in the store: WRONGTYPE/) } });
      expect({ run: await a.hGetAll(`${p}run:{bad}`), states: await a.hGetAll(`${p}run:{bad}:states`), lease: await a.zScore(`${p}leases`, 'bad\n0') }).toEqual(before);
      // the good run's successor is claimable (its run went back on its ring)
      expect((await b.claim('w1', 2, 60_000)).map((l) => [l.runId, l.item.id])).toEqual([['good', 'n1']]);
      expect(await a.zScore(`${p}leases`, 'good\n0')).toBeNull();
    });
  });

  it('a run of a createRun batch that Redis refuses fails alone: the runs created with it are listed and claimable', async () => {
    await withRedis({}, async (b, a, p) => {
      // a stray write: the bad run's key is no hash
      await a.set(`${p}run:{bad}`, 'x');
      const [good, bad] = await Promise.allSettled([b.createRun(spec('good')), b.createRun(spec('bad'))]);
      expect(good).toMatchObject({ status: 'fulfilled', value: { created: true } });
      expect(bad).toMatchObject({ status: 'rejected', reason: { name: 'StoreError', message: expect.stringMatching(/^the creation of run bad failed in the store: WRONGTYPE/) } });
      expect((await b.listRuns()).map((r) => r.runId)).toEqual(['good']);
      expect((await b.claim('w1', 2, 60_000)).map((l) => l.runId)).toEqual(['good']);
    });
  });

  // The scripts count after they have written: a count that failed left an item pending off its ready list (claim,
  // release) or a failed item whose run never failed (commit; its retry was a duplicate).
  it('metric fields a stray write made no integer do not stop a redelivery, a misrouted release or a failed step half-way', async () => {
    await withRedis({}, async (b, a, p) => {
      await b.createRun(spec('r'));
      await a.hSet(`${p}run:{r}`, { 'm:redeliveries': 'x', 'm:misrouted': 'x', 'm:failed': 'x', 'm:dropped': 'x' });
      await b.claim('w1', 1, 200);
      let l: Awaited<ReturnType<typeof b.claim>> = [];
      await until(async () => (l = await b.claim('w2', 1, 60_000)).length > 0, 30_000, 'the redelivery');
      expect(l[0]).toMatchObject({ runId: 'r', deliveries: 2 });
      expect(await b.release('r', '0', l[0]!.leaseToken, { misrouted: true })).toBe(true);
      const [again] = await b.claim('w3', 1, 60_000);
      // (the release took its claim's delivery back)
      expect(again).toMatchObject({ runId: 'r', deliveries: 2 });
      const res = await b.commitStep({ runId: 'r', itemId: '0', leaseToken: again!.leaseToken, outcome: { type: 'failed', error: { name: 'Error', message: 'fatal' }, attempts: 1 } });
      expect(res).toMatchObject({ status: 'applied', runStatus: 'failed' });
      expect(await b.getRun('r')).toMatchObject({ status: 'failed' });
      expect(await a.hmGet(`${p}run:{r}`, ['m:redeliveries', 'm:misrouted', 'm:failed'])).toEqual(['x', 'x', 'x']);
    });
  });

  it('a keyed signal that Redis refuses keeps no key: the sender\'s retry delivers it instead of answering duplicate', async () => {
    await withRedis({}, async (b, a, p) => {
      await b.createRun(spec('r'));
      // a stray write: the run's wait list for "vote" is no list
      await a.set(`${p}run:{r}:wait:vote`, 'x');
      await expect(b.signal('r', 'vote', { v: 1 }, 'k1')).rejects.toMatchObject({ name: 'StoreError', message: expect.stringContaining('WRONGTYPE') });
      await a.del(`${p}run:{r}:wait:vote`);
      expect(await b.signal('r', 'vote', { v: 1 }, 'k1')).toMatchObject({ delivery: 'delivered', kept: true });
      expect((await b.pendingSignals('r')).map((s) => [s.name, s.payload])).toEqual([['vote', { v: 1 }]]);
      expect(await b.signal('r', 'vote', { v: 1 }, 'k1')).toMatchObject({ delivery: 'duplicate' });
    });
  });

  it('a run whose signal keys an older floxide kept in the set alone goes on: those keys match any signal, new keys are kept in both the hash and the set (which an older process still reads)', async () => {
    await withRedis({}, async (b, a, p) => {
      await b.createRun(spec('r'));
      // what the previous release's signal script wrote for a key: the mailbox entry and the set, no digest
      expect(await b.signal('r', 'vote', { v: 1 }, 'k-old')).toMatchObject({ delivery: 'delivered' });
      await a.del(`${p}run:{r}:sigdigests`);
      expect(await a.sIsMember(`${p}run:{r}:sigkeys`, 'k-old')).toBe(1);
      expect(await b.signal('r', 'vote', { v: 2 }, 'k-old')).toMatchObject({ delivery: 'duplicate' });
      expect(await b.signal('r', 'other', null, 'k-old')).toMatchObject({ delivery: 'duplicate' });
      expect(await b.signal('r', 'vote', { v: 3 }, 'k-new')).toMatchObject({ delivery: 'delivered' });
      expect(await a.sIsMember(`${p}run:{r}:sigkeys`, 'k-new')).toBe(1);
      expect(await a.hGet(`${p}run:{r}:sigdigests`, 'k-new')).toMatch(/^[0-9a-f]{64} vote$/);
      await expect(b.signal('r', 'vote', { v: 4 }, 'k-new')).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['payload'] });
      expect((await b.pendingSignals('r')).map((x) => [x.key, x.payload])).toEqual([
        ['k-old', { v: 1 }],
        ['k-new', { v: 3 }],
      ]);
    });
  });

  /** Runs `fn` with a backend on a redis-server of its own, started with `args` (a configuration the shared server must not get). */
  async function withPrivateRedis(args: string[], fn: (b: RedisBackend, a: Awaited<ReturnType<typeof admin>>) => Promise<void>): Promise<void> {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as { port: number };
        probe.close(() => resolve(p));
      });
      probe.on('error', reject);
    });
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
    try {
      const url = `redis://127.0.0.1:${port}`;
      let b: RedisBackend | undefined;
      await until(async () => (b = await RedisBackend.connect({ url, keyPrefix: 'private:' }).catch(() => undefined)) !== undefined, 30_000, 'the private server');
      const a = createClient({ url });
      await a.connect();
      try {
        await fn(b!, a);
      } finally {
        await a.close();
        await b!.close();
      }
    } finally {
      server.kill();
    }
  }

  // A server without LPOS (Redis before 6.0.6, or one that renamed the command): the resume wrote the run's status,
  // then failed, so the run was running and off its ring, never claimed again.
  it('a resume that the server refuses changes nothing (a private server without LPOS)', async () => {
    await withPrivateRedis(['--rename-command', 'LPOS', ''], async (b) => {
      await b.createRun(spec('r'));
      await b.pauseRun('r');
      await expect(b.resumeRun('r')).rejects.toMatchObject({ name: 'StoreError', message: expect.stringMatching(/Unknown Redis command/i) });
      expect(await b.getRun('r')).toMatchObject({ status: 'paused' });
      expect((await b.listRuns({ status: 'paused' })).map((r) => r.runId)).toEqual(['r']);
    });
  });

  // docs/distributed.md: under noeviction a script that meets a full maxmemory is refused at its first write.
  it('a full maxmemory (noeviction) refuses a commit and a new run whole; once memory is free both apply', async () => {
    await withPrivateRedis(['--maxmemory-policy', 'noeviction'], async (b, a) => {
      await b.createRun(spec('r'));
      const [l] = await b.claim('w1', 1, 60_000);
      const before = { run: await a.hGetAll('private:run:{r}'), states: await a.hGetAll('private:run:{r}:states'), leases: await a.zRange('private:leases', 0, -1) };
      // memory past the limit (a limit below what is used), which deleting the ballast frees
      await a.set('ballast', 'x'.repeat(4_000_000));
      const used = Number(/used_memory:(\d+)/.exec(await a.info('memory'))![1]);
      await a.configSet('maxmemory', String(used - 2_000_000));
      const outcome = { type: 'continue' as const, items: [{ node: 'b', id: 'n1', input: 2 }], arrivals: [], delta: { count: 1 } };
      const step = { runId: 'r', itemId: '0', leaseToken: l!.leaseToken, outcome, counters: { c: 1 } };
      await expect(b.commitStep(step)).rejects.toMatchObject({ name: 'StoreError', message: expect.stringContaining('OOM') });
      await expect(b.createRun(spec('s'))).rejects.toMatchObject({ name: 'StoreError', message: expect.stringContaining('OOM') });
      expect({ run: await a.hGetAll('private:run:{r}'), states: await a.hGetAll('private:run:{r}:states'), leases: await a.zRange('private:leases', 0, -1) }).toEqual(before);
      expect(await a.exists('private:run:{s}')).toBe(0);
      await a.del('ballast');
      expect(await b.commitStep(step)).toMatchObject({ status: 'applied', enqueued: ['n1'] });
      expect(await b.createRun(spec('s'))).toMatchObject({ created: true });
    });
  });

  // The run was created without its first item (HSETNX found the leftover state), so it waited for ever.
  it('createRun under an id whose item states outlived its record (deleted by hand) is CorruptStateError and writes nothing', async () => {
    await withRedis({}, async (b, a, p) => {
      await b.createRun(spec('x'));
      await a.del(`${p}run:{x}`);
      await a.del(`${p}run:{x}:ready`);
      const keys = async () => (await a.keys(`${p}*`)).sort();
      const before = await keys();
      await expect(b.createRun(spec('x'))).rejects.toMatchObject({ name: 'CorruptStateError', message: expect.stringContaining('run x has no record but its item "0" is still stored') });
      expect(await keys()).toEqual(before);
      expect(await b.getRun('x')).toBeUndefined();
      await a.del(`${p}run:{x}:states`);
      expect(await b.createRun(spec('x'))).toMatchObject({ created: true });
      expect((await b.claim('w1', 1, 60_000)).map((l) => l.runId)).toEqual(['x']);
    });
  });

  it('a claim that Redis refuses half-way keeps the leases of the items it leased before: they are redelivered when they expire', async () => {
    await withRedis({}, async (b, a, p) => {
      for (const id of ['good', 'bad']) await b.createRun(spec(id));
      // a stray write: the bad run's ready list is no list (LPOP fails once the claim reaches that run)
      await a.del(`${p}run:{bad}:ready`);
      await a.set(`${p}run:{bad}:ready`, 'x');
      await expect(b.claim('w1', 2, 500)).rejects.toMatchObject({ name: 'StoreError', message: expect.stringContaining('WRONGTYPE') });
      // the good run's item was leased before the error: in progress, with its lease entry
      expect(await b.itemState('good', '0')).toMatchObject({ status: 'in_progress', workerId: 'w1' });
      expect(await a.zScore(`${p}leases`, 'good\n0')).not.toBeNull();
      let again: Awaited<ReturnType<typeof b.claim>> = [];
      await until(async () => (again = await b.claim('w2', 2, 60_000)).length > 0, 30_000, 'the redelivery');
      expect(again.map((l) => [l.runId, l.item.id, l.deliveries])).toEqual([['good', '0', 2]]);
    });
  });

  it('every script opens with a structured header: one line per KEYS entry (as many as its file name says), ARGV, Output', () => {
    const dir = new URL('../../runtime/distributed/redis/lua/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
    expect(files.sort()).toEqual(Object.values(SCRIPT_FILES).sort());
    for (const file of files) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      expect(text, file).toMatch(/^--\[\[\n  [a-z-]+: /);
      const header = text.slice(0, text.indexOf('\n]]\n'));
      expect(header.length, file).toBeGreaterThan(0);
      expect(header, file).toMatch(/\n  Input:\n/);
      expect(header, file).toMatch(/\n  Output:/);
      const numKeys = Number(/-(\d+)\.lua$/.exec(file)![1]);
      const keyLines = [...header.matchAll(/^    KEYS\[(\d+)\] \S/gm)].map((m) => Number(m[1]));
      expect(keyLines, file).toEqual(Array.from({ length: numKeys }, (_, i) => i + 1));
      expect(header, file).toMatch(/^    ARGV\[1\] \S/m);
      const loaded = loadScript((Object.entries(SCRIPT_FILES).find(([, f]) => f === file)![0]) as ScriptName);
      expect(loaded.numKeys).toBe(numKeys);
      expect(loaded.source).not.toMatch(/--! include/);
      expect(text.match(/KEYS\[(\d+)\]/g)?.every((k) => Number(/\d+/.exec(k)![0]) <= numKeys) ?? true).toBe(true);
    }
  });

  it('recovers from SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
    await withRedis({}, async (b, a) => {
      await b.createRun(spec('r1'));
      await a.sendCommand(['SCRIPT', 'FLUSH']);
      const [l] = await b.claim('w1', 1, 10_000);
      expect(l).toMatchObject({ runId: 'r1', attempt: 1, contextVersion: 0 });
      expect(await b.commitStep({ runId: 'r1', itemId: '0', leaseToken: l!.leaseToken, outcome: { type: 'terminal', output: 'ok', items: [], arrivals: [], delta: { x: 1 } } })).toMatchObject({ status: 'applied', runStatus: 'completed', contextVersion: 1 });
      const exists = (await a.sendCommand(['SCRIPT', 'EXISTS', loadScript('claim').sha, loadScript('commit').sha])) as number[];
      expect(exists).toEqual([1, 1]);
    });
  });

  it('isolates key prefixes and keeps every key under its prefix', async () => {
    const p1 = prefix();
    const p2 = prefix();
    const b1 = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: p1 });
    const b2 = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: p2 });
    const a = await admin();
    try {
      await b1.createRun(spec('same-id', { v: 1 }));
      await b2.createRun(spec('same-id', { v: 2 }));
      expect((await b1.getRun('same-id'))!.input).toEqual({ v: 1 });
      expect((await b2.getRun('same-id'))!.input).toEqual({ v: 2 });
      const [l1] = await b1.claim('w', 5, 10_000);
      expect(await b1.claim('w', 5, 10_000)).toEqual([]);
      expect(await b2.claim('w', 5, 10_000)).toHaveLength(1);
      await b1.commitStep({ runId: 'same-id', itemId: '0', leaseToken: l1!.leaseToken, outcome: { type: 'terminal', output: 1, items: [], arrivals: [], delta: undefined } });
      await b1.heartbeat('w', { status: 'idle', current: [], processed: 1, errors: 0 });
      expect((await b2.getRun('same-id'))!.status).toBe('running');
      expect(await b2.listWorkers()).toEqual([]);
      const keys: string[] = [];
      for await (const batch of a.scanIterator({ MATCH: `${base}*`, COUNT: 1000 })) keys.push(...batch);
      const mine = keys.filter((k) => k.startsWith(p1) || k.startsWith(p2));
      expect(mine.length).toBeGreaterThan(5);
      expect(mine.some((k) => k.startsWith(p1) && k.includes('run:{same-id}'))).toBe(true);
      expect(keys.filter((k) => k.startsWith(`${base}-s`) && !k.startsWith(p1) && !k.startsWith(p2)).every((k) => !k.includes('same-id'))).toBe(true);
      for (const bad of ['', 'a*', 'x{y}:', ' lead', 'x'.repeat(65)]) await expect(RedisBackend.connect({ url: REDIS_URL, keyPrefix: bad })).rejects.toBeInstanceOf(InvalidArgumentError);
    } finally {
      await a.close();
      await b1.close();
      await b2.close();
    }
  });

  it('a connection killed mid-call surfaces a StoreError, and the backend works again after reconnecting', async () => {
    const name = `flx-kill-${process.pid}-${++n}`;
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix(), client: { name } });
    const a = await admin();
    try {
      await b.createRun(spec('r-kill'));
      const list = (await a.sendCommand(['CLIENT', 'LIST'])) as string;
      const id = /(?:^|\n)id=(\d+) [^\n]*name=([^ ]+)/g;
      let clientId: string | undefined;
      for (const m of list.matchAll(id)) if (m[2] === name) clientId = m[1];
      expect(clientId).toBeDefined();
      // Hold the backend's script on the server (WRITE pause), then kill its connection while the call is in flight.
      await a.sendCommand(['CLIENT', 'PAUSE', '5000', 'WRITE']);
      const inFlight = b.claim('w1', 1, 10_000).then(
        () => undefined,
        (err: unknown) => err,
      );
      await sleep(50);
      await a.sendCommand(['CLIENT', 'KILL', 'ID', clientId!]);
      await a.sendCommand(['CLIENT', 'UNPAUSE']);
      expect(await inFlight).toBeInstanceOf(StoreError);
      let run: Awaited<ReturnType<RedisBackend['getRun']>>;
      for (let i = 0; ; i++) {
        try {
          run = await b.getRun('r-kill');
          break;
        } catch (err) {
          expect(err).toBeInstanceOf(StoreError);
          if (i > 100) throw err;
          await sleep(50);
        }
      }
      expect(run!.status).toBe('running');
      const [l] = await b.claim('w1', 1, 10_000);
      expect(l).toMatchObject({ runId: 'r-kill', item: { id: '0' } });
      expect((await b.commitStep({ runId: 'r-kill', itemId: '0', leaseToken: l!.leaseToken, outcome: { type: 'terminal', output: 'ok', items: [], arrivals: [], delta: undefined } })).status).toBe('applied');
    } finally {
      await a.sendCommand(['CLIENT', 'UNPAUSE']).catch(() => undefined);
      await a.close();
      await b.close();
    }
  });

  it('an unreachable server is a StoreError', async () => {
    await expect(RedisBackend.connect({ url: 'redis://127.0.0.1:1', keyPrefix: prefix(), client: { socket: { reconnectStrategy: false } } })).rejects.toBeInstanceOf(StoreError);
  });

  it("expires a finished run's keys after retainFinishedMs and forgets it in listRuns", async () => {
    await withRedis({ retainFinishedMs: 300 }, async (b, a, p) => {
      await b.createRun(spec('r-done'));
      await b.createRun(spec('r-live'));
      const runKey = `${p}run:{r-done}`;
      expect(await a.pTTL(runKey)).toBe(-1);
      // a keyed signal: its key's set and digest hash expire with the run
      await b.signal('r-done', 'vote', { v: 1 }, 'k1');
      await b.cancelRun('r-done');
      for (const part of ['mailbox', 'sigkeys', 'sigdigests']) expect(await a.pTTL(`${p}run:{r-done}:${part}`), part).toBeGreaterThan(0);
      // a worker's error recorded after the run finished (a misrouted worker's, racing the cancel) expires with it
      await b.recordError('r-done', { itemId: '0', node: 'a', attempt: 1, error: { name: 'Error', message: 'late' } });
      expect(await a.pTTL(`${p}run:{r-done}:errors`)).toBeGreaterThan(0);
      const ttl = await a.pTTL(runKey);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
      expect(await a.pTTL(`${p}run:{r-done}:states`)).toBeGreaterThan(0);
      expect(await a.pTTL(`${p}run:{r-live}`)).toBe(-1);
      await sleep(450);
      expect(await b.getRun('r-done')).toBeUndefined();
      expect(await a.exists([`${p}run:{r-done}:errors`, `${p}run:{r-done}:sigkeys`, `${p}run:{r-done}:sigdigests`])).toBe(0);
      expect((await b.listRuns()).map((r) => r.runId)).toEqual(['r-live']);
      expect(await a.zScore(`${p}runs`, 'r-done')).toBeNull();
      await b.createRun(spec('r-next'));
      expect(await a.zScore(`${p}runs:status:cancelled`, 'r-done')).toBeNull();
      expect(await a.zCard(`${p}runs:expiring`)).toBe(0);
    });
  });

  it('keeps about eventRetention events: the stream is trimmed as events come, and its newest events stay', async () => {
    await withRedis({ eventRetention: 100 }, async (b, a, p) => {
      // one event (run.created) per call, over many milliseconds
      for (let i = 0; i < 600; i++) {
        await b.createRun(spec(`ev-${i}`));
        if (i % 50 === 0) await sleep(2);
      }
      const len = await a.xLen(`${p}events`);
      // (`MAXLEN ~` drops whole stream nodes of 100 entries: up to a node more than asked, plus a millisecond's events)
      expect(len).toBeGreaterThanOrEqual(100);
      expect(len).toBeLessThan(250);
      const newest = (await a.xRevRange(`${p}events`, '+', '-', { COUNT: 1 }))?.[0];
      expect(newest?.message).toMatchObject({ r: 'ev-599' });
    });
  });

  it('a cursor inside an entry that is gone is EventsLostError, not a silent skip of the rest of that entry', async () => {
    const { EventsLostError } = await import('../../runtime/core/errors.js');
    await withRedis({}, async (b, a, p) => {
      // runs created together: entries of several run.created events
      await Promise.all(Array.from({ length: 10 }, (_, i) => b.createRun(spec(`g${i}`))));
      const all: EventEnvelope[] = [];
      for await (const e of b.subscribe({})) if (all.push(e) === 10) break;
      const at = all.findIndex((e) => /^\d+-\d+\.\d+$/.test(e.cursor));
      expect(at).toBeGreaterThanOrEqual(0);
      const first = all[at]!.cursor;
      const id = first.slice(0, first.indexOf('.'));
      const rest = async (): Promise<string[]> => {
        const got: string[] = [];
        for await (const e of b.subscribe({ after: first })) {
          got.push(e.event.runId);
          break;
        }
        return got;
      };
      expect(await rest()).toEqual([all[at + 1]!.event.runId]);
      await a.sendCommand(['XDEL', `${p}events`, id]);
      await expect(rest()).rejects.toBeInstanceOf(EventsLostError);
    });
  });

  it('a stream that went back in time under a subscription (a server restored from an older snapshot) is EventsLostError, not a cursor "not issued by this store"', async () => {
    const { EventsLostError } = await import('../../runtime/core/errors.js');
    await withRedis({}, async (b, a, p) => {
      await b.createRun(spec('t1'));
      const ac = new AbortController();
      const events = b.subscribe({ signal: ac.signal })[Symbol.asyncIterator]();
      try {
        expect((await events.next()).value?.event.runId).toBe('t1');
        const next = events.next();
        await new Promise((r) => setTimeout(r, 100));
        // what the server has after a restart from a snapshot older than what the subscription read
        await a.sendCommand(['DEL', `${p}events`]);
        await a.sendCommand(['XADD', `${p}events`, '1-1', 'r', 'old', 'e', '{}']);
        const list = String(await a.sendCommand(['CLIENT', 'LIST']));
        for (const line of list.split('\n').filter((l) => l.includes(` name=floxide-events:${p}events `))) await a.sendCommand(['CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!]);
        const err = await next.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(EventsLostError);
        expect((err as Error).message).toMatch(/older than the last one this subscription read .*lost events it had published/);
      } finally {
        ac.abort();
      }
    });
  });

  it('keeps about eventRetention events when entries hold many (a batch of new runs is one entry)', async () => {
    await withRedis({ eventRetention: 200 }, async (b, a, p) => {
      // concurrent createRun calls go to Redis as one script: one entry of up to 50 run.created events
      for (let round = 0; round < 40; round++) {
        await Promise.all(Array.from({ length: 50 }, (_, i) => b.createRun(spec(`m-${round}-${i}`))));
        await sleep(2);
      }
      const entries = (await a.sendCommand(['XRANGE', `${p}events`, '-', '+'])) as [string, string[]][];
      const counts = entries.map(([, fields]) => fields.filter((f, i) => i % 2 === 0 && f === 'e').length);
      expect(Math.max(...counts)).toBeGreaterThan(1);
      const events = counts.reduce((x, y) => x + y, 0);
      // 2,000 published: about 200 stay (whole stream nodes go at once, and a millisecond's entries come before a trim)
      expect(events).toBeGreaterThanOrEqual(200);
      expect(events).toBeLessThan(700);
      expect(Number(await a.get(`${p}events:avg`))).toBeGreaterThan(1);
    });
  });

  it('listRuns forgets an expired run\'s index entry only while the run is gone: a run created again under its id meanwhile stays listed', async () => {
    await withRedis({ retainFinishedMs: 100 }, async (b) => {
      await b.createRun(spec('x'));
      await b.cancelRun('x');
      await until(async () => (await b.getRun('x')) === undefined, 10_000, 'the expiry');
      // another client creates run x again between listRuns' read of the page (x gone) and its cleanup
      const other = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: b.keyPrefix });
      try {
        const client = (b as unknown as { client: { multi(): { execAsPipeline(): Promise<unknown> } } }).client;
        const multi = client.multi.bind(client);
        let raced = false;
        client.multi = () => {
          const m = multi();
          const exec = m.execAsPipeline.bind(m);
          m.execAsPipeline = async () => {
            const rows = await exec();
            if (!raced) {
              raced = true;
              await other.createRun(spec('x'));
            }
            return rows;
          };
          return m;
        };
        expect(await b.listRuns()).toEqual([]);
        expect(raced).toBe(true);
        expect((await b.listRuns()).map((r) => [r.runId, r.status])).toEqual([['x', 'running']]);
      } finally {
        await other.close();
      }
    });
  });

  it('moves the runs of a ring written before rings were per version onto their versions\' rings', async () => {
    await withRedis({}, async (b, a, p) => {
      await b.createRun(spec('r1'));
      await b.createRun({ ...spec('r2'), fingerprint: 'fp2' });
      // the layout of an older floxide: one ring per workflow
      await a.del([`${p}ring:wf@fp`, `${p}ring:wf@fp2`, `${p}wfring`, `${p}wfset`]);
      await a.rPush(`${p}ring:wf`, ['r1', 'r2']);
      await a.rPush(`${p}wfring`, 'wf');
      await a.sAdd(`${p}wfset`, 'wf');
      expect((await b.claim('w1', 5, 10_000, { workflow: 'wf', fingerprints: ['fp2'] })).map((l) => l.runId)).toEqual(['r2']);
      expect(await a.lRange(`${p}ring:wf`, 0, -1)).toEqual([]);
      expect((await b.claim('w1', 5, 10_000)).map((l) => l.runId)).toEqual(['r1']);
    });
  });

  it('keeps a run on its ring once: resuming a paused run that a claim has not dropped yet adds no second entry', async () => {
    await withRedis({}, async (b, a, p) => {
      await b.createRun(spec('r1'));
      await b.createRun(spec('r2'));
      expect(await a.lRange(`${p}ring:wf@fp`, 0, -1)).toEqual(['r1', 'r2']);
      await b.pauseRun('r1');
      await b.resumeRun('r1');
      expect(await a.lRange(`${p}ring:wf@fp`, 0, -1)).toEqual(['r1', 'r2']);
      await b.pauseRun('r1');
      expect((await b.claim('w1', 5, 10_000)).map((l) => l.runId)).toEqual(['r2']);
      expect(await a.lRange(`${p}ring:wf@fp`, 0, -1)).toEqual([]);
      await b.resumeRun('r1');
      expect(await a.lRange(`${p}ring:wf@fp`, 0, -1)).toEqual(['r1']);
      expect((await b.claim('w1', 5, 10_000)).map((l) => l.runId)).toEqual(['r1']);
    });
  });

  it('a commit whose lease token holds a newline is no lease: lease_lost, and the real lease still commits', async () => {
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix() });
    try {
      await b.createRun(spec('r1'));
      const [lease] = await b.claim('w1', 1, 10_000);
      const outcome = { type: 'terminal' as const, output: 1, items: [], arrivals: [], delta: undefined };
      expect(await b.commitStep({ runId: 'r1', itemId: '0', leaseToken: `${lease!.leaseToken}\nx`, outcome })).toEqual({ status: 'lease_lost' });
      expect((await b.commitStep({ runId: 'r1', itemId: '0', leaseToken: lease!.leaseToken, outcome })).status).toBe('applied');
    } finally {
      await b.close();
    }
  });

  it.each([
    ['ready to be claimed', false],
    ['leased when its worker died (an expired lease)', true],
  ])('an item state that is not a packed state (a stray write), %s, fails its run with CorruptStateError; the worker serves the other runs', async (_case, leased) => {
    const keyPrefix = prefix();
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix });
    try {
      const wf = chain();
      const ids = ['st-1', 'st-2', 'st-3'];
      for (const id of ids) await wf.startDistributed(new CountCtx(), 1, b, id);
      // a lease that expires at once: the claim's first phase finds the state broken when it would redeliver it
      if (leased) expect((await b.claim('dead-worker', 3, 1)).map((l) => l.runId).sort()).toEqual(ids);
      const c = await admin();
      await c.hSet(`${keyPrefix}run:{st-2}:states`, '0', 'not a state\nat all');
      await c.close();
      if (leased) await sleep(5);
      const worker = new Worker(b, ChainWorkflowDef, new ChainWorkflow(), { concurrency: 3, leaseMs: 10_000, idleMinMs: 2, idleMaxMs: 20, schedules: false });
      await worker.start();
      try {
        await until(async () => (await Promise.all(ids.map((id) => b.getRun(id)))).every((r) => r !== undefined && isFinalRunStatus(r.status)), 10_000, 'every run final');
      } finally {
        await worker.stop(0);
      }
      for (const id of ['st-1', 'st-3']) expect(await b.getRun(id)).toMatchObject({ status: 'completed', output: 6 });
      const run = (await b.getRun('st-2'))!;
      expect(run).toMatchObject({ status: 'failed', error: { name: 'CorruptStateError' } });
      expect(run.error!.message).toContain('run st-2 item "0"');
      expect(run.error!.message).toContain('not a state at all');
      expect(await b.deadLetters('st-2')).toHaveLength(1);
      expect(await b.itemState('st-2', '0')).toMatchObject({ status: 'dead_lettered', node: '?' });
    } finally {
      await b.close();
    }
  });

  it('lists many runs across index pages without N+1 reads', async () => {
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix() });
    try {
      await Promise.all(Array.from({ length: 450 }, (_, i) => b.createRun({ ...spec(`r${i}`), workflow: i % 3 === 0 ? 'three' : 'other' })));
      expect(await b.listRuns()).toHaveLength(450);
      expect(await b.listRuns({ workflow: 'three' })).toHaveLength(150);
      expect(await b.listRuns({ status: 'running', limit: 420 })).toHaveLength(420);
      const newest = await b.listRuns({ limit: 5 });
      expect(newest.map((r) => r.createdAt)).toEqual([...newest.map((r) => r.createdAt)].sort((x, y) => y - x));
    } finally {
      await b.close();
    }
  });

  it('lists by status and workflow through the smaller of their indexes (a rare workflow among many running runs: its own)', async () => {
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix() });
    try {
      await Promise.all(Array.from({ length: 600 }, (_, i) => b.createRun({ ...spec(`r${i}`), workflow: i === 7 ? 'rare' : 'common' })));
      for (const id of ['r3', 'r400']) await b.cancelRun(id, 'x');
      // index pages read (200 runs each): the status index holds 598 running runs, the workflow index 1 run
      const pages = vi.spyOn(b as unknown as { evalScript: (name: string) => Promise<unknown> }, 'evalScript');
      const read = async (filter: Parameters<RedisBackend['listRuns']>[0]) => {
        pages.mockClear();
        const ids = (await b.listRuns(filter)).map((r) => r.runId);
        return { ids, pages: pages.mock.calls.filter(([name]) => name === 'listRuns').length };
      };
      expect(await read({ status: 'running', workflow: 'rare' })).toEqual({ ids: ['r7'], pages: 1 });
      expect(await read({ status: 'cancelled', workflow: 'rare' })).toEqual({ ids: [], pages: 1 });
      // the other way round: 2 cancelled runs among 599 of the workflow, read through the status index
      expect(await read({ status: 'cancelled', workflow: 'common' })).toEqual({ ids: ['r400', 'r3'], pages: 1 });
      expect((await read({ status: 'running', workflow: 'common' })).ids).toHaveLength(597);
    } finally {
      await b.close();
    }
  });
});

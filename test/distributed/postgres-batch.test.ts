/**
 * Postgres throughput paths: the batched step commit (`commitSteps`, one transaction for many independent
 * commits), the set-based claim over many runs, and the backend's own connection queue.
 */
import { describe, expect, it } from 'vitest';
import { usePgSchemas } from './pg-schemas.js';
import type { EngineItem, JoinArrival, StepOutcome } from '../../runtime/engine/types.js';
import type { LeasedItem, NewRun, StepCommit } from '../../runtime/distributed/contracts.js';
import { InvalidArgumentError, RunNotFoundError, StoreError } from '../../runtime/core/errors.js';

const { freshSchema, open } = usePgSchemas('b');

function spec(runId: string, over: Partial<NewRun> = {}): NewRun {
  return { runId, workflow: 'wf', fingerprint: 'fp', input: { runId }, context: { count: 0 }, firstItem: { node: 'start', id: '0', input: null }, ...over };
}

const cont = (items: EngineItem[] = [], arrivals: JoinArrival[] = [], delta?: Record<string, unknown>): StepOutcome => ({ type: 'continue', items, arrivals, delta });
const commitOf = (l: LeasedItem, outcome: StepOutcome): StepCommit => ({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome });

describe('postgres commitSteps', () => {
  it('applies each commit like commitStep and answers at the same index', async () => {
    const b = await open();
    for (const id of ['a', 'b', 'c']) await b.createRun(spec(id));
    const leases = await b.claim('w1', 3, 30_000);
    expect(leases.map((l) => l.runId).sort()).toEqual(['a', 'b', 'c']);
    const byRun = new Map(leases.map((l) => [l.runId, l]));
    const res = await b.commitSteps([
      commitOf(byRun.get('a')!, cont([{ node: 'next', id: 'a1', input: 1 }], [], { count: 1 })),
      commitOf(byRun.get('b')!, { type: 'terminal', output: 'done', items: [], arrivals: [], delta: { count: 2 } }),
      commitOf(byRun.get('c')!, { type: 'retry', attempt: 1, delayMs: 0, error: { name: 'Error', message: 'again' } }),
    ]);
    const b1 = await b.getRun('b');
    expect(res).toEqual([
      { ok: true, result: { status: 'applied', runStatus: 'running', enqueued: ['a1'], joined: [], dropped: [], contextVersion: 1 } },
      { ok: true, result: { status: 'applied', runStatus: 'completed', enqueued: [], joined: [], dropped: [], contextVersion: 1, finished: { createdAt: b1!.createdAt, finishedAt: b1!.finishedAt } } },
      { ok: true, result: { status: 'applied', runStatus: 'running', enqueued: [], joined: [], dropped: [], contextVersion: 0 } },
    ]);
    expect((await b.getRun('b'))!.output).toBe('done');
    expect((await b.itemState('c', '0'))!).toMatchObject({ status: 'waiting_retry', attempt: 2 });
    expect((await b.readContext('a')).deltas).toEqual([{ version: 1, itemId: '0', delta: { count: 1 } }]);
    // the same batch again: every commit was already applied
    const again = await b.commitSteps([
      commitOf(byRun.get('a')!, cont()),
      commitOf(byRun.get('b')!, cont()),
      commitOf(byRun.get('c')!, { type: 'retry', attempt: 1, delayMs: 0, error: { name: 'Error', message: 'again' } }),
    ]);
    expect(again.map((r) => r.ok && r.result.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(await b.commitSteps([])).toEqual([]);
  });

  it('keeps bad commits to themselves: invalid input, unknown runs and lost leases do not stop the others', async () => {
    const b = await open();
    await b.createRun(spec('g'));
    const [l] = await b.claim('w1', 1, 30_000);
    // park arrival 0 of a group of 2, leaving item '0' done and two branch items
    const split = await b.commitStep(commitOf(l!, cont([{ node: 'x', id: 'x1', input: 1 }, { node: 'x', id: 'x2', input: 2 }])));
    expect(split.status).toBe('applied');
    const [x1, x2] = await b.claim('w1', 2, 30_000);
    await b.createRun(spec('h'));
    const [h] = await b.claim('w1', 1, 30_000);
    const arrival = (index: number, size: number): JoinArrival => ({ group: 'grp', index, size, held: false, value: index, node: 'j', outer: [] });
    const res = await b.commitSteps([
      commitOf(x1!, cont([], [arrival(0, 2)])),
      commitOf(x2!, cont([], [arrival(1, 3)])), // size disagrees with the parked group: invalid, nothing applied
      { runId: 'nope', itemId: '0', leaseToken: 't', outcome: cont() },
      { runId: 'h', itemId: '0', leaseToken: 'not-the-token', outcome: cont() },
      { runId: 'bad id!', itemId: '0', leaseToken: 't', outcome: cont() }, // rejected before sending
      commitOf(h!, cont([{ node: 'n', id: 'h1', input: null }])),
    ]);
    expect(res[0]).toMatchObject({ ok: true, result: { status: 'applied' } });
    expect(res[1]!.ok).toBe(false);
    expect(!res[1]!.ok && res[1]!.error).toBeInstanceOf(InvalidArgumentError);
    expect(!res[2]!.ok && res[2]!.error).toBeInstanceOf(RunNotFoundError);
    expect(res[3]).toEqual({ ok: true, result: { status: 'lease_lost' } });
    expect(!res[4]!.ok && res[4]!.error).toBeInstanceOf(InvalidArgumentError);
    expect(res[5]).toMatchObject({ ok: true, result: { status: 'applied', enqueued: ['h1'] } });
    // the invalid commit changed nothing: x2 is still leased and can commit correctly afterwards
    expect((await b.itemState('g', x2!.item.id))!.status).toBe('in_progress');
    const fixed = await b.commitSteps([commitOf(x2!, cont([], [arrival(1, 2)]))]);
    expect(fixed[0]).toMatchObject({ ok: true, result: { status: 'applied', enqueued: ['grp:join'] } });
  });

  it('commits of one run in one batch see each other: a join fires once, a repeated commit is a duplicate', async () => {
    const b = await open();
    await b.createRun(spec('j'));
    const [l] = await b.claim('w1', 1, 30_000);
    await b.commitStep(commitOf(l!, cont([{ node: 'x', id: 'x1', input: 1 }, { node: 'x', id: 'x2', input: 2 }])));
    const [x1, x2] = await b.claim('w1', 5, 30_000);
    const arrival = (index: number): JoinArrival => ({ group: 'grp', index, size: 2, held: false, value: index * 10, node: 'j', outer: [] });
    const res = await b.commitSteps([
      commitOf(x1!, cont([], [arrival(0)], { count: 1 })),
      commitOf(x2!, cont([], [arrival(1)], { count: 1 })),
      commitOf(x2!, cont([], [arrival(1)], { count: 1 })),
    ]);
    expect(res[0]).toMatchObject({ ok: true, result: { status: 'applied', enqueued: [], contextVersion: 1 } });
    expect(res[1]).toMatchObject({
      ok: true,
      result: { status: 'applied', enqueued: ['grp:join'], joined: [{ node: 'j', id: 'grp:join', settle: [arrival(0), arrival(1)] }], contextVersion: 2 },
    });
    expect(res[2]).toEqual({ ok: true, result: { status: 'duplicate' } });
    expect((await b.pendingWork('j')).map((p) => p.item.id)).toEqual(['grp:join']);
    expect((await b.metrics('j')).completed).toBe(3);
  });

  it('concurrent batches over the same runs in opposite orders never deadlock', async () => {
    const schema = freshSchema();
    const [b1, b2] = [await open(schema), await open(schema)];
    const runs = Array.from({ length: 30 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    for (const r of runs) await b1.createRun(spec(r));
    // each run gets two outstanding items so that both workers hold one item of every run
    const first = await b1.claim('w1', 30, 30_000);
    await b1.commitSteps(first.map((l) => commitOf(l, cont([{ node: 'x', id: 'p', input: 1 }, { node: 'x', id: 'q', input: 2 }]))));
    const mine = await b1.claim('w1', 30, 30_000);
    const theirs = await b2.claim('w2', 30, 30_000);
    expect(new Set([...mine, ...theirs].map((l) => l.runId)).size).toBe(30);
    expect(mine.length + theirs.length).toBe(60);
    const outcome = (l: LeasedItem) => cont([{ node: 'y', id: `${l.item.id}-next`, input: null }], [], { count: 1 });
    const [r1, r2] = await Promise.all([
      b1.commitSteps(mine.map((l) => commitOf(l, outcome(l)))),
      b2.commitSteps([...theirs].reverse().map((l) => commitOf(l, outcome(l)))),
    ]);
    expect([...r1, ...r2].every((r) => r.ok && r.result.status === 'applied')).toBe(true);
    for (const r of runs) expect((await b1.readContext(r)).version).toBe(2);
  });

  it('rejects with StoreError once closed', async () => {
    const b = await open();
    await b.close();
    await expect(b.commitSteps([])).rejects.toBeInstanceOf(StoreError);
  });
});

describe('postgres claims over many runs', () => {
  it('serve runs round-robin, one item each per turn, across calls and workers', async () => {
    const b = await open();
    const runs = Array.from({ length: 120 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    for (const r of runs) {
      await b.createRun(spec(r));
      // a second claimable item in every run
    }
    const all = await b.claim('w0', 120, 30_000);
    await b.commitSteps(all.map((l) => commitOf(l, cont([{ node: 'x', id: 'a', input: 1 }, { node: 'x', id: 'b', input: 2 }])))) ;
    // 240 claimable items over 120 runs: three claims of 50 hand out one item of 120 different runs first
    const got: LeasedItem[] = [];
    for (const w of ['w1', 'w2', 'w1']) got.push(...(await b.claim(w, 50, 30_000)));
    const firstTurn = got.slice(0, 120);
    expect(new Set(firstTurn.map((l) => l.runId)).size).toBe(120);
    expect(firstTurn.every((l) => l.item.id === 'a')).toBe(true);
    expect(got.slice(120).map((l) => l.item.id)).toEqual(Array(30).fill('b'));
    // a claim asking for more than there are runs gives each run a second item in the same call
    const rest = await b.claim('w3', 500, 30_000);
    expect(rest).toHaveLength(90);
    expect(new Set(rest.map((l) => `${l.runId}/${l.item.id}`)).size).toBe(90);
  });
});

describe('postgres coalesced createRun', () => {
  it('concurrent creates each keep their own answer: new, existing, twice the same id, mismatched input', async () => {
    const b = await open();
    await b.createRun(spec('old'));
    const calls = [
      ...Array.from({ length: 50 }, (_, i) => b.createRun(spec(`new${i}`))),
      b.createRun(spec('old')),
      b.createRun(spec('twice')),
      b.createRun(spec('twice')),
      b.createRun(spec('old', { input: 'other' })),
      b.createRun(spec('old', { fingerprint: 'fp2' })),
    ];
    const res = await Promise.allSettled(calls);
    const ok = res.map((r) => (r.status === 'fulfilled' ? r.value.created : r.reason.name));
    expect(ok.slice(0, 50)).toEqual(Array(50).fill(true));
    expect(ok.slice(50)).toEqual([false, true, false, 'RunInputMismatchError', 'FingerprintMismatchError']);
    const fresh = await b.getRun('new7');
    expect(fresh).toMatchObject({ status: 'running', input: { runId: 'new7' } });
    expect((await b.pendingWork('new7')).map((p) => p.item)).toEqual([{ node: 'start', id: '0', input: null }]);
    expect(await b.claim('w1', 100, 30_000)).toHaveLength(52);
  });
});

describe('postgres connection queue', () => {
  it('queues calls beyond the pool size instead of timing them out', async () => {
    const b = await open(undefined, { pool: { max: 2, connectionTimeoutMillis: 200 } });
    // 200 concurrent calls on 2 connections take longer than the 200 ms connect timeout in total
    const created = await Promise.all(Array.from({ length: 200 }, (_, i) => b.createRun(spec(`q${i}`))));
    expect(created.every((c) => c.created)).toBe(true);
    expect((await b.listRuns()).length).toBe(200);
  });
});

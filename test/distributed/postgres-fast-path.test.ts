/**
 * Postgres hot path (migrations 0004, 0005 and claim.sql): the set-based fast path of commitSteps for plain
 * 'continue' commits and for terminal commits answers and writes exactly like commit_one, it grants successor
 * hand-offs per commit, and a claim carries the run's latest delta and a young run's initial context so a worker can
 * skip readContext.
 */
import { describe, expect, it } from 'vitest';
import { usePgSchemas } from './pg-schemas.js';
import type { EngineItem, StepOutcome } from '../../runtime/engine/types.js';
import type { LeasedItem, NewRun, RunRecord, StepCommit } from '../../runtime/distributed/contracts.js';
import type { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';

const { open } = usePgSchemas('f');

function spec(runId: string): NewRun {
  return { runId, workflow: 'wf', fingerprint: 'fp', input: { runId }, context: { count: 0 }, firstItem: { node: 'start', id: '0', input: null } };
}

const cont = (items: EngineItem[], delta?: Record<string, unknown>): StepOutcome => ({ type: 'continue', items, arrivals: [], delta });
const commitOf = (l: LeasedItem, outcome: StepOutcome, token = l.leaseToken): StepCommit => ({ runId: l.runId, itemId: l.item.id, leaseToken: token, outcome });
/** What a commit that finished a run answers of it (`CommitResult.finished`): its record's times and error. */
const endOf = (r: RunRecord | undefined) => ({ createdAt: r!.createdAt, finishedAt: r!.finishedAt, ...(r!.error === undefined ? {} : { error: r!.error }) });

describe('postgres commitSteps fast path', () => {
  it('enqueues successors in order (first of a repeated id, none the run already has) and bumps version and metrics', async () => {
    const b = await open();
    for (const id of ['a', 'b']) await b.createRun(spec(id));
    const leases = new Map((await b.claim('w1', 2, 30_000)).map((l) => [l.runId, l]));
    const res = await b.commitSteps([
      commitOf(leases.get('a')!, cont([{ node: 'n', id: 'z', input: 1 }, { node: 'n', id: 'y', input: 2 }, { node: 'n', id: 'z', input: 3 }, { node: 'n', id: '0', input: 4 }], { count: 1 })),
      commitOf(leases.get('b')!, cont([{ node: 'n', id: 'b1', input: 1 }])),
    ]);
    expect(res).toEqual([
      { ok: true, result: { status: 'applied', runStatus: 'running', enqueued: ['z', 'y'], joined: [], dropped: [], contextVersion: 1 } },
      { ok: true, result: { status: 'applied', runStatus: 'running', enqueued: ['b1'], joined: [], dropped: [], contextVersion: 0 } },
    ]);
    expect((await b.pendingWork('a')).map((p) => p.item)).toEqual([
      { node: 'n', id: 'z', input: 1 },
      { node: 'n', id: 'y', input: 2 },
    ]);
    expect(await b.itemState('a', '0')).toMatchObject({ status: 'completed', leaseExpiresAt: undefined });
    expect(await b.metrics('a')).toMatchObject({ enqueued: 3, completed: 1 });
    expect(await b.readContext('a')).toEqual({ initial: { count: 0 }, deltas: [{ version: 1, itemId: '0', delta: { count: 1 } }], version: 1 });
    // claims hand the successors out in enqueue order
    const next = await b.claim('w1', 10, 30_000);
    expect(next.filter((l) => l.runId === 'a').map((l) => l.item.id)).toEqual(['z', 'y']);
  });

  it('answers duplicate, lease_lost and run_finished like commit_one, and fails a drained run', async () => {
    const b = await open();
    for (const id of ['a', 'b', 'c', 'd']) await b.createRun(spec(id));
    const leases = new Map((await b.claim('w1', 4, 30_000)).map((l) => [l.runId, l]));
    const first = await b.commitSteps([commitOf(leases.get('a')!, cont([{ node: 'n', id: 'a1', input: null }]))]);
    expect(first[0]).toMatchObject({ ok: true, result: { status: 'applied' } });
    await b.cancelRun('c');
    const res = await b.commitSteps([
      commitOf(leases.get('a')!, cont([{ node: 'n', id: 'a1', input: null }])),
      commitOf(leases.get('b')!, cont([]), 'not-the-token'),
      commitOf(leases.get('c')!, cont([{ node: 'n', id: 'c1', input: null }])),
      commitOf(leases.get('d')!, cont([], { count: 5 })),
    ]);
    expect(res[0]).toEqual({ ok: true, result: { status: 'duplicate' } });
    expect(res[1]).toEqual({ ok: true, result: { status: 'lease_lost' } });
    expect(res[2]).toEqual({ ok: true, result: { status: 'run_finished', runStatus: 'cancelled' } });
    expect(res[3]).toMatchObject({ ok: true, result: { status: 'applied', runStatus: 'failed', enqueued: [], contextVersion: 1 } });
    const d = await b.getRun('d');
    expect(d).toMatchObject({ status: 'failed', error: { name: 'NoTerminalReachedError' } });
    expect(res[3]).toMatchObject({ result: { finished: endOf(d) } });
    expect((await b.itemStates('c')).find((s) => s.itemId === 'c1')).toBeUndefined();
    expect(await b.metrics('b')).toMatchObject({ completed: 0 });
  });

  it('applies commits of a paused run and keeps its status', async () => {
    const b = await open();
    await b.createRun(spec('p'));
    const [lease] = await b.claim('w1', 1, 30_000);
    await b.pauseRun('p');
    const res = await b.commitSteps([commitOf(lease!, cont([{ node: 'n', id: 'p1', input: null }]))]);
    expect(res[0]).toEqual({ ok: true, result: { status: 'applied', runStatus: 'paused', enqueued: ['p1'], joined: [], dropped: [], contextVersion: 0 } });
    expect(await b.claim('w1', 1, 30_000)).toEqual([]);
  });
});

/**
 * A run with work in every state when its terminal commit comes: a pending item, an in-flight one, a retry waiting,
 * a parked join arrival. Returns the lease of the item that commits the terminal, and the commit of its first step
 * (already applied: sending it again answers duplicate and changes nothing).
 */
async function busyRun(b: PostgresBackend, runId: string): Promise<{ lease: LeasedItem; applied: StepCommit }> {
  await b.createRun(spec(runId));
  const [first] = await b.claim('w1', 1, 30_000);
  const fan = ['t', 'p', 'f', 'r', 'j'].map((id) => ({ node: 'n', id, input: id }));
  const applied = commitOf(first!, cont(fan, { count: 1 }));
  await b.commitStep(applied);
  const leases = new Map((await b.claim('w1', 10, 30_000)).map((l) => [l.item.id, l]));
  await b.release(runId, 'p', leases.get('p')!.leaseToken);
  await b.commitStep(commitOf(leases.get('r')!, { type: 'retry', attempt: 1, delayMs: 60_000, error: { name: 'Error', message: 'later' } }));
  await b.commitStep(commitOf(leases.get('j')!, { type: 'continue', items: [], arrivals: [{ group: 'g', index: 0, size: 2, held: false, node: 'm', value: 1, outer: [] }], delta: undefined }));
  return { lease: leases.get('t')!, applied };
}

const terminal: StepOutcome = {
  type: 'terminal',
  output: { done: true },
  items: [{ node: 'n', id: 'after', input: null }],
  arrivals: [{ group: 'h', index: 1, size: 2, held: false, node: 'm', value: 2, outer: [] }],
  delta: { count: 7 },
};

/** Everything a caller can read about a run, without the server's times and the lease tokens. */
async function observe(b: PostgresBackend, runId: string) {
  const run = await b.getRun(runId);
  return {
    run: { ...run, createdAt: 0, updatedAt: 0, finishedAt: run?.finishedAt === undefined ? undefined : 0 },
    items: (await b.itemStates(runId)).map((s) => ({ ...s, updatedAt: 0, notBefore: undefined })),
    metrics: await b.metrics(runId),
    context: await b.readContext(runId),
    pending: await b.pendingWork(runId),
    errors: (await b.errors(runId)).map((e) => ({ ...e, at: 0 })),
  };
}

describe('postgres commitSteps fast path: terminal commits', () => {
  it('finishes the run exactly like commit_one: outstanding work dropped in enqueue order, then the extra drops', async () => {
    const slow = await open();
    const fast = await open();
    // two commits of one run in a batch skip the fast path: both go through commit_one, in array order
    const s = await busyRun(slow, 'a');
    const [one, dup] = await slow.commitSteps([commitOf(s.lease, terminal), s.applied]);
    expect(dup).toEqual({ ok: true, result: { status: 'duplicate' } });
    if (!one!.ok) throw one!.error;
    const viaOne = one!.result;
    const { lease } = await busyRun(fast, 'a');
    // another workflow's run in the same batch, so that the claim leaves run a alone
    await fast.createRun({ ...spec('other'), workflow: 'wf2' });
    const [other] = await fast.claim('w1', 1, 30_000, { workflow: 'wf2' });
    const viaBatch = await fast.commitSteps([commitOf(other!, cont([{ node: 'n', id: 'o1', input: null }])), commitOf(lease, terminal)]);
    // the same answer, the run's times its own
    expect(viaBatch[1]).toEqual({ ok: true, result: { ...viaOne, finished: endOf(await fast.getRun('a')) } });
    expect(viaOne).toEqual({
      status: 'applied',
      runStatus: 'completed',
      enqueued: [],
      joined: [],
      dropped: [
        { id: 'p', node: 'n', reason: 'terminal' },
        { id: 'f', node: 'n', reason: 'terminal' },
        { id: 'r', node: 'n', reason: 'terminal' },
        { id: 'after', node: 'n', reason: 'terminal' },
        { id: 'h[1]', node: 'm', reason: 'terminal' },
      ],
      contextVersion: 2,
      finished: endOf(await slow.getRun('a')),
    });
    expect(viaBatch[0]).toMatchObject({ ok: true, result: { status: 'applied', runStatus: 'running', enqueued: ['o1'] } });
    expect(await observe(fast, 'a')).toEqual(await observe(slow, 'a'));
    expect(await fast.getRun('a')).toMatchObject({ status: 'completed', output: { done: true } });
    expect(await fast.metrics('a')).toMatchObject({ completed: 3, dropped: 5, retries: 1 });
    // the run left the rotation: nothing of it is claimable any more, and a late commit only acks
    expect((await fast.claim('w1', 10, 30_000)).map((l) => l.runId)).toEqual(['other']);
    expect(await fast.commitSteps([commitOf(lease, terminal)])).toEqual([{ ok: true, result: { status: 'duplicate' } }]);
  });

  it('completes a paused run, and answers duplicate and lease_lost like commit_one', async () => {
    const b = await open();
    for (const id of ['p', 'q']) await b.createRun(spec(id));
    const leases = new Map((await b.claim('w1', 2, 30_000)).map((l) => [l.runId, l]));
    await b.pauseRun('p');
    const done: StepOutcome = { type: 'terminal', output: 1, items: [], arrivals: [], delta: undefined };
    const res = await b.commitSteps([commitOf(leases.get('p')!, done), commitOf(leases.get('q')!, done, 'not-the-token')]);
    expect(res).toEqual([
      { ok: true, result: { status: 'applied', runStatus: 'completed', enqueued: [], joined: [], dropped: [], contextVersion: 0, finished: endOf(await b.getRun('p')) } },
      { ok: true, result: { status: 'lease_lost' } },
    ]);
    expect(await b.getRun('p')).toMatchObject({ status: 'completed', output: 1, dropped: [] });
    expect(await b.commitSteps([commitOf(leases.get('p')!, done)])).toEqual([{ ok: true, result: { status: 'duplicate' } }]);
    expect(await b.metrics('p')).toMatchObject({ completed: 1, dropped: 0 });
  });
});

describe('postgres commitSteps fast path: successor hand-off', () => {
  it('hands off per commit within one batch: granted where the run has nothing else claimable, declined elsewhere', async () => {
    const b = await open();
    for (const id of ['h', 'busy']) await b.createRun(spec(id));
    const leases = new Map((await b.claim('w1', 2, 30_000)).map((l) => [l.runId, l]));
    // run busy gets a second claimable item first, so its hand-off is declined
    const busy = await b.commitSteps([commitOf(leases.get('busy')!, cont([{ node: 'n', id: 'b1', input: null }, { node: 'n', id: 'b2', input: null }]))]);
    expect(busy[0]).toMatchObject({ ok: true, result: { status: 'applied', enqueued: ['b1', 'b2'] } });
    const [b1] = await b.claim('w1', 1, 30_000);
    expect(b1!.item.id).toBe('b1');
    const handoff = { workerId: 'w7', leaseMs: 30_000 };
    const res = await b.commitSteps([
      { ...commitOf(leases.get('h')!, cont([{ node: 'n', id: 'h1', input: 1 }], { count: 1 })), handoff },
      { ...commitOf(b1!, cont([{ node: 'n', id: 'b3', input: null }])), handoff },
    ]);
    if (!res[0]!.ok || res[0]!.result.status !== 'applied') throw new Error(JSON.stringify(res[0]));
    expect(res[0]!.result).toMatchObject({ enqueued: ['h1'], contextVersion: 1 });
    expect(res[0]!.result.next).toMatchObject({ runId: 'h', workflow: 'wf', fingerprint: 'fp', item: { node: 'n', id: 'h1', input: 1 }, attempt: 1, deliveries: 1, contextVersion: 1 });
    expect(res[1]).toMatchObject({ ok: true, result: { status: 'applied', enqueued: ['b3'] } });
    expect(res[1]!.ok && res[1]!.result.status === 'applied' && res[1]!.result.next).toBeFalsy();
    expect(await b.itemState('h', 'h1')).toMatchObject({ status: 'in_progress', workerId: 'w7' });
    expect(await b.metrics('h')).toMatchObject({ enqueued: 2, completed: 1, redeliveries: 0 });
    // the handed-off item is nobody else's; the declined one is queued behind the run's waiting item
    expect((await b.claim('w2', 10, 30_000)).map((l) => `${l.runId}:${l.item.id}`)).toEqual(['busy:b2', 'busy:b3']);
  });
});

describe('postgres claim context', () => {
  it('carries the initial context while the run is young and the latest delta once it has one', async () => {
    const b = await open();
    await b.createRun(spec('r'));
    let [l] = await b.claim('w1', 1, 30_000);
    expect(l).toMatchObject({ contextVersion: 0, initialContext: { count: 0 } });
    expect(l!.lastDelta).toBeUndefined();
    for (let v = 1; v <= 3; v++) {
      await b.commitSteps([commitOf(l!, cont([{ node: 'n', id: `i${v}`, input: null }], { count: v }))]);
      [l] = await b.claim('w1', 1, 30_000);
      expect(l!.contextVersion).toBe(v);
      expect(l!.lastDelta).toEqual({ version: v, itemId: v === 1 ? '0' : `i${v - 1}`, delta: { count: v } });
      if (v <= 1) expect(l!.initialContext).toEqual({ count: 0 });
      else expect(l!.initialContext).toBeUndefined();
    }
    // a step without a delta: the claim still brings the latest delta (version unchanged)
    await b.commitSteps([commitOf(l!, cont([{ node: 'n', id: 'i4', input: null }]))]);
    [l] = await b.claim('w1', 1, 30_000);
    expect(l).toMatchObject({ contextVersion: 3, lastDelta: { version: 3, delta: { count: 3 } } });
  });
});

describe('postgres commits of a wide fan-out', () => {
  // A first node that fans out 20,000 items: both commit paths answer every id, in order, and enqueue them all. (Each
  // collected its answer by appending to a jsonb array, which copies it: 9 s for 20,000 items, 3.5 minutes for
  // 100,000, holding the run's row lock; the rule that keeps it out is in postgres-backend.test.ts.)
  const N = 20_000;
  const fanOut = (runId: string): EngineItem[] => Array.from({ length: N }, (_, i) => ({ node: 'n', id: `${runId}-${i}`, input: i }));

  it('through the fast path (commit_steps) and through commit_one (a commit with counters)', async () => {
    const b = await open();
    for (const id of ['fast', 'one']) await b.createRun(spec(id));
    const leases = new Map((await b.claim('w1', 2, 60_000)).map((l) => [l.runId, l]));
    const [fast] = await b.commitSteps([commitOf(leases.get('fast')!, cont(fanOut('fast')))]);
    const [one] = await b.commitSteps([{ ...commitOf(leases.get('one')!, cont(fanOut('one'))), counters: { rows: 1 } }]);
    for (const [runId, res] of [['fast', fast], ['one', one]] as const) {
      expect(res!.ok && res!.result.status === 'applied' && res!.result.enqueued).toEqual(fanOut(runId).map((it) => it.id));
      expect(await b.metrics(runId)).toMatchObject({ enqueued: N + 1, completed: 1 });
      expect((await b.pendingWork(runId)).slice(0, 3).map((p) => p.item)).toEqual(fanOut(runId).slice(0, 3));
    }
  });
});

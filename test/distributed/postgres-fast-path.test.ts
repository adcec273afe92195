/**
 * Postgres hot path (migration 0004 and claim.sql): the set-based fast path of commitSteps for plain 'continue'
 * commits answers and writes exactly like commit_one, and a claim carries the run's latest delta and a young
 * run's initial context so a worker can skip readContext.
 */
import { describe, expect, it } from 'vitest';
import { usePgSchemas } from './pg-schemas.js';
import type { EngineItem, StepOutcome } from '../../runtime/engine/step.js';
import type { LeasedItem, NewRun, StepCommit } from '../../runtime/distributed/contracts.js';

const { open } = usePgSchemas('f');

function spec(runId: string): NewRun {
  return { runId, workflow: 'wf', fingerprint: 'fp', input: { runId }, context: { count: 0 }, firstItem: { node: 'start', id: '0', input: null } };
}

const cont = (items: EngineItem[], delta?: Record<string, unknown>): StepOutcome => ({ type: 'continue', items, arrivals: [], delta });
const commitOf = (l: LeasedItem, outcome: StepOutcome, token = l.leaseToken): StepCommit => ({ runId: l.runId, itemId: l.item.id, leaseToken: token, outcome });

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

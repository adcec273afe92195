// Waits and sleeps inside nested workflows (issue 11) in the local modes: `run` with a handle, `runWithCheckpoint`
// and `resume` on memory and SQLite. A nested run that waits parks its outer item (the nested run's state goes with
// it, durably), which waits for the signal `<node>.<signal>`; each nested wait gets its own signal, an early signal is
// kept, a timeout inside routes to the nested workflow's fallback. Time is virtual (VirtualClock).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, MemoryCheckpointStore, StaleGeneratedModuleError, type CheckpointStore } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { AuditFlow, BallotFlow, NestedNapFlow, ReviewFlow } from '../fixtures/signals/flows.js';
import { AuditFlowDef, BallotFlowDef, NestedNapFlowDef, ReviewFlowDef } from '../fixtures/signals/flows.floxide.js';
import { VirtualClock, settle, track } from './virtual-clock.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-nested-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const review = bindWorkflow(ReviewFlowDef, new ReviewFlow());
const audit = bindWorkflow(AuditFlowDef, new AuditFlow());
const ballot = bindWorkflow(BallotFlowDef, new BallotFlow());
const nap = bindWorkflow(NestedNapFlowDef, new NestedNapFlow());

describe('run: waits inside nested workflows', () => {
  it('the nested wait takes signal "<node>.<signal>", typed by the outer module', async () => {
    expect(ReviewFlowDef.signals).toEqual(['review.approval']);
    expect(AuditFlowDef.signals).toEqual(['audit.review.approval']);
    const h = review.start(undefined, 'order-1', { clock: new VirtualClock() });
    const r = track(h.result);
    await settle();
    expect(r.done()).toBe(false);
    expect(h.signal('review.approval', { approved: true, by: 'ana' })).toBe('delivered');
    await expect(h.result).resolves.toBe('report: approved by ana');
  });

  it('an unknown name or a payload failing the nested wait\'s check is InvalidSignalError', () => {
    const h = review.start(undefined, 'order-1', { clock: new VirtualClock() });
    // @ts-expect-error: the nested wait's name alone is not a signal of the outer workflow
    expect(() => h.signal('approval', { approved: true, by: 'x' })).toThrow(InvalidSignalError);
    // @ts-expect-error: the payload of "review.approval" is a Decision
    expect(() => h.signal('review.approval', { approved: 'yes' })).toThrow(/fails its check/);
    h.signal('review.approval', { approved: false, by: 'end' });
    return expect(h.result).resolves.toBe('report: rejected by end');
  });

  it('a module typing only the top-level signals is stale', () => {
    expect(() => bindWorkflow({ ...ReviewFlowDef, signals: undefined }, new ReviewFlow())).toThrow(StaleGeneratedModuleError);
  });

  it('two levels deep, a signal sent before the wait begins is kept', async () => {
    const h = audit.start(undefined, 'order-2', { clock: new VirtualClock() });
    h.signal('audit.review.approval', { approved: true, by: 'early' });
    await expect(h.result).resolves.toBe('report: approved by early');
  });

  it('parallel waits inside a nested workflow each get their own signal', async () => {
    const h = ballot.start(undefined, 1, { clock: new VirtualClock() });
    await settle();
    h.signal('ballot.vote', { vote: 'yes' });
    const r = track(h.result);
    await settle();
    expect(r.done()).toBe(false); // one vote is not the tally
    h.signal('ballot.vote', { vote: 'no' });
    await expect(h.result).resolves.toBe('report: no,yes');
  });

  it('the nested wait\'s timeout routes to its fallback inside the nested workflow', async () => {
    const clock = new VirtualClock();
    const h = review.start(undefined, 'order-3', { clock });
    const r = track(h.result);
    await clock.advance(999);
    expect(r.done()).toBe(false);
    await clock.advance(1);
    await expect(h.result).resolves.toBe('report: escalated order-3 after SignalTimeoutError x1');
  });

  it('a sleep inside a nested workflow waits on the run clock', async () => {
    const clock = new VirtualClock();
    const r = track(nap.run(undefined, { ms: 2_000 }, { clock }));
    await clock.advance(1_999);
    expect(r.done()).toBe(false);
    await clock.advance(1);
    await expect(r.p).resolves.toBe('report: woke after 2000 ms');
  });
});

const stores: Array<[string, () => CheckpointStore]> = [
  ['memory', () => new MemoryCheckpointStore()],
  ['sqlite', () => new SqliteCheckpointStore(join(dir, `n-${Math.random().toString(36).slice(2)}.db`))],
];

describe.each(stores)('checkpointed runs on %s: waits inside nested workflows', (_name, makeStore) => {
  it('the outer item parks in the store with the nested run\'s state, and continues it on its signal', async () => {
    const store = makeStore();
    const first = track(review.runWithCheckpoint(undefined, 'o', store, 'r1', { clock: new VirtualClock() }));
    await until(async () => (await store.load('r1'))?.items.some((it) => it.wait?.name === 'review.approval') ?? false);
    const parked = (await store.load('r1'))!.items;
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ node: 'review', wait: { name: 'review.approval' }, nested: { items: [{ node: 'approval', wait: { name: 'approval' } }] } });
    expect(await review.signal(store, 'r1', 'review.approval', { approved: true, by: 'later' }, { key: 'k' })).toBe('delivered');
    expect(await review.signal(store, 'r1', 'review.approval', { approved: true, by: 'later' }, { key: 'k' })).toBe('duplicate');
    await expect(review.signal(store, 'r1', 'review.approval', { approved: true, by: 'again' }, { key: 'k' })).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['payload'] });
    await expect(first.p).resolves.toBe('report: approved by later');
    await store.close?.();
  });

  it('signal before, during and after the nested wait begins (20 random rounds), each applied once', async () => {
    const store = makeStore();
    for (let round = 0; round < 20; round++) {
      const runId = `race-${round}`;
      const when = round % 3;
      let r: ReturnType<typeof track<string>>;
      if (when === 0) {
        await store.createRun({ runId, workflow: 'AuditFlow', fingerprint: AuditFlowDef.fingerprint, input: 'o', context: null, deadline: undefined, start: { node: 'audit', id: '0', input: 'o' } });
        await audit.signal(store, runId, 'audit.review.approval', { approved: true, by: `r${round}` }, { key: 'once' });
        r = track(audit.runWithCheckpoint(undefined, 'o', store, runId, { clock: new VirtualClock() }));
      } else {
        r = track(audit.runWithCheckpoint(undefined, 'o', store, runId, { clock: new VirtualClock() }));
        while (!(await store.getRun(runId))) await new Promise((res) => setImmediate(res));
        for (let i = 0; i < (when === 1 ? Math.floor(Math.random() * 3) : 6); i++) await new Promise((res) => setImmediate(res));
        await audit.signal(store, runId, 'audit.review.approval', { approved: true, by: `r${round}` }, { key: 'once' });
      }
      expect(await audit.signal(store, runId, 'audit.review.approval', { approved: true, by: `r${round}` }, { key: 'once' })).toBe('duplicate');
      await expect(audit.signal(store, runId, 'audit.review.approval', { approved: false, by: 'again' }, { key: 'once' })).rejects.toMatchObject({ name: 'SignalKeyConflictError' });
      await expect(r.p).resolves.toBe(`report: approved by r${round}`);
    }
    await store.close?.();
  });

  it('parallel nested waits each take their own signal; a nested timeout routes to the fallback', async () => {
    const store = makeStore();
    const b = track(ballot.runWithCheckpoint(undefined, 1, store, 'b1', { clock: new VirtualClock() }));
    await until(async () => (await store.getRun('b1')) !== undefined);
    await ballot.signal(store, 'b1', 'ballot.vote', { vote: 'a' });
    await ballot.signal(store, 'b1', 'ballot.vote', { vote: 'b' });
    await expect(b.p).resolves.toBe('report: a,b');

    const clock = new VirtualClock();
    const t = track(review.runWithCheckpoint(undefined, 'late', store, 't1', { clock }));
    await until(async () => (await store.load('t1'))?.items.some((it) => it.nested !== undefined) ?? false);
    await clock.advance(1_000);
    await expect(t.p).resolves.toBe('report: escalated late after SignalTimeoutError x1');
    await store.close?.();
  });

  it('a nested sleep is a durable timer in the outer item', async () => {
    const store = makeStore();
    const clock = new VirtualClock();
    const start = clock.now();
    const r = track(nap.runWithCheckpoint(undefined, { ms: 2_000 }, store, 's1', { clock }));
    await until(async () => (await store.load('s1'))?.items.some((it) => it.nested !== undefined) ?? false);
    expect((await store.load('s1'))!.items[0]).toMatchObject({ node: 'nap', notBefore: start + 2_000 });
    await clock.advance(1_999);
    expect(r.done()).toBe(false);
    await clock.advance(1);
    await expect(r.p).resolves.toBe('report: woke after 2000 ms');
    await store.close?.();
  });
});

async function until(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not reached');
}

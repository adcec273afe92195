// One conformance suite for every CheckpointStore backend (memory, SQLite).
import { describe, expect, it } from 'vitest';
import {
  HELD_GROUP_NODE,
  InvalidArgumentError,
  InvalidSignalError,
  SignalKeyConflictError,
  noTerminalError,
  bindWorkflow,
  settleJoinGroup,
  RunInputMismatchError,
  RunNotFoundError,
  RunStateError,
  RunBusyError,
  FingerprintMismatchError,
  type CheckpointStore,
  type EngineItem,
  type JoinArrival,
  type NewCheckpointRun,
} from 'floxide';
import { endClaim, newOwner } from '../../runtime/stores/ownership.js';
import { NestedHoldsWorkflow, StepsCtx } from '../fixtures/rules/flows.js';
import { NestedHoldsWorkflowDef } from '../fixtures/rules/flows.floxide.js';
import { NESTED_CASES } from '../fixtures/rules/cases.js';
import { RetryWorkflow } from '../../examples/retry.js';
import { RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { LoopCtx, LoopWorkflow } from './flows/loop.js';
import { LoopWorkflowDef } from './flows/loop.floxide.js';

const start: EngineItem = { node: 'a', id: '0', input: { n: 1 } };
const newRun = (runId: string, input: unknown = { n: 1 }): NewCheckpointRun => ({
  runId,
  workflow: 'W',
  fingerprint: 'fp',
  input,
  context: { count: 0 },
  deadline: 123,
  start,
});
const arrival = (index: number, value: unknown, held = false): JoinArrival => ({
  group: '0',
  index,
  size: 3,
  node: held ? undefined : 'j',
  ...(held ? {} : { value }),
  held,
  outer: [],
});

export function checkpointStoreContract(name: string, make: () => Promise<CheckpointStore> | CheckpointStore): void {
  describe(`CheckpointStore contract: ${name}`, () => {
    it('creates a run with its start item before any step; same input again is a no-op, another input is refused', async () => {
      const s = await make();
      expect(await s.createRun(newRun('r1'))).toBe(true);
      expect(await s.createRun(newRun('r1'))).toBe(false);
      await expect(s.createRun(newRun('r1', { n: 2 }))).rejects.toBeInstanceOf(RunInputMismatchError);
      const cp = await s.load('r1');
      expect(cp).toMatchObject({ context: { count: 0 }, deltas: [], items: [start], arrivals: [] });
      expect(cp!.run).toMatchObject({ runId: 'r1', workflow: 'W', fingerprint: 'fp', input: { n: 1 }, status: 'running', deadline: 123, counter: 0, steps: 0 });
      expect(await s.load('missing')).toBeUndefined();
      await expect(s.load('bad id!')).rejects.toBeInstanceOf(InvalidArgumentError);
      await s.close();
    });

    it('claims a run for one call at a time: another live claim is RunBusyError, a release by another owner changes nothing, an ended call is taken over', async () => {
      const s = await make();
      await s.createRun(newRun('own'));
      const a = newOwner();
      const b = newOwner();
      await s.claim!('own', a);
      await s.claim!('own', a); // the heartbeat: the same owner again
      await expect(s.claim!('own', b)).rejects.toBeInstanceOf(RunBusyError);
      await expect(s.claim!('own', b)).rejects.toThrow(/^run own is being run by another call in this process/);
      await s.release!('own', b);
      await expect(s.claim!('own', b)).rejects.toBeInstanceOf(RunBusyError);
      await s.release!('own', a);
      await s.claim!('own', b);
      // a call that ended without letting go (its process's writer died): no longer live, so taken over
      endClaim(b);
      const c = newOwner();
      await s.claim!('own', c);
      await expect(s.claim!('missing', c)).rejects.toBeInstanceOf(RunNotFoundError);
      for (const o of [a, c]) endClaim(o);
      await s.close();
    });

    it('refuses the writes and the heartbeat of a call whose run another took over (RunBusyError, nothing changed); a heartbeat never takes a run back', async () => {
      const s = await make();
      await s.createRun(newRun('lost'));
      const a = newOwner();
      await s.claim!('lost', a);
      await s.claim!('lost', a, true);
      // `a` looks dead (its call ended here; on another machine: its heartbeat went stale) and `b` takes the run over
      endClaim(a);
      const b = newOwner();
      await s.claim!('lost', b);
      const step = { itemId: '0', items: [{ node: 'b', id: '1', input: 1 }], arrivals: [], delta: undefined, counter: 1, seq: 1 };
      const taken = /^run lost is no longer this call's: process \d+ on .+ took it over/;
      await expect(s.commitStep('lost', { ...step, owner: a })).rejects.toThrow(taken);
      await expect(s.complete('lost', { itemId: '0', output: 'x', delta: undefined, counter: 1, seq: 1, owner: a })).rejects.toBeInstanceOf(RunBusyError);
      await expect(s.fail('lost', { name: 'Error', message: 'boom' }, { itemId: '0', node: 'a', attempt: 1, startedAt: 1, finishedAt: 2, owner: a })).rejects.toThrow(taken);
      await expect(s.claim!('lost', a, true)).rejects.toThrow(taken);
      let cp = await s.load('lost');
      expect(cp!.run).toMatchObject({ status: 'running', steps: 0 });
      expect(cp!.items.map((it) => it.id)).toEqual(['0']);
      // the owner's writes go through
      expect(await s.commitStep('lost', { ...step, owner: b })).toMatchObject({ applied: true });
      await s.claim!('lost', b, true);
      // once the owner let go, a heartbeat of the old one still does not take the run back
      await s.release!('lost', b);
      await expect(s.claim!('lost', a, true)).rejects.toThrow(/^run lost is no longer this call's: its claim is gone/);
      await expect(s.commitStep('lost', { ...step, itemId: '1', seq: 2, owner: a })).rejects.toBeInstanceOf(RunBusyError);
      cp = await s.load('lost');
      expect(cp!.run).toMatchObject({ status: 'running', steps: 1 });
      endClaim(b);
      await s.close();
    });

    it('refuses the heartbeat of a call whose run was cancelled from elsewhere (RunStateError): its call stops its node', async () => {
      const s = await make();
      await s.createRun(newRun('gone'));
      const a = newOwner();
      await s.claim!('gone', a);
      await s.claim!('gone', a, true);
      expect(await s.cancel('gone')).toBe(true);
      await expect(s.claim!('gone', a, true)).rejects.toThrow(new RunStateError('run gone is cancelled'));
      endClaim(a);
      await s.close();
    });

    it('refreshes many claims in one call as claim(refresh) would, each on its own', async () => {
      const s = await make();
      expect(s.refreshClaims).toBeTypeOf('function');
      if (!s.refreshClaims) return;
      for (const id of ['h1', 'h2', 'h3']) await s.createRun(newRun(id));
      const a = newOwner();
      const b = newOwner();
      await s.claim!('h1', a);
      await s.claim!('h2', a);
      await s.claim!('h3', a);
      await s.release!('h2', a);
      await s.claim!('h2', b);
      expect(await s.cancel('h3')).toBe(true);
      const refusals = await s.refreshClaims([
        { runId: 'h1', owner: a },
        { runId: 'h2', owner: a },
        { runId: 'h3', owner: a },
        { runId: 'nope', owner: a },
      ]);
      expect(refusals[0]).toBeUndefined();
      expect(refusals[1]).toBeInstanceOf(RunBusyError);
      expect(refusals[2]).toEqual(new RunStateError('run h3 is cancelled'));
      expect(refusals[3]).toBeInstanceOf(RunNotFoundError);
      // nothing changed for a refused one: b still holds h2
      await expect(s.claim!('h2', a)).rejects.toBeInstanceOf(RunBusyError);
      endClaim(a);
      endClaim(b);
      await s.close();
    });

    it('commits steps atomically and idempotently per consumed item id, keeping queue order', async () => {
      const s = await make();
      await s.createRun(newRun('r2'));
      const items: EngineItem[] = [
        { node: 'b', id: '1', input: 1 },
        { node: 'c', id: '2', input: 2 },
      ];
      expect(await s.commitStep('r2', { itemId: '0', items, arrivals: [], delta: { count: 1 }, counter: 2, seq: 1 })).toEqual({ applied: true, created: [] });
      expect(await s.commitStep('r2', { itemId: '0', items, arrivals: [], delta: { count: 1 }, counter: 2, seq: 2 })).toEqual({ applied: false, created: [] });
      await s.commitStep('r2', { itemId: '1', items: [{ node: 'd', id: '3', input: 3 }], arrivals: [], delta: undefined, counter: 3, seq: 3 });
      const cp = await s.load('r2');
      expect(cp!.deltas).toEqual([{ count: 1 }]);
      expect(cp!.items.map((i) => i.id)).toEqual(['2', '3']);
      expect(cp!.run).toMatchObject({ counter: 3, steps: 2 });
      await s.close();
    });

    it("refuses a commit made on another graph than the run's (a run moved while a process ran it), applying nothing", async () => {
      const s = await make();
      await s.createRun(newRun('rf'));
      const step = { itemId: '0', items: [{ node: 'b', id: '1', input: 1 }], arrivals: [], delta: { count: 1 }, counter: 1, seq: 1 };
      await expect(s.commitStep('rf', { ...step, fingerprint: 'old' })).rejects.toThrow(new FingerprintMismatchError(
        'run rf was moved to graph fp (floxide runs migrate) while this process ran it on graph old: its commit is refused and the run stays where the move left it; resume it with the build of graph fp',
      ));
      await expect(s.complete('rf', { itemId: '0', output: 1, delta: undefined, counter: 1, seq: 1, fingerprint: 'old' })).rejects.toBeInstanceOf(FingerprintMismatchError);
      expect((await s.load('rf'))!).toMatchObject({ deltas: [], items: [start], run: { status: 'running', steps: 0 } });
      expect(await s.commitStep('rf', { ...step, fingerprint: 'fp' })).toEqual({ applied: true, created: [] });
      await s.close();
    });

    it('parks join arrivals and enqueues the settlement item when the group completes (the arrivals as parked, in index order)', async () => {
      const s = await make();
      await s.createRun(newRun('r3'));
      const r1 = await s.commitStep('r3', { itemId: '0', items: [], arrivals: [arrival(2, 'c'), arrival(1, undefined, true)], delta: undefined, counter: 0, seq: 4 });
      expect(r1.created).toEqual([]);
      expect((await s.load('r3'))!.arrivals).toHaveLength(2);
      const r2 = await s.commitStep('r3', { itemId: 'x', items: [], arrivals: [arrival(0, 'a')], delta: undefined, counter: 0, seq: 5 });
      const settlement = { id: '0:join', node: 'j', settle: [arrival(0, 'a'), arrival(1, undefined, true), arrival(2, 'c')] };
      expect(r2.created).toEqual([settlement]);
      expect(settleJoinGroup('0', r2.created[0]!.settle!)).toEqual({ node: 'j', id: '0:join', input: ['a', 'c'] });
      const cp = await s.load('r3');
      expect(cp!.arrivals).toEqual([]);
      expect(cp!.items).toEqual([settlement]);
      // a group whose arrivals all held shows the reserved node
      const held = (index: number): JoinArrival => ({ ...arrival(index, undefined, true), group: 'h', size: 2 });
      const r3 = await s.commitStep('r3', { itemId: 'y', items: [], arrivals: [held(1), held(0), held(1)], delta: undefined, counter: 0, seq: 6 });
      expect(r3.created).toEqual([{ id: 'h:join', node: HELD_GROUP_NODE, settle: [held(0), held(1)] }]);
      await s.close();
    });

    it('arrival mark: unchanged while nothing arrives, moved by a signal and by a cancel', async () => {
      const s = await make();
      expect(s.arrivalMark).toBeTypeOf('function');
      if (!s.arrivalMark) return;
      await s.createRun(newRun('m'));
      const first = s.arrivalMark();
      await s.commitStep('m', { itemId: '0', items: [{ node: 'b', id: '1', input: 1 }], arrivals: [], delta: { count: 1 }, counter: 1, seq: 1 });
      expect(s.arrivalMark()).toBe(first);
      expect(await s.signal('m', 'approval', { ok: true })).toBe('delivered');
      const signalled = s.arrivalMark();
      expect(signalled).not.toBe(first);
      expect(s.arrivalMark()).toBe(signalled);
      expect(await s.cancel('m')).toBe(true);
      expect(s.arrivalMark()).not.toBe(signalled);
      await s.close();
    });

    // A signal key reused with another name or payload answered `duplicate`: the caller's signal was lost unsaid.
    it('signal keys: the same signal again is a duplicate (payloads compared canonically); another name or payload is SignalKeyConflictError naming what differs, nothing kept; also once the run ended', async () => {
      const s = await make();
      await s.createRun(newRun('k'));
      const conflict = (p: Promise<unknown>) => p.then(() => expect.unreachable('the signal was taken'), (err: unknown) => err as SignalKeyConflictError);
      const at = new Date(Date.UTC(2026, 0, 2));
      expect(await s.signal('k', 'approval', { approved: true, by: 'ana', at }, 'mail-1')).toBe('delivered');
      for (const ended of [false, true]) {
        if (ended) expect(await s.cancel('k', { name: 'CancelledError', message: 'done', code: 'FLOXIDE_CANCELLED' })).toBe(true);
        expect(await s.signal('k', 'approval', { at: new Date(at.getTime()), by: 'ana', approved: true }, 'mail-1'), `ended: ${ended}`).toBe('duplicate');
        const payload = await conflict(s.signal('k', 'approval', { approved: false, by: 'ana', at }, 'mail-1'));
        expect(payload).toBeInstanceOf(SignalKeyConflictError);
        expect(payload).toBeInstanceOf(InvalidSignalError);
        expect(payload).toMatchObject({ name: 'SignalKeyConflictError', code: 'FLOXIDE_SIGNAL_KEY_CONFLICT', runId: 'k', key: 'mail-1', differs: ['payload'] });
        const other = await conflict(s.signal('k', 'approve', { approved: true, by: 'ana', at }, 'mail-1'));
        expect(other).toMatchObject({
          differs: ['name'],
          message: 'run k already received a signal with key "mail-1" and another name (it was "approval"): a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own',
        });
        expect(await conflict(s.signal('k', 'approve', null, 'mail-1'))).toMatchObject({ differs: ['name', 'payload'] });
        expect((await s.pendingSignals('k')).map((x) => [x.name, x.key])).toEqual([['approval', 'mail-1']]);
      }
      await expect(s.signal('k', 'approval', null, 'mail-2')).rejects.toBeInstanceOf(RunStateError);
      await s.close();
    });

    describe('nested fan-outs with holds, run through the engine on this store', () => {
      for (const c of NESTED_CASES) {
        it(c.name, async () => {
          const s = await make();
          const wf = bindWorkflow(NestedHoldsWorkflowDef, new NestedHoldsWorkflow());
          const run = wf.runWithCheckpoint(new StepsCtx(), c.input, s, 'nested');
          if (c.output === undefined) {
            await expect(run).rejects.toThrow(noTerminalError('nested', HELD_GROUP_NODE));
            expect(await s.getRun('nested')).toMatchObject({ status: 'failed', error: { code: 'FLOXIDE_NO_TERMINAL' } });
          } else {
            expect(await run).toBe(c.output);
            expect((await s.load('nested'))!.arrivals).toEqual([]);
          }
          await s.close();
        });
      }
    });

    it('completes with the output and the dropped items; a completed run accepts no more writes', async () => {
      const s = await make();
      await s.createRun(newRun('r4'));
      await s.commitStep('r4', { itemId: '0', items: [{ node: 't', id: '1', input: 1 }, { node: 't', id: '2', input: 2 }], arrivals: [], delta: undefined, counter: 2, seq: 6 });
      const { dropped } = await s.complete('r4', { itemId: '1', output: 'out', delta: { count: 5 }, counter: 2, seq: 7 });
      expect(dropped).toEqual([{ node: 't', id: '2', input: 2 }]);
      const cp = await s.load('r4');
      expect(cp!.run).toMatchObject({ status: 'completed', output: 'out', dropped: [{ node: 't', id: '2', input: 2 }], steps: 2 });
      expect(cp!.items).toEqual([]);
      expect(cp!.deltas).toEqual([{ count: 5 }]);
      await expect(s.commitStep('r4', { itemId: '2', items: [], arrivals: [], delta: undefined, counter: 2, seq: 8 })).rejects.toBeInstanceOf(RunStateError);
      expect(await s.cancel('r4')).toBe(false);
      await s.fail('r4', { name: 'Error', message: 'late' });
      expect((await s.getRun('r4'))!.status).toBe('completed');
      await s.close();
    });

    it('migrate moves an open run to another fingerprint, renaming its pending items (start item included) in one write', async () => {
      const s = await make();
      await s.createRun(newRun('m1'));
      await s.commitStep('m1', { itemId: '0', items: [{ node: 'b', id: '1', input: 1 }, { node: 'c', id: '2', input: 2 }], arrivals: [], delta: undefined, counter: 2, seq: 1 });
      await s.createRun(newRun('m2'));
      expect(await s.getRun('m2')).not.toHaveProperty('startedOn');
      await expect(s.migrate('m1', { from: 'other', to: 'fp2', renames: { b: 'bb' } })).rejects.toBeInstanceOf(FingerprintMismatchError);
      expect((await s.load('m1'))!.items.map((it) => it.node)).toEqual(['b', 'c']);
      await s.migrate('m1', { from: 'fp', to: 'fp2', renames: { b: 'bb' } });
      await s.migrate('m2', { from: 'fp', to: 'fp2', renames: { a: 'aa' } });
      const cp = (await s.load('m1'))!;
      expect(cp.run.fingerprint).toBe('fp2');
      expect(cp.items).toEqual([{ node: 'bb', id: '1', input: 1 }, { node: 'c', id: '2', input: 2 }]);
      // the record keeps the version it started on and when it moved (its updatedAt moves with it)
      expect([cp.run.startedOn, cp.run.updatedAt]).toEqual(['fp', cp.run.migratedAt]);
      await s.migrate('m2', { from: 'fp2', to: 'fp3', renames: {}, workerId: 'host:1' });
      expect(await s.getRun('m2')).toMatchObject({ fingerprint: 'fp3', startedOn: 'fp', migratedAt: expect.any(Number) });
      expect((await s.load('m2'))!.items).toEqual([{ ...start, node: 'aa' }]);
      // The run goes on from the renamed items.
      await s.commitStep('m1', { itemId: '1', items: [], arrivals: [], delta: undefined, counter: 2, seq: 2 });
      expect((await s.load('m1'))!.items.map((it) => it.node)).toEqual(['c']);
      await s.complete('m1', { itemId: '2', output: 'ok', delta: undefined, counter: 2, seq: 3 });
      await expect(s.migrate('m1', { from: 'fp2', to: 'fp3', renames: {} })).rejects.toBeInstanceOf(RunStateError);
      await expect(s.migrate('missing', { from: 'fp', to: 'fp2', renames: {} })).rejects.toBeInstanceOf(RunNotFoundError);
      await s.close();
    });

    it('fail keeps pending items for resume; reopen makes it running; cancel is final', async () => {
      const s = await make();
      await s.createRun(newRun('r5'));
      await s.fail('r5', { name: 'Error', message: 'boom' });
      expect(await s.getRun('r5')).toMatchObject({ status: 'failed', error: { message: 'boom' } });
      expect((await s.load('r5'))!.items).toEqual([start]);
      await expect(s.commitStep('r5', { itemId: '0', items: [], arrivals: [], delta: undefined, counter: 0, seq: 9 })).rejects.toBeInstanceOf(RunStateError);
      await s.reopen('r5');
      expect((await s.getRun('r5'))!.status).toBe('running');
      expect(await s.cancel('r5')).toBe(true);
      await expect(s.reopen('r5')).rejects.toBeInstanceOf(RunStateError);
      expect((await s.getRun('r5'))!.status).toBe('cancelled');
      await expect(s.fail('nope', { name: 'E', message: 'm' })).rejects.toBeInstanceOf(RunNotFoundError);
      await s.close();
    });

    it('keeps the step history a checkpointed run writes: each attempt, its retries, the terminal, a failure and its resume', async () => {
      const s = await make();
      const flaky = bindWorkflow(RetryWorkflowDef, new RetryWorkflow(1));
      expect(await flaky.runWithCheckpoint(undefined, undefined, s, 'h1')).toBe('success');
      const h1 = await s.stepHistory('h1');
      expect(h1.map((r) => [r.runId, r.node, r.itemId, r.attempt, r.outcome])).toEqual([
        ['h1', 'flaky', '0', 1, 'retry'],
        ['h1', 'flaky', '0', 2, 'terminal'],
      ]);
      expect(h1[0]!.error).toMatchObject({ message: 'flaky failure on attempt 1' });
      expect(h1[1]!.error).toBeUndefined();
      // attempt 2 starts after attempt 1's 50 ms backoff
      expect(h1[1]!.startedAt).toBeGreaterThanOrEqual(h1[0]!.finishedAt);
      for (const r of h1) expect(r.finishedAt).toBeGreaterThanOrEqual(r.startedAt);

      const loop = new LoopWorkflow();
      let failAt: number | undefined = 2;
      loop.step.hook = (_ctx, i) => {
        if (i === failAt) throw new Error(`step ${i} broke`);
      };
      const wf = bindWorkflow(LoopWorkflowDef, loop);
      await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 4 }, s, 'h2')).rejects.toThrow(/step 2 broke/);
      const failed = await s.stepHistory('h2');
      expect(failed.map((r) => [r.node, r.itemId, r.outcome])).toEqual([
        ['step', '0', 'continue'],
        ['step', '1', 'continue'],
        ['step', '2', 'failed'],
      ]);
      expect(failed[2]!.error).toMatchObject({ message: 'step 2 broke' });
      failAt = undefined;
      expect(await wf.resume(s, 'h2')).toBe(40);
      expect((await s.stepHistory('h2')).map((r) => [r.node, r.itemId, r.outcome])).toEqual([
        ['step', '0', 'continue'],
        ['step', '1', 'continue'],
        ['step', '2', 'failed'],
        ['step', '2', 'continue'],
        ['step', '3', 'continue'],
        ['end', '4', 'terminal'],
      ]);
      await expect(s.stepHistory('missing')).rejects.toBeInstanceOf(RunNotFoundError);
      // with a limit: the newest records, oldest first (a failure between commits, retries within one, the terminal)
      for (const runId of ['h1', 'h2']) {
        const all = await s.stepHistory(runId);
        for (let limit = 1; limit <= all.length + 1; limit++) expect(await s.stepHistory(runId, { limit }), `${runId} limit ${limit}`).toEqual(all.slice(-limit));
      }
      await expect(s.stepHistory('h2', { limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(s.stepHistory('missing', { limit: 1 })).rejects.toBeInstanceOf(RunNotFoundError);
      await s.close();
    });
  });
}

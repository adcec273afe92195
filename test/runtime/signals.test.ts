// Signals and durable sleep in the local modes (issue 11): `run` with a handle, `runWithCheckpoint` and `resume` on
// memory and SQLite. Time is virtual (floxide/testing's VirtualClock): timeouts and sleeps fire when the test moves
// the clock, never because the machine was slow.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow, CancelledError, InvalidArgumentError, InvalidSignalError, SignalKeyConflictError, Sleep, type WorkflowCtx, RunBusyError, MemoryCheckpointStore, RunStateError, StaleGeneratedModuleError, type CheckpointStore, type WorkflowEvent } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { ApprovalFlow, PatientApprovalFlow, SleepFlow, StampFlow, SteadyApprovalFlow, VoteFlow } from '../fixtures/signals/flows.js';
import { ApprovalFlowDef, PatientApprovalFlowDef, SleepFlowDef, StampFlowDef, SteadyApprovalFlowDef, VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { VirtualClock, settle, track } from './virtual-clock.js';
import { dyingStore } from './dying-store.js';
import { MemoryMailbox } from '../../runtime/engine/parked.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('signal keys: one rule in every mode', () => {
  it('a key is refused alike by the in-memory handle and the checkpoint stores, and a repeated key is a duplicate per run, whatever the signal name', async () => {
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    const h = wf.start(undefined, 'o', { clock: new VirtualClock() });
    const stores: CheckpointStore[] = [new MemoryCheckpointStore(), new SqliteCheckpointStore(':memory:')];
    for (const store of stores) await store.createRun({ runId: 'k', workflow: wf.def.name, fingerprint: wf.def.fingerprint, input: 'o', context: null, deadline: undefined, start: { node: 'approval', id: '0', input: 'o' } });
    for (const key of ['', 'nul\u0000', 'half\ud800', '\udc00half', 'x'.repeat(513)]) {
      expect(() => h.signal('approval', { approved: true, by: 'k' }, { key }), JSON.stringify(key)).toThrow(/^invalid signal key/);
      for (const store of stores) await expect(wf.signal(store, 'k', 'approval', { approved: true, by: 'k' }, { key }), JSON.stringify(key)).rejects.toThrow(/^invalid signal key/);
    }
    // a payload no store keeps as it is: refused alike by the handle, by wf.signal and by the store itself (what
    // `floxide runs signal` and the dashboard call, without the workflow's code), nothing kept; the store wrote it as
    // JSON (a function dropped, a typed array read back as a plain object)
    const cyclic: Record<string, unknown> = { approved: true, by: 'k' };
    cyclic.self = cyclic;
    for (const payload of [{ approved: true, by: 'k', notify: () => undefined }, { approved: true, by: 'k', scan: new Uint8Array(2) }, cyclic]) {
      let refused: unknown;
      // @ts-expect-error: the payload is a Decision, plus what no store keeps
      expect(() => h.signal('approval', payload)).toThrow(InvalidSignalError);
      try {
        // @ts-expect-error: as above
        h.signal('approval', payload);
      } catch (err) {
        refused = err;
      }
      expect((refused as Error).message).toMatch(/^the payload of signal "approval" is not JSON data: cannot store a/);
      for (const store of stores) {
        // @ts-expect-error: as above
        await expect(wf.signal(store, 'k', 'approval', payload)).rejects.toThrow(refused as Error);
        await expect(store.signal('k', 'approval', payload)).rejects.toThrow(refused as Error);
        await expect(store.signal('k', 'approval', payload)).rejects.toBeInstanceOf(InvalidSignalError);
      }
    }
    for (const store of stores) expect(await store.pendingSignals('k')).toEqual([]);
    // every store keeps a run's keys whatever the name (the in-memory mailbox kept them per name): the same key with
    // another name is refused, not kept under that name
    const mailbox = new MemoryMailbox('k');
    expect([mailbox.send('approval', 1, 'k'), mailbox.send('approval', 1, 'k'), mailbox.send('approval', 3, 'k2')]).toEqual(['delivered', 'duplicate', 'delivered']);
    expect(() => mailbox.send('other', 1, 'k')).toThrow(SignalKeyConflictError);
    expect(mailbox.take('other')).toBeUndefined();
    h.signal('approval', { approved: true, by: 'ok' }, { key: 'ok 😀' });
    await expect(h.result).resolves.toBe('approved by ok');
    for (const store of stores) await store.close?.();
  });
});

// (the checkpoint stores' answers: checkpoint-store.contract.ts, 'signal keys')
describe('signal keys reused with another name or payload', () => {
  const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
  const create = (store: CheckpointStore, runId: string) =>
    store.createRun({ runId, workflow: wf.def.name, fingerprint: wf.def.fingerprint, input: 'o', context: null, deadline: undefined, start: { node: 'approval', id: '0', input: 'o' } });

  it('the in-memory handle answers the same, and runs on with the first signal', async () => {
    const h = wf.start(undefined, 'o', { clock: new VirtualClock(), runId: 'mem' });
    expect(h.signal('approval', { approved: true, by: 'ana' }, { key: 'mail-1' })).toBe('delivered');
    expect(h.signal('approval', { by: 'ana', approved: true }, { key: 'mail-1' })).toBe('duplicate');
    expect(() => h.signal('approval', { approved: false, by: 'ana' }, { key: 'mail-1' })).toThrow(SignalKeyConflictError);
    await expect(h.result).resolves.toBe('approved by ana');
  });

  it('a key a SQLite file kept before digests (migration 012) matches any signal: a duplicate, as before', async () => {
    const file = join(dir, 'legacy-keys.db');
    const store = new SqliteCheckpointStore(file);
    await create(store, 'old');
    expect(await store.signal('old', 'approval', { approved: true, by: 'ana' }, 'mail-1')).toBe('delivered');
    // what a floxide before migration 012 wrote: the key without a digest
    store.db.prepare('UPDATE floxide_signals SET digest = NULL').run();
    expect(await store.signal('old', 'approval', { approved: false, by: 'bo' }, 'mail-1')).toBe('duplicate');
    expect(await store.signal('old', 'other', null, 'mail-1')).toBe('duplicate');
    expect((await store.pendingSignals('old')).map((x) => x.payload)).toEqual([{ approved: true, by: 'ana' }]);
    await store.close();
  });
});

describe('a stored run of another workflow', () => {
  it('is refused by storedContext and signal alike, RunStateError naming both (storedContext revived its context as its own)', async () => {
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    const other = bindWorkflow(VoteFlowDef, new VoteFlow());
    for (const store of [new MemoryCheckpointStore(), new SqliteCheckpointStore(':memory:')] as CheckpointStore[]) {
      await store.createRun({ runId: 'a-1', workflow: wf.def.name, fingerprint: wf.def.fingerprint, input: 'o', context: null, deadline: undefined, start: { node: 'approval', id: '0', input: 'o' } });
      const refused = new RunStateError('run a-1 is a run of SteadyApprovalFlow, not of VoteFlow');
      await expect(other.storedContext(store, 'a-1')).rejects.toThrow(refused);
      await expect(other.storedContext(store, 'a-1')).rejects.toBeInstanceOf(RunStateError);
      await expect(other.signal(store, 'a-1', 'vote', { vote: 'x' })).rejects.toThrow(refused);
      await store.close?.();
    }
  });
});

describe('run: an in-memory wait with a handle', () => {
  it('a signal sent while the node waits continues the run with its payload', async () => {
    const clock = new VirtualClock();
    const h = bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).start(undefined, 'order-1', { clock });
    const r = track(h.result);
    await settle();
    expect(r.done()).toBe(false);
    expect(h.signal('approval', { approved: true, by: 'ana' })).toBe('delivered');
    await expect(h.result).resolves.toBe('approved by ana');
  });

  it('a generated module whose signals differ from the WaitFor nodes is stale: bindWorkflow says run floxide build', () => {
    expect(() => bindWorkflow({ ...ApprovalFlowDef, signals: ['approved'] }, new ApprovalFlow())).toThrow(StaleGeneratedModuleError);
    expect(() => bindWorkflow({ ...ApprovalFlowDef, signals: undefined }, new ApprovalFlow())).toThrow(
      'the generated module of ApprovalFlow (from test/fixtures/signals/flows.ts) types the signals none, but its WaitFor nodes wait for "approval": run floxide build',
    );
  });

  it('a signal sent before the wait begins is kept and delivered', async () => {
    const clock = new VirtualClock();
    const h = bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).start(undefined, 'order-1', { clock });
    h.signal('approval', { approved: false, by: 'bo' });
    await expect(h.result).resolves.toBe('rejected by bo');
  });

  it('an unknown name or a wrong payload is InvalidSignalError and changes nothing', async () => {
    const clock = new VirtualClock();
    const h = bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).start(undefined, 'order-1', { clock });
    // @ts-expect-error: ApprovalFlow has no signal "aproval"
    expect(() => h.signal('aproval', { approved: true, by: 'x' })).toThrow(InvalidSignalError);
    // @ts-expect-error: the payload of "approval" is a Decision
    expect(() => h.signal('approval', { approved: 'yes' })).toThrow(/fails its check/);
    // a payload that passes the check but holds what JSON cannot carry (it would be dropped on the way to a store)
    expect(() => h.signal('approval', { approved: true, by: 'x', when: () => 1 } as never)).toThrow('the payload of signal "approval" is not JSON data: cannot store a function at $.when');
    // or a class instance, which a store would give back as a plain object (the wait would then output another value)
    expect(() => h.signal('approval', { approved: true, by: 'x', raw: Buffer.from('x') } as never)).toThrow(/^the payload of signal "approval" is not JSON data: cannot store an instance of Buffer at \$\.raw/);
    h.signal('approval', { approved: true, by: 'cy' });
    await expect(h.result).resolves.toBe('approved by cy');
  });

  it('a schema that transforms is sent what it takes and gives the node what it returns (sent { at: ISO date }, output { at: epoch ms }), in memory and in a store', async () => {
    const wf = bindWorkflow(StampFlowDef, new StampFlow());
    const h = wf.start(undefined, undefined, { clock: new VirtualClock() });
    // @ts-expect-error: the schema takes an ISO date string, not the number it gives
    expect(() => h.signal('stamp', { at: 1 })).toThrow(InvalidSignalError);
    expect(h.signal('stamp', { at: '2026-01-02T00:00:00Z' })).toBe('delivered');
    await expect(h.result).resolves.toEqual({ at: Date.UTC(2026, 0, 2) });
    const store = new MemoryCheckpointStore();
    const run = wf.runWithCheckpoint(undefined, undefined, store, 'stamped', { signalPollMs: 5 });
    await wf.signal(store, 'stamped', 'stamp', { at: '2026-01-03T00:00:00Z' });
    await expect(run).resolves.toEqual({ at: Date.UTC(2026, 0, 3) });
  });

  it('the same idempotency key applies once; reused with another payload it is refused', async () => {
    const clock = new VirtualClock();
    const h = bindWorkflow(VoteFlowDef, new VoteFlow()).start(undefined, 1, { clock, runId: 'ballot' });
    expect(h.signal('vote', { vote: 'a' }, { key: 'k1' })).toBe('delivered');
    expect(h.signal('vote', { vote: 'a' }, { key: 'k1' })).toBe('duplicate');
    let refused: unknown;
    try {
      h.signal('vote', { vote: 'b' }, { key: 'k1' });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(SignalKeyConflictError);
    expect(refused).toMatchObject({ code: 'FLOXIDE_SIGNAL_KEY_CONFLICT', runId: 'ballot', key: 'k1', differs: ['payload'] });
    const r = track(h.result);
    await settle();
    expect(r.done()).toBe(false); // the second branch still waits: the repeat was not delivered
    h.signal('vote', { vote: 'c' }, { key: 'k2' });
    await expect(h.result).resolves.toBe('a,c');
  });

  it('two waits in parallel branches each get their own signal', async () => {
    const clock = new VirtualClock();
    const h = bindWorkflow(VoteFlowDef, new VoteFlow()).start(undefined, 1, { clock });
    await settle();
    h.signal('vote', { vote: 'yes' });
    h.signal('vote', { vote: 'no' });
    await expect(h.result).resolves.toBe('no,yes');
  });

  it('never: the timeout fails the node and its fallback takes the item', async () => {
    const clock = new VirtualClock();
    const h = bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).start(undefined, 'order-1', { clock });
    const r = track(h.result);
    await clock.advance(999);
    expect(r.done()).toBe(false);
    await clock.advance(1);
    await expect(h.result).resolves.toBe('escalated order-1 after SignalTimeoutError x1');
  });

  it('reports waits, signals and timers as events (onEvent)', async () => {
    const kinds = (events: WorkflowEvent[]) => events.map((e) => e.type).filter((t) => /^(wait|signal|timer)\./.test(t));
    const clock = new VirtualClock();
    const t0 = clock.now();
    const signalled: WorkflowEvent[] = [];
    const h = bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).start(undefined, 'o', { clock, onEvent: (e) => signalled.push(e) });
    await settle();
    h.signal('approval', { approved: true, by: 'ana' });
    await h.result;
    expect(kinds(signalled)).toEqual(['wait.started', 'signal.received']);
    expect(signalled.find((e) => e.type === 'wait.started')).toMatchObject({ node: 'approval', signal: 'approval', timeoutAt: t0 + 1_000 });

    const timedOut: WorkflowEvent[] = [];
    const t = bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).start(undefined, 'o', { clock, onEvent: (e) => timedOut.push(e) });
    track(t.result);
    await clock.advance(1_000);
    await t.result;
    expect(kinds(timedOut)).toEqual(['wait.started', 'wait.timedOut']);

    const slept: WorkflowEvent[] = [];
    const s = bindWorkflow(SleepFlowDef, new SleepFlow()).start(undefined, { ms: 50 }, { clock, onEvent: (e) => slept.push(e) });
    track(s.result);
    await clock.advance(50);
    await s.result;
    expect(kinds(slept)).toEqual(['timer.started', 'timer.fired']);
  });

  it('@retry waits again after a timeout, then the fallback takes the item', async () => {
    const clock = new VirtualClock();
    const h = bindWorkflow(PatientApprovalFlowDef, new PatientApprovalFlow()).start(undefined, 'o', { clock });
    await clock.advance(500); // first wait times out, retried after 1 ms
    await clock.advance(1);
    const r = track(h.result);
    await settle();
    expect(r.done()).toBe(false);
    await clock.advance(500);
    await expect(h.result).resolves.toBe('escalated o after SignalTimeoutError x2');
  });

  it('a signal during the retried wait is delivered to it, at the attempt that waited (the stores keep the wait at it)', async () => {
    const clock = new VirtualClock();
    const events: WorkflowEvent[] = [];
    const h = bindWorkflow(PatientApprovalFlowDef, new PatientApprovalFlow()).start(undefined, 'o', { clock, onEvent: (e) => events.push(e) });
    await clock.advance(501);
    h.signal('approval', { approved: true, by: 'late' });
    await expect(h.result).resolves.toBe('approved by late');
    const steps = events.flatMap((e) => (e.type.startsWith('step.') && 'node' in e && e.node === 'approval' && 'attempt' in e ? [`${e.type} ${e.attempt}`] : []));
    // parks at 1; times out (1) and waits again (2); takes the signal: attempt 2, as the wait it continues
    expect(steps).toEqual(['step.started 1', 'step.finished 1', 'step.started 1', 'step.retry 1', 'step.started 2', 'step.finished 2', 'step.started 2', 'step.finished 2']);
  });

  it('cancel reaches a waiting run', async () => {
    const ac = new AbortController();
    const h = bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).start(undefined, 'o', { clock: new VirtualClock(), signal: ac.signal });
    await settle();
    ac.abort();
    await expect(h.result).rejects.toMatchObject({ name: 'CancelledError' });
  });

  it('a sleep waits on the run clock, then continues', async () => {
    const clock = new VirtualClock();
    const r = track(bindWorkflow(SleepFlowDef, new SleepFlow()).run(undefined, { ms: 2_000 }, { clock }));
    await clock.advance(1_999);
    expect(r.done()).toBe(false);
    await clock.advance(1);
    await expect(r.p).resolves.toBe('woke after 2000 ms');
  });

  it('signalPollMs: Infinity (or beyond a 32-bit timer) never reads the store while the run waits; 0, a negative or NaN one is InvalidArgumentError', async () => {
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    for (const signalPollMs of [0, -5, Number.NaN]) {
      await expect(wf.runWithCheckpoint(undefined, 'o', new MemoryCheckpointStore(), 'p', { signalPollMs })).rejects.toThrow(
        `signalPollMs must be a positive number of ms (Infinity: never read the store for signals), got ${String(signalPollMs)}`,
      );
    }
    for (const signalPollMs of [Infinity, 3_000_000_000]) {
      const store = new MemoryCheckpointStore();
      let reads = 0;
      const counted = new Proxy(store, {
        get(target, key, receiver) {
          const v = Reflect.get(target, key, receiver) as unknown;
          if (key === 'getRun' || key === 'takeSignal') reads += 1;
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const r = track(wf.runWithCheckpoint(undefined, 'o', counted, 'p', { signalPollMs }));
      while (!(await store.load('p'))?.items.some((it) => it.wait !== undefined)) await new Promise((res) => setTimeout(res, 5));
      await new Promise((res) => setTimeout(res, 50));
      const before = reads;
      await new Promise((res) => setTimeout(res, 200));
      expect(reads - before).toBe(0);
      await wf.signal(counted, 'p', 'approval', { approved: true, by: 'ana' });
      await expect(r.p).resolves.toBe('approved by ana');
    }
  });

  it('a fixed sleep no timer can keep (negative, NaN, infinite, an invalid Date, neither ms nor until) is an InvalidArgumentError when the node is made, not a failure of the run that reaches it', () => {
    for (const d of [{ ms: -1 }, { ms: Number.NaN }, { ms: Infinity }, { ms: '5' }, { until: new Date('nope') }, { until: Number.NaN }, {}]) {
      expect(() => new Sleep<number>(d as never), JSON.stringify(d)).toThrow(InvalidArgumentError);
    }
    expect(() => new Sleep<number>({ until: new Date(0) })).not.toThrow(); // a time past: it ends at once
    expect(() => new Sleep<number>(() => ({ ms: -1 }))).not.toThrow(); // a function's duration is checked when the node runs
  });

  it('a sleep until a time no Date holds fails its node with InvalidArgumentError; one that would end after the last such time ends then', async () => {
    const ctx = {} as WorkflowCtx;
    expect(() => new Sleep<number>({ until: 1e300 }).process(ctx, 1)).toThrow(InvalidArgumentError);
    expect(() => new Sleep<number>({ until: Date.now() * 1e6 }).process(ctx, 1)).toThrow(/Sleep until must be a valid Date or an epoch ms a Date can hold \(\|ms\| <= 8\.64e15\), got /);
    expect(new Sleep<number>({ until: -8.64e15 }).process(ctx, 1)).toMatchObject({ type: 'sleep', until: -8.64e15 });
    const store = new SqliteCheckpointStore(':memory:');
    const clock = new VirtualClock();
    const r = track(bindWorkflow(SleepFlowDef, new SleepFlow()).runWithCheckpoint(undefined, { ms: 1e300 }, store, 'forever', { clock }));
    await settle();
    expect((await store.load('forever'))?.items.map((it) => it.notBefore)).toEqual([8.64e15]);
    expect(r.done()).toBe(false);
    await store.close();
  });
});

const stores: Array<[string, () => CheckpointStore]> = [
  ['memory', () => new MemoryCheckpointStore()],
  ['sqlite', () => new SqliteCheckpointStore(join(dir, `s-${Math.random().toString(36).slice(2)}.db`))],
];

describe.each(stores)('checkpointed runs on %s', (_name, makeStore) => {
  it('signal before, during and after the wait begins, and right after runWithCheckpoint is called (20 random rounds), each applied once', async () => {
    const wf = bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
    const store = makeStore();
    for (let round = 0; round < 20; round++) {
      const clock = new VirtualClock();
      const runId = `race-${round}`;
      // 0: before the run starts, 1: racing its first steps, 2: once it waits, 3: right after the call, before the
      // run's first write (as the README shows it)
      const when = round % 4;
      let r: ReturnType<typeof track<string>>;
      if (when === 3) {
        r = track(wf.runWithCheckpoint(undefined, 'o', store, runId, { clock }));
        await wf.signal(store, runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' });
      } else if (when === 0) {
        await store.createRun({ runId, workflow: 'ApprovalFlow', fingerprint: ApprovalFlowDef.fingerprint, input: 'o', context: null, deadline: undefined, start: { node: 'ask', id: '0', input: 'o' } });
        await wf.signal(store, runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' });
        r = track(wf.runWithCheckpoint(undefined, 'o', store, runId, { clock }));
      } else {
        r = track(wf.runWithCheckpoint(undefined, 'o', store, runId, { clock }));
        while (!(await store.getRun(runId))) await new Promise((res) => setImmediate(res));
        for (let i = 0; i < (when === 1 ? Math.floor(Math.random() * 3) : 6); i++) await new Promise((res) => setImmediate(res));
        await wf.signal(store, runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' });
      }
      // the same signal again (its payload's keys in another order): a duplicate; another payload: refused
      expect(await wf.signal(store, runId, 'approval', { by: `r${round}`, approved: true }, { key: 'once' })).toBe('duplicate');
      await expect(wf.signal(store, runId, 'approval', { approved: false, by: 'again' }, { key: 'once' })).rejects.toBeInstanceOf(SignalKeyConflictError);
      await expect(r.p).resolves.toBe(`approved by r${round}`);
      // a retried delivery after the run finished is still a duplicate, or refused with another payload; a new signal is refused
      expect(await wf.signal(store, runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' })).toBe('duplicate');
      await expect(wf.signal(store, runId, 'approval', { approved: false, by: 'again' }, { key: 'once' })).rejects.toThrow(
        `run ${runId} already received a signal with key "once" and another payload: a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own`,
      );
      await expect(wf.signal(store, runId, 'approval', { approved: false, by: 'late' }, { key: 'new' })).rejects.toBeInstanceOf(RunStateError);
    }
    await store.close();
  });

  it('a wrong payload or an unknown name is a typed error and changes nothing', async () => {
    const wf = bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
    const store = makeStore();
    const r = track(wf.runWithCheckpoint(undefined, 'o', store, 'bad', { clock: new VirtualClock() }));
    await settle();
    // @ts-expect-error: wrong payload type
    await expect(wf.signal(store, 'bad', 'approval', { approved: 1 })).rejects.toBeInstanceOf(InvalidSignalError);
    // @ts-expect-error: unknown name
    await expect(wf.signal(store, 'bad', 'nope', {})).rejects.toBeInstanceOf(InvalidSignalError);
    expect(await store.pendingSignals('bad')).toEqual([]);
    expect(r.done()).toBe(false);
    await wf.signal(store, 'bad', 'approval', { approved: true, by: 'ok' });
    await expect(r.p).resolves.toBe('approved by ok');
    await expect(wf.signal(store, 'bad', 'approval', { approved: true, by: 'late' })).rejects.toBeInstanceOf(RunStateError);
    await store.close();
  });

  it('a payload sent unchecked that fails the wait\'s check is refused: the wait waits on until its original deadline, then times out as before', async () => {
    const clock = new VirtualClock();
    const store = makeStore();
    const wf = bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
    const r = track(wf.runWithCheckpoint(undefined, 'o', store, 'refused', { clock, signalPollMs: 5 }));
    const waiting = async () => (await store.load('refused'))?.items.filter((it) => it.wait !== undefined && it.received === undefined) ?? [];
    while ((await waiting()).length === 0) await new Promise((res) => setImmediate(res));
    const [wait] = await waiting();
    await clock.advance(600);
    // the store's own signal: what floxide runs signal sends, without the workflow's code
    expect(await store.signal('refused', 'approval', { approved: 'yes' })).toBe('delivered');
    while (!(await waiting()).some((it) => it.id !== wait.id) && !r.done()) {
      await clock.advance(1);
      await new Promise((res) => setTimeout(res, 1));
    }
    // parked again: same wait and attempt, the same deadline (not restarted), the signal consumed, the run going on
    expect(await waiting()).toEqual([expect.objectContaining({ node: 'approval', wait: wait.wait, notBefore: wait.notBefore })]);
    expect(await store.pendingSignals('refused')).toEqual([]);
    expect(r.done()).toBe(false);
    const history = await store.stepHistory('refused');
    expect(history.find((h) => h.itemId === wait.id)).toMatchObject({ node: 'approval', attempt: 1, outcome: 'continue', error: { name: 'SignalRefusedError' } });
    // the original deadline ends the wait: its fallback takes the timeout, the one attempt the refusal did not use
    await clock.advance(wait.notBefore! - clock.now());
    await expect(r.p).resolves.toBe('escalated o after SignalTimeoutError x1');
    await store.close();
  });

  it('never: the timeout routes to the fallback', async () => {
    const clock = new VirtualClock();
    const store = makeStore();
    const r = track(bindWorkflow(ApprovalFlowDef, new ApprovalFlow()).runWithCheckpoint(undefined, 'o', store, 't', { clock }));
    await clock.advance(1_000);
    await expect(r.p).resolves.toBe('escalated o after SignalTimeoutError x1');
    await store.close();
  });

  it('a run cancelled by another process (runs cancel on the shared file) while it waits for a signal ends with CancelledError within its poll period', async () => {
    const store = makeStore();
    const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
    const r = track(wf.runWithCheckpoint(undefined, 'o', store, 'cancel-away', { signalPollMs: 20 }));
    while (!(await store.load('cancel-away'))?.items.some((it) => it.wait !== undefined)) await new Promise((res) => setTimeout(res, 5));
    // not through the run's own signal: what another process's `cancel` leaves in the store
    expect(await store.cancel('cancel-away', { name: 'CancelledError', message: 'duplicate order', code: 'FLOXIDE_CANCELLED' })).toBe(true);
    const err = await r.p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as Error).message).toBe('run cancel-away was cancelled: duplicate order');
    expect((await store.getRun('cancel-away'))?.status).toBe('cancelled');
    await store.close();
  });

  it('a resumed run sleeps only the remainder', async () => {
    const store = makeStore();
    const wf = bindWorkflow(SleepFlowDef, new SleepFlow());
    const clock = new VirtualClock();
    const started = clock.now();
    // the first call's process dies while the run sleeps: from then on it writes nothing (as after SIGKILL), and its
    // call ends (here by its abort signal, whose cancellation cannot reach the store any more)
    const dying = dyingStore(store);
    const ac = new AbortController();
    const first = track(wf.runWithCheckpoint(undefined, { ms: 2_000 }, dying.store, 'z', { clock, signal: ac.signal }));
    await clock.advance(1_500);
    expect(first.done()).toBe(false);
    // while it lives, a second call is refused: it would run the run's nodes again
    await expect(wf.resume(store, 'z', { clock })).rejects.toBeInstanceOf(RunBusyError);
    dying.die();
    ac.abort();
    await expect(first.p).rejects.toThrow();
    expect((await store.getRun('z'))?.status).toBe('running');
    // Another process resumes the same stored run (the first is gone, as after a crash): it waits 500 ms more.
    const clock2 = new VirtualClock();
    await clock2.advance(clock.now() - clock2.now());
    const resumed = track(wf.resume(store, 'z', { clock: clock2 }));
    await clock2.advance(499);
    expect(resumed.done()).toBe(false);
    await clock2.advance(1);
    await expect(resumed.p).resolves.toBe('woke after 2000 ms');
    const cp = await store.load('z');
    expect(clock2.now() - started).toBe(2_000);
    expect(cp?.run.status).toBe('completed');
    await store.close();
  });
});

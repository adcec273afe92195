// Signals and durable sleep on the distributed backends (issue 11). The same suite runs on every backend that keeps
// parked items (SignalReceiver): a waiting run holds no lease and no worker slot, survives losing every worker,
// takes a signal sent before, during or after its wait (20 random rounds), applies a repeated key once, refuses a
// wrong payload without changing anything, and routes a timeout to its fallback; a sleep fires once.
import { describe, expect, it } from 'vitest';
import { bindWorkflow, InvalidSignalError, Orchestrator, RunStateError, SignalKeyConflictError, supportsObservation, systemClock, type DistributedBackend, type WorkflowEvent } from 'floxide';
import { ApprovalFlow, SleepFlow, SteadyApprovalFlow, VoteFlow } from '../fixtures/signals/flows.js';
import { ApprovalFlowDef, SleepFlowDef, SteadyApprovalFlowDef, VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { until } from './helpers.js';
import { plantUndigestedSignalKey } from './tamper.js';
import { signalBackends, signalHarness, SIGNAL_WAIT_MS } from './signal-harness.js';

// A wait that a test ends with its signal waits 1 h (SteadyApprovalFlow), so a loaded machine cannot time it out
// first; ApprovalFlow's 1 s timeout serves the tests of the timeout itself.
const approval = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
const impatient = bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
const votes = bindWorkflow(VoteFlowDef, new VoteFlow());
const sleeper = bindWorkflow(SleepFlowDef, new SleepFlow());

describe.each(signalBackends('sig'))('signals on %s', (_name, openBackend) => {
  const h = signalHarness(openBackend);
  const open = async (): Promise<DistributedBackend> => (await h.open()).backend;
  const worker = h.worker;
  const parked = async (b: DistributedBackend, runId: string) => (await h.parkedCount(b, runId)) > 0;

  it('a waiting run holds no lease or slot, survives losing every worker and the store connection, and completes on its signal', async () => {
    const opened = await h.open();
    const b = opened.backend;
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'order-1');
    const w = worker(b, approval);
    await h.untilParked(b, runId);
    // (the store parks the item when the commit lands; the worker frees the slot when its answer comes back)
    await until(() => w.inFlight === 0, 2_000, 'the worker to free the slot of the parked item');
    expect((await b.itemStates(runId)).filter((s) => s.status === 'in_progress')).toEqual([]);
    await h.stop(w);
    await opened.killConnections();
    await until(async () => parked(b, runId).catch(() => false), SIGNAL_WAIT_MS, 'the store connection to come back');
    expect(await orch.signal(runId, 'approval', { approved: true, by: 'ana' }, { key: 'k' })).toBe('delivered');
    expect(await orch.signal(runId, 'approval', { approved: true, by: 'ana' }, { key: 'k' })).toBe('duplicate');
    await expect(orch.signal(runId, 'approval', { approved: false, by: 'bo' }, { key: 'k' })).rejects.toBeInstanceOf(SignalKeyConflictError);
    worker(b, approval); // a new worker after every worker died
    const rec = await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS });
    expect(rec.output).toBe('approved by ana');
  });

  it('signalWithReceipt says where the signal went, as the store delivered it: to the parked wait (its item), or kept in the mailbox', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'receipt');
    // no worker yet: nothing waits, the mailbox keeps it (signal alone says only "delivered")
    expect(await orch.signalWithReceipt(runId, 'approval', { approved: true, by: 'first' }, { key: 'a' })).toEqual({ delivery: 'delivered', itemId: undefined, kept: true });
    expect(await orch.signalWithReceipt(runId, 'approval', { approved: true, by: 'first' }, { key: 'a' })).toEqual({ delivery: 'duplicate', itemId: undefined, kept: false });
    // without the workflow too (what floxide runs signal and the dashboard send through)
    const other = await orch.startRun(undefined, 'receipt-2');
    worker(b, approval);
    await h.untilParked(b, other);
    const [wait] = (await b.itemStates(other)).filter((s) => s.status === 'parked');
    expect(await new Orchestrator(b).signalWithReceipt(other, 'approval', { approved: false, by: 'cy' })).toEqual({ delivery: 'delivered', itemId: wait.itemId, kept: false });
    expect((await orch.waitForCompletion(other, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('rejected by cy');
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by first');
    // signal's own answer is unchanged: a SignalDelivery string
    const delivery: 'delivered' | 'duplicate' = await orch.signal(runId, 'approval', { approved: true, by: 'first' }, { key: 'a' });
    expect(delivery).toBe('duplicate');
  });

  it('a key reused with another name or payload is SignalKeyConflictError and changes nothing; the same signal (payload compared canonically) is a duplicate, also once the run ended', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    // without the workflow: what floxide runs signal and the dashboard send through (any name reaches the store)
    const raw = new Orchestrator(b);
    const runId = await orch.startRun(undefined, 'keys');
    const events: string[] = [];
    let completedSeen = false;
    const ac = new AbortController();
    const watched = supportsObservation(b)
      ? (async () => {
          for await (const { event: e } of b.subscribe({ runId, signal: ac.signal })) {
            if (e.type === 'signal.received') events.push(`${e.name} ${e.key}`);
            if (e.type === 'run.completed') completedSeen = true;
          }
        })().catch(() => undefined)
      : undefined;
    expect(await orch.signal(runId, 'approval', { approved: true, by: 'ana' }, { key: 'mail-1' })).toBe('delivered');
    for (const ended of [false, true]) {
      expect(await orch.signal(runId, 'approval', { by: 'ana', approved: true }, { key: 'mail-1' }), `ended: ${ended}`).toBe('duplicate');
      expect(await raw.signalWithReceipt(runId, 'approval', { by: 'ana', approved: true }, { key: 'mail-1' })).toEqual({ delivery: 'duplicate', itemId: undefined, kept: false });
      const payload = await orch.signal(runId, 'approval', { approved: false, by: 'ana' }, { key: 'mail-1' }).catch((err: unknown) => err);
      expect(payload).toBeInstanceOf(SignalKeyConflictError);
      expect(payload).toMatchObject({ code: 'FLOXIDE_SIGNAL_KEY_CONFLICT', runId, key: 'mail-1', differs: ['payload'] });
      await expect(raw.signal(runId, 'approvals', { approved: true, by: 'ana' }, { key: 'mail-1' })).rejects.toThrow(
        `run ${runId} already received a signal with key "mail-1" and another name (it was "approval"): a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own`,
      );
      await expect(raw.signalWithReceipt(runId, 'approvals', null, { key: 'mail-1' })).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['name', 'payload'] });
      if (ended) break;
      // nothing was kept: the mailbox holds the first signal alone, which the wait takes
      expect((await orch.pendingSignals(runId)).map((x) => [x.name, x.payload, x.key])).toEqual([['approval', { approved: true, by: 'ana' }, 'mail-1']]);
      worker(b, approval);
      expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by ana');
    }
    if (watched) {
      // the run's final event comes after its one signal.received (the stream delivers in order); the stream may
      // deliver it a moment after the run record says completed (Postgres: read on the next notification)
      await until(async () => completedSeen, SIGNAL_WAIT_MS, 'the stream to deliver run.completed');
      ac.abort();
      await watched;
      expect(events).toEqual(['approval mail-1']);
    }
  });

  it('two signals with one key and different payloads sent at once: one is delivered, the other refused', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runIds = await Promise.all(Array.from({ length: 4 }, (_, i) => orch.startRun(undefined, `race-${i}`)));
    const answers = await Promise.all(
      runIds.flatMap((runId) => ['ana', 'bo'].map((by) => orch.signal(runId, 'approval', { approved: true, by }, { key: 'same' }).catch((err: unknown) => (err as Error).name))),
    );
    for (let i = 0; i < runIds.length; i++) expect(answers.slice(2 * i, 2 * i + 2).sort(), runIds[i]).toEqual(['SignalKeyConflictError', 'delivered']);
    for (const runId of runIds) expect(await orch.pendingSignals(runId)).toHaveLength(1);
  });

  it.runIf(_name !== 'memory')('a key kept before digests (by an older floxide) matches any signal: a duplicate, as before', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'legacy');
    expect(await orch.signal(runId, 'approval', { approved: true, by: 'ana' }, { key: 'old' })).toBe('delivered');
    await plantUndigestedSignalKey(b, runId, 'old');
    expect(await orch.signal(runId, 'approval', { approved: false, by: 'bo' }, { key: 'old' })).toBe('duplicate');
    expect(await new Orchestrator(b).signal(runId, 'other', null, { key: 'old' })).toBe('duplicate');
    expect((await orch.pendingSignals(runId)).map((x) => x.payload)).toEqual([{ approved: true, by: 'ana' }]);
    // a new key is kept with its digest, and compared
    expect(await orch.signal(runId, 'approval', { approved: true, by: 'cy' }, { key: 'new' })).toBe('delivered');
    await expect(orch.signal(runId, 'approval', { approved: true, by: 'di' }, { key: 'new' })).rejects.toBeInstanceOf(SignalKeyConflictError);
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
      if (when === 2) await h.untilParked(b, runId);
      await orch.signal(runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' });
      expect(await orch.signal(runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' })).toBe('duplicate');
      const rec = await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS });
      expect(rec.output).toBe(`approved by r${round}`);
      expect(await orch.pendingSignals(runId)).toEqual([]);
      // a retried delivery after the run finished is still a duplicate; a new signal is refused
      expect(await orch.signal(runId, 'approval', { approved: true, by: `r${round}` }, { key: 'once' })).toBe('duplicate');
      await expect(orch.signal(runId, 'approval', { approved: false, by: 'late' }, { key: 'new' })).rejects.toBeInstanceOf(RunStateError);
    }
  });

  it('a wrong payload or an unknown name is InvalidSignalError and changes nothing', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    const runId = await orch.startRun(undefined, 'o');
    // @ts-expect-error: the payload of "approval" is a Decision (SteadyApprovalFlowSignals, generated by floxide build)
    await expect(orch.signal(runId, 'approval', { approved: 'yes' })).rejects.toBeInstanceOf(InvalidSignalError);
    // @ts-expect-error: SteadyApprovalFlow has no signal "nope"
    await expect(orch.signal(runId, 'nope', {})).rejects.toBeInstanceOf(InvalidSignalError);
    // With the generated definition alone (no instance to check payloads), names are still checked.
    // @ts-expect-error: SteadyApprovalFlow has no signal "nope"
    await expect(new Orchestrator(b, approval.def).signal(runId, 'nope', {})).rejects.toThrow(/has no signal "nope" \(its signals: "approval"\)/);
    // a run of another workflow: refused by the store in the signal's own atomic operation, nothing changes
    await expect(new Orchestrator(b, votes).signal(runId, 'vote', { vote: 'x' })).rejects.toThrow(new RunStateError(`run ${runId} is a run of SteadyApprovalFlow, not of VoteFlow`));
    // a key every mode refuses alike (Postgres failed on a NUL or half a surrogate pair with a StoreError)
    for (const key of ['', 'nul\u0000', 'half\ud800']) {
      await expect(orch.signal(runId, 'approval', { approved: true, by: 'k' }, { key }), JSON.stringify(key)).rejects.toThrow(/^invalid signal key/);
    }
    // a payload no store keeps as it is, sent without the workflow's code (floxide runs signal, the dashboard):
    // refused, where the store wrote it as JSON (a function dropped, a typed array read back as a plain object)
    for (const payload of [{ approved: true, by: 'k', notify: () => undefined }, { approved: true, by: 'k', scan: new Uint8Array(2) }]) {
      // (the same error as a sender with the workflow's code gets)
      const refused = await orch.signal(runId, 'approval', payload as never).catch((err: unknown) => err as Error);
      expect(refused).toBeInstanceOf(InvalidSignalError);
      await expect(new Orchestrator(b).signal(runId, 'approval', payload)).rejects.toThrow(refused);
      await expect(new Orchestrator(b).signal(runId, 'approval', payload)).rejects.toBeInstanceOf(InvalidSignalError);
    }
    expect(await orch.pendingSignals(runId)).toEqual([]);
    await orch.cancel(runId);
    await expect(orch.signal(runId, 'approval', { approved: true, by: 'late' })).rejects.toBeInstanceOf(RunStateError);
  });

  it('cancel drops a parked wait; a paused run takes its signal but runs only when resumed', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    worker(b, approval);
    const cancelled = await orch.startRun(undefined, 'c');
    await h.untilParked(b, cancelled);
    await orch.cancel(cancelled);
    expect((await b.getRun(cancelled))!.status).toBe('cancelled');
    expect((await b.itemStates(cancelled)).filter((s) => s.status === 'parked')).toEqual([]);
    await expect(orch.signal(cancelled, 'approval', { approved: true, by: 'late' })).rejects.toBeInstanceOf(RunStateError);

    const paused = await orch.startRun(undefined, 'p');
    await h.untilParked(b, paused);
    await orch.pause(paused);
    expect(await orch.signal(paused, 'approval', { approved: true, by: 'pat' })).toBe('delivered');
    // the worker keeps claiming (a run started after the signal completes) and leaves the paused run's item alone
    const other = await orch.startRun(undefined, 'q');
    await h.untilParked(b, other);
    await orch.signal(other, 'approval', { approved: true, by: 'quinn' });
    expect((await orch.waitForCompletion(other, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by quinn');
    expect((await b.itemStates(paused)).map((s) => s.status)).toEqual(['completed', 'completed', 'pending']);
    await orch.resume(paused);
    expect((await orch.waitForCompletion(paused, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by pat');
  });

  it('a payload sent unchecked that fails the wait\'s check is refused: consumed, the wait parked again at its attempt and deadline, the refusal recorded and reported', async () => {
    const b = await open();
    const orch = new Orchestrator(b, approval);
    worker(b, approval);
    const runId = 'refused-1';
    const events: WorkflowEvent[] = [];
    const ac = new AbortController();
    const observed = supportsObservation(b) ? b : undefined;
    const reading = observed
      ? (async () => {
          for await (const e of observed.subscribe({ runId, signal: ac.signal })) {
            events.push(e.event);
            if (e.event.type === 'run.completed') break;
          }
        })()
      : undefined;
    await orch.startRun(undefined, 'r', { runId });
    await h.untilParked(b, runId);
    const [wait] = (await b.itemStates(runId)).filter((s) => s.status === 'parked');
    // without the workflow's code (floxide runs signal, the dashboard): the store keeps it, the wait checks it
    expect(await new Orchestrator(b).signalWithReceipt(runId, 'approval', { approved: 'yes' })).toMatchObject({ itemId: wait.itemId });
    await until(async () => (await b.itemStates(runId)).some((s) => s.status === 'parked' && s.itemId !== wait.itemId), SIGNAL_WAIT_MS, 'the wait to park again');
    expect((await b.itemStates(runId)).filter((s) => s.status === 'parked')).toEqual([expect.objectContaining({ node: 'approval', attempt: 1, notBefore: wait.notBefore })]);
    expect(await orch.pendingSignals(runId)).toEqual([]);
    expect((await b.getRun(runId))!.status).toBe('running');
    expect(await b.errors(runId)).toEqual([expect.objectContaining({ itemId: wait.itemId, node: 'approval', attempt: 1, kind: 'signal', error: expect.objectContaining({ name: 'SignalRefusedError' }) })]);
    expect(await b.metrics(runId)).toMatchObject({ retries: 0, failed: 0 });
    await orch.signal(runId, 'approval', { approved: true, by: 'ida' });
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('approved by ida');
    if (reading) {
      await reading;
      ac.abort();
      const refused = events.find((e) => e.type === 'step.finished' && e.itemId === wait.itemId);
      expect(refused).toMatchObject({ node: 'approval', attempt: 1, outcome: 'continue', error: { name: 'SignalRefusedError', code: 'FLOXIDE_SIGNAL_REFUSED' } });
      expect(events.filter((e) => e.type === 'wait.started')).toHaveLength(2);
      expect(events.some((e) => e.type === 'step.retry')).toBe(false);
      expect((await observed!.stepHistory(runId)).find((r) => r.itemId === wait.itemId)).toMatchObject({ outcome: 'continue', error: { name: 'SignalRefusedError' } });
    }
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
    await h.untilParked(b, runId);
    await orch.signal(runId, 'approval', { approved: true, by: 'eve' }, { key: 'k1' });
    await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS });
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
    const timing = new Orchestrator(b, impatient);
    worker(b, impatient);
    await timing.startRun(undefined, 't', { runId: timedOut });
    await timing.waitForCompletion(timedOut, { timeoutMs: SIGNAL_WAIT_MS });
    await reading2;
    expect(seen.map((e) => e.type)).toContain('wait.timedOut');
  });

  it('the run deadline reaches a waiting run: it fails with DeadlineExceededError (no fallback)', async () => {
    const b = await open();
    const orch = new Orchestrator(b, votes);
    worker(b, votes);
    // two waits without a timeout of their own: only the deadline can end them
    const runId = await orch.startRun(undefined, 1, { timeoutMs: 300 });
    await until(async () => (await b.getRun(runId))!.status !== 'running', SIGNAL_WAIT_MS, 'the run to end');
    const rec = (await b.getRun(runId))!;
    expect(rec.status).toBe('failed');
    expect(rec.error?.name).toBe('DeadlineExceededError');
    expect((await b.itemStates(runId)).map((s) => s.node)).not.toContain('tally');
  });

  it('never: the timeout fails the node and the fallback takes the item', async () => {
    const b = await open();
    const orch = new Orchestrator(b, impatient);
    worker(b, impatient);
    const runId = await orch.startRun(undefined, 'o');
    const rec = await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS });
    expect(rec.output).toBe('escalated o after SignalTimeoutError x1');
  });

  it('two waits in parallel branches each get their own signal', async () => {
    const b = await open();
    const orch = new Orchestrator(b, votes);
    worker(b, votes);
    const runId = await orch.startRun(undefined, 1);
    await orch.signal(runId, 'vote', { vote: 'yes' });
    await until(async () => (await h.parkedCount(b, runId)) >= 1, SIGNAL_WAIT_MS, 'a wait');
    await orch.signal(runId, 'vote', { vote: 'no' });
    expect((await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS })).output).toBe('no,yes');
  });

  it('a sleep that would end after the last time a Date holds parks until that time (Postgres refused the commit of a later one on every delivery)', async () => {
    const b = await open();
    const orch = new Orchestrator(b, sleeper);
    const w = worker(b, sleeper);
    const runId = await orch.startRun(undefined, { ms: 1e300 });
    await h.untilParked(b, runId, 1, 'the sleep to park');
    const [work] = await b.pendingWork(runId);
    expect(work?.state).toMatchObject({ status: 'parked', notBefore: 8.64e15 });
    expect(w.stats.released).toBe(0);
    expect(await b.errors(runId)).toEqual([]);
  });

  it("a worker whose clock is an hour off reads the store's time: a sleep and a wait's timeout end when the store says (they fired at once, or an hour late)", async () => {
    const b = await open();
    const orch = new Orchestrator(b, sleeper);
    const behind = { now: () => Date.now() - 3_600_000, setTimer: systemClock.setTimer };
    const ahead = { now: () => Date.now() + 3_600_000, setTimer: systemClock.setTimer };
    const w = worker(b, sleeper, { clock: behind });
    const slept = await orch.startRun(undefined, { ms: 60_000 });
    const waited = await new Orchestrator(b, approval).startRun(undefined, 'o');
    worker(b, approval, { clock: ahead });
    await h.untilParked(b, slept, 1, 'the sleep to park');
    await h.untilParked(b, waited, 1, 'the wait to park');
    await until(() => w.inFlight === 0, 2_000, 'the worker to free the slot of the parked item');
    const now = Date.now();
    const [sleep] = await b.pendingWork(slept);
    const [wait] = await b.pendingWork(waited);
    // (the store's clock is this machine's, give or take the time the steps took; a step reads the store's time of its
    // claim plus the time passed since the claim was sent, so it may be ahead by the claim's round trip: a few ms on a
    // loaded machine, where a worker on its own clock would be an hour off)
    const roundTrip = 1_000;
    expect(sleep!.state.notBefore! - now).toBeGreaterThan(55_000);
    expect(sleep!.state.notBefore! - now).toBeLessThanOrEqual(60_000 + roundTrip);
    expect(wait!.state.notBefore! - now).toBeGreaterThan(3_500_000);
    expect(wait!.state.notBefore! - now).toBeLessThanOrEqual(3_600_000 + roundTrip);
    expect((await b.getRun(slept))?.status).toBe('running');
  });

  it("a worker whose clock is behind the deadline's neither ends a sleep at the deadline nor times a wait out into its fallback: the run fails with DeadlineExceededError (the store woke both at the deadline, and the sleep ended at once, the wait took its fallback)", async () => {
    const b = await open();
    const behind = { now: () => Date.now() - 3_600_000, setTimer: systemClock.setTimer };
    worker(b, sleeper, { clock: behind });
    worker(b, approval, { clock: behind });
    // both would end in an hour; the deadline is this machine's now + 300 ms (the worker arms it an hour later on its
    // clock; the orchestrator's wait, on this machine's, fails the run then)
    const slept = await new Orchestrator(b, sleeper).startRun(undefined, { ms: 3_600_000 }, { timeoutMs: 300 });
    const waited = await new Orchestrator(b, approval).startRun(undefined, 'o', { timeoutMs: 300 });
    for (const runId of [slept, waited]) {
      const rec = await new Orchestrator(b).waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS });
      expect([rec.status, rec.error?.name, rec.output]).toEqual(['failed', 'DeadlineExceededError', undefined]);
    }
  });

  it("a run started and worked on by machines whose clocks are an hour behind the store's meets its deadline on theirs: a sleep before it ends, one past it fails the run at it (it failed at once: its wake-up was capped at the deadline read as the store's time)", async () => {
    const b = await open();
    const behind = { now: () => Date.now() - 3_600_000, setTimer: systemClock.setTimer };
    worker(b, sleeper, { clock: behind });
    const orch = new Orchestrator(b, sleeper);
    const short = await orch.startRun(undefined, { ms: 200 }, { deadline: behind.now() + 60_000 });
    const long = await orch.startRun(undefined, { ms: 3_600_000 }, { deadline: behind.now() + 300 });
    // (read from the store: an Orchestrator on this machine's clock would fail the runs, their deadline an hour past on it)
    const final = async (runId: string) => {
      await until(async () => ['completed', 'failed'].includes((await b.getRun(runId))!.status), SIGNAL_WAIT_MS, `run ${runId} to end`);
      return (await b.getRun(runId))!;
    };
    const done = await final(short);
    expect([done.status, done.output]).toEqual(['completed', 'woke after 200 ms']);
    const failed = await final(long);
    expect([failed.status, failed.error?.name]).toEqual(['failed', 'DeadlineExceededError']);
    // (at its deadline on the machines' clock, not before: the store's clock was an hour past it from the start)
    expect(behind.now()).toBeGreaterThanOrEqual(failed.deadline!);
  });

  it('a wait with no timeout on a worker behind the store, in a run whose deadline is the last time a Date holds, parks until that time (the deadline taken to the store\'s clock was past it, and the commit refused the item)', async () => {
    const b = await open();
    worker(b, votes, { clock: { now: () => Date.now() - 3_600_000, setTimer: systemClock.setTimer } });
    const runId = await new Orchestrator(b, votes).startRun(undefined, 1, { deadline: 8.64e15 });
    await h.untilParked(b, runId, 2, 'both waits to park');
    expect((await b.pendingWork(runId)).map((w) => w.state.notBefore)).toEqual([8.64e15, 8.64e15]);
    expect((await b.getRun(runId))?.status).toBe('running');
  });

  it('a sleep never ends early: the step reads the store\'s time of its claim plus what has passed since (a claim answered late ended it that much early)', async () => {
    const b = await open();
    let answered = 0;
    // the claims of this worker come back 400 ms after the store made them (a slow network, a busy event loop)
    const late = new Proxy(b, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        if (prop !== 'claim') return v.bind(target);
        return async (...args: Parameters<DistributedBackend['claim']>) => {
          const leases = await target.claim(...args);
          if (leases.length > 0) {
            await new Promise((resolve) => setTimeout(resolve, 400));
            answered = Date.now();
          }
          return leases;
        };
      },
    });
    worker(late, sleeper);
    const runId = await new Orchestrator(b, sleeper).startRun(undefined, { ms: 60_000 });
    await h.untilParked(b, runId, 1, 'the sleep to park');
    const [sleep] = await b.pendingWork(runId);
    // (1 ms for the stores' rounding of their clocks)
    expect(sleep!.state.notBefore! - answered).toBeGreaterThanOrEqual(59_999);
  });

  it('a sleep parks (no lease), survives its worker, and fires once', async () => {
    const b = await open();
    const orch = new Orchestrator(b, sleeper);
    const w = worker(b, sleeper);
    const runId = await orch.startRun(undefined, { ms: 1_000 });
    await h.untilParked(b, runId, 1, 'the sleep to park');
    // (parked when the commit lands; the slot is freed when its answer comes back)
    await until(() => w.inFlight === 0, 2_000, 'the worker to free the slot of the parked item');
    await h.stop(w);
    worker(b, sleeper);
    const rec = await orch.waitForCompletion(runId, { timeoutMs: SIGNAL_WAIT_MS });
    expect(rec.output).toBe('woke after 1000 ms');
    const states = await b.itemStates(runId);
    expect(states.map((s) => [s.node, s.status])).toEqual([
      ['nap', 'completed'],
      ['nap', 'completed'],
      ['woke', 'completed'],
    ]);
  });
});

/**
 * The distributed backend conformance suite: one spec, every backend (memory, Redis, Postgres).
 *
 * Usage, in a `*.test.ts` file:
 * ```ts
 * describeBackendConformance('redis', async () => RedisBackend.connect({ url, keyPrefix: uniquePrefix() }), { tamper });
 * ```
 * `make` must return a backend over fresh, empty state on every call (a unique key prefix or schema): each test
 * gets its own backend and closes it afterwards. Times are real (the backend's clock), with short leases.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CorruptStateError,
  FingerprintMismatchError,
  InvalidArgumentError,
  NodeFailedError,
  reviveError,
  RunInputMismatchError,
  RunNotFoundError,
  RunStateError,
  SignalKeyConflictError,
  StoreError,
  type SerializedError,
} from '../../runtime/core/errors.js';
import type { ContextDelta, EngineItem, JoinArrival, JoinFrame, StepOutcome } from '../../runtime/engine/types.js';
import type { CommitResult, DistributedBackend, LeasedItem, NewRun, OutstandingStatus, PendingWorkOptions, WorkerHealth } from '../../runtime/distributed/contracts.js';
import { childItemId } from '../../runtime/core/ids.js';
import { OUTSTANDING_STATUSES, cursorAfter, isFinalRunStatus, supportsMigration, supportsObservation, supportsSignals, type RunCursor, type RunRecord } from '../../runtime/distributed/contracts.js';
import { HELD_GROUP_NODE, settleJoinGroup } from '../../runtime/engine/joins.js';
import { noTerminalError } from '../../runtime/engine/commit.js';
import { executeStep } from '../../runtime/engine/core.js';
import { contextCodecOf } from '../../runtime/context/codec.js';
import { bindWorkflow, type Workflow } from '../../runtime/workflow/bind.js';
import { MalformedFallbackWorkflow, MalformedWorkflow, NestedHoldsWorkflow, StepsCtx } from '../fixtures/rules/flows.js';
import { MalformedFallbackWorkflowDef, MalformedWorkflowDef, NestedHoldsWorkflowDef } from '../fixtures/rules/flows.floxide.js';
import { MALFORMED_CASES, NESTED_CASES } from '../fixtures/rules/cases.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { chain, ChainWorkflowDef, CountCtx } from './helpers.js';
import { ChainWorkflow } from '../fixtures/distributed/flows.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const LONG = 30_000;

function err(message: string, code?: string): SerializedError {
  return code === undefined ? { name: 'Error', message } : { name: 'Error', message, code };
}

function cont(items: EngineItem[] = [], arrivals: JoinArrival[] = [], delta?: ContextDelta): StepOutcome {
  return { type: 'continue', items, arrivals, delta };
}

function terminal(output: unknown, items: EngineItem[] = [], delta?: ContextDelta): StepOutcome {
  return { type: 'terminal', output, items, arrivals: [], delta };
}

function retry(delayMs: number, message = 'boom'): StepOutcome {
  return { type: 'retry', attempt: 1, delayMs, error: err(message) };
}

function failed(message = 'fatal', code?: string): StepOutcome {
  return { type: 'failed', error: err(message, code), attempts: 1 };
}

function item(node: string, id: string, input: unknown = null, join?: JoinFrame[]): EngineItem {
  return join ? { node, id, input, join } : { node, id, input };
}

const health = (status: WorkerHealth['status'] = 'idle'): WorkerHealth => ({ status, current: [], processed: 0, errors: 0 });

/** What a commit that finished a run answers of it (`CommitResult.finished`): its record's times and error. */
const endOf = (r: RunRecord | undefined) => ({ createdAt: r!.createdAt, finishedAt: r!.finishedAt, ...(r!.error === undefined ? {} : { error: r!.error }) });

/**
 * Plants bad data straight in a backend's store (on the real keys, rows or objects), as a stray client or a bad
 * migration would: what the corrupt-data tests need from each backend.
 */
export interface StoreTamper {
  /** Replaces the stored JSON text of item `itemId` of run `runId` (`text` holds no newline). */
  itemJson(b: DistributedBackend, runId: string, itemId: string, text: string): Promise<void>;
  /** Replaces the stored JSON text of the run's initial context (`text` holds no newline). */
  contextJson(b: DistributedBackend, runId: string, text: string): Promise<void>;
  /** Replaces the stored JSON text of the run's context delta `version` (`text` holds no newline). */
  deltaJson(b: DistributedBackend, runId: string, version: number, text: string): Promise<void>;
  /**
   * Replaces a field of the stored run record: `input` or `error` (JSON text), `createdAt` (epoch ms as decimal
   * text, which may be far beyond any date).
   */
  runField(b: DistributedBackend, runId: string, field: 'input' | 'error' | 'createdAt', text: string): Promise<void>;
}

/**
 * Registers the whole suite for one backend. `options.handoff: false` skips the successor hand-off tests (for a
 * backend that does not implement `StepCommit.handoff` yet); `options.tamper` plants corrupt data for the
 * corrupt-data tests.
 */
export function describeBackendConformance(name: string, make: () => Promise<DistributedBackend>, options: { handoff?: boolean; tamper: StoreTamper }): void {
  describe(`distributed backend conformance: ${name}`, () => {
    let b: DistributedBackend;
    let seq = 0;

    beforeEach(async () => {
      seq = 0;
      b = await make();
    });
    afterEach(async () => {
      await b.close();
    });

    function spec(over: Partial<NewRun> = {}): NewRun {
      const runId = over.runId ?? `run-${++seq}`;
      const input = 'input' in over ? over.input : { topic: 'x', n: seq };
      return { runId, workflow: 'wf', fingerprint: 'fp-1', input, context: { count: 0, log: [] }, firstItem: item('start', '0', input), ...over };
    }

    async function start(over: Partial<NewRun> = {}): Promise<string> {
      const r = await b.createRun(spec(over));
      return r.run.runId;
    }

    async function claimOne(workerId = 'w1', leaseMs = LONG): Promise<LeasedItem> {
      const got = await b.claim(workerId, 1, leaseMs);
      expect(got).toHaveLength(1);
      return got[0]!;
    }

    async function commit(l: LeasedItem, outcome: StepOutcome, counters?: Record<string, number>): Promise<CommitResult> {
      return b.commitStep({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome, counters });
    }

    /**
     * Starts one run per entry and commits each start item with `n` successors (carrying a fan-out frame of group
     * '0'). Call it only while no other item is claimable.
     */
    async function fanOutMany(runs: Array<{ n: number; over?: Partial<NewRun> }>): Promise<Array<{ runId: string; ids: string[] }>> {
      const out: Array<{ runId: string; ids: string[] }> = [];
      for (const r of runs) out.push({ runId: await start(r.over), ids: Array.from({ length: r.n }, (_, i) => childItemId('0', i)) });
      const starts = await b.claim('seed', runs.length, LONG);
      expect(starts.map((l) => l.runId).sort()).toEqual(out.map((o) => o.runId).sort());
      for (const l of starts) {
        const ids = out.find((o) => o.runId === l.runId)!.ids;
        const res = await commit(l, cont(ids.map((id, i) => item('step', id, i, [{ g: '0', i, n: ids.length }]))));
        expect(res.status).toBe('applied');
      }
      return out;
    }

    async function fanOut(n: number, over: Partial<NewRun> = {}): Promise<{ runId: string; ids: string[] }> {
      return (await fanOutMany([{ n, over }]))[0]!;
    }

    // ---------------------------------------------------------------------------------------------------------
    describe('createRun', () => {
      it('atomically creates the record, the initial context and the first item', async () => {
        const deadline = Date.now() + 60_000;
        const res = await b.createRun(spec({ runId: 'run-a', input: { topic: 'cats' }, deadline }));
        expect(res.created).toBe(true);
        expect(res.run).toMatchObject({ runId: 'run-a', workflow: 'wf', fingerprint: 'fp-1', status: 'running', input: { topic: 'cats' }, deadline, finishedAt: undefined, output: undefined, error: undefined, dropped: [] });
        expect(typeof res.run.createdAt).toBe('number');
        expect(await b.getRun('run-a')).toEqual(res.run);
        const ctx = await b.readContext('run-a');
        expect(ctx).toEqual({ initial: { count: 0, log: [] }, deltas: [], version: 0 });
        const pending = await b.pendingWork('run-a');
        expect(pending.map((p) => p.item)).toEqual([item('start', '0', { topic: 'cats' })]);
        expect(pending[0]!.state).toMatchObject({ runId: 'run-a', itemId: '0', node: 'start', status: 'pending', attempt: 1 });
        expect(await b.metrics('run-a')).toEqual({ enqueued: 1, completed: 0, retries: 0, failed: 0, deadLettered: 0, dropped: 0, redeliveries: 0, misrouted: 0, counters: {} });
        const leased = await claimOne();
        expect(leased).toMatchObject({ runId: 'run-a', workflow: 'wf', fingerprint: 'fp-1', deadline, attempt: 1, deliveries: 1, item: item('start', '0', { topic: 'cats' }) });
      });

      it("keeps the run's traceparent and hands it to every lease (claims, retries); refuses a malformed one", async () => {
        const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        const res = await b.createRun(spec({ runId: 'run-t', traceparent }));
        expect(res.run.traceparent).toBe(traceparent);
        expect((await b.getRun('run-t'))!.traceparent).toBe(traceparent);
        expect((await b.listRuns()).find((r) => r.runId === 'run-t')!.traceparent).toBe(traceparent);
        const l = await claimOne();
        expect(l.traceparent).toBe(traceparent);
        await commit(l, retry(1));
        await sleep(20);
        expect((await claimOne()).traceparent).toBe(traceparent);
        // a run started without one has none
        await b.createRun(spec({ runId: 'run-u' }));
        expect((await b.getRun('run-u'))!.traceparent).toBeUndefined();
        expect((await claimOne()).traceparent).toBeUndefined();
        for (const bad of ['', 'nope', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`]) {
          await expect(b.createRun(spec({ runId: 'run-bad', traceparent: bad }))).rejects.toThrow(InvalidArgumentError);
        }
        expect(await b.getRun('run-bad')).toBeUndefined();
      });

      it('is idempotent per run id (same input, in any key order) and writes nothing the second time', async () => {
        await b.createRun(spec({ runId: 'run-i', input: { a: 1, b: [1, 2] } }));
        const again = await b.createRun(spec({ runId: 'run-i', input: { b: [1, 2], a: 1 } }));
        expect(again.created).toBe(false);
        expect(again.run.status).toBe('running');
        expect(await b.pendingWork('run-i')).toHaveLength(1);
        expect((await b.metrics('run-i')).enqueued).toBe(1);
        const l = await claimOne();
        await commit(l, terminal('done'));
        const third = await b.createRun(spec({ runId: 'run-i', input: { a: 1, b: [1, 2] } }));
        expect(third).toMatchObject({ created: false, run: { status: 'completed', output: 'done' } });
        expect(await b.claim('w1', 5, LONG)).toEqual([]);
      });

      it('concurrent createRuns (a burst, with repeated ids) each get their own answer', async () => {
        const specs = Array.from({ length: 40 }, (_, i) => spec({ runId: `burst-${i}`, input: { i } }));
        const results = await Promise.allSettled([
          ...specs.map((s) => b.createRun(s)),
          b.createRun(spec({ runId: 'burst-3', input: { i: 3 } })),
          b.createRun(spec({ runId: 'burst-5', input: { i: 'other' } })),
        ]);
        const created = results.slice(0, 40).map((r) => (r.status === 'fulfilled' ? r.value.created : r.reason));
        const dup = results[40]!;
        const other = results[41]!;
        // the repeated id: one of its two calls created it, the other found it (in either order)
        expect(created.filter((c, i) => i !== 3 && c === true)).toHaveLength(39);
        expect(dup.status).toBe('fulfilled');
        expect([created[3], dup.status === 'fulfilled' && dup.value.created].sort()).toEqual([false, true]);
        if (created[5] === true) expect(other.status === 'rejected' && other.reason).toBeInstanceOf(RunInputMismatchError);
        else expect(created[5]).toBeInstanceOf(RunInputMismatchError);
        expect((await b.getRun('burst-39'))?.input).toEqual({ i: 39 });
        expect((await b.claim('w1', 100, LONG)).map((l) => l.runId).sort()).toEqual(specs.map((x) => x.runId).sort());
      });

      it('refuses a reused run id with another input, workflow or fingerprint', async () => {
        await b.createRun(spec({ runId: 'run-m', input: { a: 1 } }));
        await expect(b.createRun(spec({ runId: 'run-m', input: { a: 2 } }))).rejects.toBeInstanceOf(RunInputMismatchError);
        await expect(b.createRun(spec({ runId: 'run-m', input: { a: 1 }, workflow: 'other' }))).rejects.toBeInstanceOf(RunInputMismatchError);
        await expect(b.createRun(spec({ runId: 'run-m', input: { a: 1 }, fingerprint: 'fp-2' }))).rejects.toBeInstanceOf(FingerprintMismatchError);
        expect(await b.pendingWork('run-m')).toHaveLength(1);
        expect((await b.getRun('run-m'))!.input).toEqual({ a: 1 });
      });

      it('validates run ids, item ids and values', async () => {
        for (const bad of ['', 'has space', 'a*b', '{tag}', 'line\nbreak', '-leading', 'x'.repeat(129), 'a/b']) {
          await expect(b.createRun(spec({ runId: bad }))).rejects.toBeInstanceOf(InvalidArgumentError);
          await expect(b.getRun(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
        }
        await expect(b.createRun(spec({ firstItem: item('start', '') }))).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.createRun(spec({ input: { list: [Symbol('x')] } }))).rejects.toBeInstanceOf(InvalidArgumentError);
        // a deadline no Date can hold would be stored and then read back as corrupt
        for (const deadline of [8.64e15 + 1, -8.64e15 - 1, Number.NaN, Number.POSITIVE_INFINITY]) {
          await expect(b.createRun(spec({ deadline }))).rejects.toThrow(/deadline must be an epoch-millisecond number a Date can hold/);
        }
        expect(await b.listRuns()).toEqual([]);
        // NaN and the infinities are values like any other (stored tagged, read back as themselves)
        expect(await b.createRun(spec({ runId: 'run-nan', input: { n: Number.NaN, top: Number.NEGATIVE_INFINITY } }))).toMatchObject({ created: true });
        expect((await b.getRun('run-nan'))!.input).toEqual({ n: Number.NaN, top: Number.NEGATIVE_INFINITY });
        await b.cancelRun('run-nan');
        expect(await b.getRun('ok-id_1.2:3')).toBeUndefined();
      });

      it('stores JSON safely (no prototype pollution, copies not shared objects)', async () => {
        const input = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, unknown>;
        await start({ runId: 'run-p', input, firstItem: item('start', '0', input) });
        const run = await b.getRun('run-p');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        // The __proto__ key is data (issue 8 item 5): kept as an own key, the prototype untouched.
        expect(Object.keys(run!.input as object)).toEqual(['__proto__', 'x']);
        expect(Object.getPrototypeOf(run!.input)).toBe(Object.prototype);
        expect((run!.input as { polluted?: unknown }).polluted).toBeUndefined();
        expect(Object.keys((await claimOne()).item.input as object)).toEqual(['__proto__', 'x']);
        (run!.input as Record<string, unknown>).x = 99;
        const ctx = await b.readContext('run-p');
        (ctx.initial as { log: unknown[] }).log.push('mutated');
        expect((await b.getRun('run-p'))!.input).toMatchObject({ x: 1 });
        expect((await b.readContext('run-p')).initial).toEqual({ count: 0, log: [] });
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('the newest records of a long run, and its item counts', () => {
      /** A run of `n` steps, each retried once (an error) before it continues with a delta; its last item fails it. */
      async function longRun(n: number): Promise<string> {
        const runId = await start();
        for (let i = 0; i < n; i++) {
          const id = i === 0 ? '0' : `s${i}`;
          expect(await commit(await claimOne(), retry(0, `flaky ${i}`))).toMatchObject({ status: 'applied' });
          let again = await b.claim('w1', 1, LONG);
          for (let tries = 0; again.length === 0 && tries < 100; tries++) again = await b.claim('w1', 1, LONG);
          expect(again[0]?.item.id).toBe(id);
          expect(await commit(again[0]!, cont([item(i % 2 === 0 ? 'odd' : 'even', `s${i + 1}`, i + 1)], [], { count: 1 }))).toMatchObject({ status: 'applied' });
        }
        expect(await commit(await claimOne(), failed('gave up'))).toMatchObject({ status: 'applied', runStatus: 'failed' });
        await b.recordError(runId, { itemId: 'x', node: 'odd', attempt: 1, error: err('late') });
        return runId;
      }

      it('errors, dead letters and context deltas with a limit are the newest of them, oldest first', async () => {
        const runId = await longRun(6);
        const errors = await b.errors(runId);
        expect(errors).toHaveLength(8);
        expect(await b.errors(runId, { limit: 3 })).toEqual(errors.slice(-3));
        expect(await b.errors(runId, { limit: 100 })).toEqual(errors);
        const dead = await b.deadLetters(runId);
        expect(dead).toHaveLength(1);
        expect(await b.deadLetters(runId, { limit: 1 })).toEqual(dead);
        const ctx = await b.readContext(runId);
        expect(ctx.version).toBe(6);
        expect(await b.readContext(runId, undefined, { limit: 2 })).toEqual({ initial: ctx.initial, version: 6, deltas: ctx.deltas.slice(-2) });
        expect((await b.readContext(runId, undefined, { limit: 2 })).deltas.map((d) => d.version)).toEqual([5, 6]);
        expect(await b.readContext(runId, 3, { limit: 2 })).toEqual({ version: 6, deltas: ctx.deltas.slice(4) });
        expect(await b.readContext(runId, 5, { limit: 4 })).toEqual({ version: 6, deltas: ctx.deltas.slice(5) });
        for (const limit of [0, -1, 1.5, Number.NaN]) {
          await expect(b.errors(runId, { limit })).rejects.toBeInstanceOf(InvalidArgumentError);
          await expect(b.deadLetters(runId, { limit })).rejects.toBeInstanceOf(InvalidArgumentError);
          await expect(b.readContext(runId, undefined, { limit })).rejects.toBeInstanceOf(InvalidArgumentError);
        }
      });

      it('counts items per node and state as their states say', async () => {
        const runId = await longRun(5);
        const counts: Record<string, Record<string, number>> = {};
        for (const st of await b.itemStates(runId)) (counts[st.node] ??= {})[st.status] = (counts[st.node]![st.status] ?? 0) + 1;
        expect(await b.itemCounts(runId)).toEqual(counts);
        expect(counts).toEqual({ start: { completed: 1 }, odd: { completed: 2, dead_lettered: 1 }, even: { completed: 2 } });
        // outstanding and in-progress items too
        const open = await start();
        await commit(await claimOne(), cont([item('odd', 'a', 1), item('odd', 'b', 2), item('even', 'c', 3)]));
        await claimOne('w2');
        expect(await b.itemCounts(open)).toEqual({ start: { completed: 1 }, odd: { in_progress: 1, pending: 1 }, even: { pending: 1 } });
      });

      it('pendingWork reads the outstanding items in the states asked for, the first `limit` in enqueue order: what a run page shows of a run with thousands waiting', async () => {
        const n = 5_000;
        const runId = await start();
        // a fan-out of n items, every 1,000th a parked wait; then the first three claimed (in progress)
        const items = Array.from({ length: n }, (_, i) => (i % 1000 === 999 ? { ...item('vote', `v${i}`, i), wait: { name: 'vote', attempt: 1 } } : item('step', `s${i}`, i)));
        expect(await commit(await claimOne(), cont(items))).toMatchObject({ status: 'applied' });
        for (const w of ['w1', 'w2', 'w3']) await claimOne(w);
        const all = await b.pendingWork(runId);
        // (in enqueue order, which may put the parked waits after the others: Redis and Postgres store those second)
        expect(all.map((p) => p.item.id).sort()).toEqual(items.map((it) => it.id).sort());
        expect(all.filter((p) => p.state.status === 'in_progress').map((p) => p.item.id)).toEqual(['s0', 's1', 's2']);
        const cases: PendingWorkOptions[] = [
          { limit: 200 },
          { limit: n + 1 },
          { statuses: ['parked'] },
          { statuses: ['in_progress', 'parked'] },
          { statuses: ['pending'], limit: 2 },
          { statuses: ['parked'], limit: 3 },
          { statuses: ['waiting_retry'] },
          { statuses: [] },
        ];
        for (const options of cases) {
          const { statuses = OUTSTANDING_STATUSES, limit = n } = options;
          expect(await b.pendingWork(runId, options), JSON.stringify(options)).toEqual(all.filter((p) => statuses.includes(p.state.status as OutstandingStatus)).slice(0, limit));
        }
        for (const bad of [{ limit: 0 }, { limit: 1.5 }, { statuses: ['completed'] }, { statuses: 'parked' }] as unknown as PendingWorkOptions[]) {
          await expect(b.pendingWork(runId, bad), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
        }
        await expect(b.pendingWork('nope', { limit: 1 })).rejects.toBeInstanceOf(RunNotFoundError);
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('unknown runs and bad arguments', () => {
      it('per-run operations throw RunNotFoundError for an unknown run', async () => {
        const ops: Array<() => Promise<unknown>> = [
          () => b.pendingWork('nope'),
          () => b.metrics('nope'),
          () => b.errors('nope'),
          () => b.deadLetters('nope'),
          () => b.readContext('nope'),
          () => b.itemStates('nope'),
          () => b.itemCounts('nope'),
          () => b.itemState('nope', '0'),
          () => b.cancelRun('nope'),
          () => b.pauseRun('nope'),
          () => b.resumeRun('nope'),
          () => b.failRun('nope', err('x')),
          () => b.recordError('nope', { itemId: '0', node: 'a', attempt: 1, error: err('x') }),
          () => b.commitStep({ runId: 'nope', itemId: '0', leaseToken: 't', outcome: cont() }),
        ];
        for (const op of ops) await expect(op()).rejects.toBeInstanceOf(RunNotFoundError);
        expect(await b.extendLease('nope', '0', 't', 1000)).toEqual({ status: 'lost', runStatus: undefined });
        expect(await b.release('nope', '0', 't')).toBe(false);
      });

      it('claim validates its arguments', async () => {
        await start();
        await expect(b.claim('bad worker', 1, 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.claim('w1', 0, 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.claim('w1', 1.5, 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.claim('w1', 1, 0)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.listRuns({ limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
        expect(await b.claim('w1', 1, 1000)).toHaveLength(1);
      });

      it('a retry whose delay would end after the last time a Date holds waits until that time (it was stored past it, and the dashboard failed to print it)', async () => {
        const runId = await start();
        await commit(await claimOne(), { type: 'retry', attempt: 1, delayMs: 8.64e15, error: err('later') });
        const [work] = await b.pendingWork(runId);
        expect(work?.state).toMatchObject({ status: 'waiting_retry', attempt: 2, notBefore: 8.64e15 });
        expect(await b.claim('w1', 1, 1000)).toEqual([]);
      });

      it('a commit with malformed parts is refused and changes nothing', async () => {
        const runId = await start();
        const l = await claimOne();
        const arrivals: JoinArrival[] = [
          { group: 'g', index: 0, size: 2, node: 'j', value: 1, held: false, outer: [] },
          { group: 'g', index: 1, size: 3, node: 'j', value: 2, held: false, outer: [] },
        ];
        await expect(commit(l, cont([], arrivals))).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(commit(l, { type: 'retry', attempt: 1, delayMs: -5, error: err('x') })).rejects.toBeInstanceOf(InvalidArgumentError);
        // a wake-up no Date can hold (Postgres' bigint refused it: a StoreError on every delivery)
        await expect(commit(l, { type: 'retry', attempt: 1, delayMs: 1e300, error: err('x') })).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(commit(l, cont([{ node: 'a', id: '1', input: 1, sleep: { value: 1 }, notBefore: 1e300 }]))).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(commit(l, cont([item('a', '')]))).rejects.toBeInstanceOf(InvalidArgumentError);
        // a parked item's attempt is the one the store keeps it at: a positive integer
        for (const attempt of [0, 1.5, '2']) {
          await expect(commit(l, cont([{ ...item('a', '1'), wait: { name: 'x', attempt: attempt as number } }]))).rejects.toThrow('outcome.items[0].wait.attempt must be a positive integer');
          const nested = { key: '0', attempt: attempt as number, items: [], arrivals: [], counter: 0, waiting: undefined };
          await expect(commit(l, cont([{ ...item('a', '1'), nested, notBefore: Date.now() }]))).rejects.toThrow('outcome.items[0].nested.attempt must be a positive integer');
        }
        expect(await b.itemState(runId, '0')).toMatchObject({ status: 'in_progress' });
        expect(await b.metrics(runId)).toMatchObject({ enqueued: 1, completed: 0 });
        expect((await commit(l, terminal('ok'))).status).toBe('applied');
      });

      it('close is idempotent and later operations reject with StoreError', async () => {
        await b.close();
        await b.close();
        await expect(b.getRun('run-x')).rejects.toBeInstanceOf(StoreError);
        await expect(b.claim('w1', 1, 1000)).rejects.toBeInstanceOf(StoreError);
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('claims and leases', () => {
      it('leases an item to one worker only and hands out plain items FIFO within a run', async () => {
        const { runId, ids } = await fanOut(4);
        const got: string[] = [];
        for (let i = 0; i < 4; i++) {
          const l = await claimOne(`w${i}`);
          expect(l.runId).toBe(runId);
          got.push(l.item.id);
          expect(await b.itemState(runId, l.item.id)).toMatchObject({ status: 'in_progress', workerId: `w${i}`, leaseExpiresAt: l.leaseExpiresAt });
        }
        expect(got).toEqual(ids);
        expect(await b.claim('w9', 10, LONG)).toEqual([]);
      });

      it('one claim of many items of one run leases them in enqueue order, and the next claim the rest', async () => {
        const { runId, ids } = await fanOut(12);
        const first = await b.claim('w1', 8, LONG);
        expect(first.map((l) => [l.runId, l.item.id])).toEqual(ids.slice(0, 8).map((id) => [runId, id]));
        expect(new Set(first.map((l) => l.leaseToken)).size).toBe(8);
        expect(first.map((l) => l.deliveries)).toEqual(Array(8).fill(1));
        for (const l of first) expect(await b.itemState(runId, l.item.id)).toMatchObject({ status: 'in_progress', workerId: 'w1' });
        const rest = await b.claim('w2', 8, LONG);
        expect(rest.map((l) => l.item.id)).toEqual(ids.slice(8));
        expect(await b.claim('w3', 8, LONG)).toEqual([]);
      });

      it('parallel claims never lease the same item twice', async () => {
        await fanOut(12);
        const batches = await Promise.all(Array.from({ length: 6 }, (_, i) => b.claim(`w${i}`, 3, LONG)));
        const ids = batches.flat().map((l) => l.item.id);
        expect(ids).toHaveLength(12);
        expect(new Set(ids).size).toBe(12);
        expect(new Set(batches.flat().map((l) => l.leaseToken)).size).toBe(12);
      });

      it('serves runs round-robin, one item per run per turn, across calls', async () => {
        await fanOutMany([6, 6, 6].map((n) => ({ n })));
        const one = await b.claim('w1', 3, LONG);
        expect(one.map((l) => l.runId).sort()).toEqual(['run-1', 'run-2', 'run-3']);
        const counts = new Map<string, number>();
        for (let i = 0; i < 6; i++) {
          const l = await claimOne('w2');
          counts.set(l.runId, (counts.get(l.runId) ?? 0) + 1);
        }
        expect([...counts.values()]).toEqual([2, 2, 2]);
      });

      it('one busy run cannot starve another', async () => {
        await fanOutMany([
          { n: 30, over: { runId: 'run-busy' } },
          { n: 1, over: { runId: 'run-small' } },
        ]);
        const got = await b.claim('w1', 2, LONG);
        expect(got.map((l) => l.runId).sort()).toEqual(['run-busy', 'run-small']);
      });

      it('claims only the requested workflow', async () => {
        await start({ runId: 'run-w1', workflow: 'alpha' });
        await start({ runId: 'run-w2', workflow: 'beta' });
        const got = await b.claim('w1', 5, LONG, { workflow: 'beta' });
        expect(got.map((l) => [l.runId, l.workflow])).toEqual([['run-w2', 'beta']]);
        expect(await b.claim('w1', 5, LONG, { workflow: 'gamma' })).toEqual([]);
        expect((await b.claim('w1', 5, LONG)).map((l) => l.runId)).toEqual(['run-w1']);
      });

      it('claims only the requested graph versions of a workflow, whatever their rotation', async () => {
        await start({ runId: 'run-v1', fingerprint: 'fp-1' });
        await start({ runId: 'run-v2', fingerprint: 'fp-2' });
        await start({ runId: 'run-x', workflow: 'other', fingerprint: 'fp-2' });
        expect(await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-3'] })).toEqual([]);
        const v2 = await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-2'] });
        expect(v2.map((l) => [l.runId, l.fingerprint])).toEqual([['run-v2', 'fp-2']]);
        // the successor of a v2 item stays on v2's side
        expect((await commit(v2[0]!, cont([item('next', 'n1')]))).status).toBe('applied');
        expect(await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-1'] }).then((ls) => ls.map((l) => l.runId))).toEqual(['run-v1']);
        expect(await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-1', 'fp-2'] }).then((ls) => ls.map((l) => [l.runId, l.item.id]))).toEqual([['run-v2', 'n1']]);
        await expect(b.claim('w1', 1, LONG, { fingerprints: ['fp-1'] })).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.claim('w1', 1, LONG, { workflow: 'wf', fingerprints: [] })).rejects.toBeInstanceOf(InvalidArgumentError);
      });

      it('a paused and resumed run, and a released item, stay on their version', async () => {
        const runId = await start({ fingerprint: 'fp-2' });
        await b.pauseRun(runId);
        await b.resumeRun(runId);
        expect(await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-1'] })).toEqual([]);
        const [l] = await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-2'] });
        expect(await b.release(runId, '0', l!.leaseToken, { misrouted: true })).toBe(true);
        expect(await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-1'] })).toEqual([]);
        const [again] = await b.claim('w1', 5, LONG, { workflow: 'wf', fingerprints: ['fp-2'] });
        expect(again).toMatchObject({ runId, item: { id: '0' }, attempt: 1 });
        expect(await b.release(runId, '0', again!.leaseToken)).toBe(true);
        expect((await b.metrics(runId)).misrouted).toBe(1);
      });

      it('an expired lease comes back; the old holder can neither commit nor extend', async () => {
        const runId = await start();
        const first = await claimOne('w1', 80);
        expect(await b.claim('w2', 1, LONG)).toEqual([]);
        await sleep(160);
        // expired but not re-claimed yet: still not committable
        expect((await commit(first, cont([item('next', 'n1')]))).status).toBe('lease_lost');
        expect((await b.extendLease(runId, '0', first.leaseToken, LONG)).status).toBe('lost');
        const second = await claimOne('w2');
        expect(second).toMatchObject({ runId, item: { id: '0' }, attempt: 1, deliveries: 2 });
        expect(second.leaseToken).not.toBe(first.leaseToken);
        expect((await b.metrics(runId)).redeliveries).toBe(1);
        expect((await commit(first, cont([item('next', 'n1')]))).status).toBe('lease_lost');
        expect((await commit(second, cont([item('next', 'n2')]))).status).toBe('applied');
        expect((await commit(first, cont([item('next', 'n1')]))).status).toBe('duplicate');
        expect((await b.pendingWork(runId)).map((p) => p.item.id)).toEqual(['n2']);
      });

      it('extendLease keeps a live lease and never revives a dead one', async () => {
        const runId = await start();
        // Three extensions 400 ms apart carry a 1,000 ms lease past its first expiry; the margin (600 ms between an
        // extension and the lease's end) is for a loaded machine, where a 100 ms sleep of a 200 ms lease overran it.
        const l = await claimOne('w1', 1_000);
        for (let i = 0; i < 3; i++) {
          await sleep(400);
          const ext = await b.extendLease(runId, '0', l.leaseToken, 1_000);
          expect(ext).toMatchObject({ status: 'extended', runStatus: 'running' });
          expect(await b.claim('w2', 1, LONG)).toEqual([]);
        }
        expect(await b.extendLease(runId, '0', 'not-the-token', 200)).toEqual({ status: 'lost', runStatus: 'running' });
        await expect(b.extendLease(runId, '0', l.leaseToken, 0)).rejects.toBeInstanceOf(InvalidArgumentError);
        expect((await commit(l, terminal(1))).status).toBe('applied');
        expect(await b.extendLease(runId, '0', l.leaseToken, 200)).toEqual({ status: 'lost', runStatus: 'completed' });
      });

      it('release gives an item back untouched', async () => {
        const runId = await start();
        const l = await claimOne('w1');
        expect(await b.release(runId, '0', 'wrong')).toBe(false);
        expect(await b.release(runId, '0', l.leaseToken)).toBe(true);
        expect(await b.release(runId, '0', l.leaseToken)).toBe(false);
        expect(await b.itemState(runId, '0')).toMatchObject({ status: 'pending', attempt: 1 });
        const again = await claimOne('w2');
        // the given-back claim is not a delivery: stops of workers are no step towards a poison item
        expect(again).toMatchObject({ item: { id: '0' }, attempt: 1, deliveries: 1 });
        expect((await commit(l, terminal(1))).status).toBe('lease_lost');
        expect((await b.metrics(runId)).redeliveries).toBe(0);
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('commitStep', () => {
      it('applies a step once: successors, delta, item state and metrics', async () => {
        const runId = await start();
        const l = await claimOne();
        const out = cont([item('a', 'c1', 1), item('b', 'c2', 2)], [], { count: 1 });
        const first = await commit(l, out, { tokens: 5 });
        expect(first).toEqual({ status: 'applied', runStatus: 'running', enqueued: ['c1', 'c2'], joined: [], dropped: [], contextVersion: 1 });
        expect(await commit(l, out, { tokens: 5 })).toEqual({ status: 'duplicate' });
        expect((await b.pendingWork(runId)).map((p) => p.item)).toEqual([item('a', 'c1', 1), item('b', 'c2', 2)]);
        expect((await b.readContext(runId)).deltas).toEqual([{ version: 1, itemId: '0', delta: { count: 1 } }]);
        expect(await b.itemState(runId, '0')).toMatchObject({ status: 'completed', attempt: 1 });
        expect(await b.metrics(runId)).toMatchObject({ enqueued: 3, completed: 1, counters: { tokens: 5 } });
      });

      it('skips successor ids the run already knows', async () => {
        const runId = await start();
        const l = await claimOne();
        const res = await commit(l, cont([item('a', 'c1'), item('a', 'c1'), item('b', '0')]));
        expect(res).toMatchObject({ status: 'applied', enqueued: ['c1'] });
        expect((await b.itemStates(runId)).map((s) => s.itemId)).toEqual(['0', 'c1']);
      });

      it('concurrent commits (with duplicates) sum counters exactly', async () => {
        const n = 25;
        const { runId, ids } = await fanOut(n);
        const leases = await b.claim('w1', n, LONG);
        expect(leases).toHaveLength(n);
        const results = await Promise.all(
          leases.flatMap((l) => {
            const i = ids.indexOf(l.item.id);
            const o = cont([], [], { count: i + 1 });
            return [commit(l, o, { tokens: i + 1, calls: 1 }), commit(l, o, { tokens: i + 1, calls: 1 })];
          }),
        );
        expect(results.filter((r) => r.status === 'applied')).toHaveLength(n);
        expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(n);
        const m = await b.metrics(runId);
        expect(m.counters).toEqual({ tokens: (n * (n + 1)) / 2, calls: n });
        expect(m.completed).toBe(n + 1);
        const ctx = await b.readContext(runId);
        expect(ctx.version).toBe(n);
        expect(ctx.deltas.map((d) => d.version)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        expect(new Set(ctx.deltas.map((d) => d.itemId))).toEqual(new Set(ids));
      });

      it('a run whose work drains without a terminal fails with NoTerminalReachedError', async () => {
        const runId = await start();
        const l = await claimOne();
        const res = await commit(l, cont());
        expect(res).toMatchObject({ status: 'applied', runStatus: 'failed' });
        const run = await b.getRun(runId);
        expect(run).toMatchObject({ status: 'failed', error: { code: 'FLOXIDE_NO_TERMINAL' } });
        expect(typeof run!.finishedAt).toBe('number');
        // the commit answers the run's life as its record has it (what a traced worker's run span needs)
        expect(res.status === 'applied' && res.finished).toEqual(endOf(run));
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe.runIf(options.handoff !== false)('successor hand-off', () => {
      function commitHanding(l: LeasedItem, outcome: StepOutcome, workerId = 'w9', leaseMs = LONG): Promise<CommitResult> {
        return b.commitStep({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome, handoff: { workerId, leaseMs } });
      }

      it('leases the one successor to the committing worker in the same commit', async () => {
        const runId = await start();
        const l = await claimOne();
        const res = await commitHanding(l, cont([item('b', 'c1', 7)], [], { count: 1 }));
        if (res.status !== 'applied' || !res.next) throw new Error(`expected a hand-off, got ${JSON.stringify(res)}`);
        expect(res).toMatchObject({ runStatus: 'running', enqueued: ['c1'], contextVersion: 1 });
        const next = res.next;
        expect(next).toMatchObject({ runId, workflow: 'wf', fingerprint: 'fp-1', item: item('b', 'c1', 7), attempt: 1, deliveries: 1 });
        expect(next.traceparent).toBeUndefined();
        expect(next.leaseToken).not.toBe(l.leaseToken);
        expect(next.leaseExpiresAt).toBeGreaterThan(Date.now() + LONG / 2);
        expect(await b.itemState(runId, 'c1')).toMatchObject({ status: 'in_progress', workerId: 'w9', leaseExpiresAt: next.leaseExpiresAt });
        // Nobody else can claim it; it is an ordinary lease: extend, then commit.
        expect(await b.claim('w2', 5, LONG)).toEqual([]);
        expect(await b.extendLease(runId, 'c1', next.leaseToken, LONG)).toMatchObject({ status: 'extended' });
        expect(await commit(next, terminal('done'))).toMatchObject({ status: 'applied', runStatus: 'completed' });
        expect(await b.metrics(runId)).toMatchObject({ enqueued: 2, completed: 2 });
      });

      it('gives every lease its own token: hand-offs of many runs at once, at the same step, in the same millisecond', async () => {
        // (a worker tells its leases apart by token: one of two equal tokens would lose the other's observers)
        const runIds: string[] = [];
        for (let i = 0; i < 40; i++) runIds.push(await start());
        const leases = await b.claim('w1', 40, LONG);
        expect(leases).toHaveLength(40);
        const results = await Promise.all(leases.map((l) => commitHanding(l, cont([item('b', 'c1')]), 'w9')));
        const handed = results.map((r) => (r.status === 'applied' ? r.next : undefined));
        expect(handed.every((n) => n !== undefined)).toBe(true);
        const tokens = [...leases, ...(handed as LeasedItem[])].map((l) => l.leaseToken);
        expect(new Set(tokens).size).toBe(80);
        // each is still the lease of its own item: the successors commit under their tokens
        for (const n of handed as LeasedItem[]) expect(await commit(n, terminal('done'))).toMatchObject({ status: 'applied', runStatus: 'completed' });
        expect(new Set((handed as LeasedItem[]).map((n) => n.runId))).toEqual(new Set(runIds));
      });

      it("carries the run's traceparent with the handed-off lease", async () => {
        const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
        await start({ traceparent });
        const res = await commitHanding(await claimOne(), cont([item('b', 'c1', 7)]));
        if (res.status !== 'applied' || !res.next) throw new Error(`expected a hand-off, got ${JSON.stringify(res)}`);
        expect(res.next.traceparent).toBe(traceparent);
      });

      it('is declined when the run has other items waiting, or the step enqueues several or none', async () => {
        const { ids } = await fanOut(3);
        const l = await claimOne();
        const res = await commitHanding(l, cont([item('c', 'x1')]));
        expect(res).toMatchObject({ status: 'applied', enqueued: ['x1'] });
        expect('next' in res && res.next).toBeFalsy();
        // FIFO within the run: the items that were waiting come first.
        expect((await b.claim('w2', 5, LONG)).map((x) => x.item.id)).toEqual([ids[1], ids[2], 'x1']);

        const run2 = await start();
        const s = (await b.claim('w1', 5, LONG)).find((x) => x.runId === run2)!;
        const two = await commitHanding(s, cont([item('a', 'y1'), item('a', 'y2')]));
        expect(two).toMatchObject({ status: 'applied', enqueued: ['y1', 'y2'] });
        expect('next' in two && two.next).toBeFalsy();
        expect((await b.claim('w2', 5, LONG)).map((x) => x.item.id).sort()).toEqual(['y1', 'y2']);
      });

      it('is declined while the run is paused, and for a successor the run already knew', async () => {
        const runId = await start();
        const l = await claimOne();
        await b.pauseRun(runId);
        const res = await commitHanding(l, cont([item('b', 'c1')]));
        expect(res).toMatchObject({ status: 'applied', runStatus: 'paused', enqueued: ['c1'] });
        expect('next' in res && res.next).toBeFalsy();
        expect(await b.claim('w2', 5, LONG)).toEqual([]);
        await b.resumeRun(runId);
        const c1 = await claimOne('w2');
        expect(c1.item.id).toBe('c1');
        // c1 enqueues 'c1' again (a known id): nothing new, nothing handed off.
        const again = await commitHanding(c1, cont([item('b', 'c1')]));
        expect(again).toMatchObject({ status: 'applied', enqueued: [] });
        expect('next' in again && again.next).toBeFalsy();
      });

      it('a handed-off item whose worker died comes back when its lease expires', async () => {
        const runId = await start();
        const l = await claimOne();
        const res = await commitHanding(l, cont([item('b', 'c1')]), 'w9', 80);
        if (res.status !== 'applied' || !res.next) throw new Error('expected a hand-off');
        expect(await b.claim('w2', 5, LONG)).toEqual([]);
        await sleep(160);
        const again = await claimOne('w2');
        expect(again).toMatchObject({ runId, item: { id: 'c1' }, attempt: 1, deliveries: 2 });
        expect((await commit(res.next, terminal('late'))).status).toBe('lease_lost');
      });

      it('a malformed hand-off request is refused and changes nothing', async () => {
        const runId = await start();
        const l = await claimOne();
        await expect(commitHanding(l, cont([item('b', 'c1')]), 'bad worker id\n', LONG)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(commitHanding(l, cont([item('b', 'c1')]), 'w9', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
        expect(await b.itemState(runId, '0')).toMatchObject({ status: 'in_progress' });
        expect(await b.itemState(runId, 'c1')).toBeUndefined();
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('joins', () => {
      const arrival = (g: string, index: number, size: number, value: unknown, outer: JoinFrame[] = []): JoinArrival => ({ group: g, index, size, node: 'merge', value, held: false, outer });
      // as stored: a hold has no node and no value
      const held = (g: string, index: number, size: number, outer: JoinFrame[] = []): JoinArrival => ({ group: g, index, size, held: true, outer }) as unknown as JoinArrival;
      /** The settlement item of group `g`: what the store enqueues when the group completes (engine/joins.ts). */
      const settlement = (g: string, node: string, arrivals: JoinArrival[]): EngineItem => ({ id: `${g}:join`, node, settle: arrivals }) as unknown as EngineItem;

      it('enqueues the settlement item exactly once under concurrent (and repeated) commits', async () => {
        const n = 16;
        const { runId, ids } = await fanOut(n);
        const leases = await b.claim('w1', n, LONG);
        const results = await Promise.all(
          leases.flatMap((l) => {
            const i = ids.indexOf(l.item.id);
            const o = cont([], [arrival('0', i, n, `v${i}`)]);
            return [commit(l, o), commit(l, o)];
          }),
        );
        const joined = results.flatMap((r) => (r.status === 'applied' ? r.joined : []));
        expect(joined).toEqual([settlement('0', 'merge', Array.from({ length: n }, (_, i) => arrival('0', i, n, `v${i}`)))]);
        expect(settleJoinGroup('0', joined[0]!.settle!)).toEqual(item('merge', '0:join', Array.from({ length: n }, (_, i) => `v${i}`)));
        expect(results.filter((r) => r.status === 'applied' && r.enqueued.includes('0:join'))).toHaveLength(1);
        expect((await b.pendingWork(runId)).map((p) => p.item)).toEqual(joined);
        expect(await b.itemState(runId, '0:join')).toMatchObject({ node: 'merge', status: 'pending' });
        expect((await b.metrics(runId)).enqueued).toBe(1 + n + 1);
        expect((await b.getRun(runId))!.status).toBe('running');
      });

      it('carries the arrivals as parked, in index order, holds and outer frames included', async () => {
        const outer: JoinFrame[] = [{ g: 'outer', i: 1, n: 2 }];
        const { runId } = await fanOut(3);
        const leases = await b.claim('w1', 3, LONG);
        const [l0, l1, l2] = leases;
        const r2 = await commit(l2!, cont([], [arrival('0', 2, 3, 'c', outer)]));
        const r1 = await commit(l1!, cont([], [held('0', 1, 3, outer)]));
        expect(r2).toMatchObject({ status: 'applied', joined: [] });
        expect(r1).toMatchObject({ status: 'applied', joined: [] });
        const r0 = await commit(l0!, cont([], [arrival('0', 0, 3, 'a', outer)]));
        const expected = settlement('0', 'merge', [arrival('0', 0, 3, 'a', outer), held('0', 1, 3, outer), arrival('0', 2, 3, 'c', outer)]);
        expect(r0).toMatchObject({ status: 'applied', joined: [expected] });
        expect((await b.pendingWork(runId)).map((p) => p.item)).toEqual([expected]);
        expect(settleJoinGroup('0', expected.settle!)).toEqual({ node: 'merge', id: '0:join', input: ['a', 'c'], join: outer });
      });

      it('a group of holds enqueues a settlement item that shows the reserved node; settling it at the top level drains the run', async () => {
        const { runId } = await fanOut(2);
        const leases = await b.claim('w1', 2, LONG);
        await commit(leases[0]!, cont([], [held('0', 0, 2)]));
        const last = await commit(leases[1]!, cont([], [held('0', 1, 2)]));
        const expected = settlement('0', HELD_GROUP_NODE, [held('0', 0, 2), held('0', 1, 2)]);
        expect(last).toMatchObject({ status: 'applied', joined: [expected], runStatus: 'running' });
        expect(await b.itemState(runId, '0:join')).toMatchObject({ node: HELD_GROUP_NODE, status: 'pending' });
        // the engine settles it into nothing (top level): its commit has nothing to enqueue, and the run fails
        expect(settleJoinGroup('0', expected.settle!)).toBeUndefined();
        const s = await claimOne();
        expect(await commit(s, cont())).toMatchObject({ status: 'applied', runStatus: 'failed' });
        expect((await b.getRun(runId))!.error).toEqual({ name: 'NoTerminalReachedError', code: 'FLOXIDE_NO_TERMINAL', message: `run ${runId} has no work left and reached no terminal node` });
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('step rules through the engine (the same cases as the local modes)', () => {
      /** Steps the run with one in-process worker until it is final. */
      async function drain(wf: { stepDistributed: Workflow<unknown, unknown, unknown>['stepDistributed'] }, runId: string): Promise<RunRecord> {
        for (let i = 0; i < 2000; i++) {
          const run = await b.getRun(runId);
          if (run && isFinalRunStatus(run.status)) return run;
          await wf.stepDistributed(b, 'w1', undefined, { leaseMs: LONG });
          if (i > 50) await sleep(2);
        }
        throw new Error(`run ${runId} did not finish`);
      }

      for (const c of NESTED_CASES) {
        it(`nested fan-outs with holds: ${c.name}`, async () => {
          const wf = bindWorkflow(NestedHoldsWorkflowDef, new NestedHoldsWorkflow());
          const runId = `nested-${++seq}`;
          await wf.startDistributed(new StepsCtx(), c.input, b, runId);
          const run = await drain(wf, runId);
          if (c.output === undefined) {
            // (the last step settled the outermost group of holds: the message says so, as in the local modes)
            expect(run).toMatchObject({ status: 'failed', error: { name: 'NoTerminalReachedError', code: 'FLOXIDE_NO_TERMINAL', message: noTerminalError(runId, HELD_GROUP_NODE).message } });
          } else {
            expect(run).toMatchObject({ status: 'completed', output: c.output });
          }
          const states = await b.itemStates(runId);
          expect(states.every((st) => st.status === 'completed' || (c.output === undefined && st.status === 'failed'))).toBe(true);
          expect(new Set(states.map((st) => st.itemId)).size).toBe(states.length);
        });
      }

      it('a settlement item delivered twice settles once: the second execution commits, the first is a duplicate', async () => {
        const wf = bindWorkflow(NestedHoldsWorkflowDef, new NestedHoldsWorkflow());
        const runId = `redeliver-${++seq}`;
        await wf.startDistributed(new StepsCtx(), [[1, 2], [-1, -2], [3, 4]], b, runId);
        // run until the outer group's settlement item is the only work left
        for (let i = 0; i < 200 && !(await b.pendingWork(runId)).some((p) => p.item.id === '0:join'); i++) await wf.stepDistributed(b, 'w1', undefined, { leaseMs: LONG });
        const [first] = await b.claim('w1', 1, LONG);
        expect(first!.item).toMatchObject({ id: '0:join', node: 'outerJoin' });
        const ctx = await b.readContext(runId);
        const codec = contextCodecOf<StepsCtx>(NestedHoldsWorkflowDef);
        const context = codec.revive(ctx.initial);
        for (const d of ctx.deltas) codec.apply(context, d.delta);
        const outcome = await executeStep(NestedHoldsWorkflowDef, new NestedHoldsWorkflow(), first!.item, { runId, context, signal: new AbortController().signal, attempt: 1, inlineRetries: false, childId: (p, i) => childItemId(p.id, i) });
        expect(outcome).toMatchObject({ type: 'continue', items: [{ node: 'done', input: [3, 7] }] });
        // the first worker loses the item before committing; a second delivery runs and commits it
        expect(await b.release(runId, '0:join', first!.leaseToken)).toBe(true);
        expect((await drain(wf, runId)).output).toBe('3,7');
        expect(await b.commitStep({ runId, itemId: '0:join', leaseToken: first!.leaseToken, outcome })).toMatchObject({ status: expect.stringMatching(/^(duplicate|run_finished)$/) });
        const joins = (await b.itemStates(runId)).filter((st) => st.itemId.endsWith(':join'));
        expect(joins.map((st) => st.node).sort()).toEqual([HELD_GROUP_NODE, 'innerJoin', 'innerJoin', 'outerJoin'].sort());
        expect(joins.every((st) => st.status === 'completed')).toBe(true);
        expect((await b.metrics(runId)).completed).toBe((await b.itemStates(runId)).length);
      });

      for (const mc of MALFORMED_CASES) {
        it(`a node that returns ${mc.name} fails the run with a NodeFailedError naming it`, async () => {
          const wf = bindWorkflow(MalformedWorkflowDef, new MalformedWorkflow([mc.returned]));
          const runId = `bad-${++seq}`;
          await wf.startDistributed(new StepsCtx(), 1, b, runId);
          const run = await drain(wf, runId);
          expect(run.status).toBe('failed');
          expect(run.error).toMatchObject({ name: 'NodeFailedError', code: 'FLOXIDE_NODE_FAILED' });
          expect(run.error!.message).toContain('node "emit" returned');
          expect(run.error!.message).toContain(mc.shows);
          expect(reviveError(run.error!)).toBeInstanceOf(NodeFailedError);
          // the stored failure is the typed error, with the node's name, not a raw TypeError
          expect((await b.errors(runId)).map((e) => [e.kind, e.node, e.error.name, e.error.code])).toEqual([
            ['retry', 'emit', 'NodeFailedError', 'FLOXIDE_NODE_FAILED'],
            ['failure', 'emit', 'NodeFailedError', 'FLOXIDE_NODE_FAILED'],
          ]);
          expect((await b.deadLetters(runId)).map((d) => [d.item.node, d.error.name])).toEqual([['emit', 'NodeFailedError']]);
        });
      }

      it('a malformed return goes to the fallback like a throw', async () => {
        const wf = bindWorkflow(MalformedFallbackWorkflowDef, new MalformedFallbackWorkflow([{ type: 'bogus' }]));
        const runId = `bad-fallback-${++seq}`;
        await wf.startDistributed(new StepsCtx(), 1, b, runId);
        expect(await drain(wf, runId)).toMatchObject({ status: 'completed', output: 'rescued 1: NodeFailedError' });
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('corrupt stored data fails its item and run, never the claim', () => {
      const tamper = options.tamper;

      it('a claim returns every leased item; the corrupt one carries CorruptStateError and the id and node the store keeps', async () => {
        const ids = [await start(), await start(), await start()];
        await tamper.itemJson(b, ids[1]!, '0', '{"node":"start","id":');
        const leases = await b.claim('w1', 3, LONG);
        expect(leases.map((l) => l.runId).sort()).toEqual([...ids].sort());
        const bad = leases.find((l) => l.runId === ids[1])!;
        expect(bad.item).toEqual({ node: 'start', id: '0', input: null });
        expect(bad.corrupt).toBeInstanceOf(CorruptStateError);
        expect(bad.corrupt!.message).toContain(`run ${ids[1]} item "0"`);
        expect(bad.corrupt!.message).toContain('malformed JSON');
        for (const l of leases.filter((x) => x !== bad)) {
          expect(l.corrupt).toBeUndefined();
          expect(l.item).toMatchObject({ node: 'start', id: '0' });
        }
        // its dead letter keeps the item as the lease holds it, so the run's dead letters stay readable
        const res = await b.commitStep({ runId: bad.runId, itemId: '0', leaseToken: bad.leaseToken, outcome: { type: 'failed', error: { name: 'CorruptStateError', message: bad.corrupt!.message, code: 'FLOXIDE_CORRUPT_STATE' }, attempts: 1 }, deadLetterItem: bad.item });
        expect(res).toMatchObject({ status: 'applied', runStatus: 'failed' });
        expect((await b.deadLetters(bad.runId)).map((d) => d.item)).toEqual([{ node: 'start', id: '0', input: null }]);
      });

      // Redis read the signal name from the item's JSON when the wait timed out, after taking the item off the delayed
      // set: the claim failed and the item stayed parked with no timer, its run running for ever.
      it('a parked wait of malformed JSON: its timeout leases it marked corrupt, and the other runs are served', async () => {
        const [bad, good] = [await start(), await start()];
        const [s1, s2] = await b.claim('w1', 2, LONG);
        for (const s of [s1!, s2!]) {
          const wait = { ...item('vote', `${s.runId}-w`, 1), wait: { name: 'vote', attempt: 1 }, notBefore: Date.now() + 200 };
          expect(await commit(s, cont([wait]))).toMatchObject({ status: 'applied', runStatus: 'running' });
        }
        await tamper.itemJson(b, bad, `${bad}-w`, '{"node":"vote","id":');
        await sleep(300);
        let leases: LeasedItem[] = [];
        for (let i = 0; i < 100 && leases.length < 2; i++) {
          leases = [...leases, ...(await b.claim('w1', 2, LONG))];
          if (leases.length < 2) await sleep(20);
        }
        expect(leases.map((l) => l.runId).sort()).toEqual([bad, good].sort());
        const l = leases.find((x) => x.runId === bad)!;
        expect(l.item).toEqual({ node: 'vote', id: `${bad}-w`, input: null });
        expect(l.corrupt).toBeInstanceOf(CorruptStateError);
        expect(l.corrupt!.message).toContain('malformed JSON');
        expect(leases.find((x) => x.runId === good)!.corrupt).toBeUndefined();
        // a signal for the leased item's name waits in the mailbox: it does not make the leased item claimable again
        if (supportsSignals(b)) {
          expect(await b.signal(bad, 'vote', 'late')).toEqual({ delivery: 'delivered', itemId: undefined, kept: true });
          expect(await b.itemState(bad, `${bad}-w`)).toMatchObject({ status: 'in_progress', workerId: 'w1', leaseExpiresAt: l.leaseExpiresAt });
          expect((await b.pendingSignals(bad)).map((p) => p.payload)).toEqual(['late']);
          expect(await b.claim('w2', 2, LONG)).toEqual([]);
        }
        // a run that ends with such a wait parked ends whole (Redis failed the cancel after marking its items dropped)
        const third = await start();
        const s3 = await claimOne();
        expect(await commit(s3, cont([{ ...item('vote', 'w3', 1), wait: { name: 'vote', attempt: 1 } }]))).toMatchObject({ status: 'applied' });
        await tamper.itemJson(b, third, 'w3', '[');
        expect(await b.cancelRun(third)).toMatchObject({ applied: true, status: 'cancelled', dropped: [{ id: 'w3', node: 'vote', reason: 'cancelled' }] });
        expect(await b.getRun(third)).toMatchObject({ status: 'cancelled' });
      });

      it('an unclaimed corrupt item: pendingWork lists it marked corrupt with the reason, and nothing that reads the run throws', async () => {
        const runId = await start();
        const orchestrator = new Orchestrator(b);
        for (const [text, reason] of [
          ['{"node":"start","id":', 'malformed JSON'],
          ['42', 'is not an object: 42'],
          ['{"node":"start","id":"9","input":null}', 'has id "9", the store keeps it as "0"'],
        ] as const) {
          await tamper.itemJson(b, runId, '0', text);
          for (const pending of [await b.pendingWork(runId), await orchestrator.pendingWork(runId)]) {
            expect(pending).toHaveLength(1);
            const [p] = pending;
            expect(p!.item).toEqual({ node: 'start', id: '0', input: null });
            expect(p!.state).toMatchObject({ runId, itemId: '0', node: 'start', status: 'pending', attempt: 1 });
            expect(p!.corrupt).toBeInstanceOf(CorruptStateError);
            expect(p!.corrupt!.message).toContain(`run ${runId} item "0"`);
            expect(p!.corrupt!.message).toContain(reason);
          }
          expect(await b.itemStates(runId)).toMatchObject([{ itemId: '0', node: 'start', status: 'pending' }]);
          expect(await b.getRun(runId)).toMatchObject({ runId, status: 'running' });
        }
        // a healthy run's items carry no mark
        const healthy = await start();
        expect((await b.pendingWork(healthy)).map((p) => [p.item.id, p.corrupt])).toEqual([['0', undefined]]);
      });

      it('a run record with corrupt fields: getRun and listRuns return it marked, naming each field, the rest readable; Orchestrator.run throws its error', async () => {
        const [before, bad, after] = [await start(), await start(), await start()];
        await tamper.runField(b, bad, 'input', '{"n":');
        await tamper.runField(b, bad, 'createdAt', '9000000000000000000');
        const rec = (await b.getRun(bad))!;
        expect(rec).toMatchObject({ runId: bad, status: 'running', input: undefined, dropped: [] });
        expect(rec.createdAt).toBeNaN();
        expect(rec.corrupt).toBeInstanceOf(CorruptStateError);
        expect(rec.corrupt!.message).toContain(`run ${bad} input: malformed JSON`);
        // the time as the store keeps it: a number, or text (quoted)
        expect(rec.corrupt!.message).toMatch(new RegExp(`run ${bad} creation time is not a time: "?9000000000000000000"?$`));
        const listed = await b.listRuns();
        expect(listed.filter((r) => r.corrupt).map((r) => r.runId)).toEqual([bad]);
        for (const id of [before, after]) expect(listed.find((r) => r.runId === id)).toMatchObject({ status: 'running', input: { topic: 'x' } });
        await expect(new Orchestrator(b).run(bad)).rejects.toThrow(CorruptStateError);
        // an error that is not { name, message } (a failed run's)
        await b.failRun(after, { name: 'Boom', message: 'boom' });
        await tamper.runField(b, after, 'error', '"boom"');
        expect((await b.getRun(after))!.corrupt!.message).toBe(`run ${after} error is not { name, message }: "boom"`);
        expect((await b.getRun(before))!.corrupt).toBeUndefined();
      });

      /** One worker (concurrency 3, no cache yet) serves `def` until every run of `ids` is final; it reports no error. */
      async function serveUntilFinal(def: ConstructorParameters<typeof Worker>[1], instance: object, ids: readonly string[]): Promise<void> {
        const errors: unknown[] = [];
        const worker = new Worker(b, def, instance, { concurrency: 3, leaseMs: LONG, idleMinMs: 2, idleMaxMs: 20, schedules: false, onError: (e) => errors.push(e) });
        await worker.start();
        try {
          for (let i = 0; i < 1000; i++) {
            const runs = await Promise.all(ids.map((id) => b.getRun(id)));
            if (runs.every((r) => r && isFinalRunStatus(r.status))) break;
            await sleep(10);
          }
        } finally {
          await worker.stop(0);
        }
        expect(errors).toEqual([]);
      }

      /**
       * Starts three runs of NestedHoldsWorkflow, corrupts the middle one with `plant`, and lets one worker serve all
       * three (its first claim takes the three start items in one batch). The two healthy runs complete; the
       * corrupt run fails at once with CorruptStateError and its start item is a dead letter.
       */
      async function serveWithOneCorrupt(plant: (runId: string) => Promise<void>): Promise<{ run: RunRecord; runId: string }> {
        const wf = bindWorkflow(NestedHoldsWorkflowDef, new NestedHoldsWorkflow());
        const ids = [`corrupt-${++seq}`, `corrupt-${++seq}`, `corrupt-${++seq}`];
        for (const id of ids) await wf.startDistributed(new StepsCtx(), [[1, 2], [3, 4]], b, id);
        await plant(ids[1]!);
        await serveUntilFinal(NestedHoldsWorkflowDef, new NestedHoldsWorkflow(), ids);
        for (const id of [ids[0]!, ids[2]!]) expect(await b.getRun(id)).toMatchObject({ status: 'completed', output: '3,7' });
        const runId = ids[1]!;
        const run = (await b.getRun(runId))!;
        expect(run).toMatchObject({ status: 'failed', error: { name: 'CorruptStateError', code: 'FLOXIDE_CORRUPT_STATE' } });
        expect(reviveError(run.error!)).toBeInstanceOf(CorruptStateError);
        expect(run.error!.message).toContain(`run ${runId} item "0"`);
        const dead = await b.deadLetters(runId);
        expect(dead).toHaveLength(1);
        expect(dead[0]!.item).toMatchObject({ node: 'outer', id: '0' });
        expect(dead[0]!.error).toEqual(run.error);
        expect((await b.errors(runId)).map((e) => [e.kind, e.itemId, e.node, e.error.name])).toEqual([['failure', '0', 'outer', 'CorruptStateError']]);
        expect(await b.itemState(runId, '0')).toMatchObject({ status: 'dead_lettered', attempt: 1 });
        return { run, runId };
      }

      it('an item of malformed JSON', async () => {
        const { run } = await serveWithOneCorrupt((runId) => tamper.itemJson(b, runId, '0', '{"id":"0","input":[[1,2],[3,4]],"node":"outer"'));
        expect(run.error!.message).toContain('malformed JSON');
      });

      it('an item that is not an object: its id comes from the store, and it is a dead letter instead of a loop', async () => {
        const { run, runId } = await serveWithOneCorrupt((id) => tamper.itemJson(b, id, '0', '42'));
        expect(run.error!.message).toContain('is not an object: 42');
        expect((await b.deadLetters(runId))[0]!.item).toEqual({ node: 'outer', id: '0', input: null });
      });

      it('an item whose id is not the one the store keeps', async () => {
        const { run } = await serveWithOneCorrupt((id) => tamper.itemJson(b, id, '0', '{"id":"7","input":[[1,2],[3,4]],"node":"outer"}'));
        expect(run.error!.message).toContain('has id "7", the store keeps it as "0"');
      });

      it('a context of malformed JSON', async () => {
        const { run, runId } = await serveWithOneCorrupt((id) => tamper.contextJson(b, id, '{"steps":'));
        expect(run.error!.message).toContain("the run's stored context cannot be read");
        expect(run.error!.message).toContain('malformed JSON');
        expect((await b.deadLetters(runId))[0]!.item).toEqual({ node: 'outer', id: '0', input: [[1, 2], [3, 4]] });
      });

      it('a context that is not an object: CorruptStateError, not PoisonItemError', async () => {
        const { run } = await serveWithOneCorrupt((id) => tamper.contextJson(b, id, '42'));
        expect(run.error!.message).toContain('stored context is not an object: 42');
      });

      it.each([
        ['malformed JSON', '{"count":', 'malformed JSON (Unexpected end of JSON input)'],
        ['a value of the wrong shape for its merge strategy', '{"count":"many"}', 'context delta of field "count" (@merge.sum) holds "many", not a number'],
      ])("a corrupt delta in the middle of a run's history (%s): the run fails with CorruptStateError naming the run and the delta; the worker serves the other runs", async (_case, text, fault) => {
        const wf = chain();
        const ids = [`mid-${++seq}`, `mid-${++seq}`, `mid-${++seq}`];
        for (const id of ids) await wf.startDistributed(new CountCtx(), 1, b, id);
        // three steps of each run (a claim serves runs round-robin); the worker that will serve the rest has no cache
        for (let i = 0; i < 9; i++) await wf.stepDistributed(b, 'w0');
        for (const id of ids) expect((await b.readContext(id)).version).toBe(3);
        const runId = ids[1]!;
        const committer = (await b.readContext(runId)).deltas[1]!.itemId;
        await tamper.deltaJson(b, runId, 2, text);
        await serveUntilFinal(ChainWorkflowDef, new ChainWorkflow(), ids);
        for (const id of [ids[0]!, ids[2]!]) expect(await b.getRun(id)).toMatchObject({ status: 'completed', output: 6 });
        const run = (await b.getRun(runId))!;
        expect(run).toMatchObject({ status: 'failed', error: { name: 'CorruptStateError', code: 'FLOXIDE_CORRUPT_STATE' } });
        const [dead] = await b.deadLetters(runId);
        expect(dead!.item.node).toBe('s4');
        expect(run.error!.message).toBe(
          `run ${runId} item ${JSON.stringify(dead!.item.id)} (node s4): the run's stored context cannot be read: context delta 2 (item ${JSON.stringify(committer)}): ${fault}`,
        );
        expect((await b.errors(runId)).map((e) => [e.kind, e.node, e.error.name])).toEqual([['failure', 's4', 'CorruptStateError']]);
        // readContext names a delta it cannot decode too; the merge strategies are the worker's to check
        if (text === '{"count":') await expect(b.readContext(runId)).rejects.toThrow(new CorruptStateError(`context delta 2 (item ${JSON.stringify(committer)}): ${fault}`));
        else expect((await b.readContext(runId)).deltas[1]!.delta).toEqual({ count: 'many' });
      });

      it('a @merge.sum() field holding a string', async () => {
        const { run } = await serveWithOneCorrupt((id) => tamper.contextJson(b, id, '{"steps":"many"}'));
        expect(run.error!.message).toContain('stored context field "steps" (@merge.sum) holds \"many\", not a number');
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('one error per store situation', () => {
      /** The error `p` rejects with must be exactly this class and message (the same on every backend). */
      async function expectError(p: Promise<unknown>, type: new (...args: never[]) => Error, message: string): Promise<void> {
        const e = await p.then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(e).toBeInstanceOf(type);
        expect((e as Error).message).toBe(message);
      }

      it('gives the same typed error and message on every backend', async () => {
        await expectError(b.commitStep({ runId: 'nope', itemId: '0', leaseToken: 't', outcome: cont() }), RunNotFoundError, 'no run with id "nope"');
        await expectError(b.cancelRun('nope'), RunNotFoundError, 'no run with id "nope"');
        await expectError(b.metrics('nope'), RunNotFoundError, 'no run with id "nope"');
        await expectError(b.listRuns({ status: 'sleeping' as never }), InvalidArgumentError, 'unknown run status "sleeping"');

        const { runId } = await fanOut(2);
        const [l0, l1] = await b.claim('w1', 2, LONG);
        await commit(l0!, cont([], [{ group: 'g', index: 0, size: 2, node: 'j', value: 1, held: false, outer: [] }]));
        await expectError(commit(l1!, cont([], [{ group: 'g', index: 1, size: 3, node: 'j', value: 2, held: false, outer: [] }])), InvalidArgumentError, 'join arrival for group g has size 3, the group has 2');
        await expectError(
          commit(l1!, cont([], [{ group: 'h', index: 0, size: 2, node: 'j', value: 1, held: false, outer: [] }, { group: 'h', index: 1, size: 4, node: 'j', value: 1, held: false, outer: [] }])),
          InvalidArgumentError,
          'join arrival for group h has size 4, the group has 2',
        );

        await b.cancelRun(runId);
        await expectError(b.pauseRun(runId), RunStateError, `cannot pause run ${runId}: it is already cancelled`);
        await expectError(b.failRun(runId, err('x')), RunStateError, `cannot fail run ${runId}: it is already cancelled`);

        await b.createRun(spec({ runId: 'same', input: { a: 1 } }));
        await expectError(b.createRun(spec({ runId: 'same', input: { a: 2 } })), RunInputMismatchError, 'run same already exists with a different input');
        await expectError(b.createRun(spec({ runId: 'same', input: { a: 1 }, workflow: 'other' })), RunInputMismatchError, 'run same exists for workflow wf, not other');
        await expectError(
          b.createRun(spec({ runId: 'same', input: { a: 1 }, fingerprint: 'fp-2' })),
          FingerprintMismatchError,
          'run same was started by graph fp-1, not fp-2: run floxide build or use another run id',
        );
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    // A signal key reused with another name or payload answered `duplicate` and changed nothing: the caller's signal
    // was lost without a word. The key now names one signal, in one rule for every backend (core/signal-plan.ts).
    describe('signal keys', () => {
      it('the same signal again is a duplicate; another name or payload is SignalKeyConflictError, neither given to a parked wait nor kept, also once the run is final', async () => {
        if (!supportsSignals(b)) return;
        const runId = await start();
        const wait = { ...item('approve', 'w', 'in'), wait: { name: 'ok', attempt: 1 } };
        await commit(await claimOne(), cont([wait]));
        // a key first kept in the mailbox
        expect(await b.signal(runId, 'other', { n: 1, at: new Date(0) }, 'k-kept')).toEqual({ delivery: 'delivered', itemId: undefined, kept: true });
        expect(await b.signal(runId, 'other', { at: new Date(0), n: 1 }, 'k-kept')).toEqual({ delivery: 'duplicate', itemId: undefined, kept: false });
        const refused = await b.signal(runId, 'ok', { n: 1, at: new Date(0) }, 'k-kept').catch((x: unknown) => x);
        expect(refused).toBeInstanceOf(SignalKeyConflictError);
        expect(refused).toMatchObject({ runId, key: 'k-kept', differs: ['name'] });
        expect((refused as Error).message).toBe(
          `run ${runId} already received a signal with key "k-kept" and another name (it was "other"): a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own`,
        );
        // the parked wait of "ok" did not take it
        expect(await b.itemState(runId, 'w')).toMatchObject({ status: 'parked' });
        await expect(b.signal(runId, 'other', { n: 2, at: new Date(0) }, 'k-kept')).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['payload'] });
        expect((await b.pendingSignals(runId)).map((x) => [x.name, x.key])).toEqual([['other', 'k-kept']]);
        // a key first given to the parked wait
        expect(await b.signal(runId, 'ok', 'yes', 'k-given')).toEqual({ delivery: 'delivered', itemId: 'w', kept: false });
        expect(await b.signal(runId, 'ok', 'yes', 'k-given')).toEqual({ delivery: 'duplicate', itemId: undefined, kept: false });
        await expect(b.signal(runId, 'ok', 'no', 'k-given')).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['payload'] });
        await expect(b.signal(runId, 'nope', null, 'k-given')).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['name', 'payload'] });
        expect(await claimOne()).toMatchObject({ item: { id: 'w', received: { payload: 'yes' } } });
        expect((await b.pendingSignals(runId)).map((x) => [x.name, x.key])).toEqual([['other', 'k-kept']]);
        // once the run is final: the same answers (a new key is refused as before)
        await b.cancelRun(runId);
        expect(await b.signal(runId, 'ok', 'yes', 'k-given')).toMatchObject({ delivery: 'duplicate' });
        await expect(b.signal(runId, 'ok', 'no', 'k-given')).rejects.toBeInstanceOf(SignalKeyConflictError);
        await expect(b.signal(runId, 'ok', 'yes', 'k-new')).rejects.toBeInstanceOf(RunStateError);
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('terminal and final statuses', () => {
      it('the first terminal completes the run and reports the dropped items', async () => {
        const { runId, ids } = await fanOut(4);
        const [a, bLease] = await b.claim('w1', 2, LONG);
        const res = await commit(a!, terminal({ answer: 42 }, [item('late', 'extra')], { count: 3 }));
        expect(res.status).toBe('applied');
        if (res.status !== 'applied') return;
        expect(res.runStatus).toBe('completed');
        expect(res.dropped.map((d) => d.id)).toEqual([...ids.slice(1), 'extra']);
        expect(res.dropped.every((d) => d.reason === 'terminal')).toBe(true);
        const run = await b.getRun(runId);
        expect(run).toMatchObject({ status: 'completed', output: { answer: 42 }, dropped: res.dropped });
        expect(typeof run!.finishedAt).toBe('number');
        expect(res.finished).toEqual(endOf(run));
        expect(res.finished).not.toHaveProperty('error');
        expect((await b.readContext(runId)).version).toBe(1);
        expect(await b.pendingWork(runId)).toEqual([]);
        expect(await b.itemState(runId, ids[1]!)).toMatchObject({ status: 'dropped' });
        expect(await b.itemState(runId, ids[0]!)).toMatchObject({ status: 'completed' });
        expect(await b.claim('w2', 10, LONG)).toEqual([]);
        // the other in-flight item only acks: no output overwrite, no delta, no successors
        const late = await commit(bLease!, terminal('second', [], { count: 100 }));
        expect(late).toEqual({ status: 'run_finished', runStatus: 'completed' });
        expect(await b.getRun(runId)).toMatchObject({ status: 'completed', output: { answer: 42 } });
        expect((await b.readContext(runId)).version).toBe(1);
        expect(await b.metrics(runId)).toMatchObject({ completed: 2, dropped: 4 });
      });

      it('a finished status is final', async () => {
        const done = await start();
        const fin = await commit(await claimOne(), terminal('ok'));
        expect(fin).toMatchObject({ status: 'applied', runStatus: 'completed', finished: endOf(await b.getRun(done)) });
        for (const op of [() => b.cancelRun(done), () => b.pauseRun(done), () => b.resumeRun(done), () => b.failRun(done, err('late'))]) {
          await expect(op()).rejects.toBeInstanceOf(RunStateError);
        }
        expect((await b.getRun(done))!.status).toBe('completed');

        const gone = await start();
        expect(await b.cancelRun(gone, 'user asked')).toMatchObject({ applied: true, status: 'cancelled' });
        expect(await b.cancelRun(gone)).toMatchObject({ applied: false, status: 'cancelled' });
        await expect(b.resumeRun(gone)).rejects.toBeInstanceOf(RunStateError);
        await expect(b.failRun(gone, err('x'))).rejects.toBeInstanceOf(RunStateError);

        const bad = await start();
        expect(await b.failRun(bad, err('broken', 'E_X'))).toMatchObject({ applied: true, status: 'failed', dropped: [{ id: '0', reason: 'failed' }] });
        expect(await b.failRun(bad, err('again'))).toMatchObject({ applied: false, status: 'failed' });
        await expect(b.cancelRun(bad)).rejects.toBeInstanceOf(RunStateError);
        expect(await b.getRun(bad)).toMatchObject({ status: 'failed', error: { message: 'broken', code: 'E_X' } });
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('cancel, pause, resume', () => {
      it('cancel purges queued, delayed and in-flight work; in-flight commits only ack', async () => {
        const { runId, ids } = await fanOut(3);
        const [l0, l1] = await b.claim('w1', 2, LONG);
        expect((await commit(l1!, retry(LONG))).status).toBe('applied');
        const t = await b.cancelRun(runId, 'stop please');
        expect(t.applied).toBe(true);
        expect(t.dropped.map((d) => d.id)).toEqual(ids);
        expect(t.dropped.every((d) => d.reason === 'cancelled')).toBe(true);
        const run = await b.getRun(runId);
        expect(run).toMatchObject({ status: 'cancelled', error: { name: 'CancelledError', code: 'FLOXIDE_CANCELLED', message: 'stop please' }, dropped: t.dropped });
        expect(await b.pendingWork(runId)).toEqual([]);
        expect(await b.claim('w2', 10, LONG)).toEqual([]);
        expect(await b.extendLease(runId, l0!.item.id, l0!.leaseToken, LONG)).toEqual({ status: 'lost', runStatus: 'cancelled' });
        const res = await commit(l0!, terminal('too late', [item('x', 'x1')], { count: 9 }));
        expect(res).toEqual({ status: 'run_finished', runStatus: 'cancelled' });
        expect(await b.getRun(runId)).toMatchObject({ status: 'cancelled', output: undefined });
        expect((await b.readContext(runId)).version).toBe(0);
        expect((await b.itemStates(runId)).map((s) => s.itemId)).toEqual(['0', ...ids]);
        expect((await b.itemStates(runId)).slice(1).map((s) => s.status)).toEqual(['dropped', 'dropped', 'dropped']);
      });

      it('claims skip paused runs; in-flight commits still apply; resume serves them again', async () => {
        const [p] = await fanOutMany([
          { n: 3, over: { runId: 'run-p' } },
          { n: 2, over: { runId: 'run-q' } },
        ]);
        if (!p) throw new Error('unreachable');
        const inflight = await b.claim('w1', 1, LONG);
        expect(inflight).toHaveLength(1);
        expect(await b.pauseRun(p.runId)).toMatchObject({ applied: true, status: 'paused' });
        expect(await b.pauseRun(p.runId)).toMatchObject({ applied: false, status: 'paused' });
        const other = await b.claim('w1', 10, LONG);
        expect(other.every((l) => l.runId === 'run-q')).toBe(true);
        expect(await b.claim('w1', 10, LONG)).toEqual([]);
        for (const l of [...inflight, ...other].filter((x) => x.runId === 'run-p')) {
          expect(await b.extendLease(l.runId, l.item.id, l.leaseToken, LONG)).toMatchObject({ status: 'extended', runStatus: 'paused' });
          expect(await commit(l, cont([item('next', `${l.item.id}-n`)]))).toMatchObject({ status: 'applied', runStatus: 'paused' });
        }
        expect(await b.resumeRun(p.runId)).toMatchObject({ applied: true, status: 'running' });
        expect(await b.resumeRun(p.runId)).toMatchObject({ applied: false, status: 'running' });
        const after = await b.claim('w1', 10, LONG);
        expect(after.length).toBeGreaterThan(0);
        expect(after.every((l) => l.runId === 'run-p')).toBe(true);
      });

      // More keys than one Lua call takes (about 8,000): the Redis scripts marked every item dropped, then failed
      // deleting the wait lists and join groups, so the run stayed running with nothing outstanding (and a failed
      // step, already recorded, was a duplicate when retried: the run never ended).
      it('a run with thousands of parked waits and open join groups ends whole, by a failed step or a cancel', async () => {
        const n = 9_000;
        const waits = (prefix: string) => Array.from({ length: n }, (_, i) => ({ ...item('vote', `${prefix}${i}`, i), wait: { name: 'vote', attempt: 1 } }));
        const groups = Array.from({ length: n }, (_, i): JoinArrival => ({ group: `g${i}`, index: 0, size: 2, node: 'merge', value: i, held: false, outer: [] }));
        for (const end of ['failed', 'cancelled'] as const) {
          const runId = await start();
          const s = await claimOne();
          expect(await commit(s, cont([...waits('w'), item('step', 'x')], groups))).toMatchObject({ status: 'applied', runStatus: 'running' });
          if (end === 'failed') {
            expect(await commit(await claimOne(), failed())).toMatchObject({ status: 'applied', runStatus: 'failed' });
          } else {
            expect(await b.cancelRun(runId)).toMatchObject({ applied: true, status: 'cancelled' });
          }
          const run = await b.getRun(runId);
          expect(run!.status).toBe(end);
          expect(run!.dropped).toHaveLength(end === 'failed' ? n : n + 1);
          expect(await b.pendingWork(runId)).toEqual([]);
          if (supportsMigration(b)) expect(await b.parkedArrivals(runId)).toEqual([]);
          expect((await b.itemStates(runId)).filter((st) => st.status === 'parked')).toEqual([]);
        }
      }, 120_000);

      it('a terminal committed while paused completes the run', async () => {
        const runId = await start();
        const l = await claimOne();
        await b.pauseRun(runId);
        expect(await commit(l, terminal('fin'))).toMatchObject({ status: 'applied', runStatus: 'completed' });
        await expect(b.resumeRun(runId)).rejects.toBeInstanceOf(RunStateError);
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('retries and dead letters', () => {
      it('a retry is a durable delayed re-enqueue with the next attempt', async () => {
        const runId = await start();
        const l = await claimOne();
        const res = await commit(l, retry(250, 'flaky'));
        expect(res).toMatchObject({ status: 'applied', runStatus: 'running', enqueued: [], contextVersion: 0 });
        expect(await commit(l, retry(250, 'flaky'))).toEqual({ status: 'duplicate' });
        const st = await b.itemState(runId, '0');
        expect(st).toMatchObject({ status: 'waiting_retry', attempt: 2 });
        expect(st!.notBefore).toBeGreaterThan(l.leaseExpiresAt - LONG);
        expect(await b.claim('w1', 1, LONG)).toEqual([]);
        expect((await b.pendingWork(runId)).map((p) => p.state.status)).toEqual(['waiting_retry']);
        await sleep(350);
        const again = await claimOne('w2');
        expect(again).toMatchObject({ item: { id: '0' }, attempt: 2, deliveries: 2 });
        const errors = await b.errors(runId);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ itemId: '0', node: 'start', attempt: 1, kind: 'retry', error: { message: 'flaky' } });
        expect(await b.metrics(runId)).toMatchObject({ retries: 1, completed: 0, redeliveries: 0 });
        expect((await commit(again, terminal('ok'))).status).toBe('applied');
      });

      // A parked item is the step that parked it, continued: a node retried, then parked (a wait after its timeout, a
      // nested run run again), must continue at that attempt, as in the local modes. The stores made every parked
      // item a new item at attempt 1: its history and events said 1, and a retry of it restarted the count.
      it('a parked item is kept at the attempt it parked at (deliveries before it included) and its retries count on from it', async () => {
        const runId = await start();
        const wait = { ...item('approve', 'w', 'in'), wait: { name: 'ok', attempt: 2 } };
        expect(await commit(await claimOne(), cont([wait]))).toMatchObject({ status: 'applied', enqueued: ['w'] });
        expect(await b.itemState(runId, 'w')).toMatchObject({ status: 'parked', attempt: 2 });
        if (!supportsSignals(b)) return;
        // the store answers which wait took it, from the operation that gave it (Orchestrator.signalWithReceipt)
        expect(await b.signal(runId, 'ok', 'yes')).toEqual({ delivery: 'delivered', itemId: 'w', kept: false });
        // its first delivery: deliveries - attempt (how a worker counts redeliveries) is 0
        const first = await claimOne('w1', 80);
        expect(first).toMatchObject({ item: { id: 'w', received: { payload: 'yes' } }, attempt: 2, deliveries: 2 });
        await sleep(160);
        const again = await claimOne('w2');
        expect(again).toMatchObject({ item: { id: 'w' }, attempt: 2, deliveries: 3 });
        expect(await b.metrics(runId)).toMatchObject({ redeliveries: 1 });
        await commit(again, retry(0));
        await sleep(5);
        expect(await claimOne()).toMatchObject({ item: { id: 'w' }, attempt: 3, deliveries: 4 });
        expect((await b.errors(runId)).map((e) => [e.kind, e.itemId, e.attempt])).toEqual([['retry', 'w', 2]]);
        // a wait whose signal came first goes on at once, at its attempt; so does a nested run parked on a timer
        const early = await start();
        expect(await b.signal(early, 'ok', 'early')).toEqual({ delivery: 'delivered', itemId: undefined, kept: true });
        await commit(await claimOne(), cont([{ ...wait, id: 'e' }]));
        expect(await claimOne()).toMatchObject({ runId: early, item: { id: 'e', received: { payload: 'early' } }, attempt: 2, deliveries: 2 });
        const timer = await start();
        const nested = { ...item('review', 'n', 'in'), nested: { key: '0', attempt: 3, items: [], arrivals: [], counter: 1, waiting: undefined }, notBefore: Date.now() + 50 };
        await commit(await claimOne(), cont([nested]));
        expect(await b.itemState(timer, 'n')).toMatchObject({ status: 'parked', attempt: 3 });
        await sleep(100);
        expect(await claimOne()).toMatchObject({ runId: timer, item: { id: 'n' }, attempt: 3, deliveries: 3 });
        if (!supportsObservation(b)) return;
        expect((await b.stepHistory(runId)).map((r) => [r.itemId, r.attempt, r.outcome])).toEqual([
          ['0', 1, 'continue'],
          ['w', 2, 'retry'],
        ]);
        const ac = new AbortController();
        const started: Array<[string, number]> = [];
        for await (const { event: e } of b.subscribe({ runId, signal: ac.signal })) {
          if (e.type === 'step.started') started.push([e.itemId, e.attempt]);
          if (e.type === 'step.retry') ac.abort();
        }
        expect(started).toEqual([
          ['0', 1],
          ['w', 2],
          ['w', 2],
        ]);
      });

      it('a failure after the last attempt dead-letters the item and fails the run', async () => {
        const { runId, ids } = await fanOut(3);
        const l = await claimOne();
        await commit(l, retry(0));
        await sleep(5);
        // any claimable item may come first; take until we hold attempt 2 of the retried item
        let l2: LeasedItem | undefined;
        for (const x of await b.claim('w1', 10, LONG)) if (x.item.id === l.item.id) l2 = x;
        expect(l2).toMatchObject({ attempt: 2 });
        const res = await commit(l2!, failed('gave up'));
        expect(res).toMatchObject({ status: 'applied', runStatus: 'failed' });
        expect(res.status === 'applied' && res.finished).toEqual(endOf(await b.getRun(runId)));
        if (res.status === 'applied') expect(res.dropped.map((d) => d.id).sort()).toEqual(ids.filter((id) => id !== l.item.id).sort());
        expect(await b.itemState(runId, l.item.id)).toMatchObject({ status: 'dead_lettered', attempt: 2 });
        const dl = await b.deadLetters(runId);
        expect(dl).toHaveLength(1);
        expect(dl[0]).toMatchObject({ item: { id: l.item.id, node: 'step' }, attempts: 2, error: { message: 'gave up' } });
        expect(await b.getRun(runId)).toMatchObject({ status: 'failed', error: { message: 'gave up' } });
        expect((await b.errors(runId)).map((e) => [e.kind, e.attempt])).toEqual([
          ['retry', 1],
          ['failure', 2],
        ]);
        expect(await b.metrics(runId)).toMatchObject({ retries: 1, failed: 1, deadLettered: 1, dropped: 2 });
      });

      it("a failure its fallbacks took is recorded (kind fallback) with the commit that enqueues the fallbacks' items", async () => {
        const runId = await start();
        const l = await claimOne();
        const taken: StepOutcome = { type: 'continue', items: [item('rescue', '1', 'in')], arrivals: [], delta: undefined, error: err('bad payload', 'FLOXIDE_INVALID_SIGNAL') };
        expect(await commit(l, taken)).toMatchObject({ status: 'applied', runStatus: 'running', enqueued: ['1'] });
        expect(await commit(l, taken)).toEqual({ status: 'duplicate' });
        expect(await b.errors(runId)).toMatchObject([{ itemId: '0', node: 'start', attempt: 1, kind: 'fallback', error: { message: 'bad payload', code: 'FLOXIDE_INVALID_SIGNAL' } }]);
        expect(await b.itemState(runId, '0')).toMatchObject({ status: 'completed' });
        expect(await b.metrics(runId)).toMatchObject({ completed: 1, failed: 0, retries: 0 });
        if (supportsObservation(b)) expect(await b.stepHistory(runId)).toMatchObject([{ itemId: '0', outcome: 'continue', error: { message: 'bad payload' } }]);
        expect((await commit(await claimOne(), terminal('rescued'))).status).toBe('applied');
        expect(await b.getRun(runId)).toMatchObject({ status: 'completed' });
      });

      it('a deadline failure marks the item failed, not dead-lettered', async () => {
        const runId = await start();
        await commit(await claimOne(), failed('too late', 'FLOXIDE_DEADLINE'));
        expect(await b.itemState(runId, '0')).toMatchObject({ status: 'failed' });
        expect(await b.deadLetters(runId)).toEqual([]);
        expect(await b.metrics(runId)).toMatchObject({ failed: 1, deadLettered: 0 });
        expect((await b.getRun(runId))!.error).toMatchObject({ code: 'FLOXIDE_DEADLINE' });
      });

      it('recordError appends worker errors', async () => {
        const runId = await start();
        await b.recordError(runId, { itemId: '0', node: 'start', attempt: 1, error: err('decode failed') });
        expect(await b.errors(runId)).toMatchObject([{ itemId: '0', node: 'start', attempt: 1, kind: 'worker', error: { message: 'decode failed' } }]);
        await expect(b.recordError(runId, { itemId: '0', node: 'start', attempt: 0, error: err('x') })).rejects.toBeInstanceOf(InvalidArgumentError);
      });
    });

    // ---------------------------------------------------------------------------------------------------------
    describe('context, runs, items, liveness', () => {
      it('reads the context since a version', async () => {
        const { runId } = await fanOut(3);
        const leases = await b.claim('w1', 3, LONG);
        for (const [i, l] of leases.entries()) await commit(l, cont([], [], i === 1 ? {} : { count: i + 1 }));
        const all = await b.readContext(runId);
        expect(all.version).toBe(2);
        expect(all.initial).toEqual({ count: 0, log: [] });
        expect(all.deltas.map((d) => [d.version, d.itemId, d.delta])).toEqual([
          [1, leases[0]!.item.id, { count: 1 }],
          [2, leases[2]!.item.id, { count: 3 }],
        ]);
        const since1 = await b.readContext(runId, 1);
        expect(since1).toEqual({ deltas: [all.deltas[1]], version: 2 });
        expect(since1.initial).toBeUndefined();
        expect(await b.readContext(runId, 2)).toEqual({ deltas: [], version: 2 });
        await expect(b.readContext(runId, 3)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.readContext(runId, -1)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.readContext(runId, 0.5)).rejects.toBeInstanceOf(InvalidArgumentError);
      });

      it('lists runs newest first with status, workflow and limit filters', async () => {
        await start({ runId: 'r1', workflow: 'alpha' });
        await sleep(15);
        await start({ runId: 'r2', workflow: 'beta' });
        await sleep(15);
        await start({ runId: 'r3', workflow: 'alpha' });
        await b.cancelRun('r2');
        expect((await b.listRuns()).map((r) => r.runId)).toEqual(['r3', 'r2', 'r1']);
        expect((await b.listRuns({ workflow: 'alpha' })).map((r) => r.runId)).toEqual(['r3', 'r1']);
        expect((await b.listRuns({ status: 'cancelled' })).map((r) => r.runId)).toEqual(['r2']);
        expect((await b.listRuns({ status: 'running', workflow: 'alpha', limit: 1 })).map((r) => r.runId)).toEqual(['r3']);
        expect(await b.listRuns({ status: 'completed' })).toEqual([]);
        expect(await b.listRuns({ workflow: 'zeta' })).toEqual([]);
      });

      it('pages runs with a cursor: one total order (createdAt, then run id, descending), no overlap, no gap', async () => {
        // Run ids chosen so that the creation order is not the id order; runs created in the same millisecond tie.
        const ids = ['p-k', 'p-c', 'p-x', 'p-a', 'p-m', 'p-b', 'p-z'];
        for (const runId of ids) await start({ runId, workflow: runId < 'p-m' ? 'alpha' : 'beta' });
        const all = await b.listRuns();
        expect(all.map((r) => r.runId).sort()).toEqual([...ids].sort());
        for (let i = 1; i < all.length; i++) {
          const [p, q] = [all[i - 1]!, all[i]!];
          expect(p.createdAt > q.createdAt || (p.createdAt === q.createdAt && p.runId > q.runId)).toBe(true);
        }
        for (const filter of [{}, { workflow: 'alpha' }, { status: 'running' as const }, { status: 'running' as const, workflow: 'beta' }]) {
          const whole = (await b.listRuns(filter)).map((r) => r.runId);
          const paged: string[] = [];
          for (let after: RunCursor | undefined; ; ) {
            const page = await b.listRuns({ ...filter, limit: 2, ...(after ? { after } : {}) });
            paged.push(...page.map((r) => r.runId));
            if (page.length < 2) break;
            after = cursorAfter(page[page.length - 1]!);
          }
          expect(paged).toEqual(whole);
        }
        // A cursor whose run left the index (cancelled while paging running runs) still continues at its place.
        const first = await b.listRuns({ status: 'running', limit: 3 });
        await b.cancelRun(first[2]!.runId);
        const rest = await b.listRuns({ status: 'running', after: cursorAfter(first[2]!) });
        expect(rest.map((r) => r.runId)).toEqual(all.slice(3).map((r) => r.runId));
        await expect(b.listRuns({ after: { createdAt: 1.5, runId: 'x' } })).rejects.toBeInstanceOf(InvalidArgumentError);
      });

      it('reports item states in enqueue order', async () => {
        const { runId, ids } = await fanOut(3);
        const l = await claimOne('w7');
        await commit(l, retry(LONG));
        const l2 = await claimOne('w8');
        const states = await b.itemStates(runId);
        expect(states.map((s) => [s.itemId, s.status])).toEqual([
          ['0', 'completed'],
          [ids[0], 'waiting_retry'],
          [ids[1], 'in_progress'],
          [ids[2], 'pending'],
        ]);
        expect(states[2]).toMatchObject({ workerId: 'w8', leaseExpiresAt: l2.leaseExpiresAt, attempt: 1 });
        expect(await b.itemState(runId, 'missing')).toBeUndefined();
        expect((await b.pendingWork(runId)).map((p) => p.item.id)).toEqual(ids);
      });

      it('tracks worker liveness from heartbeats', async () => {
        await b.heartbeat('w-b', health('busy'));
        await b.heartbeat('w-a', { ...health(), processed: 3, info: { host: 'h1' } });
        const now = await b.listWorkers();
        expect(now.map((w) => [w.workerId, w.liveness, w.health.status])).toEqual([
          ['w-a', 'alive', 'idle'],
          ['w-b', 'alive', 'busy'],
        ]);
        expect(now[0]!.health).toEqual({ status: 'idle', current: [], processed: 3, errors: 0, info: { host: 'h1' } });
        await sleep(120);
        await b.heartbeat('w-b', health('busy'));
        const later = await b.listWorkers({ thresholdMs: 30 });
        expect(later.map((w) => [w.workerId, w.liveness])).toEqual([
          ['w-a', 'dead'],
          ['w-b', 'alive'],
        ]);
        expect((await b.listWorkers({ thresholdMs: 100 })).find((w) => w.workerId === 'w-a')!.liveness).toBe('stale');
        expect(await b.removeWorker('w-a')).toBe(true);
        expect(await b.removeWorker('w-a')).toBe(false);
        expect((await b.listWorkers()).map((w) => w.workerId)).toEqual(['w-b']);
        await expect(b.heartbeat('bad id', health())).rejects.toBeInstanceOf(InvalidArgumentError);
      });
    });
  });
}

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bindWorkflow,
  CancelledError,
  CorruptStateError,
  DeadlineExceededError,
  executeStep,
  FingerprintMismatchError,
  InvalidArgumentError,
  MemoryCheckpointStore,
  NodeFailedError,
  NoTerminalReachedError,
  RunInputMismatchError,
  RunNotFoundError,
  StaleGeneratedModuleError,
  type CheckpointStore,
  type WorkflowEvent,
} from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { HoldWorkflow, JoinWorkflow, LoopCtx, LoopWorkflow, TimeoutWorkflow } from './flows/loop.js';
import { HoldWorkflowDef, JoinWorkflowDef, LoopWorkflowDef, TimeoutWorkflowDef } from './flows/loop.floxide.js';
import { ValuesCtx, ValuesWorkflow } from '../fixtures/equivalence/values.js';
import { ValuesWorkflowDef } from '../fixtures/equivalence/values.floxide.js';
import { KeysCtx, ProtoKeysWorkflow } from '../fixtures/equivalence/keys.js';
import { ProtoKeysWorkflowDef } from '../fixtures/equivalence/keys.floxide.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bindWorkflow', () => {
  it('refuses a stale generated module', () => {
    const stale = { ...LoopWorkflowDef, fingerprint: '0000000000000000' };
    expect(() => bindWorkflow(stale, new LoopWorkflow())).toThrow(StaleGeneratedModuleError);
    expect(() => bindWorkflow(stale, new LoopWorkflow())).toThrow(/run floxide build/);
  });

  it('refuses an instance whose node fields are missing', () => {
    const broken = new LoopWorkflow();
    (broken as unknown as { end: unknown }).end = undefined;
    expect(() => bindWorkflow(LoopWorkflowDef, broken)).toThrow(InvalidArgumentError);
  });
});

describe('run (in memory)', () => {
  it('loops with branches and merges the context in place', async () => {
    const ctx = new LoopCtx();
    const r = await bindWorkflow(LoopWorkflowDef, new LoopWorkflow()).runDetailed(ctx, { i: 0, limit: 250 });
    expect(r.output).toBe(2500);
    expect(r.steps).toBe(251);
    expect(ctx.count).toBe(250);
    expect(ctx.peak).toBe(249);
    expect(ctx.trail).toEqual([0, 1, 2]);
    expect(ctx.events.events()).toEqual(['at 0', 'at 100', 'at 200']);
  });

  it('joins a fan-out once every branch arrived, holds counting as empty arrivals', async () => {
    const instance = new JoinWorkflow(3);
    expect(await bindWorkflow(JoinWorkflowDef, instance).run(undefined, 10)).toEqual([1, 2, 4, 5, 7, 8]);
    expect(instance.gather.calls).toBe(1);
  });

  it('joins a 10,000-item fan-out in order', async () => {
    const out = (await bindWorkflow(JoinWorkflowDef, new JoinWorkflow(0)).run(undefined, 10_000)) as number[];
    expect(out).toHaveLength(10_000);
    expect(out[9_999]).toBe(9_999);
  });

  it('a fan-out of nothing into a join: NoTerminalReachedError naming the node that passed nothing on, in run and checkpointed', async () => {
    const hint = 'the last step, of node fan, passed nothing on (nextAll of an empty list, a SplitNode or BatchNode of nothing, or hold(); a @join() runs only for the values that arrive)';
    await expect(bindWorkflow(JoinWorkflowDef, new JoinWorkflow(0)).run(undefined, 0)).rejects.toThrow(`run run has no work left and reached no terminal node: ${hint}`);
    const store = new MemoryCheckpointStore();
    await expect(bindWorkflow(JoinWorkflowDef, new JoinWorkflow(0)).runWithCheckpoint(undefined, 0, store, 'empty')).rejects.toThrow(`: ${hint}`);
    expect((await store.getRun('empty'))?.error?.message).toContain(hint);
  });

  it('takes the run ids every store takes: another id (a node sees it as ctx.runId) is InvalidArgumentError, as in every mode', async () => {
    const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
    for (const runId of ['', 'with space', '../etc', 'ünï', 'nul\u0000', 'x'.repeat(129)]) {
      await expect(wf.run(new LoopCtx(), { i: 0, limit: 2 }, { runId }), JSON.stringify(runId)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 2 }, new MemoryCheckpointStore(), runId)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await wf.run(new LoopCtx(), { i: 0, limit: 2 }, { runId: 'order-1.a:b' })).toBe(20);
  });

  it('a drained queue with no terminal is NoTerminalReachedError, not a crash', async () => {
    await expect(bindWorkflow(HoldWorkflowDef, new HoldWorkflow()).run(undefined, 1)).rejects.toBeInstanceOf(NoTerminalReachedError);
  });

  it('@timeout aborts the node signal, retries, then succeeds; ctx shows attempt, item and run ids', async () => {
    const instance = new TimeoutWorkflow([200, 1]);
    expect(await bindWorkflow(TimeoutWorkflowDef, instance).run(undefined, 'job', { runId: 'r-1' })).toBe('job after attempt 2');
    expect(instance.slow.seen).toEqual([
      { attempt: 1, itemId: '0', runId: 'r-1', aborted: false },
      { attempt: 2, itemId: '0', runId: 'r-1', aborted: false },
    ]);
  });

  it('a node that keeps timing out goes to its fallback with ctx.failure', async () => {
    const out = await bindWorkflow(TimeoutWorkflowDef, new TimeoutWorkflow([200, 200])).run(undefined, 'job');
    expect(out).toBe('rescued job: NodeTimeoutError x2');
  });

  it('cancellation is neither retried nor routed to the fallback', async () => {
    const instance = new TimeoutWorkflow([20, 20]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 5);
    await expect(bindWorkflow(TimeoutWorkflowDef, instance).run(undefined, 'job', { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(instance.slow.seen).toHaveLength(1);
  });

  it('a failing node without fallback fails the run with NodeFailedError carrying the cause', async () => {
    const instance = new LoopWorkflow();
    instance.step.hook = (_ctx, i) => {
      if (i === 2) throw new Error('boom');
    };
    const err = await bindWorkflow(LoopWorkflowDef, instance).run(new LoopCtx(), { i: 0, limit: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect(((err as Error).cause as Error).message).toBe('boom');
  });
});

const stores: Array<[string, () => CheckpointStore]> = [
  ['memory', () => new MemoryCheckpointStore()],
  ['sqlite', () => new SqliteCheckpointStore(join(dir, `s-${Math.random().toString(36).slice(2)}.db`))],
];

describe.each(stores)('checkpointed runs on %s', (_name, makeStore) => {
  it('a counter that 1,000 steps add 1 to ends at exactly 1,000, across a crash and resume', async () => {
    const store = makeStore();
    let commits = 0;
    // A store that "crashes" (throws) on the 400th commit: the step ran but its commit never landed.
    const crashing: CheckpointStore = Object.create(store, {
      commitStep: {
        value: async (...args: Parameters<CheckpointStore['commitStep']>) => {
          if (++commits === 400) throw new Error('process died');
          return store.commitStep(...args);
        },
      },
    });
    const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
    await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 1000 }, crashing, 'count')).rejects.toThrow('process died');
    expect(await wf.resume(store, 'count')).toBe(10_000);
    const cp = await store.load('count');
    expect(cp!.run.status).toBe('completed');
    expect(cp!.run.steps).toBe(1001);
    const total = cp!.deltas.reduce((n, d) => n + ((d.count as number | undefined) ?? 0), 0);
    expect(total).toBe(1000);
  });

  it('saves the initial state before the first step, so a first-node failure is resumable', async () => {
    const store = makeStore();
    const instance = new LoopWorkflow();
    let fail = true;
    instance.step.hook = () => {
      if (fail) throw new Error('first step fails');
    };
    const wf = bindWorkflow(LoopWorkflowDef, instance);
    await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 3 }, store, 'first')).rejects.toBeInstanceOf(NodeFailedError);
    const cp = await store.load('first');
    expect(cp!.run.status).toBe('failed');
    expect(cp!.items.map((i) => i.id)).toEqual(['0']);
    fail = false;
    expect(await wf.resume(store, 'first')).toBe(30);
  });

  it('refuses another input for an existing run id, an unknown id and a malformed id', async () => {
    const store = makeStore();
    const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
    expect(await wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 2 }, store, 'a')).toBe(20);
    await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 3 }, store, 'a')).rejects.toBeInstanceOf(RunInputMismatchError);
    expect(await wf.runWithCheckpoint(new LoopCtx(), { limit: 2, i: 0 }, store, 'a')).toBe(20);
    await expect(wf.resume(store, 'nope')).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(wf.resume(store, '../etc')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('refuses a checkpoint written by another graph', async () => {
    const store = makeStore();
    await bindWorkflow(JoinWorkflowDef, new JoinWorkflow()).runWithCheckpoint(undefined, 3, store, 'other').catch(() => undefined);
    await expect(bindWorkflow(LoopWorkflowDef, new LoopWorkflow()).resume(store, 'other')).rejects.toBeInstanceOf(FingerprintMismatchError);
  });

  it('a cancelled run stays cancelled', async () => {
    const store = makeStore();
    const instance = new LoopWorkflow();
    const ac = new AbortController();
    instance.step.hook = async (_ctx, i) => {
      if (i === 3) {
        ac.abort();
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const wf = bindWorkflow(LoopWorkflowDef, instance);
    await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 10 }, store, 'c', { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    instance.step.hook = undefined;
    await expect(wf.resume(store, 'c')).rejects.toBeInstanceOf(CancelledError);
    await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 10 }, store, 'c')).rejects.toBeInstanceOf(CancelledError);
    expect((await store.getRun('c'))!.status).toBe('cancelled');
  });

  it('the deadline is stored as an absolute time and survives resume', async () => {
    const store = makeStore();
    const instance = new LoopWorkflow();
    instance.step.hook = () => new Promise((r) => setTimeout(r, 30));
    const wf = bindWorkflow(LoopWorkflowDef, instance);
    await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 100 }, store, 'd', { timeoutMs: 50 })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
    const before = instance.step.executions;
    instance.step.hook = undefined;
    await expect(wf.resume(store, 'd')).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(instance.step.executions).toBe(before);
  });

  it('refuses a deadline or timeout that no Date can hold (stored, it would read back as corrupt) before anything is written', async () => {
    const store = makeStore();
    const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
    for (const options of [{ deadline: 8.64e15 + 1 }, { deadline: new Date(Number.NaN) }, { timeoutMs: Number.POSITIVE_INFINITY }, { timeoutMs: 8.64e15 }]) {
      await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 1 }, store, 'far', options)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await store.getRun('far')).toBeUndefined();
  });

  it('checkpoints a join: arrivals are persisted with their step', async () => {
    const store = makeStore();
    expect(await bindWorkflow(JoinWorkflowDef, new JoinWorkflow(4)).runWithCheckpoint(undefined, 9, store, 'j')).toEqual([1, 2, 3, 5, 6, 7]);
  });
});

describe('SQLite checkpoints', () => {
  it('write per step does not grow with the context size', async () => {
    const file = join(dir, 'bytes.db');
    const store = new SqliteCheckpointStore(file);
    const ctx = new LoopCtx();
    (ctx as { config: unknown }).config = new (ctx.config.constructor as new (v: unknown) => unknown)({ blob: 'x'.repeat(200_000) });
    expect(await bindWorkflow(LoopWorkflowDef, new LoopWorkflow()).runWithCheckpoint(ctx, { i: 0, limit: 50 }, store, 'big')).toBe(500);
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT length(delta) AS n FROM floxide_steps WHERE run_id = ?').all('big') as { n: number | null }[];
    expect(rows).toHaveLength(51);
    expect(Math.max(...rows.map((r) => r.n ?? 0))).toBeLessThan(120);
    db.close();
    await store.close();
  });

  it('runWithCheckpoint again with the same input holding __proto__/constructor keys returns the stored output (issue 8 item 5)', async () => {
    const input = () => ({ doc: JSON.parse('{"__proto__": {"admin": true}, "constructor": {"prototype": 1}, "n": 1}') as Record<string, unknown> });
    const wf = bindWorkflow(ProtoKeysWorkflowDef, new ProtoKeysWorkflow());
    const sqlite = new SqliteCheckpointStore(join(dir, 'proto-keys.db'));
    for (const store of [new MemoryCheckpointStore(), sqlite]) {
      const first = await wf.runWithCheckpoint(new KeysCtx(), input(), store, 'keys');
      expect(first.keys).toEqual(['__proto__', 'constructor', 'n']);
      expect(await wf.runWithCheckpoint(new KeysCtx(), input(), store, 'keys')).toEqual(first);
      const other = { doc: JSON.parse('{"__proto__": {"admin": false}, "constructor": {"prototype": 1}, "n": 1}') as Record<string, unknown> };
      await expect(wf.runWithCheckpoint(new KeysCtx(), other, store, 'keys')).rejects.toBeInstanceOf(RunInputMismatchError);
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    await sqlite.close();
  });

  it('runWithCheckpoint again with the same input holding a Set of Dates and a bigint returns the stored output', async () => {
    const input = () => ({ at: new Date(Date.UTC(2021, 5, 1)), n: 2n ** 64n, seen: new Set([new Date(0), new Date(1)]) });
    const wf = bindWorkflow(ValuesWorkflowDef, new ValuesWorkflow());
    const sqlite = new SqliteCheckpointStore(join(dir, 'values-input.db'));
    for (const store of [new MemoryCheckpointStore(), sqlite]) {
      const first = await wf.runWithCheckpoint(new ValuesCtx(), input(), store, 'values');
      expect(await wf.runWithCheckpoint(new ValuesCtx(), input(), store, 'values')).toEqual(first);
      await expect(wf.runWithCheckpoint(new ValuesCtx(), { ...input(), seen: new Set([new Date(2)]) }, store, 'values')).rejects.toBeInstanceOf(RunInputMismatchError);
    }
    await sqlite.close();
  });

  it('a corrupted row is CorruptStateError, and stored JSON cannot pollute prototypes', async () => {
    const file = join(dir, 'corrupt.db');
    const store = new SqliteCheckpointStore(file);
    const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
    const instance = new LoopWorkflow();
    instance.step.hook = () => {
      throw new Error('stop');
    };
    await bindWorkflow(LoopWorkflowDef, instance).runWithCheckpoint(new LoopCtx(), { i: 0, limit: 3 }, store, 'x').catch(() => undefined);
    store.db.prepare(`UPDATE floxide_runs SET context = ? WHERE run_id = 'x'`).run('{"count": 0, "__proto__": {"polluted": true}}');
    expect(await wf.resume(store, 'x')).toBe(30);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    await bindWorkflow(LoopWorkflowDef, instance).runWithCheckpoint(new LoopCtx(), { i: 0, limit: 3 }, store, 'y').catch(() => undefined);
    store.db.prepare(`UPDATE floxide_runs SET context = '{not json' WHERE run_id = 'y'`).run();
    await expect(wf.resume(store, 'y')).rejects.toBeInstanceOf(CorruptStateError);
    await store.close();
  });
});

describe('executeStep (the step core other modes build on)', () => {
  it('returns a delta without mutating the context, and defers retries when asked', async () => {
    const ctx = new LoopCtx();
    let n = 0;
    const env = { runId: 'e', context: ctx, signal: new AbortController().signal, attempt: 1, inlineRetries: false, childId: () => `c${++n}` };
    const out = await executeStep(LoopWorkflowDef, new LoopWorkflow(), { node: 'step', id: '0', input: { i: 0, limit: 2 } }, env);
    expect(out).toEqual({ type: 'continue', items: [{ node: 'step', id: 'c1', input: { kind: 'more', i: 1, limit: 2 } }], arrivals: [], delta: { count: 1, trail: [0], events: [{ id: '0#000000', event: 'at 0' }] } });
    expect(ctx.count).toBe(0);

    const retry = await executeStep(TimeoutWorkflowDef, new TimeoutWorkflow([200]), { node: 'slow', id: '0', input: 'x' }, { ...env, context: undefined });
    expect(retry).toMatchObject({ type: 'retry', attempt: 2, delayMs: 1, error: { name: 'NodeTimeoutError' } });

    const ac = new AbortController();
    ac.abort();
    const cancelled = await executeStep(LoopWorkflowDef, new LoopWorkflow(), { node: 'step', id: '0', input: { i: 0, limit: 2 } }, { ...env, signal: ac.signal });
    expect(cancelled).toMatchObject({ type: 'failed', error: { name: 'CancelledError' } });
  });

  it('reports the run, each step started and finished, and completion as events', async () => {
    const events: WorkflowEvent[] = [];
    await bindWorkflow(JoinWorkflowDef, new JoinWorkflow()).run(undefined, 2, { onEvent: (e) => events.push(e) });
    expect(events.map((e) => (e.type === 'step.finished' ? `${e.type}:${e.node}:${e.outcome}:${e.local?.transition}` : e.type === 'step.started' ? `${e.type}:${e.node}` : e.type))).toEqual([
      'run.created',
      'step.started:fan',
      'step.finished:fan:continue:nextAll',
      'step.started:maybe',
      'step.finished:maybe:continue:next',
      'step.started:maybe',
      'step.finished:maybe:continue:next',
      'step.started:gather',
      'step.finished:gather:terminal:terminal',
      'run.completed',
    ]);
    const finished = events.filter((e) => e.type === 'step.finished');
    expect(finished.every((e) => e.runId === 'run' && e.workerId === undefined && e.startedAt <= e.at && e.attempt === 1)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'run.completed', output: expect.anything(), dropped: [] });
  });
});


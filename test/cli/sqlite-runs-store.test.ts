/**
 * A SQLite checkpoint file as a runs store (cli/store/sqlite-runs.ts), the counterpart of the distributed conformance
 * suite for what a run page reads: item counts and metrics counted by SQLite, and the newest errors, dead letters,
 * context deltas and step history read with a limit. Each is checked against the store's full reads (the journal
 * folded) on real checkpointed runs: completed with retries, failed, failed then resumed, cancelled, and waiting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { CorruptStateError, InvalidArgumentError, RunNotFoundError } from '../../runtime/core/errors.js';
import { OUTSTANDING_STATUSES, emptyMetrics, type OutstandingStatus, type PendingWorkOptions } from '../../runtime/distributed/contracts.js';
import { SqliteRunsStore } from '../../cli/store/sqlite-runs.js';
import { runView } from '../../cli/ui/views.js';
import { SqliteRunReader } from '../../runtime/stores/sqlite-inspect.js';
import { RetryWorkflow } from '../../examples/retry.js';
import { RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { LoopCtx, LoopWorkflow } from '../runtime/flows/loop.js';
import { LoopWorkflowDef } from '../runtime/flows/loop.floxide.js';
import { VoteFlow } from '../fixtures/signals/flows.js';
import { VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { WideCtx, WideWorkflow } from '../fixtures/distributed/wide.js';
import { WideWorkflowDef } from '../fixtures/distributed/wide.floxide.js';
import { undoKeptCounts } from '../runtime/sqlite-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-sqlite-runs-'));
const file = join(dir, 'runs.db');
let writer: SqliteCheckpointStore;
let store: SqliteRunsStore;
const RUNS = ['flaky', 'failed', 'resumed', 'cancelled', 'long', 'voting'];

beforeAll(async () => {
  writer = new SqliteCheckpointStore(file);
  await bindWorkflow(RetryWorkflowDef, new RetryWorkflow(2)).runWithCheckpoint(undefined, undefined, writer, 'flaky');
  const loop = new LoopWorkflow();
  let failAt: number | undefined = 3;
  loop.step.hook = (_ctx, i) => {
    if (i === failAt) throw new Error(`step ${i} broke`);
  };
  const wf = bindWorkflow(LoopWorkflowDef, loop);
  for (const id of ['failed', 'resumed', 'cancelled']) await expect(wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 6 }, writer, id)).rejects.toThrow(/broke/);
  failAt = undefined;
  await wf.resume(writer, 'resumed');
  await writer.cancel('cancelled');
  await wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 40 }, writer, 'long');
  // fans out, then each branch parks its wait for a "vote": running, with parked items
  void bindWorkflow(VoteFlowDef, new VoteFlow()).runWithCheckpoint(undefined, 7, writer, 'voting', { signalPollMs: 20 }).catch(() => undefined);
  while ((await writer.getRun('voting')) === undefined || (await writer.stepHistory('voting')).length < 3) await new Promise((r) => setTimeout(r, 20));
  store = SqliteRunsStore.open(file);
});

afterAll(async () => {
  await store.close();
  await writer.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteRunsStore: what a run page reads', () => {
  it('counts items per node and state, and the metrics, as the folded journal says them', async () => {
    for (const id of RUNS) {
      const states = await store.itemStates(id);
      expect(await countsOf(store, id), id).toEqual(await countsOf(store, id, true));
      const pending = await store.pendingWork(id);
      expect(pending.map((p) => p.state), id).toEqual(states.filter((st) => st.status === 'pending' || st.status === 'parked'));
      // selected by state, the first `limit` (what a run page and `runs list` read), as the whole list filtered and cut
      for (const options of [{ limit: 1 }, { limit: 2 }, { statuses: ['parked'] }, { statuses: ['in_progress', 'parked'] }, { statuses: ['pending'], limit: 1 }] as const) {
        const { statuses = OUTSTANDING_STATUSES, limit = Infinity } = options as PendingWorkOptions;
        expect(await store.pendingWork(id, options), `${id} ${JSON.stringify(options)}`).toEqual(pending.filter((p) => statuses.includes(p.state.status as OutstandingStatus)).slice(0, limit));
      }
    }
    await expect(store.pendingWork('voting', { limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.pendingWork('voting', { statuses: ['completed'] } as unknown as PendingWorkOptions)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.pendingWork('voting', { statuses: ['parked'] })).toHaveLength(2);
    expect(await store.itemCounts('voting')).toMatchObject({ vote: { parked: 2 } });
    await expect(store.itemCounts('nope')).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(store.metrics('nope')).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('reads the newest errors, dead letters, context deltas and attempts with a limit', async () => {
    for (const id of RUNS) {
      const errors = await store.errors(id);
      const dead = await store.deadLetters(id);
      const history = await store.stepHistory(id);
      for (let limit = 1; limit <= Math.max(errors.length, dead.length, 3) + 1; limit++) {
        expect(await store.errors(id, { limit }), `${id} errors ${limit}`).toEqual(errors.slice(-limit));
        expect(await store.deadLetters(id, { limit }), `${id} dead letters ${limit}`).toEqual(dead.slice(-limit));
        expect(await store.stepHistory(id, { limit }), `${id} history ${limit}`).toEqual(history.slice(-limit));
      }
      const ctx = await store.readContext(id);
      for (const limit of [1, 2, 5, 100]) {
        expect(await store.readContext(id, undefined, { limit }), `${id} context ${limit}`).toEqual({ initial: ctx.initial, version: ctx.version, deltas: ctx.deltas.slice(-limit) });
        if (ctx.version >= 1) expect(await store.readContext(id, 1, { limit }), `${id} context since 1, ${limit}`).toEqual({ version: ctx.version, deltas: ctx.deltas.slice(1).slice(-limit) });
      }
      await expect(store.readContext(id, ctx.version + 1, { limit: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect((await store.errors('flaky')).length).toBe(2);
    expect((await store.deadLetters('failed')).length).toBe(1);
    expect((await store.readContext('long')).version).toBe(40);
    for (const limit of [0, -1, 1.5]) {
      await expect(store.errors('long', { limit })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.deadLetters('long', { limit })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.readContext('long', undefined, { limit })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.stepHistory('long', { limit })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(store.errors('nope', { limit: 1 })).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(store.deadLetters('nope', { limit: 1 })).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(store.readContext('nope', undefined, { limit: 1 })).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('a run page (runView: metrics, counts, items, pending work, dead letters, context) reads and decodes the journal once', async () => {
    // (a run of 170,000 steps: about a second per read, on the dashboard's one thread)
    const journal = vi.spyOn(SqliteRunReader.prototype, 'journal');
    try {
      for (const id of ['voting', 'failed']) {
        journal.mockClear();
        const view = await runView(store, id);
        expect(view.run.runId).toBe(id);
        expect(journal, id).toHaveBeenCalledTimes(1);
      }
    } finally {
      journal.mockRestore();
    }
  });

  it('a running run read again decodes only the steps committed since (its fold is kept), and reads as a new store that folds it whole; a run-level write (cancel) makes it fold whole again', async () => {
    // a long running run, paused at steps 30 and 50 (the dashboard re-reads its page at each commit)
    const run = pausedRun('growing', [30, 50]);
    const decoded = decodedSteps();
    try {
      await run.reached(30);
      const before = decoded.count();
      const first = await page(store, 'growing');
      expect(first.view.metrics.completed).toBe(30);
      expect(decoded.count() - before).toBe(30);
      same(first, await whole('growing'));
      await run.reached(50);
      const again = decoded.count();
      const second = await page(store, 'growing');
      // only the 20 steps committed since were read and decoded
      expect(decoded.count() - again).toBe(20);
      expect(second.view.metrics.completed).toBe(50);
      expect((second.context as { version: number }).version).toBe(50);
      same(second, await whole('growing'));
      // cancelled: the run's record changed, its fold is read whole again
      await store.cancelRun('growing');
      const cancelled = decoded.count();
      const third = await page(store, 'growing');
      expect(decoded.count() - cancelled).toBe(50);
      expect(third.view.run.status).toBe('cancelled');
      same(third, await whole('growing'));
    } finally {
      decoded.restore();
      await run.end();
    }
  });

  it('steps committed since the last read whose delta or items cannot be read: the context is unreadable, the items a stand-in, as a new store folding it whole says', async () => {
    const run = pausedRun('spoilt', [10, 20]);
    try {
      await run.reached(10);
      const first = await page(store, 'spoilt');
      expect(first.context).toMatchObject({ version: 10 });
      await run.reached(20);
      // two of the steps committed since, spoilt in the file (a disk, a hand edit)
      const seqOf = (n: number) => `run_no = (SELECT run_no FROM floxide_runs WHERE run_id = 'spoilt') AND seq = (SELECT min(seq) FROM floxide_journal WHERE run_no = (SELECT run_no FROM floxide_runs WHERE run_id = 'spoilt')) + ${n}`;
      writer.db.prepare(`UPDATE floxide_journal SET delta = '{"count":' WHERE ${seqOf(14)}`).run();
      writer.db.prepare(`UPDATE floxide_journal SET items = '[{' WHERE ${seqOf(16)}`).run();
      const second = await page(store, 'spoilt');
      expect(second.context).toBeInstanceOf(CorruptStateError);
      expect(second.states.some((st) => st.itemId === `(step ${16} items)` || st.node === '?')).toBe(true);
      same(second, await whole('spoilt'));
    } finally {
      await run.end();
    }
  });
});

describe('SqliteRunsStore: what a first read of a run reads', () => {
  it('a running run read for the first time (runs list, runs show --limit, a run page) has its items selected and counted by SQLite, no journal step decoded, and reads as its fold says', async () => {
    const looping = pausedRun('in-place', [25]);
    // a wide run: 600 items in one step's row, 3 of them done, the rest waiting
    let rows = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const wide = bindWorkflow(WideWorkflowDef, new WideWorkflow(async () => {
      if (++rows > 3) await held;
    })).runWithCheckpoint(new WideCtx(), 600, writer, 'wide');
    const decoded = decodedSteps();
    try {
      await looping.reached(25);
      await vi.waitUntil(async () => (await writer.getRun('wide')) !== undefined && (await writer.stepHistory('wide')).length === 4, { timeout: 30_000 });
      for (const id of ['voting', 'in-place', 'wide']) {
        const fresh = SqliteRunsStore.open(file);
        const folded = SqliteRunsStore.open(file);
        try {
          const before = decoded.count();
          const inPlace = await firstReads(fresh, id);
          expect(decoded.count() - before, `${id}: steps decoded`).toBe(0);
          // the same reads from the run's fold (a full read folds it; later reads extend it)
          await folded.itemStates(id);
          expect(decoded.count() - before, id).toBeGreaterThan(0);
          expect(inPlace, id).toEqual(await firstReads(folded, id));
        } finally {
          await fresh.close();
          await folded.close();
        }
      }
      const wideReads = await firstReads(store, 'wide');
      expect(wideReads.first.map((p) => p.item.id)).toEqual(['4', '5']);
      expect(wideReads.counts).toEqual({ scatter: { completed: 1 }, row: { completed: 3, pending: 597 } });
      expect((await firstReads(store, 'voting')).parked.map((p) => [p.item.node, p.state.status])).toEqual([['vote', 'parked'], ['vote', 'parked']]);
    } finally {
      decoded.restore();
      release();
      await wide;
      await looping.end();
    }
  });

  it("a finished run's counts are counted once and kept in its record, equal to a recount; a file an older floxide wrote (no counts kept) reads them right and keeps them", async () => {
    const finished = ['flaky', 'resumed', 'cancelled', 'long'];
    const kept = (id: string) => writer.db.prepare('SELECT counts FROM floxide_runs WHERE run_id = ?').pluck().get(id) as string | null;
    writer.db.prepare('UPDATE floxide_runs SET counts = NULL').run();
    const totals = vi.spyOn(SqliteRunReader.prototype as unknown as { totalsOf: () => unknown }, 'totalsOf');
    try {
      const fresh = SqliteRunsStore.open(file);
      try {
        for (const id of finished) {
          const counted = await countsOf(fresh, id);
          expect(kept(id), id).not.toBeNull();
          // what the fold says
          expect(counted, id).toEqual(await countsOf(store, id, true));
          // kept as SQLite counts them
          const reader = new SqliteRunReader(writer.db);
          const run = reader.run(id)!;
          expect(reader.finishedCounts(run), id).toEqual({ totals: reader.journalTotals(run.runNo), groups: reader.itemGroups(run) });
        }
      } finally {
        await fresh.close();
      }
      // read again, by another store: from the record, no row counted
      totals.mockClear();
      const again = SqliteRunsStore.open(file);
      try {
        for (const id of finished) expect(await countsOf(again, id), id).toEqual(await countsOf(store, id, true));
        expect(totals).not.toHaveBeenCalled();
      } finally {
        await again.close();
      }
      // open and failed runs keep none (a failed run can be resumed)
      for (const id of ['failed', 'voting']) expect(kept(id), id).toBeNull();
    } finally {
      totals.mockRestore();
    }
  });

  it('a finished run of a file another connection is writing to is counted, and its counts kept by a later read', async () => {
    writer.db.prepare("UPDATE floxide_runs SET counts = NULL WHERE run_id = 'long'").run();
    const other = new Database(file);
    const fresh = SqliteRunsStore.open(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      expect(await countsOf(fresh, 'long')).toEqual(await countsOf(store, 'long', true));
      other.exec('ROLLBACK');
      expect(writer.db.prepare("SELECT counts FROM floxide_runs WHERE run_id = 'long'").pluck().get()).toBeNull();
      await countsOf(fresh, 'long');
      expect(writer.db.prepare("SELECT counts FROM floxide_runs WHERE run_id = 'long'").pluck().get()).not.toBeNull();
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await fresh.close();
    }
  });

  it('a file of schema 13 (before kept counts) is upgraded on open and its finished runs read as the fold says them', async () => {
    const oldFile = join(dir, 'schema-13.db');
    const before = new SqliteCheckpointStore(oldFile);
    const loop = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
    await loop.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 12 }, before, 'done');
    await bindWorkflow(RetryWorkflowDef, new RetryWorkflow(2)).runWithCheckpoint(undefined, undefined, before, 'retried');
    undoKeptCounts(before.db);
    await before.close();
    const old = SqliteRunsStore.open(oldFile);
    try {
      for (const id of ['done', 'retried']) expect(await countsOf(old, id), id).toEqual(await countsOf(old, id, true));
      const after = new Database(oldFile, { readonly: true });
      try {
        expect(after.pragma('user_version', { simple: true })).toBe(14);
        expect(after.prepare('SELECT count(*) FROM floxide_runs WHERE counts IS NOT NULL').pluck().get()).toBe(2);
      } finally {
        after.close();
      }
    } finally {
      await old.close();
    }
  });
});

/** What `runs list`, `runs show --limit` and a run page read of run `runId` (the page's owner line aside: its heartbeat's age is worded at each read). */
async function firstReads(s: SqliteRunsStore, runId: string) {
  const { owner: _owner, run, ...view } = await runView(s, runId);
  const { owner: _o, ...record } = run as typeof run & { owner?: unknown };
  const context = await s.readContext(runId);
  return {
    view: { ...view, run: record },
    first: await s.pendingWork(runId, { limit: 2 }),
    parked: await s.pendingWork(runId, { statuses: ['in_progress', 'parked'] }),
    unparked: await s.pendingWork(runId, { statuses: ['pending'], limit: 3 }),
    metrics: await s.metrics(runId),
    counts: await s.itemCounts(runId),
    context,
    since: context.version >= 1 ? await s.readContext(runId, 1) : undefined,
    history: await s.stepHistory(runId, { limit: 3 }),
    errors: await s.errors(runId, { limit: 3 }),
  };
}

/** A run's metrics and item counts as store `s` reads them, or (`fromStates`) as its item states and history say them. */
async function countsOf(s: SqliteRunsStore, runId: string, fromStates = false) {
  if (!fromStates) return { metrics: await s.metrics(runId), counts: await s.itemCounts(runId) };
  const states = await s.itemStates(runId);
  const history = await s.stepHistory(runId);
  const counts: Record<string, Record<string, number>> = {};
  for (const st of states) (counts[st.node] ??= {})[st.status] = (counts[st.node]![st.status] ?? 0) + 1;
  const of = (status: string) => states.filter((st) => st.status === status).length;
  const metrics = {
    ...emptyMetrics(),
    enqueued: states.length,
    completed: of('completed'),
    retries: history.filter((h) => h.outcome === 'retry').length,
    failed: history.filter((h) => h.outcome === 'failed').length,
    deadLettered: of('dead_lettered'),
    dropped: of('dropped'),
  };
  return { metrics, counts };
}

/** A LoopWorkflow run `runId` (writer's, in this process) that pauses before each step of `at` until the next `reached` call after it. */
function pausedRun(runId: string, at: readonly number[]): { reached(step: number): Promise<void>; end(): Promise<void> } {
  const gates = new Map<number, () => void>();
  let paused = -1;
  let ended = false;
  const loop = new LoopWorkflow();
  loop.step.hook = (_ctx, i) => {
    if (ended || !at.includes(i)) return;
    paused = i;
    return new Promise<void>((r) => gates.set(i, r));
  };
  const running = bindWorkflow(LoopWorkflowDef, loop).runWithCheckpoint(new LoopCtx(), { i: 0, limit: Math.max(...at) + 10 }, writer, runId).catch((err: unknown) => err);
  return {
    async reached(step) {
      for (const [i, open] of gates) if (i < step) open();
      await vi.waitUntil(() => paused === step, { timeout: 30_000 });
    },
    async end() {
      ended = true;
      for (const open of gates.values()) open();
      await running;
    },
  };
}

/** Counts the journal steps the stores decode (SqliteRunReader.journal: every step it returns was read and decoded). */
function decodedSteps(): { count(): number; restore(): void } {
  const journal = vi.spyOn(SqliteRunReader.prototype, 'journal');
  return {
    count: () => journal.mock.results.reduce((n, r) => n + ((r.value as { steps: unknown[] } | undefined)?.steps.length ?? 0), 0),
    restore: () => journal.mockRestore(),
  };
}

/** What a run page and `runs show` read of run `runId` (a read that throws a `CorruptStateError`: that error). */
async function page(s: SqliteRunsStore, runId: string) {
  const orError = <T>(p: Promise<T>) => p.catch((err: unknown) => (err instanceof CorruptStateError ? err : Promise.reject(err)));
  return {
    view: await runView(s, runId),
    states: await s.itemStates(runId),
    history: await s.stepHistory(runId),
    context: await orError(s.readContext(runId)),
    contextTail: await orError(s.readContext(runId, undefined, { limit: 5 })),
    errors: await s.errors(runId),
    counts: await s.itemCounts(runId),
  };
}

/** {@link page} as a store that never read the run before reads it (folding it whole). */
async function whole(runId: string): ReturnType<typeof page> {
  const fresh = SqliteRunsStore.open(file);
  try {
    return await page(fresh, runId);
  } finally {
    await fresh.close();
  }
}

/** `a` and `b` read alike (but the owner's last heartbeat's age, worded at each read). */
function same(a: Awaited<ReturnType<typeof page>>, b: Awaited<ReturnType<typeof page>>): void {
  const { owner: _a, ...va } = a.view;
  const { owner: _b, ...vb } = b.view;
  expect({ ...a, view: va }).toEqual({ ...b, view: vb });
}

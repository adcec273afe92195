/**
 * One wide run as an operator reads it: a WideWorkflow run (test/fixtures/distributed/wide.ts) that fanned out 5,000
 * items, most still waiting, on real Redis and Postgres (a worker stepped its fan-out and a few rows; two rows are
 * leased by a worker) and in a SQLite checkpoint file (its `runWithCheckpoint` held open after a few rows). `runs list`,
 * `runs show --limit` and the dashboard's run page read a page of its items, not all 5,000 (counted at the store), and
 * show what they showed when they read them all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import type { DistributedBackend, PendingWorkOptions } from '../../runtime/distributed/contracts.js';
import type { RunsStore } from '../../cli/store/runs-store.js';
import { SqliteRunsStore } from '../../cli/store/sqlite-runs.js';
import { LIST_CAP, runView } from '../../cli/ui/views.js';
import { WideCtx, WideWorkflow } from '../fixtures/distributed/wide.js';
import { WideWorkflowDef } from '../fixtures/distributed/wide.floxide.js';
import { openTestBackend, until, type TestBackend } from '../distributed/helpers.js';
import { cliCaptured } from './run-cli.js';

const N = 5_000;
const ROWS_DONE = 3;

/** `store` with every item its `pendingWork` returns counted (`read`), and the same store read as before the fix: every outstanding item, whatever the options (`whole`). */
function counted(store: RunsStore): { store: RunsStore; whole: RunsStore; read: () => number } {
  let read = 0;
  const wrap = (pendingWork: RunsStore['pendingWork']): RunsStore =>
    new Proxy(store, { get: (target, key, receiver) => (key === 'pendingWork' ? pendingWork : Reflect.get(target, key, receiver)) });
  return {
    store: wrap(async (runId: string, options?: PendingWorkOptions) => {
      const items = await store.pendingWork(runId, options);
      read += items.length;
      return items;
    }),
    whole: wrap((runId: string) => store.pendingWork(runId)),
    read: () => read,
  };
}

/** The run page's parts made of items (the run's record and counts aside: a live file's owner heartbeat moves). */
const itemParts = (v: Awaited<ReturnType<typeof runView>>) => ({ outstanding: v.outstanding, waits: v.waits, workers: v.workers, nodes: v.nodes });

async function readsAPage(store: RunsStore, runId: string, outstanding: number, leased: number): Promise<void> {
  const c = counted(store);
  // the run page: its first LIST_CAP items and those in progress (none parked here)
  const page = await runView(c.store, runId);
  expect(c.read()).toBe(LIST_CAP + leased);
  expect(page.outstanding).toHaveLength(LIST_CAP);
  expect(itemParts(page)).toEqual(itemParts(await runView(c.whole, runId)));
  expect(page.nodes.row).toMatchObject({ queued: outstanding - leased, running: leased, done: ROWS_DONE });
  // runs list: the run's row as when it read every item, from its first 20 items and those in progress
  const before = c.read();
  const list = await cliCaptured(['runs', 'list', '--store', 'x:', '--json'], { connect: async () => c.store as DistributedBackend });
  expect(list.code, list.err).toBe(0);
  expect(c.read() - before).toBe(20 + leased);
  const whole = await cliCaptured(['runs', 'list', '--store', 'x:', '--json'], { connect: async () => c.whole as DistributedBackend });
  expect(list.out).toBe(whole.out);
  expect((JSON.parse(list.out) as Array<{ runId: string; status: string }>).map((r) => [r.runId, r.status])).toEqual([[runId, 'running']]);
  // runs show --limit 20: a page of each list (the first items, the newest attempts and deltas), as cut from the whole
  const fromShow = async (...args: string[]) => {
    const shown = await cliCaptured(['runs', 'show', runId, '--store', 'x:', '--json', '--context', ...args], { connect: async () => c.store as DistributedBackend });
    expect(shown.code, shown.err).toBe(0);
    return JSON.parse(shown.out) as { pending: unknown[]; history: unknown[]; waits: unknown[]; workers: unknown[]; context: { deltas: unknown[] }; contextVersion: number };
  };
  const beforeShow = c.read();
  const shownPage = await fromShow('--limit', '20');
  expect(c.read() - beforeShow).toBe(20 + leased);
  const all = await fromShow();
  expect(shownPage.pending).toEqual(all.pending.slice(0, 20));
  expect(shownPage.history).toEqual(all.history.slice(-20));
  expect(shownPage.context.deltas).toEqual(all.context.deltas.slice(-20));
  expect([shownPage.waits, shownPage.workers, shownPage.contextVersion]).toEqual([all.waits, all.workers, all.contextVersion]);
}

describe('a run with 5,000 items waiting: runs list and the run page read a page of them', () => {
  const opened: TestBackend[] = [];
  afterAll(async () => {
    for (const t of opened) await t.dispose();
  });

  for (const name of ['redis', 'postgres'] as const) {
    it(`on ${name}`, async () => {
      const t = await openTestBackend(name, 'bigrun');
      opened.push(t);
      const b = t.backend;
      const wf = bindWorkflow(WideWorkflowDef, new WideWorkflow());
      await wf.startDistributed(new WideCtx(), N, b, 'wide');
      for (let i = 0; i <= ROWS_DONE; i++) await wf.stepDistributed(b, 'w1');
      // two rows leased by a worker that has not finished them
      expect(await b.claim('w2', 2, 60_000)).toHaveLength(2);
      await readsAPage(b, 'wide', N - ROWS_DONE, 2);
    }, 60_000);
  }

  it('in a SQLite checkpoint file, its run held open by its process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floxide-bigrun-'));
    const file = join(dir, 'runs.db');
    const writer = new SqliteCheckpointStore(file);
    let rows = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const run = bindWorkflow(WideWorkflowDef, new WideWorkflow(async () => {
      if (++rows > ROWS_DONE) await held;
    })).runWithCheckpoint(new WideCtx(), N, writer, 'wide');
    const store = SqliteRunsStore.open(file);
    try {
      await until(async () => (await writer.getRun('wide')) !== undefined && (await writer.stepHistory('wide')).length === 1 + ROWS_DONE, 20_000, 'the fan-out and the first rows');
      await readsAPage(store, 'wide', N - ROWS_DONE, 0);
    } finally {
      release();
      await run;
      await store.close();
      await writer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

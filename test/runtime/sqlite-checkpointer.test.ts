import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { WalCheckpointer } from '../../runtime/stores/sqlite-checkpointer.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `w${n++}.db`);
const walSize = (f: string) => (existsSync(`${f}-wal`) ? statSync(`${f}-wal`).size : 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pageSize = (store: SqliteCheckpointStore) => store.db.pragma('page_size', { simple: true }) as number;

/** Creates `runId` and commits `steps` one-item steps (the store's hot path). */
async function commitSteps(store: SqliteCheckpointStore, runId: string, steps: number): Promise<void> {
  await store.createRun({ runId, workflow: 'W', fingerprint: 'f', input: 0, context: {}, deadline: undefined, start: { node: 'a', id: '0', input: 0 } });
  for (let i = 0; i < steps; i++) {
    const r = await store.commitStep(runId, { itemId: String(i), items: [{ node: 'a', id: String(i + 1), input: i }], arrivals: [], delta: { n: i }, counter: i + 1, seq: i + 1 });
    expect(r.applied).toBe(true);
  }
}

describe('SQLite background WAL checkpoints', () => {
  it('turns SQLite auto-checkpoint off only where a worker can checkpoint (file, not exclusive, not :memory:)', async () => {
    const stores = [
      [new SqliteCheckpointStore(file()), 0],
      [new SqliteCheckpointStore(file(), { checkpoints: 'inline', walAutocheckpointPages: 123 }), 123],
      [new SqliteCheckpointStore(file(), { exclusive: true }), 10_000],
      [new SqliteCheckpointStore(':memory:'), 10_000],
    ] as const;
    for (const [store, pages] of stores) {
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(pages);
      await store.close();
    }
  });

  it('the worker copies the WAL back while the store is idle, so the next run reuses the WAL from its start', async () => {
    const f = file();
    const store = new SqliteCheckpointStore(f);
    await commitSteps(store, 'a', 2500);
    const first = walSize(f);
    // Each commit appends at least one frame (a page plus its header).
    expect(first).toBeGreaterThan(2500 * pageSize(store));
    // The worker checkpoints on its 1 s timer after commits happened; a fully copied WAL restarts at the next write.
    await sleep(2300);
    await commitSteps(store, 'b', 2500);
    expect(walSize(f)).toBeLessThan(first * 1.2);
    expect((await store.getRun('b'))?.steps).toBe(2500);
    await store.close();
    expect(walSize(f)).toBe(0);
    const reopened = new SqliteCheckpointStore(f);
    expect((await reopened.load('a'))?.run.steps).toBe(2500);
    await reopened.close();
  });

  it('bounds the WAL of a long run: at maxWalPages the committing thread checkpoints inline', async () => {
    const f = file();
    const store = new SqliteCheckpointStore(f, { maxWalPages: 1000 });
    await commitSteps(store, 'long', 6000);
    // Without the bound the WAL would hold all 6,000 steps' frames (at least 6,000 pages); the bound is an
    // estimate (frames per commit), hence the slack.
    expect(walSize(f)).toBeLessThan(2500 * pageSize(store));
    expect((await store.getRun('long'))?.steps).toBe(6000);
    await store.close();
  });

  it('a failed worker is reported as a StoreError and the store falls back to inline checkpoints', async () => {
    const errors: StoreError[] = [];
    const cp = new WalCheckpointer({
      file: join(dir, 'missing', 'nope.db'),
      busyTimeoutMs: 100,
      commitsPerCheckpoint: 10,
      intervalMs: 50,
      maxWalPages: 1e9,
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 200 && errors.length === 0; i++) {
      cp.noteCommit();
      await sleep(10);
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoreError);
    expect(errors[0]!.message).toMatch(/background WAL checkpoint failed|exited/);
    expect(cp.active).toBe(false);
    await cp.close();
  });

  it('without onBackgroundError the next write throws the failure once, then the store keeps working', async () => {
    const f = file();
    const store = new SqliteCheckpointStore(f);
    await commitSteps(store, 'x', 10);
    // Simulate the worker's failure report through the same path the checkpointer uses.
    (store as unknown as { report(e: StoreError): void }).report(new StoreError('disk on fire'));
    await expect(commitSteps(store, 'y', 1)).rejects.toThrow('disk on fire');
    await commitSteps(store, 'z', 3);
    expect((await store.getRun('z'))?.steps).toBe(3);
    await store.close();
  });
});

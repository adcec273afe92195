/**
 * `SqliteCheckpointStore.purgeFinished` (and `floxide runs purge --store sqlite:<file>`): a checkpoint file deletes
 * nothing by itself, so its finished runs are deleted on request, with every row the file holds of them, while open
 * runs stay untouched, and a run id can be used again afterwards, also by another process that remembered the old
 * run's number.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, type CheckpointStepCommit, type EngineItem, type JoinArrival } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { PURGE_ROWS_PER_TRANSACTION } from '../../runtime/stores/sqlite.js';
import { cliCaptured } from '../cli/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-purge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const item = (id: string, input: unknown = id): EngineItem => ({ node: 'n', id, input });
const history = (itemId: string) => ({ node: 'n', attempt: 1, startedAt: Date.now(), finishedAt: Date.now(), retries: [] });
const step = (itemId: string, seq: number, items: EngineItem[], arrivals: JoinArrival[] = []): CheckpointStepCommit => ({
  itemId,
  items,
  arrivals,
  delta: { count: 1 },
  counter: seq,
  seq,
  history: history(itemId),
});
const arrival = (index: number): JoinArrival => ({ group: 'g', index, size: 2, node: 'j', value: index, held: false, outer: [] });

/** A run with a step (two items), a parked join arrival, a signal with a key, a step history and a version move. */
async function seed(s: SqliteCheckpointStore, runId: string): Promise<void> {
  await s.createRun({ runId, workflow: 'W', fingerprint: 'fp', input: runId, context: { count: 0 }, deadline: undefined, start: item('0') });
  await s.commitStep(runId, step('0', 1, [item('1'), item('2')]));
  await s.commitStep(runId, step('1', 2, [], [arrival(0)]));
  await s.signal(runId, 'approval', { ok: true }, `key-${runId}`);
  await s.migrate(runId, { from: 'fp', to: 'fp2', renames: {} });
}

/** Rows each table of the file holds for `runId`. */
function rowsOf(s: SqliteCheckpointStore, runId: string): Record<string, number> {
  const no = (s.db.prepare('SELECT run_no FROM floxide_runs WHERE run_id = ?').get(runId) as { run_no: number } | undefined)?.run_no ?? -1;
  const count = (sql: string, ...args: unknown[]) => (s.db.prepare(sql).get(...args) as { n: number }).n;
  return {
    runs: count('SELECT count(*) AS n FROM floxide_runs WHERE run_id = ?', runId),
    journal: count('SELECT count(*) AS n FROM floxide_journal WHERE run_no = ?', no),
    failures: count('SELECT count(*) AS n FROM floxide_failures WHERE run_no = ?', no),
    arrivals: count('SELECT count(*) AS n FROM floxide_arrivals WHERE run_id = ?', runId),
    groups: count('SELECT count(*) AS n FROM floxide_groups WHERE run_id = ?', runId),
    signals: count('SELECT count(*) AS n FROM floxide_signals WHERE run_id = ?', runId),
    moves: count('SELECT count(*) AS n FROM floxide_moves WHERE run_no = ?', no),
  };
}

const NONE = { runs: 0, journal: 0, failures: 0, arrivals: 0, groups: 0, signals: 0, moves: 0 };

describe('purging finished runs from a SQLite checkpoint file', () => {
  it('deletes completed, failed and cancelled runs past the age, with all their rows; open and younger runs stay', async () => {
    const s = new SqliteCheckpointStore(join(dir, `p${files++}.db`));
    try {
      for (const id of ['done', 'failed', 'cancelled', 'open', 'young']) await seed(s, id);
      await s.complete('done', { itemId: '2', seq: 3, output: 'out', delta: undefined, counter: 3, history: history('2') });
      await s.fail('failed', { name: 'Error', message: 'boom' }, { itemId: '2', ...history('2'), error: { name: 'Error', message: 'boom' } });
      await s.cancel('cancelled');
      await s.complete('young', { itemId: '2', seq: 3, output: 'out', delta: undefined, counter: 3, history: history('2') });
      expect(rowsOf(s, 'failed').failures).toBe(1);
      // finished a day ago (the file's own times, as the store wrote them, moved back)
      const dayAgo = Date.now() - 86_400_000;
      s.db.prepare(`UPDATE floxide_runs SET updated_at = ? WHERE run_id IN ('done', 'failed', 'cancelled', 'open')`).run(dayAgo);

      expect(await s.purgeFinished()).toBe(0); // the default keeps 7 days
      expect(await s.purgeFinished({ olderThanMs: 3_600_000 })).toBe(3);
      for (const id of ['done', 'failed', 'cancelled']) {
        expect(rowsOf(s, id), id).toEqual(NONE);
        expect(await s.getRun(id)).toBeUndefined();
      }
      expect(rowsOf(s, 'open')).toEqual({ runs: 1, journal: 2, failures: 0, arrivals: 1, groups: 1, signals: 1, moves: 1 });
      expect((await s.getRun('open'))!.status).toBe('running');
      expect((await s.getRun('young'))!.status).toBe('completed');
      // the open run goes on as before
      expect((await s.commitStep('open', step('2', 3, [], [arrival(1)]))).applied).toBe(true);
      expect(await s.purgeFinished({ olderThanMs: 0 })).toBe(1); // young
      expect(await s.purgeFinished({ olderThanMs: 0 })).toBe(0);
      // (the version moves of purged runs went with them: only the open run's is left)
      const openNo = s.db.prepare("SELECT run_no FROM floxide_runs WHERE run_id = 'open'").pluck().get();
      expect(s.db.prepare('SELECT run_no FROM floxide_moves').pluck().all()).toEqual([openNo]);
    } finally {
      await s.close();
    }
  });

  it('deletes at most `limit` runs per call, oldest first, and refuses bad options', async () => {
    const s = new SqliteCheckpointStore(join(dir, `p${files++}.db`));
    try {
      for (let i = 0; i < 5; i++) {
        await s.createRun({ runId: `r${i}`, workflow: 'W', fingerprint: 'fp', input: i, context: {}, deadline: undefined, start: item('0') });
        await s.cancel(`r${i}`);
      }
      s.db.prepare('UPDATE floxide_runs SET updated_at = 1000 + run_no').run();
      expect(await s.purgeFinished({ olderThanMs: 0, limit: 2 })).toBe(2);
      expect((await Promise.all(['r0', 'r1', 'r2'].map((id) => s.getRun(id)))).map((r) => r !== undefined)).toEqual([false, false, true]);
      await expect(s.purgeFinished({ olderThanMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(s.purgeFinished({ limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(s.purgeFinished({ olderThanMs: Number.NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
    } finally {
      await s.close();
    }
  });

  it('deletes long runs a few at a time, letting the writes of other connections in between (no SQLITE_BUSY for them)', async () => {
    const file = join(dir, `p${files++}.db`);
    const s = new SqliteCheckpointStore(file, { checkpoints: 'inline' });
    const running = new SqliteCheckpointStore(file, { checkpoints: 'inline' });
    try {
      // four finished runs of 0.6 x PURGE_ROWS_PER_TRANSACTION steps each: two per transaction
      const steps = Math.ceil(PURGE_ROWS_PER_TRANSACTION * 0.6);
      s.db.exec('BEGIN');
      for (let r = 0; r < 4; r++) {
        await s.createRun({ runId: `long${r}`, workflow: 'W', fingerprint: 'fp', input: r, context: {}, deadline: undefined, start: item('0') });
        for (let i = 0; i < steps; i++) await s.commitStep(`long${r}`, step(String(i), i + 1, [item(String(i + 1))]));
        await s.cancel(`long${r}`);
      }
      s.db.exec('COMMIT');
      await running.createRun({ runId: 'live', workflow: 'W', fingerprint: 'fp', input: 0, context: {}, deadline: undefined, start: item('0') });
      // a process running a workflow commits a step as soon as it can: between the purge's transactions
      const seen = new Promise<{ applied: boolean; left: number }>((resolve, reject) =>
        setTimeout(() => {
          running
            .commitStep('live', step('0', 1, [item('1')]))
            .then(({ applied }) => resolve({ applied, left: (running.db.prepare("SELECT count(*) AS n FROM floxide_runs WHERE run_id GLOB 'long*'").get() as { n: number }).n }), reject);
        }, 0),
      );
      expect(await s.purgeFinished({ olderThanMs: 0 })).toBe(4);
      expect(await seen).toEqual({ applied: true, left: 2 });
      expect(rowsOf(s, 'long0')).toEqual(NONE);
      expect((await s.getRun('live'))?.steps).toBe(1);
    } finally {
      await s.close();
      await running.close();
    }
  });

  it('a purged run id can be used again, also by a store that remembered the old run (another process)', async () => {
    const file = join(dir, `p${files++}.db`);
    const a = new SqliteCheckpointStore(file);
    const b = new SqliteCheckpointStore(file);
    try {
      await seed(a, 'again');
      await a.complete('again', { itemId: '2', seq: 3, output: 'first', delta: undefined, counter: 3, history: history('2') });
      expect(await b.purgeFinished({ olderThanMs: 0 })).toBe(1);
      // the key of the purged run's signal is gone with it
      await seed(b, 'again');
      expect(rowsOf(b, 'again')).toEqual({ runs: 1, journal: 2, failures: 0, arrivals: 1, groups: 1, signals: 1, moves: 1 });
      // `a` still remembers the old run's number: its commit goes to the new run
      expect((await a.commitStep('again', step('2', 3, [], [arrival(1)]))).applied).toBe(true);
      // (the join's settlement item, which the arrival above completed)
      const { dropped } = await a.complete('again', { itemId: 'g:join', seq: 4, output: 'second', delta: undefined, counter: 4, history: history('g:join') });
      expect(dropped).toEqual([]);
      expect((await b.load('again'))!.run.output).toBe('second');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('`floxide runs purge` deletes the finished runs of a file, and explains a store that expires its own', async () => {
    const file = join(dir, `p${files++}.db`);
    const s = new SqliteCheckpointStore(file);
    await seed(s, 'done');
    await s.complete('done', { itemId: '2', seq: 3, output: 'out', delta: undefined, counter: 3, history: history('2') });
    await seed(s, 'open');
    await s.close();

    const kept = await cliCaptured(['runs', 'purge', '--store', `sqlite:${file}`]);
    expect([kept.code, kept.out, kept.err]).toEqual([0, '0 finished run(s) deleted\n', '']);
    const purged = await cliCaptured(['runs', 'purge', '--store', `sqlite:${file}`, '--older-than-ms', '0', '--json']);
    expect([purged.code, purged.out, purged.err]).toEqual([0, '{"purged":1}\n', '']);
    const list = await cliCaptured(['runs', 'list', '--store', `sqlite:${file}`, '--json']);
    expect((JSON.parse(list.out) as { runId: string }[]).map((r) => r.runId)).toEqual(['open']);

    const bad = await cliCaptured(['runs', 'purge', '--store', `sqlite:${file}`, '--older-than-ms', '1d']);
    expect([bad.code, bad.err]).toEqual([2, 'floxide runs: --older-than-ms must be an integer >= 0, got "1d"\n']);
    const redis = await cliCaptured(['runs', 'purge', '--store', 'redis://127.0.0.1:6379?prefix=floxide-purge-test:']);
    expect([redis.code, redis.err]).toEqual([1, 'floxide runs: a redis store deletes its finished runs by itself (retainFinishedMs): there is nothing to purge\n']);
  });
});

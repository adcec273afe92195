// The SQLite journal (migration 003): numbered and named item ids, the upgrade of a 002 file, and completion from
// the store's in-memory track of a loaded run, which must give what the SQL scan of the journal gives.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptStateError, InvalidArgumentError, RunNotFoundError, RunStateError, type CheckpointStepCommit, type EngineItem, type JoinArrival } from 'floxide';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { NestedHoldsWorkflow } from '../fixtures/rules/flows.js';
import { NestedHoldsWorkflowDef } from '../fixtures/rules/flows.floxide.js';
import { ChainWorkflow, CountCtx } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef } from '../fixtures/distributed/flows.floxide.js';
import { SQLITE_MIGRATIONS, SqliteCheckpointStore } from 'floxide/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'floxide-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const item = (id: string, input: unknown = id): EngineItem => ({ node: 'n', id, input });
const step = (itemId: string, seq: number, items: EngineItem[], arrivals: JoinArrival[] = []): CheckpointStepCommit => ({
  itemId,
  items,
  arrivals,
  delta: { count: 1 },
  counter: seq,
  seq,
});
const arrival = (index: number): JoinArrival => ({ group: '0', index, size: 2, node: 'j', value: index, held: false, outer: [] });

/** Plays `steps` then completes with `last`; `load` first makes the store track the run. Returns the dropped items. */
async function play(steps: CheckpointStepCommit[], last: { itemId: string; seq: number }, load: boolean): Promise<readonly EngineItem[]> {
  const s = new SqliteCheckpointStore(join(dir, `j${files++}.db`));
  try {
    await s.createRun({ runId: 'r', workflow: 'W', fingerprint: 'fp', input: 1, context: { count: 0 }, deadline: undefined, start: item('0') });
    if (load) await s.load('r');
    for (const c of steps) await s.commitStep('r', c);
    const { dropped } = await s.complete('r', { ...last, output: 'out', delta: undefined, counter: 0 });
    expect((await s.load('r'))!.run.dropped).toEqual(dropped);
    return dropped;
  } finally {
    await s.close();
  }
}

describe('SQLite journal', () => {
  const histories: [string, CheckpointStepCommit[], { itemId: string; seq: number }][] = [
    [
      'fan-out, named ids and a join',
      [
        step('0', 1, [item('1'), item('2'), item('3'), item('x')]),
        step('1', 2, [], [arrival(0)]),
        step('2', 3, [], [arrival(1)]),
        step('x', 4, [item('4'), item('y:z')]),
      ],
      { itemId: '4', seq: 5 },
    ],
    ['an id produced again after a step consumed it', [step('0', 1, [item('1'), item('2')]), step('1', 2, [item('1', 'again'), item('3')])], { itemId: '2', seq: 3 }],
    ['a step that consumed no pending item', [step('0', 1, [item('1')]), step('7', 2, [item('2')])], { itemId: '1', seq: 3 }],
    ['commits out of seq order', [step('0', 5, [item('1'), item('2')]), step('1', 2, [item('3')])], { itemId: '2', seq: 9 }],
    ['the start item still pending', [step('5', 1, [item('6')])], { itemId: '6', seq: 2 }],
  ];
  for (const [name, steps, last] of histories) {
    it(`completion from the tracked run equals the SQL scan: ${name}`, async () => {
      const tracked = await play(steps, last, true);
      expect(tracked).toEqual(await play(steps, last, false));
    });
  }

  it('a step committed by another connection after the load is seen by the completion', async () => {
    const file = join(dir, `j${files++}.db`);
    const a = new SqliteCheckpointStore(file);
    const b = new SqliteCheckpointStore(file);
    try {
      await a.createRun({ runId: 'r', workflow: 'W', fingerprint: 'fp', input: 1, context: {}, deadline: undefined, start: item('0') });
      await a.load('r');
      await a.commitStep('r', step('0', 1, [item('1'), item('2')]));
      await b.commitStep('r', step('2', 2, [item('3')]));
      const { dropped } = await a.complete('r', { itemId: '1', seq: 3, output: 'out', delta: undefined, counter: 0 });
      expect(dropped).toEqual([item('3')]);
      expect((await a.getRun('r'))!.steps).toBe(3);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a commit finds its run by the run_no the store remembers: each run its own, the status still checked, an unknown run refused', async () => {
    const file = join(dir, `j${files++}.db`);
    const a = new SqliteCheckpointStore(file);
    const b = new SqliteCheckpointStore(file);
    try {
      for (const id of ['r1', 'r2']) await a.createRun({ runId: id, workflow: 'W', fingerprint: 'fp', input: 1, context: {}, deadline: undefined, start: item('0') });
      await a.commitStep('r2', step('0', 1, [item('1')]));
      await a.commitStep('r1', step('0', 1, [item('5')]));
      const owners = a.db.prepare('SELECT r.run_id, j.k - (j.run_no << 40) AS n FROM floxide_journal j JOIN floxide_runs r ON r.run_no = j.run_no ORDER BY r.run_id').all();
      expect(owners).toEqual([{ run_id: 'r1', n: 0 }, { run_id: 'r2', n: 0 }]);
      // another connection finishes r1 after this store remembered its run_no: the next commit is refused
      await b.cancel('r1');
      await expect(a.commitStep('r1', step('5', 2, []))).rejects.toBeInstanceOf(RunStateError);
      await expect(a.commitStep('nope', step('0', 1, []))).rejects.toBeInstanceOf(RunNotFoundError);
      await expect(a.commitStep('nope', step('x:join', 1, []))).rejects.toBeInstanceOf(RunNotFoundError);
      expect((await a.load('r2'))!.items).toEqual([item('1')]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keys the steps of runs numbered past 2^13 apart (a bound item number is a double: the key was computed in floating point), and refuses a run past the last number its keys hold', async () => {
    const file = join(dir, `j${files++}.db`);
    const s = new SqliteCheckpointStore(file);
    try {
      const wf = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
      await s.createRun({ runId: 'first', workflow: 'W', fingerprint: 'fp', input: 1, context: {}, deadline: undefined, start: item('0') });
      // the runs after 8,189 others, and after 8,388,600: every step of a 5-step chain is its own
      for (const [seq, id] of [[8_189, 'mid'], [8_388_600, 'late']] as const) {
        s.db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'floxide_runs'").run(seq);
        expect(await wf.runWithCheckpoint(new CountCtx(), 1, s, id)).toBe(await wf.run(new CountCtx(), 1));
        expect(await s.stepHistory(id)).toHaveLength(5);
      }
      s.db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'floxide_runs'").run(2 ** 23 - 1);
      await expect(wf.runWithCheckpoint(new CountCtx(), 1, s, 'full')).rejects.toMatchObject({ code: 'FLOXIDE_STORE_FULL' });
      expect(await s.getRun('full')).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('a version move renames the pending items of a run whose journal keys pass 2^53 (read as numbers, they named other rows or none)', async () => {
    const s = new SqliteCheckpointStore(join(dir, `j${files++}.db`));
    try {
      await s.createRun({ runId: 'first', workflow: 'W', fingerprint: 'fp', input: 1, context: {}, deadline: undefined, start: item('0') });
      s.db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'floxide_runs'").run(9_000);
      await s.createRun({ runId: 'r', workflow: 'W', fingerprint: 'fp', input: 1, context: {}, deadline: undefined, start: { node: 'a', id: '0', input: 0 } });
      // b's pending item was enqueued by the step that consumed item 1: its row's key is odd, past 2^53
      await s.commitStep('r', step('0', 1, [{ node: 'b', id: '1', input: 1 }]));
      await s.commitStep('r', step('1', 2, [{ node: 'b', id: '2', input: 2 }]));
      await s.migrate('r', { from: 'fp', to: 'fp2', renames: { b: 'shout' } });
      expect((await s.load('r'))!.items).toEqual([{ node: 'shout', id: '2', input: 2 }]);
    } finally {
      await s.close();
    }
  });

  it('numbered and named ids are idempotency keys; the floxide_steps view shows them as text', async () => {
    const file = join(dir, `j${files++}.db`);
    const s = new SqliteCheckpointStore(file);
    try {
      await s.createRun({ runId: 'r', workflow: 'W', fingerprint: 'fp', input: 1, context: {}, deadline: undefined, start: item('0') });
      // Ids that look numeric but are not canonical (leading zero, too large) are named ids.
      const ids = ['0', '', '00', '549755813887', '549755813888', '1e3', ' 1', 'a:join'];
      for (const [i, id] of ids.entries()) expect((await s.commitStep('r', step(id, i + 1, []))).applied).toBe(true);
      for (const [i, id] of ids.entries()) expect((await s.commitStep('r', step(id, i + 10, []))).applied).toBe(false);
      const rows = s.db.prepare('SELECT item_id FROM floxide_steps WHERE run_id = ? ORDER BY seq').all('r') as { item_id: string }[];
      expect(rows.map((r) => r.item_id)).toEqual(ids);
      expect((await s.getRun('r'))!.steps).toBe(ids.length);
    } finally {
      await s.close();
    }
  });

  it('a new file gets pageSize (default 1024); an existing file keeps its own; a bad size is refused', async () => {
    const file = join(dir, `j${files++}.db`);
    const first = new SqliteCheckpointStore(file, { pageSize: 4096 });
    expect(first.db.pragma('page_size', { simple: true })).toBe(4096);
    await first.close();
    const again = new SqliteCheckpointStore(file);
    expect(again.db.pragma('page_size', { simple: true })).toBe(4096);
    await again.close();
    const fresh = new SqliteCheckpointStore(join(dir, `j${files++}.db`));
    expect(fresh.db.pragma('page_size', { simple: true })).toBe(1024);
    await fresh.close();
    expect(() => new SqliteCheckpointStore(join(dir, `j${files++}.db`), { pageSize: 1000 })).toThrow(InvalidArgumentError);
  });

  it('a 002 file upgrades: its journal rows keep their ids, order and idempotency', async () => {
    const file = join(dir, `j${files++}.db`);
    const v2 = new Database(file);
    v2.pragma('journal_mode = WAL');
    for (const m of SQLITE_MIGRATIONS.slice(0, 2)) v2.exec(readFileSync(new URL(`../../runtime/stores/migrations/${m}`, import.meta.url), 'utf8'));
    v2.pragma('user_version = 2');
    const insertRun = v2.prepare(
      `INSERT INTO floxide_runs (run_id, workflow, fingerprint, input, context, start, status, created_at, updated_at)
       VALUES (?, 'W', 'fp', '1', '{"count":0}', ?, 'running', ?, 1)`,
    );
    insertRun.run('b', JSON.stringify(item('0')), 2);
    insertRun.run('a', JSON.stringify(item('0')), 1);
    const insertStep = v2.prepare('INSERT INTO floxide_steps (run_id, item_id, seq, delta, items, counter) VALUES (?, ?, ?, ?, ?, ?)');
    insertStep.run('a', '0', 1, '{"count":1}', JSON.stringify([item('1'), item('g:join')]), 1);
    insertStep.run('a', 'g:join', 2, null, JSON.stringify([item('10')]), 1);
    insertStep.run('a', '1', 3, '{"count":2}', '[]', 1);
    insertStep.run('b', '0', 1, null, JSON.stringify([item('1')]), 1);
    v2.close();

    const s = new SqliteCheckpointStore(file);
    try {
      expect(s.db.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
      const a = (await s.load('a'))!;
      expect(a.items).toEqual([item('10')]);
      expect(a.deltas).toEqual([{ count: 1 }, { count: 2 }]);
      expect(a.run.steps).toBe(3);
      expect((await s.load('b'))!.items).toEqual([item('1')]);
      expect((await s.commitStep('a', step('g:join', 9, []))).applied).toBe(false);
      expect((await s.commitStep('a', step('1', 9, []))).applied).toBe(false);
      expect((await s.commitStep('a', step('10', 4, [item('11')]))).applied).toBe(true);
      expect((await s.complete('a', { itemId: '11', seq: 5, output: 1, delta: undefined, counter: 1 })).dropped).toEqual([]);
      expect((await s.complete('b', { itemId: '0', seq: 2, output: 1, delta: undefined, counter: 1 }).catch((e: Error) => e.name))).toBe('RunStateError');
    } finally {
      await s.close();
    }
  });
});

describe('corrupt stored data in a SQLite checkpoint', () => {
  /** A run of NestedHoldsWorkflow created but not started, its row then changed by `corrupt`; resume's error. */
  async function resumeCorrupt(column: 'context' | 'start', text: string): Promise<unknown> {
    const wf = bindWorkflow(NestedHoldsWorkflowDef, new NestedHoldsWorkflow());
    const s = new SqliteCheckpointStore(join(dir, `j${files++}.db`));
    try {
      const input = [[1, 2], [3, 4]];
      await s.createRun({ runId: 'r', workflow: NestedHoldsWorkflowDef.name, fingerprint: NestedHoldsWorkflowDef.fingerprint, input, context: { steps: 0 }, deadline: undefined, start: { node: 'outer', id: '0', input } });
      s.db.prepare(`UPDATE floxide_runs SET ${column} = ? WHERE run_id = 'r'`).run(text);
      return await wf.resume(s, 'r').then(
        (out) => out,
        (e: unknown) => e,
      );
    } finally {
      await s.close();
    }
  }

  it('a @merge.sum() field holding a string is CorruptStateError, not dropped increments', async () => {
    const e = await resumeCorrupt('context', '{"steps":"many"}');
    expect(e).toBeInstanceOf(CorruptStateError);
    expect((e as Error).message).toBe('stored context field "steps" (@merge.sum) holds "many", not a number');
  });

  it("a corrupt delta in the middle of a run's history: resume fails with CorruptStateError naming the run and the step; another run of the file resumes", async () => {
    const wf = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
    const file = join(dir, `j${files++}.db`);
    const s = new SqliteCheckpointStore(file);
    try {
      // two runs whose process died after their third commit (every later store call fails, as for a dead process)
      for (const runId of ['a', 'b']) {
        let commits = 0;
        let dead = false;
        const dying = new Proxy(s, {
          get(target, key) {
            const v = Reflect.get(target, key) as unknown;
            if (typeof v !== 'function') return v;
            return (...args: unknown[]) => {
              if (key === 'commitStep' && ++commits > 3) dead = true;
              if (dead) throw new Error('the process died');
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
        await expect(wf.runWithCheckpoint(new CountCtx(), 1, dying, runId)).rejects.toThrow('the process died');
      }
      const [{ seq }] = s.db
        .prepare(
          `UPDATE floxide_journal SET delta = '{"count":' WHERE k = (SELECT j.k FROM floxide_journal j JOIN floxide_runs r ON r.run_no = j.run_no
           WHERE r.run_id = 'a' ORDER BY j.seq LIMIT 1 OFFSET 1) RETURNING seq`,
        )
        .all() as [{ seq: number }];
      expect(seq).toBeDefined();
    } finally {
      await s.close();
    }
    // a new process resumes both
    const again = new SqliteCheckpointStore(file);
    try {
      const e = await wf.resume(again, 'a').then(
        (out) => out,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(CorruptStateError);
      expect((e as Error).message).toMatch(/^run a step \d+ delta: malformed JSON \(Unexpected end of JSON input\)$/);
      expect(await wf.resume(again, 'b')).toBe(6);
    } finally {
      await again.close();
    }
  });

  it('a stored item that is not an object is CorruptStateError naming the run', async () => {
    const e = await resumeCorrupt('start', '42');
    expect(e).toBeInstanceOf(CorruptStateError);
    expect((e as Error).message).toBe('run r: a stored work item is not an object: 42');
  });
});

describe('a new checkpoint file opened by many processes at once', () => {
  it('is migrated once: every process gets a working store', async () => {
    const { execFile } = await import('node:child_process');
    const worker = new URL('./sqlite-open-worker.ts', import.meta.url).pathname;
    for (let round = 0; round < 2; round++) {
      const file = join(dir, `opened-at-once-${round}.db`);
      const n = 8;
      const at = Date.now() + 4000;
      const answers = Array.from(
        { length: n },
        (_, i) => new Promise<string>((resolve) => execFile(process.execPath, ['--import', 'tsx', worker, file, String(i), String(at)], (err, out) => resolve(err ? err.message : out))),
      );
      expect(await Promise.all(answers)).toEqual(Array.from({ length: n }, () => 'ok'));
      const db = new Database(file, { readonly: true });
      expect([db.pragma('user_version', { simple: true }), (db.prepare('SELECT count(*) AS n FROM floxide_runs').get() as { n: number }).n]).toEqual([SQLITE_MIGRATIONS.length, n]);
      db.close();
    }
  }, 120_000);
});

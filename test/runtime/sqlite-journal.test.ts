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
import { ChainWorkflow, CountCtx, FanWorkflow } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef, FanWorkflowDef } from '../fixtures/distributed/flows.floxide.js';
import { OrderFlow as V1 } from '../fixtures/migrate/v1.js';
import { Mark } from '../fixtures/migrate/nodes.js';
import { OrderFlowDef as V1Def } from '../fixtures/migrate/v1.floxide.js';
import { OrderFlow as Renamed } from '../fixtures/migrate/v2-renamed.js';
import { OrderFlowDef as RenamedDef } from '../fixtures/migrate/v2-renamed.floxide.js';
import type { WorkflowEvent } from '../../runtime/engine/events.js';
import { cliCaptured } from '../cli/run-cli.js';
import { SqliteRunReader } from '../../runtime/stores/sqlite-inspect.js';
import { SqliteHistory } from '../../runtime/stores/sqlite-history.js';
import { undoJournalSlots } from './sqlite-schema.js';
import { SQLITE_MIGRATIONS, SqliteCheckpointStore } from 'floxide/sqlite';
import { MAX_SLOT } from '../../runtime/stores/sqlite-keys.js';
import { builtModule } from '../built-module.js';

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
/** A run that never steps (it has no journal rows). */
const idle = (runId: string) => ({ runId, workflow: 'W', fingerprint: 'fp', input: 1, context: {}, deadline: undefined, start: item('0') });
const slotOf = (s: SqliteCheckpointStore, runId: string) => s.db.prepare('SELECT slot FROM floxide_runs WHERE run_id = ?').pluck().get(runId) as number | undefined;

/**
 * Moves the run `runId`, which has no journal rows, to journal `slot`, as if the file had held runs up to there (the
 * next run takes the slot after it), and marks the gaps as the store keeps them.
 */
function holdSlot(s: SqliteCheckpointStore, runId: string, slot: number): void {
  s.db.prepare('UPDATE floxide_runs SET slot = ? WHERE run_id = ?').run(slot, runId);
  s.db.prepare('UPDATE floxide_runs SET gap_after = NOT EXISTS (SELECT 1 FROM floxide_runs AS n WHERE n.slot = floxide_runs.slot + 1)').run();
}

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
      const owners = a.db.prepare('SELECT r.run_id, j.k & 1099511627775 AS n FROM floxide_journal j JOIN floxide_runs r ON r.run_no = j.run_no ORDER BY r.run_id').all();
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

  it('keys the steps of runs in journal slots past 2^13 apart (a bound item number is a double: the key was computed in floating point), and those of the last slot, named ids included (its keys end at 2^63 - 1)', async () => {
    const s = new SqliteCheckpointStore(join(dir, `j${files++}.db`));
    try {
      const wf = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
      await s.createRun(idle('first'));
      // the runs after slots 8,189 and 8,388,605: every step of a 5-step chain is its own
      for (const [slot, id] of [[8_189, 'mid'], [MAX_SLOT - 2, 'late']] as const) {
        holdSlot(s, 'first', slot);
        expect(await wf.runWithCheckpoint(new CountCtx(), 1, s, id)).toBe(await wf.run(new CountCtx(), 1));
        expect(await s.stepHistory(id)).toHaveLength(5);
        expect(slotOf(s, id)).toBe(slot + 1);
      }
      await s.createRun(idle('last'));
      expect(slotOf(s, 'last')).toBe(MAX_SLOT);
      const ids = ['0', 'a:join', '1', 'b:join', '549755813888'];
      for (const [i, id] of ids.entries()) expect((await s.commitStep('last', step(id, i + 1, [item(`${i + 1}0`)]))).applied).toBe(true);
      for (const [i, id] of ids.entries()) expect((await s.commitStep('last', step(id, i + 10, []))).applied).toBe(false);
      expect((await s.load('last'))!.items).toEqual(ids.map((_, i) => item(`${i + 1}0`)));
      const { dropped } = await s.complete('last', { itemId: '10', seq: 20, output: 'out', delta: undefined, counter: 0 });
      expect(dropped).toEqual(ids.slice(1).map((_, i) => item(`${i + 2}0`)));
    } finally {
      await s.close();
    }
  });

  it('refuses a run only while the file holds one in every journal slot (FLOXIDE_STORE_FULL, saying to purge), and starts one again in the slot a purge frees', async () => {
    const s = new SqliteCheckpointStore(join(dir, `j${files++}.db`));
    try {
      const wf = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
      await s.createRun(idle('a'));
      expect(await wf.runWithCheckpoint(new CountCtx(), 1, s, 'b')).toBe(6);
      await s.createRun(idle('c'));
      holdSlot(s, 'c', MAX_SLOT);
      // (8,388,607 runs would take gigabytes: their gap marks, as they would be, say that no slot is free)
      s.db.prepare('UPDATE floxide_runs SET gap_after = 0').run();
      await expect(wf.runWithCheckpoint(new CountCtx(), 1, s, 'full')).rejects.toMatchObject({
        code: 'FLOXIDE_STORE_FULL',
        message: 'SQLite checkpoint store: this file holds 8,388,607 runs, the most its journal\'s keys can tell apart: purge its finished runs (purgeFinished, floxide runs purge) or keep new runs in a new file',
      });
      expect(await s.getRun('full')).toBeUndefined();
      expect(await s.purgeFinished({ olderThanMs: 0 })).toBe(1);
      expect(await wf.runWithCheckpoint(new CountCtx(), 1, s, 'full')).toBe(6);
      expect([slotOf(s, 'full'), (await s.stepHistory('full')).length]).toEqual([2, 5]);
    } finally {
      await s.close();
    }
  });

  it('a version move renames the pending items of a run whose journal keys pass 2^53 (read as numbers, they named other rows or none)', async () => {
    const s = new SqliteCheckpointStore(join(dir, `j${files++}.db`));
    try {
      await s.createRun(idle('first'));
      holdSlot(s, 'first', 9_000);
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
        (_, i) => new Promise<string>((resolve) => execFile(process.execPath, [builtModule(worker), file, String(i), String(at)], (err, out) => resolve(err ? err.message : out))),
      );
      expect(await Promise.all(answers)).toEqual(Array.from({ length: n }, () => 'ok'));
      const db = new Database(file, { readonly: true });
      expect([db.pragma('user_version', { simple: true }), (db.prepare('SELECT count(*) AS n FROM floxide_runs').get() as { n: number }).n]).toEqual([SQLITE_MIGRATIONS.length, n]);
      db.close();
    }
  }, 120_000);
});

describe('journal slots: a file that is purged never fills up', () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 3));
  const events = (out: string) => out.trim().split('\n').map((l) => (JSON.parse(l) as { event: WorkflowEvent }).event);
  const kinds = (es: WorkflowEvent[]) => es.map((e) => (e.type === 'step.finished' ? `${e.node}:${e.outcome}` : e.type));

  it('a file that numbered past 2^23 runs, its last slot held, starts runs in the slots its purges freed: they checkpoint, move versions, resume, show their history (runs show), feed their events (runs watch) and list in order', async () => {
    const file = join(dir, `j${files++}.db`);
    const s = new SqliteCheckpointStore(file);
    try {
      const chain = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
      const fan = bindWorkflow(FanWorkflowDef, new FanWorkflow());
      await s.createRun(idle('held'));
      for (const id of ['old-1', 'old-2']) expect(await chain.runWithCheckpoint(new CountCtx(), 1, s, id)).toBe(6);
      // 2^23 runs numbered (the most a file ever had before journal slots), the run left open holding the one before last
      s.db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'floxide_runs'").run(2 ** 23 + 10);
      holdSlot(s, 'held', MAX_SLOT - 1);
      await tick();
      expect(await chain.runWithCheckpoint(new CountCtx(), 1, s, 'last')).toBe(6);
      s.db.prepare("UPDATE floxide_runs SET updated_at = 0 WHERE run_id GLOB 'old-*'").run();
      expect(await s.purgeFinished({ olderThanMs: 60_000 })).toBe(2);
      await tick();
      expect(await fan.runWithCheckpoint(new CountCtx(), 4, s, 'fan')).toEqual(await fan.run(new CountCtx(), 4));
      await tick();
      await expect(bindWorkflow(V1Def, new V1()).runWithCheckpoint(undefined, 'hi', s, 'moved')).rejects.toThrow(/closed/);
      const runs = s.db.prepare('SELECT run_id, slot, run_no FROM floxide_runs ORDER BY run_no').all();
      expect(runs).toEqual([
        { run_id: 'held', slot: MAX_SLOT - 1, run_no: 1 },
        { run_id: 'last', slot: MAX_SLOT, run_no: 2 ** 23 + 11 },
        { run_id: 'fan', slot: 1, run_no: 2 ** 23 + 12 },
        { run_id: 'moved', slot: 2, run_no: 2 ** 23 + 13 },
      ]);
      await s.migrate('moved', { from: V1Def.fingerprint, to: RenamedDef.fingerprint, renames: { b: 'shout' } });
      expect(await bindWorkflow(RenamedDef, new Renamed()).resume(s, 'moved')).toBe('HI!!');

      const store = `sqlite:${file}`;
      const list = await cliCaptured(['runs', 'list', '--store', store, '--json']);
      expect((JSON.parse(list.out) as Array<{ runId: string }>).map((r) => r.runId)).toEqual(['moved', 'fan', 'last', 'held']);
      const show = await cliCaptured(['runs', 'show', 'fan', '--store', store]);
      expect([show.code, show.err]).toEqual([0, '']);
      expect(show.out).toMatch(/status\s+completed/);
      // split, four work items, the join, done
      expect(show.out).toMatch(/step history \(7\)/);
      const fanEvents = events((await cliCaptured(['runs', 'watch', 'fan', '--store', store, '--json'])).out);
      expect(kinds(fanEvents)).toEqual([...Array.from({ length: 7 }, () => ['step.started', expect.stringMatching(/:continue$|:terminal$/)]).flat(), 'run.completed']);
      expect(fanEvents.filter((e) => e.type === 'step.started').map((e) => (e as { node: string }).node)).toEqual(['split', 'work', 'work', 'work', 'work', 'collect', 'done']);
      const moved = events((await cliCaptured(['runs', 'watch', 'moved', '--store', store, '--json'])).out);
      expect(kinds(moved)).toEqual(['step.started', 'a:continue', 'step.started', 'b:failed', 'run.migrated', 'step.started', 'shout:continue', 'step.started', 'c:terminal', 'run.completed']);
      expect(await s.stepHistory('last')).toHaveLength(5);
      // the next lowest free slot
      await s.createRun(idle('third'));
      expect(slotOf(s, 'third')).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('a process that remembers a purged run writes and reads nothing of the run that took its slot since: its commit is refused, the readers of floxide runs and the dashboard find no step', async () => {
    const file = join(dir, `j${files++}.db`);
    const a = new SqliteCheckpointStore(file);
    const b = new SqliteCheckpointStore(file);
    try {
      const ran = { node: 'n', attempt: 1, startedAt: 1, finishedAt: 2 };
      await a.createRun(idle('old'));
      // b remembers the run's number (it committed to it), its readers the number they listed
      expect((await b.commitStep('old', { ...step('0', 1, [item('1')]), history: ran })).applied).toBe(true);
      const reader = new SqliteRunReader(b.db);
      const history = new SqliteHistory(b.db);
      const oldNo = reader.run('old')!.runNo;
      const slot = slotOf(a, 'old');
      await a.cancel('old');
      expect(await a.purgeFinished({ olderThanMs: 0 })).toBe(1);
      await a.createRun(idle('new'));
      expect(slotOf(a, 'new')).toBe(slot);
      for (const [seq, [id, next]] of [['0', '1'], ['1', '2']].entries()) await a.commitStep('new', { ...step(id!, seq + 1, [item(next!)]), history: ran });
      await expect(b.commitStep('old', step('1', 2, [item('3')]))).rejects.toBeInstanceOf(RunNotFoundError);
      expect(reader.runByNo(oldNo)).toBeUndefined();
      expect(reader.journalTotals(oldNo)).toEqual({ enqueued: 1, steps: 0, retries: 0, failures: 0 });
      expect(history.read(oldNo, 'old', false).records).toEqual([]);
      expect((await b.load('new'))!.items).toEqual([item('2')]);
      expect(await b.stepHistory('new')).toHaveLength(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a file of schema 12 (journal keyed by run number) upgrades: its runs keep their keys (their slots are their numbers) and resume; new runs take the slots after them, and the slot a purge frees', async () => {
    const file = join(dir, `j${files++}.db`);
    const chain = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
    const before = new SqliteCheckpointStore(file);
    try {
      for (const id of ['gone-1', 'done', 'gone-2']) expect(await chain.runWithCheckpoint(new CountCtx(), 1, before, id)).toBe(6);
      await expect(bindWorkflow(V1Def, new V1()).runWithCheckpoint(undefined, 'hi', before, 'stopped')).rejects.toThrow(/closed/);
      before.db.prepare("UPDATE floxide_runs SET updated_at = 0 WHERE run_id GLOB 'gone-*'").run();
      expect(await before.purgeFinished({ olderThanMs: 60_000 })).toBe(2);
      // the file as floxide with migrations up to 012 left it: keys (run_no << 40) + n
      undoJournalSlots(before.db);
    } finally {
      await before.close();
    }
    const s = new SqliteCheckpointStore(file);
    try {
      expect(s.db.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
      expect(s.db.prepare('SELECT run_id, run_no, slot, gap_after FROM floxide_runs ORDER BY run_no').all()).toEqual([
        { run_id: 'done', run_no: 2, slot: 2, gap_after: 1 },
        { run_id: 'stopped', run_no: 4, slot: 4, gap_after: 1 },
      ]);
      expect(await s.stepHistory('done')).toHaveLength(5);
      const working = new V1();
      (working as { b: unknown }).b = new Mark();
      expect(await bindWorkflow(V1Def, working).resume(s, 'stopped')).toBe('HI!!');
      expect((await s.stepHistory('stopped')).map((r) => `${r.node}:${r.outcome}`)).toEqual(['a:continue', 'b:failed', 'b:continue', 'c:terminal']);
      expect(s.db.prepare("SELECT item_id FROM floxide_steps WHERE run_id = 'stopped' ORDER BY seq").pluck().all()).toEqual(['0', '1', '2']);
      expect(await chain.runWithCheckpoint(new CountCtx(), 1, s, 'new-1')).toBe(6);
      s.db.prepare("UPDATE floxide_runs SET updated_at = 0 WHERE run_id = 'new-1'").run();
      expect(await s.purgeFinished({ olderThanMs: 60_000 })).toBe(1);
      expect(await chain.runWithCheckpoint(new CountCtx(), 1, s, 'new-2')).toBe(6);
      expect(s.db.prepare("SELECT run_id, run_no, slot FROM floxide_runs WHERE run_id GLOB 'new-*'").all()).toEqual([{ run_id: 'new-2', run_no: 6, slot: 5 }]);
      expect(await s.stepHistory('new-2')).toHaveLength(5);
      // a process of the older floxide, still writing to the file, cannot add a run keyed by its number
      const olderInsert = s.db.prepare(
        `INSERT INTO floxide_runs (run_id, workflow, fingerprint, input, context, start, status, deadline, created_at, updated_at, traceparent)
         VALUES ('older', 'W', 'fp', '1', '{}', '{"node":"n","id":"0","input":1}', 'running', NULL, 1, 1, NULL)`,
      );
      expect(() => olderInsert.run()).toThrow('this checkpoint file was upgraded by a newer floxide (journal slots, schema 13): run this process on that version');
    } finally {
      await s.close();
    }
  });
});

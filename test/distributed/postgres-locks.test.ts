/**
 * Postgres lock order: every function that locks a run's row and its item rows takes the run first (commits,
 * transitions, signals, releases), so a release never deadlocks with a commit or a cancel of the same run. Redis needs
 * no such rule: each script runs alone.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { usePgSchemas } from './pg-schemas.js';
import type { EngineItem, StepOutcome } from '../../runtime/engine/types.js';
import type { LeasedItem, NewRun, StepCommit } from '../../runtime/distributed/contracts.js';
import type { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';

const { url: URL, admin, freshSchema, open } = usePgSchemas('l');

const DEADLOCK = '40P01';

function spec(runId: string, workflow = 'wf'): NewRun {
  return { runId, workflow, fingerprint: 'fp', input: null, context: {}, firstItem: { node: 'start', id: '0', input: null } };
}
const cont = (items: EngineItem[]): StepOutcome => ({ type: 'continue', items, arrivals: [], delta: undefined });
const terminal: StepOutcome = { type: 'terminal', output: 'done', items: [], arrivals: [], delta: undefined };
const commitOf = (l: LeasedItem, outcome: StepOutcome): StepCommit => ({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome });

/** The SQLSTATE of a store error's driver cause (undefined for anything else). */
function sqlState(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** Settles `p`, keeping its error as a value. */
async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Runs `ids` of `workflow`, each with its first item done and two successors `<id>a`, `<id>b` leased to worker w1 for
 * `leaseMs`.
 */
async function runsWithTwoLeases(b: PostgresBackend, ids: string[], workflow = 'wf', leaseMs = 60_000): Promise<Array<[LeasedItem, LeasedItem]>> {
  for (const id of ids) await b.createRun(spec(id, workflow));
  const firsts = await b.claim('w0', ids.length, 60_000, { workflow });
  expect(firsts.map((l) => l.runId).sort()).toEqual([...ids].sort());
  for (const f of firsts) await b.commitStep(commitOf(f, cont([{ node: 'x', id: `${f.runId}a`, input: 1 }, { node: 'x', id: `${f.runId}b`, input: 2 }])));
  const leases = await b.claim('w1', ids.length * 2, leaseMs, { workflow });
  const byId = new Map(leases.map((l) => [l.item.id, l]));
  return ids.map((id) => [byId.get(`${id}a`)!, byId.get(`${id}b`)!]);
}

describe('postgres lock order', () => {
  /**
   * Holds item `itemId`'s row in another transaction, starts `first` and waits until it is blocked, then `second`,
   * waits until both are blocked, and lets the row go: each call then takes its locks in its own order. A release
   * that locked the item before the run deadlocked here with a commit or cancel that holds the run and wants the item.
   */
  async function interleave(schema: string, runId: string, itemId: string, first: () => Promise<unknown>, second: () => Promise<unknown>) {
    const holder = new pg.Client({ connectionString: URL });
    await holder.connect();
    try {
      const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const pid = rows[0]!.pid;
      const blocked = async (n: number) => {
        for (;;) {
          const { rows: r } = await admin.query<{ n: number }>(
            `WITH RECURSIVE blocked(pid) AS (
               SELECT a.pid FROM pg_stat_activity a WHERE $1 = ANY (pg_blocking_pids(a.pid))
               UNION SELECT a.pid FROM pg_stat_activity a JOIN blocked b ON b.pid = ANY (pg_blocking_pids(a.pid)))
             SELECT count(*)::int AS n FROM blocked`,
            [pid],
          );
          if (r[0]!.n >= n) return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${schema}".items WHERE run_id = $1 AND item_id = $2 FOR UPDATE`, [runId, itemId]);
      const a = outcome(first());
      await blocked(1);
      const b = outcome(second());
      await blocked(2);
      await holder.query('COMMIT');
      return await Promise.all([a, b]);
    } finally {
      await holder.end();
    }
  }

  it('a misrouted release waiting for its item does not deadlock with a terminal commit finishing the run', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    const [[la, lb]] = await runsWithTwoLeases(b, ['r1']);
    const [released, committed] = await interleave(
      schema,
      'r1',
      lb.item.id,
      () => b.release('r1', lb.item.id, lb.leaseToken, { misrouted: true }),
      () => b.commitStep(commitOf(la, terminal)),
    );
    for (const r of [released, committed]) if (!r.ok) expect.fail(`${sqlState(r.error)}: ${String(r.error)}`);
    expect(released).toEqual({ ok: true, value: true });
    expect(committed).toMatchObject({ ok: true, value: { status: 'applied', runStatus: 'completed' } });
    // the release came first: the item was pending when the run finished, and is reported dropped
    expect((committed as { value: { dropped: Array<{ id: string }> } }).value.dropped.map((d) => d.id)).toEqual([lb.item.id]);
    expect((await b.metrics('r1')).misrouted).toBe(1);
  });

  it('a misrouted release waiting for its item does not deadlock with a cancel of its run', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    const [[, lb]] = await runsWithTwoLeases(b, ['r2']);
    const [released, cancelled] = await interleave(
      schema,
      'r2',
      lb.item.id,
      () => b.release('r2', lb.item.id, lb.leaseToken, { misrouted: true }),
      () => b.cancelRun('r2'),
    );
    for (const r of [released, cancelled]) if (!r.ok) expect.fail(`${sqlState(r.error)}: ${String(r.error)}`);
    expect(released).toEqual({ ok: true, value: true });
    expect(cancelled).toMatchObject({ ok: true, value: { applied: true, status: 'cancelled' } });
    expect((await b.metrics('r2')).misrouted).toBe(1);
  });

  it('releases (shutdown, misrouted, after lease expiry), pauses, cancels and commits racing on many runs never deadlock', async () => {
    const schema = freshSchema();
    // two processes on one schema, each with its own pool
    const [b1, b2] = [await open(schema, { pool: { max: 6 } }), await open(schema, { pool: { max: 6 } })];
    const failures: unknown[] = [];
    const attempt = (p: Promise<unknown>) => p.catch((err: unknown) => failures.push(err));
    const RUNS = 24;
    const ROUNDS = 3;
    for (let round = 0; round < ROUNDS; round++) {
      const runs = Array.from({ length: RUNS }, (_, i) => `s${round}_${i}`);
      // each round's runs are a workflow of their own (the items a round leaves pending stay out of the next);
      // short leases on every sixth run: they expire, and another worker takes them over while the first commits
      const short = new Set(runs.filter((_, i) => i % 6 === 2));
      const long = await runsWithTwoLeases(b1, runs.filter((id) => !short.has(id)), `wf${round}`);
      const expiring = await runsWithTwoLeases(b1, [...short], `wf${round}-short`, 50);
      const pairs = runs.map((id) => (short.has(id) ? expiring : long).find(([la]) => la.runId === id)!);
      await new Promise((resolve) => setTimeout(resolve, 60));
      const retaken = await b2.claim('w2', short.size * 2, 60_000, { workflow: `wf${round}-short` });
      expect(retaken).toHaveLength(short.size * 2);
      const retakenOf = new Map(retaken.map((l) => [`${l.runId}/${l.item.id}`, l]));
      await Promise.all(
        pairs.map(([la, lb], i) => {
          const run = la.runId;
          const lbNow = retakenOf.get(`${run}/${lb.item.id}`) ?? lb;
          switch (i % 6) {
            case 0: // a terminal commit finishes the run while the other item is released as misrouted
              return Promise.all([attempt(b1.commitStep(commitOf(la, terminal))), attempt(b2.release(run, lb.item.id, lb.leaseToken, { misrouted: true }))]);
            case 1: // graceful shutdown releases both while the run is cancelled
              return Promise.all([
                attempt(b1.release(run, la.item.id, la.leaseToken)),
                attempt(b2.release(run, lb.item.id, lb.leaseToken, { misrouted: true })),
                attempt(b1.cancelRun(run)),
              ]);
            case 2: // expired leases: the old holder commits while the new one releases
              return Promise.all([
                attempt(b1.commitStep(commitOf(la, terminal))),
                attempt(b1.commitStep(commitOf(lb, cont([])))),
                attempt(b2.release(run, lbNow.item.id, lbNow.leaseToken, { misrouted: true })),
              ]);
            case 3: // pause and resume against a commit and a release
              return Promise.all([
                attempt(b1.pauseRun(run).then(() => b2.resumeRun(run))),
                attempt(b2.commitStep(commitOf(la, cont([{ node: 'x', id: `${run}c`, input: 3 }])))),
                attempt(b1.release(run, lb.item.id, lb.leaseToken, { misrouted: true })),
              ]);
            case 4: // a batch of commits (one transaction, several runs) against releases of their items
              return Promise.all([
                attempt(b1.commitSteps([commitOf(la, terminal), commitOf(pairs[i - 1]![1], cont([]))])),
                attempt(b2.release(run, lb.item.id, lb.leaseToken, { misrouted: true })),
                attempt(b2.release(pairs[i - 1]![1].runId, pairs[i - 1]![1].item.id, pairs[i - 1]![1].leaseToken, { misrouted: true })),
              ]);
            default: // a run failed by the orchestrator while its items commit and are released
              return Promise.all([
                attempt(b2.failRun(run, { name: 'Error', message: 'stop' })),
                attempt(b1.commitStep(commitOf(la, cont([])))),
                attempt(b1.release(run, lb.item.id, lb.leaseToken, { misrouted: true })),
              ]);
          }
        }),
      );
    }
    // every call either applied or was refused for a reason of its own (a final run, a lost lease), never a deadlock
    expect(failures.filter((e) => sqlState(e) === DEADLOCK || String(e).includes('deadlock'))).toEqual([]);
    // the refusals that may happen here are typed replies (a final run), not store failures
    expect(failures.filter((e) => sqlState(e) !== undefined).map(String)).toEqual([]);
  }, 60_000);
});

/**
 * Postgres runs parked whole (migration 0014, functions/park_run.sql): a run whose outstanding items are all parked
 * (waits, sleeps) is out of the claim rotation, so claims do not walk it however many there are, and it comes back the
 * moment one of its items can run: at its due time (the claim's wake probe) or when a signal wakes one of its waits.
 * What a claim walks is read from the server's per-transaction statistics (index scans of the items' claim index), not
 * from a clock.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { usePgSchemas } from './pg-schemas.js';
import { until } from './helpers.js';
import type { EngineItem, StepOutcome } from '../../runtime/engine/types.js';
import type { LeasedItem, NewRun, StepCommit } from '../../runtime/distributed/contracts.js';
import type { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';
import { migrate } from '../../runtime/distributed/postgres/migrate.js';

const { url: URL, admin, freshSchema, open } = usePgSchemas('pk');

const LEASE_MS = 60_000;
const HOUR = 3_600_000;

function spec(runId: string, fingerprint = 'fp'): NewRun {
  return { runId, workflow: 'wf', fingerprint, input: null, context: {}, firstItem: { node: 'start', id: '0', input: null } };
}
const cont = (items: EngineItem[]): StepOutcome => ({ type: 'continue', items, arrivals: [], delta: undefined });
const commitOf = (l: LeasedItem, outcome: StepOutcome): StepCommit => ({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome });
/** A wait for signal `ok` (until `timeoutAt`, or with no timeout). */
const wait = (id: string, timeoutAt?: number): EngineItem => ({ node: 'approve', id, input: null, wait: { name: 'ok', attempt: 1 }, ...(timeoutAt === undefined ? {} : { notBefore: timeoutAt }) });
/** A sleep until `until`. */
const nap = (id: string, until: number): EngineItem => ({ node: 'rest', id, input: null, notBefore: until });

/**
 * Starts `ids` and leases their first items, then commits each run's first step with `items(runId)` (called when the
 * commits begin, after every first item is leased), 500 runs per claim and per commit batch.
 */
async function startWith(b: PostgresBackend, ids: readonly string[], items: (runId: string) => EngineItem[], fingerprint = 'fp'): Promise<void> {
  const leases: LeasedItem[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const some = ids.slice(i, i + 500);
    await Promise.all(some.map((id) => b.createRun(spec(id, fingerprint))));
    const got = await b.claim('setup', some.length, LEASE_MS);
    expect(got.map((l) => l.runId).sort()).toEqual([...some].sort());
    leases.push(...got);
  }
  for (let i = 0; i < leases.length; i += 500) {
    const res = await b.commitSteps(leases.slice(i, i + 500).map((l) => commitOf(l, cont(items(l.runId)))));
    expect(res.every((r) => r.ok && r.result.status === 'applied')).toBe(true);
  }
}

/**
 * One claim_items call in a transaction of its own on `schema`: what it leased (run/item) and how many index scans of
 * the items' claim index (items_claimable: one per run the claim probes) it made.
 */
async function probedClaim(schema: string, max = 10, workflow: string | null = null, fingerprints: string[] | null = null) {
  const c = new pg.Client({ connectionString: URL, options: `-c search_path=${schema}` });
  await c.connect();
  try {
    await c.query('BEGIN');
    const { rows } = await c.query<{ run_id: string; item_id: string }>('SELECT run_id, item_id FROM claim_items($1, $2, $3, $4, $5) ORDER BY ord', ['probe', max, LEASE_MS, workflow, fingerprints]);
    const scans = (await c.query<{ n: string }>(`SELECT pg_stat_get_xact_numscans('items_claimable'::regclass) AS n`)).rows[0]!.n;
    await c.query('COMMIT');
    return { leased: rows.map((r) => `${r.run_id}/${r.item_id}`), scans: Number(scans) };
  } finally {
    await c.end();
  }
}

describe('postgres runs parked whole', () => {
  it('are neither claimed nor walked by a claim (2,000 of them), and a fresh run is served at once', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    const ids = Array.from({ length: 2000 }, (_, i) => `p${i}`);
    // half wait with no timeout (due at the largest bigint), half sleep for an hour
    await startWith(b, ids, (runId) => [Number(runId.slice(1)) % 2 === 0 ? wait('w') : nap('s', Date.now() + HOUR)]);
    expect(await b.itemState('p0', 'w')).toMatchObject({ status: 'parked' });
    expect(await b.itemState('p1', 's')).toMatchObject({ status: 'parked' });

    // nothing to claim: the claim walks none of them (it walked every one: 2,000 probes)
    expect(await probedClaim(schema)).toEqual({ leased: [], scans: 0 });
    expect(await probedClaim(schema, 10, 'wf', ['fp'])).toEqual({ leased: [], scans: 0 });

    await b.createRun(spec('fresh'));
    const served = await probedClaim(schema);
    expect(served.leased).toEqual(['fresh/0']);
    // the fresh run probed (twice: its item, then whether it has another), none of the parked ones
    expect(served.scans).toBeLessThanOrEqual(2);
  });

  it('a parked sleep is claimed exactly once, from its due time, with two workers claiming (1,200 ending at once: more than two claims put back)', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    const ids = Array.from({ length: 1200 }, (_, i) => `s${i}`);
    let due = 0;
    await startWith(b, ids, () => [nap('s', (due ||= Date.now() + 500))]);
    const leased: LeasedItem[] = [];
    await until(async () => {
      const [x, y] = await Promise.all([b.claim('w1', 100, LEASE_MS), b.claim('w2', 100, LEASE_MS)]);
      leased.push(...x, ...y);
      return leased.length >= ids.length;
    }, 20_000, 'the sleeps to be claimed');
    expect(leased.map((l) => l.runId).sort()).toEqual([...ids].sort());
    for (const l of leased) {
      expect(l.item.id).toBe('s');
      // leased at the claim's server time (lease expiry - lease length): never before the sleep's end
      expect(l.leaseExpiresAt - LEASE_MS).toBeGreaterThanOrEqual(due);
    }
    expect(await b.claim('w1', 100, LEASE_MS)).toEqual([]);
    // the timer fired once per run (an events row holds a transaction's events of its run, one per line)
    const { rows } = await admin.query(`SELECT run_id, event FROM "${schema}".events WHERE event LIKE '%"timer.fired"%'`);
    const fired = rows.flatMap((r: { run_id: string; event: string }) => r.event.split('\n').filter((e) => JSON.parse(e).type === 'timer.fired').map(() => r.run_id));
    expect(fired.sort()).toEqual([...ids].sort());
  });

  it('a signal to a run parked with no due time makes its wait claimable at once, also while paused (on resume)', async () => {
    const b = await open();
    await startWith(b, ['a', 'b'], () => [wait('w')]);
    expect(await b.claim('w1', 10, LEASE_MS)).toEqual([]);
    expect(await b.signal('a', 'ok', 'yes')).toMatchObject({ delivery: 'delivered', itemId: 'w' });
    const [lease, ...rest] = await b.claim('w1', 10, LEASE_MS);
    expect(rest).toEqual([]);
    expect(lease).toMatchObject({ runId: 'a', item: { id: 'w', received: { payload: 'yes' } } });

    await b.pauseRun('b');
    expect(await b.signal('b', 'ok', 'later')).toMatchObject({ delivery: 'delivered', itemId: 'w' });
    expect(await b.claim('w1', 10, LEASE_MS)).toEqual([]);
    await b.resumeRun('b');
    expect((await b.claim('w1', 10, LEASE_MS)).map((l) => `${l.runId}/${l.item.id}`)).toEqual(['b/w']);
  });

  it('a run with parked and ready items is served, and parked whole once only parked items are left', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    await b.createRun(spec('m'));
    const [first] = await b.claim('w1', 1, LEASE_MS);
    // commit_one (it parks items): a pending item beside a wait without timeout and an hour's sleep
    await b.commitStep(commitOf(first!, cont([wait('w'), { node: 'n', id: 'p', input: null }, nap('s', Date.now() + HOUR)])));
    const [ready, ...none] = await b.claim('w1', 10, LEASE_MS);
    expect(none).toEqual([]);
    expect(ready).toMatchObject({ runId: 'm', item: { id: 'p' } });
    // the fast path: nothing enqueued, only parked items left: the run is out of the rotation
    expect(await b.commitSteps([commitOf(ready!, cont([]))])).toMatchObject([{ ok: true, result: { status: 'applied', runStatus: 'running' } }]);
    expect(await probedClaim(schema)).toEqual({ leased: [], scans: 0 });
    expect(await b.signal('m', 'ok', 1)).toMatchObject({ delivery: 'delivered', itemId: 'w' });
    const [woken, ...rest] = await b.claim('w1', 10, LEASE_MS);
    expect(rest).toEqual([]);
    expect(woken).toMatchObject({ runId: 'm', item: { id: 'w', received: { payload: 1 } } });
    // commit_one (a counter): the sleep is left, parked: out of the rotation again
    expect(await b.commitStep({ ...commitOf(woken!, cont([])), counters: { seen: 1 } })).toMatchObject({ status: 'applied', runStatus: 'running' });
    expect(await probedClaim(schema)).toEqual({ leased: [], scans: 0 });
    expect(await b.itemState('m', 's')).toMatchObject({ status: 'parked' });
  });

  it('races: a signal beside a claim taking the wait for its timeout, a commit parking the run beside a signal; each wait runs once', async () => {
    const b = await open();
    const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
    // waits timing out while two workers claim and a signal is sent to each: each goes on once, by its signal or its timeout
    const timeoutAt = Date.now() + 400;
    await startWith(b, ids, () => [wait('w', timeoutAt)]);
    const leased: LeasedItem[] = [];
    const claimer = (worker: string) =>
      until(async () => {
        leased.push(...(await b.claim(worker, 10, LEASE_MS)));
        return leased.length >= ids.length;
      }, 20_000, 'every wait to be claimed');
    const signals = (async () => {
      while (Date.now() < timeoutAt - 20) await new Promise((r) => setTimeout(r, 5));
      return Promise.all(ids.map((id) => b.signal(id, 'ok', id)));
    })();
    await Promise.all([claimer('w1'), claimer('w2'), signals]);
    expect(leased.map((l) => `${l.runId}/${l.item.id}`).sort()).toEqual(ids.map((id) => `${id}/w`).sort());
    expect(await b.claim('w1', 100, LEASE_MS)).toEqual([]);

    // a commit leaving only a wait (parking the run) beside the signal for that wait: the wait is claimable after both
    const pairs = Array.from({ length: 40 }, (_, i) => `c${i}`);
    await startWith(b, pairs, () => [wait('w'), { node: 'n', id: 'p', input: null }]);
    const ready = await b.claim('w1', pairs.length, LEASE_MS);
    expect(ready.map((l) => l.item.id)).toEqual(pairs.map(() => 'p'));
    await Promise.all(ready.flatMap((l) => [b.commitStep(commitOf(l, cont([]))), b.signal(l.runId, 'ok', 'go')]));
    const woken: LeasedItem[] = [];
    await until(async () => {
      woken.push(...(await b.claim('w1', 100, LEASE_MS)));
      return woken.length >= pairs.length;
    }, 20_000, 'every signalled wait to be claimed');
    expect(woken.map((l) => `${l.runId}/${l.item.id}`).sort()).toEqual(pairs.map((id) => `${id}/w`).sort());
  });

  it('a commit that enqueues nothing claimable reads the first outstanding items of its run (a join arrival beside 300 pending siblings), not them all', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    await b.createRun(spec('fan'));
    const [first] = await b.claim('w1', 1, LEASE_MS);
    await b.commitStep(commitOf(first!, cont(Array.from({ length: 300 }, (_, i) => ({ node: 'branch', id: `b${i}`, input: i })))));
    const [branch] = await b.claim('w1', 1, LEASE_MS);
    // the arrival's commit as the backend sends it (commit_steps' payload), in a transaction of its own
    const c = new pg.Client({ connectionString: URL, options: `-c search_path=${schema}` });
    await c.connect();
    try {
      await c.query('BEGIN');
      const arrival = { group: 'g', index: 0, size: 300, node: 'join', json: '{"value":0}' };
      const payload = { runId: 'fan', itemId: branch!.item.id, token: branch!.leaseToken, type: 'continue', items: [], arrivals: [arrival], delta: null, output: null, delayMs: 0,
        error: null, deadLetter: false, deadLetterItem: null, counters: null, extraDropped: [], noTerminal: '{"name":"NoTerminalReachedError","message":"none"}' };
      const { rows } = await c.query<{ r: Array<{ status: string; runStatus: string }> }>('SELECT commit_steps($1::jsonb) AS r', [JSON.stringify([payload])]);
      expect(rows[0]!.r[0]).toMatchObject({ status: 'applied', runStatus: 'running' });
      // entries of the items' indexes read: the acked item's, and the first outstanding ones of the run (a cursor reads
      // ten at a time), not its 300 items
      const read = (await c.query<{ n: string }>(
        `SELECT pg_stat_get_xact_tuples_returned('items_pkey'::regclass) + pg_stat_get_xact_tuples_returned('items_claimable'::regclass) AS n`,
      )).rows[0]!.n;
      await c.query('COMMIT');
      expect(Number(read)).toBeLessThanOrEqual(20);
    } finally {
      await c.end();
    }
  });

  it('a run with more than 1,000 items all parked stays in the rotation (not read whole at each commit) and is served as before', async () => {
    const b = await open();
    await startWith(b, ['many'], () => Array.from({ length: 1001 }, (_, i) => wait(`w${i}`)));
    expect(await b.claim('w1', 10, LEASE_MS)).toEqual([]);
    expect(await b.signal('many', 'ok', 'one')).toMatchObject({ delivery: 'delivered', itemId: 'w0' });
    expect((await b.claim('w1', 10, LEASE_MS)).map((l) => `${l.runId}/${l.item.id}`)).toEqual(['many/w0']);
  });

  it('served by version: a woken run is claimed only by workers of its version, and a move (migrate_run) keeps it parked', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    await startWith(b, ['v1run'], () => [wait('w')], 'fp1');
    expect(await b.signal('v1run', 'ok', 1)).toMatchObject({ delivery: 'delivered' });
    expect(await b.claim('w2', 10, LEASE_MS, { workflow: 'wf', fingerprints: ['fp2'] })).toEqual([]);
    expect((await b.claim('w1', 10, LEASE_MS, { workflow: 'wf', fingerprints: ['fp1'] })).map((l) => l.runId)).toEqual(['v1run']);

    await startWith(b, ['moved'], () => [wait('w')], 'fp1');
    await b.migrate('moved', { from: 'fp1', to: 'fp2', renames: {}, expect: ['w'] });
    expect(await probedClaim(schema, 10, 'wf', ['fp2'])).toEqual({ leased: [], scans: 0 });
    await b.signal('moved', 'ok', 2);
    expect(await b.claim('w1', 10, LEASE_MS, { workflow: 'wf', fingerprints: ['fp1'] })).toEqual([]);
    expect((await b.claim('w2', 10, LEASE_MS, { workflow: 'wf', fingerprints: ['fp2'] })).map((l) => l.runId)).toEqual(['moved']);
  });
});

describe('postgres migration 0014 on a store holding parked runs', () => {
  it('takes them out of the rotation; each still wakes by its signal or its due time', async () => {
    const schema = freshSchema();
    const b = await open(schema);
    const due = Date.now() + 300;
    await startWith(b, Array.from({ length: 300 }, (_, i) => `o${i}`), (runId) => [runId === 'o7' ? nap('s', due) : wait('w')]);
    await b.createRun(spec('ready'));
    // the store as migration 13 left it: no wake_at, the rotation indexes of 0001 and 0004
    await admin.query(`SET search_path TO "${schema}"`);
    await admin.query(`ALTER TABLE queue_runs DROP COLUMN wake_at`);
    await admin.query(`CREATE INDEX queue_runs_rotation ON queue_runs (served_seq) WHERE NOT paused`);
    await admin.query(`CREATE INDEX queue_runs_workflow_rotation ON queue_runs (workflow, served_seq) WHERE NOT paused`);
    await admin.query(`CREATE INDEX queue_runs_version_rotation ON queue_runs (workflow, fingerprint, served_seq) WHERE NOT paused`);
    await admin.query(`DELETE FROM schema_migrations WHERE version = 14`);
    await admin.query('RESET search_path');
    const pool = new pg.Pool({ connectionString: URL, options: `-c search_path=${schema}` });
    const client = await pool.connect();
    try {
      expect(await migrate(client, schema)).toEqual([14]);
    } finally {
      client.release();
      await pool.end();
    }
    // the ready run and, if its time came already, the sleep (judged by park_run, then probed): none of the waits
    const first = await probedClaim(schema);
    const slept: string[] = first.leased.filter((x) => x === 'o7/s');
    expect(first.leased.filter((x) => x !== 'o7/s')).toEqual(['ready/0']);
    expect(first.scans).toBeLessThanOrEqual(6);
    expect(await b.signal('o3', 'ok', 'go')).toMatchObject({ delivery: 'delivered', itemId: 'w' });
    const signalled = (await b.claim('w1', 10, LEASE_MS)).map((l) => `${l.runId}/${l.item.id}`);
    slept.push(...signalled.filter((x) => x === 'o7/s'));
    expect(signalled.filter((x) => x !== 'o7/s')).toEqual(['o3/w']);
    await until(async () => {
      slept.push(...(await b.claim('w1', 10, LEASE_MS)).map((l) => `${l.runId}/${l.item.id}`));
      return slept.length > 0;
    }, 20_000, 'the sleep to be claimed');
    expect(slept).toEqual(['o7/s']);

    // a signal of the previous release's signal_run during the upgrade: the wait pending, its run left out of the rotation
    await admin.query(`UPDATE "${schema}".items SET status = 'pending', payload = left(payload, -1) || ',"received":{"payload":"old"}}', due_at = 0 WHERE run_id = 'o5' AND item_id = 'w'`);
    expect(await b.claim('w1', 10, LEASE_MS)).toEqual([]);
    // the 10 s the migration gave its runs have passed: the first claim judges them again, takes the wait, parks the others again
    await admin.query(`UPDATE "${schema}".queue_runs SET wake_at = wake_at - 10000 WHERE wake_at IS NOT NULL`);
    expect((await probedClaim(schema)).leased).toEqual(['o5/w']);
    // walked: the four runs holding a lease (ready, o3, o7, o5), not the 297 parked again
    expect(await probedClaim(schema)).toEqual({ leased: [], scans: 4 });
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".queue_runs WHERE wake_at = 9223372036854775807`);
    expect(rows[0].n).toBe(300 - 3);
  });
});

/**
 * Postgres-only behaviour of the distributed backend: migrations, schema isolation and validation, connection loss,
 * purge of finished runs, several backends (processes) on one schema. The shared semantics are checked by the
 * conformance suite in postgres.test.ts.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';
import { usePgSchemas } from './pg-schemas.js';
import { POSTGRES_FUNCTIONS, POSTGRES_MIGRATIONS, functionHash, migrate, sqlFile } from '../../runtime/distributed/postgres/migrate.js';
import { settlementItemJson } from '../../runtime/engine/joins.js';
import { arrivalJson } from '../../runtime/engine/commit.js';
import type { JoinArrival } from '../../runtime/engine/types.js';
import type { NewRun } from '../../runtime/distributed/contracts.js';
import { InvalidArgumentError, SchemaSetupError, StoreError } from '../../runtime/core/errors.js';
import { connectBackend } from '../../runtime/distributed/connect.js';
import type { PurgeOptions } from '../../runtime/distributed/contracts.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { CountCtx, chain, sleep, until } from './helpers.js';

const { url: URL, prefix, admin, freshSchema, open } = usePgSchemas('p');

function spec(runId: string, over: Partial<NewRun> = {}): NewRun {
  return { runId, workflow: 'wf', fingerprint: 'fp', input: { runId }, context: {}, firstItem: { node: 'start', id: '0', input: null }, ...over };
}

describe('postgres migrations', () => {
  it('are applied once, in order, and a second run applies nothing', async () => {
    const schema = freshSchema();
    await open(schema);
    const { rows } = await admin.query(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
    expect(rows).toEqual(POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.file })));
    const pool = new pg.Pool({ connectionString: URL, options: `-c search_path=${schema}` });
    const client = await pool.connect();
    try {
      expect(await migrate(client, schema)).toEqual([]);
    } finally {
      client.release();
      await pool.end();
    }
  });

  it('are safe when many processes start at once on a fresh schema', async () => {
    const schema = freshSchema();
    const started = await Promise.all(Array.from({ length: 5 }, () => open(schema)));
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations`);
    expect(rows[0].n).toBe(POSTGRES_MIGRATIONS.length);
    await started[0]!.createRun(spec('r1'));
    expect((await started[4]!.getRun('r1'))?.status).toBe('running');
  });

  it('refuse a schema with the pre-release layout (migrations squashed since) with an error that says what to do', async () => {
    const schema = freshSchema();
    // what a pre-release build left: its own migration list (0001_init.sql ...)
    await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.query(`CREATE TABLE "${schema}".schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (1, '0001_init.sql'), (2, '0002_functions.sql')`);
    for (const migrateOption of [true, false]) {
      const err = await open(schema, { migrate: migrateOption }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toContain('pre-release layout');
      expect((err as Error).message).toContain(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  it('re-apply a function whose file changed (tracked by content hash), leave unchanged ones alone', async () => {
    const schema = freshSchema();
    await open(schema);
    const hashes = async () => new Map((await admin.query(`SELECT name, hash FROM "${schema}".schema_functions`)).rows.map((r: { name: string; hash: string }) => [r.name, r.hash]));
    const before = await hashes();
    expect([...before.keys()].sort()).toEqual([...POSTGRES_FUNCTIONS].sort());
    for (const f of POSTGRES_FUNCTIONS) expect(before.get(f)).toBe(functionHash(f));
    // an older build's commit_steps: another body (and hash) in the schema
    await admin.query(`CREATE OR REPLACE FUNCTION "${schema}".commit_steps(cs jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[]'::jsonb $$`);
    await admin.query(`UPDATE "${schema}".schema_functions SET hash = 'older', applied_at = '2000-01-01' WHERE name = 'commit_steps'`);
    const stale = await open(schema, { migrate: false }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(StoreError);
    expect((stale as Error).message).toContain('function commit_steps');
    const b = await open(schema);
    expect((await hashes()).get('commit_steps')).toBe(functionHash('commit_steps'));
    const { rows } = await admin.query(`SELECT name FROM "${schema}".schema_functions WHERE applied_at < now() - interval '1 hour'`);
    expect(rows).toEqual([]); // re-applied: its applied_at is new
    // the real commit_steps is back: a commit applies
    await b.createRun(spec('r1'));
    const [l] = await b.claim('w', 1, 30_000);
    expect(await b.commitStep({ runId: 'r1', itemId: '0', leaseToken: l!.leaseToken, outcome: { type: 'terminal', output: 1, items: [], arrivals: [], delta: undefined } })).toMatchObject({ status: 'applied', runStatus: 'completed' });
  });

  it('re-apply a function whose parameters changed by dropping its old overloads, so no stale one is left beside it', async () => {
    const schema = freshSchema();
    await open(schema);
    const overloads = async (name: string) =>
      (await admin.query(`SELECT p.oid::regprocedure::text AS sig FROM pg_proc p WHERE p.proname = $1 AND p.pronamespace = $2::regnamespace ORDER BY 1`, [name, schema])).rows.map(
        (r: { sig: string }) => r.sig.replace(`${schema}.`, ''),
      );
    const current = await overloads('commit_steps');
    expect(current).toHaveLength(1);
    // an older build's commit_steps took other parameters (and another result type): CREATE OR REPLACE of the file
    // makes a new overload beside such a function instead of replacing it
    await admin.query(`CREATE FUNCTION "${schema}".commit_steps(cs jsonb, batch integer) RETURNS text LANGUAGE sql AS $$ SELECT 'old' $$`);
    await admin.query(`CREATE FUNCTION "${schema}".commit_steps(cs text) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[]'::jsonb $$`);
    await admin.query(`UPDATE "${schema}".schema_functions SET hash = 'older' WHERE name = 'commit_steps'`);
    const b = await open(schema);
    expect(await overloads('commit_steps')).toEqual(current);
    // the current one works: a commit applies
    await b.createRun(spec('r1'));
    const [l] = await b.claim('w', 1, 30_000);
    expect(await b.commitStep({ runId: 'r1', itemId: '0', leaseToken: l!.leaseToken, outcome: { type: 'terminal', output: 1, items: [], arrivals: [], delta: undefined } })).toMatchObject({ status: 'applied', runStatus: 'completed' });
  });

  it('migration 0012 upgrades a schema an older floxide wrote: its runs read as never moved, move, and keep where they started', async () => {
    const schema = freshSchema();
    const before = await open(schema);
    await before.createRun(spec('old-1'));
    await before.close();
    // the schema as floxide with migrations up to 0011 left it: no version-move columns, the six-parameter migrate_run
    await admin.query(`ALTER TABLE "${schema}".runs DROP COLUMN started_on, DROP COLUMN migrated_at`);
    await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 12`);
    await admin.query(`CREATE OR REPLACE FUNCTION "${schema}".migrate_run(p_run text, p_from text, p_to text, p_leases text, p_expect text[], p_rewrites jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$`);
    await admin.query(`UPDATE "${schema}".schema_functions SET hash = 'the older file' WHERE name = 'migrate_run'`);
    expect(await open(schema, { migrate: false }).catch((e: unknown) => (e as Error).message)).toContain('migration 0012_version_moves.sql');
    const b = await open(schema);
    const { rows } = await admin.query(`SELECT prosrc FROM pg_proc WHERE proname = 'migrate_run' AND pronamespace = $1::regnamespace AND pronargs = 6`, [schema]);
    expect(rows[0].prosrc).toContain('migrate_run('); // the old overload's body is replaced: it calls the new one
    const old = (await b.getRun('old-1'))!;
    expect([old.corrupt, old.startedOn, old.migratedAt]).toEqual([undefined, undefined, undefined]);
    await b.migrate('old-1', { from: 'fp', to: 'fp2', renames: {} });
    expect(await b.getRun('old-1')).toMatchObject({ fingerprint: 'fp2', startedOn: 'fp', updatedAt: expect.any(Number) });
  });

  it("migration 0015 upgrades a schema with signal keys an older floxide kept: they match any signal, as the previous release's signal_run calls (without digests) still do", async () => {
    const schema = freshSchema();
    const before = await open(schema);
    await before.createRun(spec('keyed'));
    expect(await before.signal('keyed', 'vote', { v: 1 }, 'old')).toMatchObject({ delivery: 'delivered' });
    await before.close();
    // the schema as floxide with migrations up to 0013 left it: keys without name and digest
    await admin.query(`ALTER TABLE "${schema}".signal_keys DROP COLUMN name, DROP COLUMN digest`);
    await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 15`);
    const b = await open(schema);
    expect(await b.signal('keyed', 'vote', { v: 2 }, 'old')).toMatchObject({ delivery: 'duplicate' });
    expect(await b.signal('keyed', 'other', null, 'old')).toMatchObject({ delivery: 'duplicate' });
    // a process of the previous release, still running, sends no digest: its key matches any signal too
    const previous = async (payload: string, key: string) => {
      await admin.query(`BEGIN; SET LOCAL search_path TO "${schema}"`);
      const sent = await admin.query('SELECT signal_run($1::jsonb) AS result', [JSON.stringify([{ run: 'keyed', name: 'vote', payload, key, workflow: null }])]);
      await admin.query('COMMIT');
      return sent.rows[0].result as unknown;
    };
    expect(await previous('{"v":3}', 'prev')).toEqual([{ status: 'delivered', itemId: null }]);
    expect(await b.signal('keyed', 'vote', { v: 4 }, 'prev')).toMatchObject({ delivery: 'duplicate' });
    // a key this release keeps is compared; the previous release's repeat of it is answered as that release did
    expect(await b.signal('keyed', 'vote', { v: 5 }, 'new')).toMatchObject({ delivery: 'delivered' });
    await expect(b.signal('keyed', 'vote', { v: 6 }, 'new')).rejects.toMatchObject({ name: 'SignalKeyConflictError', differs: ['payload'] });
    expect(await previous('{"v":7}', 'new')).toEqual([{ status: 'duplicate' }]);
    expect((await b.pendingSignals('keyed')).map((x) => [x.key, x.payload])).toEqual([
      ['old', { v: 1 }],
      ['prev', { v: 3 }],
      ['new', { v: 5 }],
    ]);
  });

  it("keeps the previous release's six-parameter migrate_run callable: an old worker or CLI that moves a run during a rolling upgrade moves it as the new one does", async () => {
    // what the previous release (migrations up to 0009) sends for RunMigrator.migrate: its sql/migrate_run.sql, verbatim
    const schema = freshSchema();
    const b = await open(schema);
    await b.createRun(spec('roll-1'));
    const { rows: [item] } = await admin.query(`SELECT payload FROM "${schema}".items WHERE run_id = 'roll-1' AND item_id = '0'`);
    const renamed = (item.payload as string).replace('"start"', '"begin"');
    // (on a connection whose search_path is the schema, as every backend's is)
    const old = new pg.Client({ connectionString: URL, options: `-c search_path=${schema}` });
    await old.connect();
    const call = (to: string, rewrites: unknown[]) =>
      old.query(`SELECT migrate_run($1, $2, $3, $4, $5::text[], $6::jsonb) AS result`, ['roll-1', 'fp', to, 'keep', null, JSON.stringify(rewrites)]).then(
        (r) => r.rows[0].result as unknown,
        (e: unknown) => (e as Error).message,
      );
    const moved = await call('fp2', [['0', item.payload, renamed, 'begin']]);
    expect(moved).toEqual({ code: 'ok' });
    expect(await b.getRun('roll-1')).toMatchObject({ fingerprint: 'fp2', startedOn: 'fp', migratedAt: expect.any(Number) });
    const { rows } = await admin.query(`SELECT event FROM "${schema}".events WHERE run_id = 'roll-1' ORDER BY run_seq`);
    const migrated = rows.map((r) => JSON.parse(r.event as string)).filter((e) => e.type === 'run.migrated');
    expect(migrated).toEqual([{ type: 'run.migrated', runId: 'roll-1', at: expect.any(Number), from: 'fp', to: 'fp2', renames: { start: 'begin' } }]);
    // a refusal reads as before: the previous release maps the same reply codes
    expect(await call('fp3', [])).toEqual({ code: 'version', fingerprint: 'fp2' });
    await old.end();
  });

  it('a statement prepared before a newer floxide added columns to its table runs again, not failing once per connection', async () => {
    // what a process of this release sees while the next one migrates the schema under it: Postgres refuses a prepared
    // statement whose result type changed ("cached plan must not change result type"), before running it
    const schema = freshSchema();
    const b = await open(schema, { pool: { max: 2 } });
    await b.createRun(spec('plan-1'));
    await Promise.all([b.getRun('plan-1'), b.getRun('plan-1'), b.listRuns({})]); // prepared on both connections
    await admin.query(`ALTER TABLE "${schema}".runs ADD COLUMN next_release text`);
    expect(await Promise.all([b.getRun('plan-1'), b.getRun('plan-1')])).toMatchObject([{ runId: 'plan-1' }, { runId: 'plan-1' }]);
    expect((await b.createRun(spec('plan-2'))).created).toBe(true);
  });

  it('migration files hold tables and indexes only; every function lives in its own file', () => {
    for (const m of POSTGRES_MIGRATIONS) expect(sqlFile(`migrations/${m.file}`)).not.toMatch(/CREATE (OR REPLACE )?FUNCTION/i);
    for (const f of POSTGRES_FUNCTIONS) {
      const text = sqlFile(`functions/${f}.sql`);
      // (overloads of the file's function only: migrate_run keeps the previous release's signature)
      expect(new Set(text.match(/CREATE OR REPLACE FUNCTION (\w+)\(/g))).toEqual(new Set([`CREATE OR REPLACE FUNCTION ${f}(`]));
    }
  });

  it('no function builds a jsonb value by appending to it in a loop: each append copies it (a 100,000-item fan-out took minutes); a plpgsql array grows in place', () => {
    const inLoops: string[] = [];
    for (const f of POSTGRES_FUNCTIONS) {
      const text = sqlFile(`functions/${f}.sql`);
      for (const [, v] of text.matchAll(/^\s+(\w+) jsonb(?: :=[^;]*)?;/gm)) {
        for (const m of text.matchAll(new RegExp(`\\b${v} := ${v} \\|\\|`, 'g'))) {
          const before = text.slice(0, m.index);
          const depth = (before.match(/\bLOOP\b/g)?.length ?? 0) - 2 * (before.match(/\bEND LOOP\b/g)?.length ?? 0);
          if (depth > 0) inLoops.push(`${f}: ${v}`);
        }
      }
    }
    expect(inLoops).toEqual([]);
  });

  it('refuse a schema migrated by a newer version, and migrate: false refuses a stale schema', async () => {
    const schema = freshSchema();
    await open(schema);
    await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (9998, 'future.sql'), (9999, 'future-2.sql')`);
    await expect(open(schema)).rejects.toBeInstanceOf(StoreError);
    // the newest migration is named, with where to read what to do
    await expect(open(schema)).rejects.toThrow(/has migration 9999, newer than this Floxide knows \(\d+\): upgrade Floxide\. .*"Upgrading floxide itself"/);
    await expect(open(freshSchema(), { migrate: false })).rejects.toBeInstanceOf(StoreError);
  });
});

describe('postgres schemas', () => {
  it('keep backends isolated', async () => {
    const a = await open();
    const b = await open();
    await a.createRun(spec('same-id', { input: 1 }));
    expect(await b.getRun('same-id')).toBeUndefined();
    expect((await b.createRun(spec('same-id', { input: 2 }))).created).toBe(true);
    expect((await a.getRun('same-id'))!.input).toBe(1);
    expect(await b.claim('w', 5, 10_000)).toHaveLength(1);
    expect(await a.claim('w', 5, 10_000)).toHaveLength(1);
  });

  it('rejects invalid schema names before connecting', async () => {
    for (const bad of ['', 'Floxide', 'a-b', 'x;drop table t', '"q"', 'pg_catalog', '1abc', 'a'.repeat(64), 'information_schema']) {
      await expect(PostgresBackend.connect({ connectionString: URL, schema: bad })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(PostgresBackend.connect({ connectionString: URL, schema: freshSchema(), retainFinishedMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('says what failed when its role may not create the schema, or use an existing one, and what to grant (SchemaSetupError, not "cannot reach")', async () => {
    const role = `${prefix}_role`;
    const as = (schema: string) => {
      const u = new globalThis.URL(URL);
      u.username = role;
      u.password = '';
      u.search = `?schema=${schema}`;
      return u.toString();
    };
    const db = new globalThis.URL(URL).pathname.slice(1);
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    try {
      // no CREATE on the database: the worker cannot create its schema
      const missing = freshSchema();
      const denied = await connectBackend(as(missing)).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(SchemaSetupError);
      expect(denied).toBeInstanceOf(StoreError);
      expect(denied).toMatchObject({ name: 'SchemaSetupError', code: 'FLOXIDE_SCHEMA_SETUP' });
      expect((denied as Error).message).toBe(
        `cannot prepare the Postgres schema ${missing} at ${as(missing)}: permission denied for database ${db} ` +
          `(grant CREATE on database ${db} to ${role}, or create the schema as its owner: CREATE SCHEMA ${missing} AUTHORIZATION ${role})`,
      );
      // a schema it has no USAGE on
      const foreign = freshSchema();
      await admin.query(`CREATE SCHEMA "${foreign}"`);
      const refused = await connectBackend(as(foreign)).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(SchemaSetupError);
      expect((refused as Error).message).toBe(
        `cannot prepare the Postgres schema ${foreign} at ${as(foreign)}: permission denied for schema ${foreign} (grant USAGE, CREATE on schema ${foreign} to ${role}, or connect as its owner)`,
      );
      // the same schema, migrated by its owner, opened with migrate: false (only checked): the same answer, not "not up to date"
      await (await open(foreign)).close();
      const unchecked = await PostgresBackend.connect({ connectionString: as(foreign), schema: foreign, migrate: false }).catch((e: unknown) => e);
      expect(unchecked).toBeInstanceOf(SchemaSetupError);
      expect((unchecked as Error).message).toBe(
        `cannot prepare the Postgres schema ${foreign}: permission denied for schema ${foreign} (grant USAGE, CREATE on schema ${foreign} to ${role}, or connect as its owner)`,
      );
      // what the first hint says works: a schema made for it, without CREATE on the database
      const owned = freshSchema();
      await admin.query(`CREATE SCHEMA "${owned}" AUTHORIZATION ${role}`);
      const b = await connectBackend(as(owned));
      await b.createRun(spec('r1'));
      expect((await b.getRun('r1'))?.status).toBe('running');
      await b.close();
    } finally {
      await admin.query(`DROP OWNED BY ${role} CASCADE`);
      await admin.query(`DROP ROLE ${role}`);
    }
  });

  it('reports an unreachable server as StoreError', async () => {
    await expect(PostgresBackend.connect({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: freshSchema() })).rejects.toBeInstanceOf(StoreError);
  });
});

describe('postgres connection loss', () => {
  it('surfaces a terminated connection as StoreError for the call in flight, then recovers', async () => {
    const app = `${prefix}_kill`;
    const seen: Error[] = [];
    const b = await open(freshSchema(), { pool: { application_name: app, max: 4 }, onConnectionError: (e) => seen.push(e) });
    await b.createRun(spec('r'));
    const [lease] = await b.claim('w1', 1, 60_000);
    // warm idle connections, so the kill also hits idle ones (pool 'error' events must not crash the process)
    await Promise.all([b.getRun('r'), b.metrics('r'), b.itemStates('r'), b.pendingWork('r')]);

    // hold the run row so the commit is in flight (waiting on the lock) when its connection is killed
    await admin.query('BEGIN');
    await admin.query(`SELECT 1 FROM "${b.schema}".runs WHERE run_id = 'r' FOR UPDATE`);
    const inflight = b.commitStep({ runId: 'r', itemId: '0', leaseToken: lease!.leaseToken, outcome: { type: 'terminal', output: 'ok', items: [], arrivals: [], delta: undefined } });
    const settled = inflight.then(
      () => undefined,
      (e: unknown) => e,
    );
    for (let i = 0; i < 100; i++) {
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [app]);
      if (rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(killed.rowCount).toBeGreaterThan(1);
    await admin.query('ROLLBACK');
    const error = await settled;
    expect(error).toBeInstanceOf(StoreError);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.length).toBeGreaterThan(0);

    // the pool reconnects; the commit is safe to retry and applies exactly once
    expect(await b.itemState('r', '0')).toMatchObject({ status: 'in_progress' });
    const retried = await b.commitStep({ runId: 'r', itemId: '0', leaseToken: lease!.leaseToken, outcome: { type: 'terminal', output: 'ok', items: [], arrivals: [], delta: undefined } });
    expect(retried).toMatchObject({ status: 'applied', runStatus: 'completed' });
    expect(await b.getRun('r')).toMatchObject({ status: 'completed', output: 'ok' });
    await b.createRun(spec('after'));
    expect(await b.claim('w1', 1, 60_000)).toHaveLength(1);
  });
});

describe('postgres specifics', () => {
  it('purges finished runs after the retention, keeping unfinished ones', async () => {
    const b = await open(freshSchema(), { retainFinishedMs: 60_000 });
    await b.createRun(spec('done'));
    await b.createRun(spec('live'));
    await b.cancelRun('done');
    expect(await b.purgeFinished()).toBe(0);
    expect(await b.purgeFinished({ olderThanMs: 0 })).toBe(1);
    expect(await b.getRun('done')).toBeUndefined();
    await expect(b.itemStates('done')).rejects.toThrow(/no run/);
    expect((await b.getRun('live'))?.status).toBe('running');
    const { rows } = await admin.query(`SELECT (SELECT count(*) FROM "${b.schema}".items WHERE run_id = 'done')::int AS items`);
    expect(rows[0].items).toBe(0);
    await expect(b.purgeFinished({ olderThanMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('is kept bounded by its workers: a worker purges finished runs past the retention every purgeEveryMs, a pool from one worker', async () => {
    // (kept 2 s: long enough for waitForCompletion to see each run finished before it is purged)
    const b = await open(freshSchema(), { retainFinishedMs: 2_000 });
    const wf = chain();
    const purges: number[] = [];
    const counting = new Proxy(b, {
      get: (t, k) => (k === 'purgeFinished' ? (o: PurgeOptions) => t.purgeFinished(o).then((n) => (purges.push(n), n)) : Reflect.get(t, k, t)),
    });
    const pool = new WorkerPool(counting, wf.def, wf.instance, { size: 3, concurrency: 4, idleMinMs: 1, idleMaxMs: 20, purgeEveryMs: 50 });
    await pool.start();
    try {
      const orch = new Orchestrator(b, wf);
      for (const id of ['a', 'b', 'c']) await orch.waitForCompletion(await orch.startRun(new CountCtx(), 1, { runId: id }), { timeoutMs: 10_000, pollMs: 10 });
      await until(async () => (await b.listRuns({})).length === 0, 10_000, 'the finished runs to be purged');
      const { rows } = await admin.query(`SELECT (SELECT count(*) FROM "${b.schema}".steps)::int + (SELECT count(*) FROM "${b.schema}".events)::int AS n`);
      expect(rows[0].n).toBe(0);
      // one worker of the three purges: about one call per 50 ms, not three
      const calls = purges.length;
      await sleep(500);
      expect(purges.length - calls).toBeLessThan(16);
    } finally {
      await pool.stop();
    }
    // stopped: no purge after stop() resolved
    const after = purges.length;
    await sleep(150);
    expect(purges.length).toBe(after);
  });

  it('builds the settlement item in SQL exactly as settlementItemJson does (escapes, nesting, holds, outer frames)', async () => {
    const b = await open();
    await b.createRun(spec('j'));
    const [start] = await b.claim('w', 1, 60_000);
    const ids = ['a', 'b', 'c'];
    await b.commitStep({ runId: 'j', itemId: '0', leaseToken: start!.leaseToken, outcome: { type: 'continue', items: ids.map((id) => ({ node: 'step', id, input: null })), arrivals: [], delta: undefined } });
    const group = 'g "quoted" \\ é';
    const outer = [{ g: 'o', i: 0, n: 1 }];
    const arrivals: JoinArrival[] = [
      { group, index: 0, size: 3, node: 'merge', value: { z: 1, a: ['x', null, 1.5], s: 'line\nbreak "q"' }, held: false, outer },
      { group, index: 1, size: 3, node: undefined, held: true, outer },
      { group, index: 2, size: 3, node: 'merge', value: 'ü', held: false, outer },
    ];
    const leases = await b.claim('w', 3, 60_000);
    let joined: readonly unknown[] = [];
    for (const l of leases) {
      const i = ids.indexOf(l.item.id);
      const res = await b.commitStep({ runId: 'j', itemId: l.item.id, leaseToken: l.leaseToken, outcome: { type: 'continue', items: [], arrivals: [arrivals[i]!], delta: undefined } });
      if (res.status === 'applied' && res.joined.length > 0) joined = res.joined;
    }
    const expected = JSON.parse(settlementItemJson(group, 'merge', arrivals.map(arrivalJson)));
    expect(joined).toEqual([expected]);
    expect((await b.pendingWork('j')).map((p) => p.item)).toEqual([expected]);
  });

  it('reports the context version in each claim, including the delta that enqueued the item', async () => {
    const b = await open();
    await b.createRun(spec('cv'));
    const [first] = await b.claim('w', 1, 60_000);
    expect(first!.contextVersion).toBe(0);
    await b.commitStep({ runId: 'cv', itemId: '0', leaseToken: first!.leaseToken, outcome: { type: 'continue', items: [{ node: 'n', id: 'c', input: 1 }], arrivals: [], delta: { k: 1 } } });
    const [second] = await b.claim('w', 1, 60_000);
    expect(second).toMatchObject({ item: { id: 'c' }, contextVersion: 1, workflow: 'wf', fingerprint: 'fp', deadline: undefined });
  });

  it('two backends (processes) on one schema never lease an item twice and share the rotation', async () => {
    const schema = freshSchema();
    const p1 = await open(schema);
    const p2 = await open(schema);
    for (let r = 0; r < 4; r++) await p1.createRun(spec(`r${r}`));
    const starts = await p1.claim('seed', 4, 60_000);
    for (const l of starts) {
      const items = Array.from({ length: 10 }, (_, i) => ({ node: 'step', id: `${l.runId}-${i}`, input: i }));
      await p1.commitStep({ runId: l.runId, itemId: '0', leaseToken: l.leaseToken, outcome: { type: 'continue', items, arrivals: [], delta: undefined } });
    }
    const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? p1 : p2).claim(`w${i}`, 4, 60_000)));
    const got = batches.flat().map((l) => `${l.runId}/${l.item.id}`);
    expect(got).toHaveLength(40);
    expect(new Set(got).size).toBe(40);
    const commits = await Promise.all(
      batches.flat().map((l, i) => (i % 2 ? p1 : p2).commitStep({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome: { type: 'continue', items: [], arrivals: [], delta: { [`k${i}`]: i } } })),
    );
    expect(commits.every((c) => c.status === 'applied')).toBe(true);
    for (let r = 0; r < 4; r++) {
      const ctx = await p2.readContext(`r${r}`);
      expect(ctx.deltas.map((d) => d.version)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect((await p2.getRun(`r${r}`))?.status).toBe('failed'); // drained without a terminal
    }
  });
});

// Inspecting or controlling runs creates nothing in a store: a misspelt Postgres schema is an error (exit 1) that
// says so, not "no runs" from an empty schema the command made.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { expect, it } from 'vitest';
import { PG_URL } from '../distributed/helpers.js';
import { cliCaptured } from './run-cli.js';
import { connectBackend } from '../../runtime/distributed/connect.js';
import { reviveError, SchemaMissingError, serializeError, StoreError } from '../../runtime/index.js';

it('runs list and runs show on a Postgres schema that does not exist: exit 1, and no schema is created', async () => {
  const schema = `nope_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    for (const args of [['runs', 'list'], ['runs', 'show', 'r1']]) {
      const r = await cliCaptured([...args, '--store', `${PG_URL}?schema=${schema}`]);
      expect([r.code, r.out], args.join(' ')).toEqual([1, '']);
      expect(r.err).toContain(`there is no schema ${schema} in this database: no floxide runs are kept there (a misspelt schema?`);
    }
    // the server answered: the schema is missing, it is not out of reach; and how to make it is said
    for (const args of [['runs', 'list'], ['ui', '--port', '0']]) {
      const r = await cliCaptured([...args, '--store', `${PG_URL}?schema=${schema}`]);
      expect([r.code, r.out], args.join(' ')).toEqual([1, '']);
      expect(r.err).not.toMatch(/cannot reach|cannot prepare/);
      expect(r.err).toMatch(new RegExp(`^floxide (runs|ui): there is no schema ${schema} in this database: .*a worker creates its schema when it starts \\(floxide worker --store `));
    }
    const refused = await connectBackend(`${PG_URL}?schema=${schema}`, { createSchema: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SchemaMissingError);
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toMatchObject({ name: 'SchemaMissingError', code: 'FLOXIDE_SCHEMA_MISSING' });
    expect(reviveError(serializeError(refused))).toBeInstanceOf(SchemaMissingError);
    expect((await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount).toBe(0);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});

it('schedule add on a Postgres schema that does not exist creates it, as a worker does, so a schedule can be added before the first worker starts; schedule list does not', async () => {
  const schema = `sched_${process.pid}_${Date.now()}`;
  const listed = `nope_${schema}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    const list = await cliCaptured(['schedule', 'list', '--store', `${PG_URL}?schema=${listed}`]);
    expect([list.code, list.out]).toEqual([1, '']);
    expect(list.err).toContain(`there is no schema ${listed} in this database`);
    expect((await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [listed])).rowCount).toBe(0);

    const store = `${PG_URL}?schema=${schema}`;
    const add = await cliCaptured(['schedule', 'add', 'nightly', '--store', store, '--workflow', 'ReportFlow', '--cron', '0 3 * * *']);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toMatch(/^schedule +nightly\n/);
    expect((await cliCaptured(['schedule', 'list', '--store', store])).out).toMatch(/\nnightly +ReportFlow +0 3 \* \* \* +UTC +active /);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS ${listed} CASCADE`);
    await admin.end();
  }
});

it('a Postgres URL without a user, where PGUSER and USER are unset: says to name one (the built bin, as a process)', () => {
  const url = new URL(PG_URL);
  url.username = '';
  url.password = '';
  const env = { ...process.env };
  for (const name of ['USER', 'PGUSER', 'LOGNAME', 'USERNAME']) delete env[name];
  const bin = fileURLToPath(new URL('../../dist/cli/cli.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'runs', 'list', '--store', url.toString()], { encoding: 'utf8', env });
  expect([r.status, r.stdout]).toEqual([1, '']);
  expect(r.stderr).toContain(`cannot reach the store at ${url.toString()}: cannot connect to Postgres: no PostgreSQL user name specified in startup packet: the store URL names no user and PGUSER is not set: name one, postgres://<user>@host:port/db\n`);
});

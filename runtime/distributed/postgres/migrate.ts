/**
 * Schema names, SQL files, migrations and functions of the Postgres backend. Every object lives in one schema
 * (default `floxide`); connections set `search_path` to it, so the SQL files never name the schema.
 *
 * - Migrations (`sql/migrations/`) hold tables and indexes only: an append-only, versioned list applied in order, each
 *   in its own transaction, recorded in `<schema>.schema_migrations`.
 * - Functions (`sql/functions/<name>.sql`, one plpgsql or SQL function per file) are applied with `CREATE OR
 *   REPLACE` and recorded with the SHA-256 of their text in `<schema>.schema_functions`: a file that changed is
 *   applied again on the next connect, its other overloads (an older parameter list) dropped in the same transaction,
 *   and an unchanged one is left alone.
 *
 * Both run under a per-schema advisory lock, so concurrent starters apply each change exactly once.
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { InvalidArgumentError, StoreError } from '../../core/errors.js';
import { readPackageFile } from '../../core/package-file.js';

/** The default schema of the Postgres backend. */
export const DEFAULT_POSTGRES_SCHEMA = 'floxide';

/**
 * The migrations, in order. Append only from the first release on: never edit or reorder an entry once released.
 * (0.1.0 was never published: the pre-release list 0001_init..0006_c_collation was squashed into 0001_schema.)
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ readonly version: number; readonly file: string }> = [
  { version: 1, file: '0001_schema.sql' },
  { version: 2, file: '0002_schedules.sql' },
  { version: 3, file: '0003_run_pages.sql' },
  { version: 4, file: '0004_versions.sql' },
  { version: 5, file: '0005_events.sql' },
  { version: 6, file: '0006_parked.sql' },
  { version: 7, file: '0007_traceparent.sql' },
  { version: 8, file: '0008_fallback_errors.sql' },
  { version: 9, file: '0009_event_heads.sql' },
  { version: 10, file: '0010_schedule_timing.sql' },
  { version: 11, file: '0011_signal_errors.sql' },
  { version: 12, file: '0012_version_moves.sql' },
  { version: 13, file: '0013_schedule_timing_of.sql' },
  { version: 14, file: '0014_parked_runs.sql' },
  { version: 15, file: '0015_signal_key_digests.sql' },
];

/**
 * The functions, each in `sql/functions/<name>.sql`, applied in this order. Calls between them do not need it (plpgsql
 * resolves calls when it runs); `signal_run` comes first so that, after a migration, the previous release's version of
 * it (which does not put a parked run back in the claim rotation, migration 0014) is replaced first.
 */
export const POSTGRES_FUNCTIONS: readonly string[] = [
  'signal_run',
  'now_ms',
  'record_events',
  'started_event',
  'step_event',
  'final_event',
  'finish_run',
  'park_run',
  'claim_items',
  'commit_one',
  'commit_steps',
  'transition_run',
  'migrate_run',
  'release_item',
];

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
/** First key of the migration advisory lock (`pg_advisory_lock(key, hashtext(schema))`): "flx" in ASCII. */
const MIGRATION_LOCK_KEY = 0x666c78;

/**
 * Throws {@link InvalidArgumentError} unless `schema` is 1-63 characters of `[a-z0-9_]` starting with a letter or
 * underscore, and not a `pg_` system name. The name is used as an SQL identifier, so nothing else is accepted.
 */
export function assertSchemaName(schema: unknown): asserts schema is string {
  if (typeof schema !== 'string' || !SCHEMA.test(schema) || schema.startsWith('pg_') || schema === 'information_schema') {
    throw new InvalidArgumentError(
      `invalid Postgres schema name ${typeof schema === 'string' ? JSON.stringify(schema) : typeof schema}: expected 1-63 characters of [a-z0-9_] starting with a letter or underscore (not pg_*)`,
    );
  }
}

const cache = new Map<string, string>();

/** The text of `sql/<name>` (read once), found next to this module in both the sources and dist/. */
export function sqlFile(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readPackageFile(new URL(`./sql/${name}`, import.meta.url), `the Postgres file sql/${name}`);
    cache.set(name, text);
  }
  return text;
}

/** The SHA-256 (hex) of a function file's text: what `schema_functions` records. */
export function functionHash(name: string): string {
  return createHash('sha256').update(sqlFile(`functions/${name}.sql`)).digest('hex');
}

/**
 * Creates `schema` if needed and brings it up to date, on `client` (whose search_path must be the schema): the
 * migrations it lacks, then every function whose file changed. Safe to run concurrently from many processes. Returns
 * the migration versions applied by this call. Throws {@link StoreError} when the schema was migrated by a newer
 * Floxide (a version this code does not know) or has the pre-release layout (migrations squashed since).
 */
export async function migrate(client: PoolClient, schema: string): Promise<number[]> {
  assertSchemaName(schema);
  const ident = `"${schema}"`;
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK_KEY, schema]);
  try {
    // (only when it is missing: CREATE SCHEMA IF NOT EXISTS asks for CREATE on the database even when the schema exists,
    // which a role given a schema made for it need not have)
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident}`);
    await client.query(`SET search_path TO ${ident}`);
    await client.query(
      // (qualified: without USAGE on the schema, search_path skips it and the server says only that no schema was selected)
      `CREATE TABLE IF NOT EXISTS ${ident}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    await client.query('CREATE TABLE IF NOT EXISTS schema_functions (name text PRIMARY KEY, hash text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
    checkLayout(schema, rows);
    const have = new Set(rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of POSTGRES_MIGRATIONS) {
      if (have.has(m.version)) continue;
      await transaction(client, async () => {
        await client.query(sqlFile(`migrations/${m.file}`));
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.file]);
      });
      applied.push(m.version);
    }
    await applyFunctions(client);
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK_KEY, schema]).catch(() => undefined);
  }
}

/**
 * Throws {@link StoreError} unless every recorded migration is one of {@link POSTGRES_MIGRATIONS} (same version and
 * file): a newer Floxide's schema, or one created by a pre-release build before the migrations were squashed.
 */
export function checkLayout(schema: string, recorded: ReadonlyArray<{ readonly version: number; readonly name: string }>): void {
  const latest = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;
  const newest = Math.max(0, ...recorded.map((r) => Number(r.version)));
  if (newest > latest) {
    throw new StoreError(
      `schema ${schema} has migration ${newest}, newer than this Floxide knows (${latest}): upgrade Floxide. ` +
        `A newer Floxide migrated it; processes of an older one cannot start on it (see "Upgrading floxide itself" in floxide's docs/deploying.md)`,
    );
  }
  for (const r of recorded) {
    const version = Number(r.version);
    const ours = POSTGRES_MIGRATIONS.find((m) => m.version === version);
    if (ours?.file !== r.name) {
      throw new StoreError(
        `schema ${schema} has the pre-release layout of the Postgres backend (migration ${version} ${r.name}; this Floxide expects ${POSTGRES_MIGRATIONS.map((m) => m.file).join(', ')}). ` +
          `No release used that layout and it cannot be upgraded in place: drop the schema (DROP SCHEMA "${schema}" CASCADE) or connect with another schema`,
      );
    }
  }
}

/**
 * Applies every function whose file's hash differs from the recorded one (each in its own transaction), leaving no other
 * function of its name in the schema: CREATE OR REPLACE of a changed parameter list makes a new overload beside the
 * old one (which callers of the old signature would go on calling), so every overload the file did not write is
 * dropped in the same transaction. 42P13 (the same parameters with another result type or parameter names, which
 * CREATE OR REPLACE cannot change): every overload is dropped first, then the file applied.
 */
async function applyFunctions(client: PoolClient): Promise<void> {
  const { rows } = await client.query<{ name: string; hash: string }>('SELECT name, hash FROM schema_functions');
  const recorded = new Map(rows.map((r) => [r.name, r.hash]));
  for (const name of POSTGRES_FUNCTIONS) {
    const hash = functionHash(name);
    if (recorded.get(name) === hash) continue;
    const apply = (dropFirst: boolean) =>
      transaction(client, async () => {
        if (dropFirst) await dropOverloads(client, name, false);
        await client.query(sqlFile(`functions/${name}.sql`));
        await dropOverloads(client, name, true);
        await client.query('INSERT INTO schema_functions (name, hash) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET hash = $2, applied_at = now()', [name, hash]);
      });
    try {
      await apply(false);
    } catch (err) {
      if ((err as { code?: unknown }).code !== '42P13') throw err;
      await apply(true);
    }
  }
}

/**
 * Drops the functions named `name` in the current schema: every one, or (`keepWritten`) all but the one this
 * transaction wrote (their pg_proc row's xmin is its id: the one a CREATE OR REPLACE just made or replaced).
 */
async function dropOverloads(client: PoolClient, name: string, keepWritten: boolean): Promise<void> {
  const { rows } = await client.query<{ sig: string }>(
    `SELECT p.oid::regprocedure::text AS sig FROM pg_proc p WHERE p.proname = $1 AND p.pronamespace = current_schema()::regnamespace${keepWritten ? ' AND p.xmin <> pg_current_xact_id()::xid' : ''}`,
    [name],
  );
  for (const o of rows) await client.query(`DROP FUNCTION ${o.sig}`);
}

/** The migrations and functions `client`'s schema lacks (empty when it is up to date). */
export async function pendingChanges(client: PoolClient, schema: string): Promise<string[]> {
  const exists = await client.query<{ m: boolean; f: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS m, to_regclass('schema_functions') IS NOT NULL AS f");
  const migrations = exists.rows[0]?.m ? (await client.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations')).rows : [];
  checkLayout(schema, migrations);
  const functions = exists.rows[0]?.f ? (await client.query<{ name: string; hash: string }>('SELECT name, hash FROM schema_functions')).rows : [];
  const have = new Set(migrations.map((m) => Number(m.version)));
  const hashes = new Map(functions.map((f) => [f.name, f.hash]));
  return [
    ...POSTGRES_MIGRATIONS.filter((m) => !have.has(m.version)).map((m) => `migration ${m.file}`),
    ...POSTGRES_FUNCTIONS.filter((f) => hashes.get(f) !== functionHash(f)).map((f) => `function ${f}`),
  ];
}

async function transaction(client: PoolClient, body: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await body();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

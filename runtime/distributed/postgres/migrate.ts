/**
 * Schema names, SQL files and migrations of the Postgres backend. Every object lives in one schema (default
 * `floxide`); connections set `search_path` to it, so the SQL files never name the schema. Migrations are an
 * append-only, versioned list of files under `sql/migrations/`, applied in order, each in its own transaction, under
 * a per-schema advisory lock and recorded in `<schema>.schema_migrations`: concurrent starters apply each exactly once.
 */
import { readFileSync } from 'node:fs';
import type { PoolClient } from 'pg';
import { InvalidArgumentError, StoreError } from '../../core/errors.js';

/** The default schema of the Postgres backend. */
export const DEFAULT_POSTGRES_SCHEMA = 'floxide';

/** The migrations, in order. Append only: never edit or reorder an entry once released. */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ readonly version: number; readonly file: string }> = [
  { version: 1, file: '0001_init.sql' },
  { version: 2, file: '0002_functions.sql' },
  { version: 3, file: '0003_throughput.sql' },
  { version: 4, file: '0004_commit_fast_path.sql' },
  { version: 5, file: '0005_terminal_and_handoff.sql' },
  { version: 6, file: '0006_c_collation.sql' },
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
    text = readFileSync(new URL(`./sql/${name}`, import.meta.url), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/**
 * Creates `schema` if needed and applies the migrations it lacks, on `client` (whose search_path must be the
 * schema). Safe to run concurrently from many processes. Returns the versions applied by this call. Throws
 * {@link StoreError} when the schema was migrated by a newer Floxide (a version this code does not know).
 */
export async function migrate(client: PoolClient, schema: string): Promise<number[]> {
  assertSchemaName(schema);
  const ident = `"${schema}"`;
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK_KEY, schema]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident}`);
    await client.query(`SET search_path TO ${ident}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    const have = new Set(rows.map((r) => Number(r.version)));
    const latest = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;
    const unknown = [...have].filter((v) => v > latest);
    if (unknown.length > 0) {
      throw new StoreError(`schema ${schema} has migration ${Math.max(...unknown)}, newer than this Floxide knows (${latest}): upgrade Floxide`);
    }
    const applied: number[] = [];
    for (const m of POSTGRES_MIGRATIONS) {
      if (have.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(sqlFile(`migrations/${m.file}`));
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK_KEY, schema]).catch(() => undefined);
  }
}

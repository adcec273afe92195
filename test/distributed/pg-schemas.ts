/**
 * Per-file scaffolding of the Postgres-only test files: an admin client, fresh schemas (dropped after the file) and
 * backends (closed after the file). Call once at the top level of a test file.
 */
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';
import { PG_URL } from './helpers.js';

export function usePgSchemas(tag: string) {
  const prefix = `flx_${tag}_${process.pid}_${Date.now().toString(36)}`;
  let n = 0;
  const schemas: string[] = [];
  const backends: PostgresBackend[] = [];
  const admin = new pg.Client({ connectionString: PG_URL });

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    for (const b of backends) await b.close();
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  });

  /** A schema name no other test uses; dropped after the file. */
  function freshSchema(): string {
    const s = `${prefix}_${n++}`;
    schemas.push(s);
    return s;
  }

  /** A backend on `schema` (a fresh one by default); closed after the file. */
  async function open(schema = freshSchema(), extra: Parameters<typeof PostgresBackend.connect>[0] = {}): Promise<PostgresBackend> {
    const b = await PostgresBackend.connect({ connectionString: PG_URL, schema, ...extra });
    backends.push(b);
    return b;
  }

  return { url: PG_URL, prefix, admin, freshSchema, open };
}

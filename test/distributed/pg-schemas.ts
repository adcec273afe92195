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

/** A connection that holds a transaction with an id open, as an unrelated writer on the server does. */
export interface TransactionHolder {
  /** Its server process id (what `onHeld` and `runs watch` name). */
  readonly pid: number;
  /**
   * Opens a transaction and gives it a transaction id: every event committed after it is held back until it ends, in
   * every database of the server (docs/distributed.md).
   */
  begin(): Promise<void>;
  commit(): Promise<void>;
  /** Closes the connection (an open transaction ends with it). */
  end(): Promise<void>;
}

/** A {@link TransactionHolder} on `url` (the tests' database by default). */
export async function openHolder(url = PG_URL): Promise<TransactionHolder> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return {
    pid,
    begin: async () => {
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
    },
    commit: async () => void (await client.query('COMMIT')),
    end: () => client.end(),
  };
}

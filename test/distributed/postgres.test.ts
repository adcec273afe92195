import { afterAll } from 'vitest';
import pg from 'pg';
import { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';
import { describeBackendConformance } from './conformance.js';

const URL = process.env.FLOXIDE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const prefix = `flx_c_${process.pid}_${Date.now().toString(36)}`;
const schemas: string[] = [];

describeBackendConformance('postgres', async () => {
  const schema = `${prefix}_${schemas.length}`;
  schemas.push(schema);
  return PostgresBackend.connect({ connectionString: URL, schema, pool: { max: 6 } });
}, {
  tamper: {
    itemJson: (b, runId, itemId, text) => sql(`UPDATE "${(b as PostgresBackend).schema}".items SET payload = $3 WHERE run_id = $1 AND item_id = $2`, [runId, itemId, text]),
    contextJson: (b, runId, text) => sql(`UPDATE "${(b as PostgresBackend).schema}".runs SET context = $2 WHERE run_id = $1`, [runId, text]),
  },
});

/** One statement on a connection of its own (the tests' way to plant corrupt rows). */
async function sql(text: string, params: unknown[]): Promise<void> {
  const c = new pg.Client({ connectionString: URL });
  await c.connect();
  try {
    const res = await c.query(text, params);
    if (res.rowCount !== 1) throw new Error(`expected one row changed by ${text}, got ${res.rowCount}`);
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  const admin = new pg.Client({ connectionString: URL });
  await admin.connect();
  try {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await admin.end();
  }
});

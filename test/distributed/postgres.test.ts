import { afterAll } from 'vitest';
import pg from 'pg';
import { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';
import { describeBackendConformance } from './conformance.js';
import { postgresTamper } from './tamper.js';

const URL = process.env.FLOXIDE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const prefix = `flx_c_${process.pid}_${Date.now().toString(36)}`;
const schemas: string[] = [];

describeBackendConformance('postgres', async () => {
  const schema = `${prefix}_${schemas.length}`;
  schemas.push(schema);
  return PostgresBackend.connect({ connectionString: URL, schema, pool: { max: 6 } });
}, { tamper: postgresTamper });

afterAll(async () => {
  const admin = new pg.Client({ connectionString: URL });
  await admin.connect();
  try {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await admin.end();
  }
});

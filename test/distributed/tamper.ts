/**
 * Corrupt data planted straight in a real store (on its keys or rows), as a stray client or a bad migration would:
 * the conformance suite's corrupt-data tests and the CLI tests that read such runs use the same planting.
 */
import { createClient } from '@redis/client';
import pg from 'pg';
import type { PostgresBackend } from '../../runtime/distributed/postgres/backend.js';
import type { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { SqliteCheckpointStore } from '../../runtime/stores/sqlite.js';
import { LoopCtx, LoopWorkflow } from '../runtime/flows/loop.js';
import { LoopWorkflowDef } from '../runtime/flows/loop.floxide.js';
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';
import type { StoreTamper } from './conformance.js';
import { PG_URL, REDIS_URL } from './helpers.js';

const redisClient = () => createClient({ url: REDIS_URL });

/** Runs `fn` with a client of its own on the test Redis. */
async function withRedis<T>(fn: (c: ReturnType<typeof redisClient>) => Promise<T>): Promise<T> {
  const c = redisClient();
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** One statement on a Postgres connection of its own, which must change exactly one row. */
async function pgUpdate(text: string, params: unknown[]): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const res = await c.query(text, params);
    if (res.rowCount !== 1) throw new Error(`expected one row changed by ${text}, got ${res.rowCount}`);
  } finally {
    await c.end();
  }
}

export const redisTamper: StoreTamper = {
  // the item's JSON inside its packed state (lua/includes/common.lua): after the tenth '|', up to the newline before the node
  itemJson: (b, runId, itemId, text) =>
    withRedis(async (c) => {
      const key = `${(b as RedisBackend).keyPrefix}run:{${runId}}:states`;
      const state = (await c.hGet(key, itemId))!;
      let at = -1;
      for (let i = 0; i < 10; i++) at = state.indexOf('|', at + 1);
      await c.hSet(key, itemId, state.slice(0, at + 1) + text + state.slice(state.indexOf('\n', at)));
    }),
  contextJson: (b, runId, text) => withRedis(async (c) => void (await c.hSet(`${(b as RedisBackend).keyPrefix}run:{${runId}}`, 'context', text))),
  // a delta is the run hash's field d:<version>, "itemId\ndelta JSON" (lua/read-context-1.lua)
  deltaJson: (b, runId, version, text) =>
    withRedis(async (c) => {
      const key = `${(b as RedisBackend).keyPrefix}run:{${runId}}`;
      const entry = (await c.hGet(key, `d:${version}`))!;
      await c.hSet(key, `d:${version}`, `${entry.slice(0, entry.indexOf('\n'))}\n${text}`);
    }),
  // the run hash's fields are named as the record's (RUN_FIELDS in redis/backend.ts)
  runField: (b, runId, field, text) => withRedis(async (c) => void (await c.hSet(`${(b as RedisBackend).keyPrefix}run:{${runId}}`, field, text))),
};

/** Replaces the stored JSON of the first of a run's error records (`errors`) or step history entries (`steps`). */
export type RecordTamper = (b: DistributedBackend, runId: string, part: 'errors' | 'steps', text: string) => Promise<void>;

// the run's lists beside its hash (redis/backend.ts keys: run:{id}:errors, run:{id}:steps)
export const redisRecordTamper: RecordTamper = (b, runId, part, text) =>
  withRedis(async (c) => void (await c.lSet(`${(b as RedisBackend).keyPrefix}run:{${runId}}:${part}`, 0, text)));

// the error text of the run's first error record, or of its first step history row (a step that failed)
export const postgresRecordTamper: RecordTamper = (b, runId, part, text) =>
  pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".${part} SET error = $2 WHERE run_id = $1 AND seq = (SELECT min(seq) FROM "${(b as PostgresBackend).schema}".${part} WHERE run_id = $1)`, [runId, text]);

/**
 * Sets schedule `id`'s time zone as stored, unchecked: what a process with newer time zone data (or another build)
 * accepted and this one cannot read.
 */
export function plantScheduleTimezone(b: DistributedBackend, id: string, timezone: string): Promise<void> {
  if (b.kind === 'redis') return withRedis(async (c) => void (await c.hSet(`${(b as RedisBackend).keyPrefix}schedule:${id}`, 'timezone', timezone)));
  return pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".schedules SET timezone = $2 WHERE schedule_id = $1`, [id, timezone]);
}

/** Makes schedule `id` as a store kept it before it kept timings (no `timing`: Redis hash field, Postgres column). */
export function plantUntimedSchedule(b: DistributedBackend, id: string): Promise<void> {
  if (b.kind === 'redis') return withRedis(async (c) => void (await c.hDel(`${(b as RedisBackend).keyPrefix}schedule:${id}`, 'timing')));
  return pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".schedules SET timing = NULL WHERE schedule_id = $1`, [id]);
}

/**
 * Defines schedule `id` again as the previous release (b909c81, before schedule timings) does: the expression `cron`
 * and the cursor `cursor` written, the timing field left as it was (that release does not know it). Its statements,
 * not its code: a test cannot load the old release.
 */
export function plantPreviousReleasePut(b: DistributedBackend, id: string, cron: string, cursor: number): Promise<void> {
  if (b.kind === 'redis') return withRedis(async (c) => void (await c.hSet(`${(b as RedisBackend).keyPrefix}schedule:${id}`, { cron, cursor: String(cursor) })));
  return pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".schedules SET cron = $2, cursor_ms = $3 WHERE schedule_id = $1`, [id, cron, cursor]);
}

/**
 * Makes signal key `key` of run `runId` as a store kept it before it kept payload digests (a floxide before
 * SignalKeyConflictError): on Redis in the set `sigkeys` alone (the hash `sigdigests` beside it deleted), on Postgres a
 * `signal_keys` row without name and digest.
 */
export function plantUndigestedSignalKey(b: DistributedBackend, runId: string, key: string): Promise<void> {
  if (b.kind === 'redis') return withRedis(async (c) => void (await c.hDel(`${(b as RedisBackend).keyPrefix}run:{${runId}}:sigdigests`, key)));
  return pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".signal_keys SET name = NULL, digest = NULL WHERE run_id = $1 AND key = $2`, [runId, key]);
}

export const postgresTamper: StoreTamper = {
  itemJson: (b, runId, itemId, text) => pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".items SET payload = $3 WHERE run_id = $1 AND item_id = $2`, [runId, itemId, text]),
  contextJson: (b, runId, text) => pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".runs SET context = $2 WHERE run_id = $1`, [runId, text]),
  deltaJson: (b, runId, version, text) => pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".deltas SET delta = $3 WHERE run_id = $1 AND version = $2`, [runId, version, text]),
  runField: (b, runId, field, text) => {
    const column = { input: 'input', error: 'error', createdAt: 'created_at' }[field];
    return pgUpdate(`UPDATE "${(b as PostgresBackend).schema}".runs SET ${column} = $2${field === 'createdAt' ? '::bigint' : ''} WHERE run_id = $1`, [runId, text]);
  },
};

/**
 * Writes a SQLite checkpoint file holding LoopWorkflow runs with corrupt stored data: `bad-start` (created, not
 * started; its start item malformed JSON), `bad-context` (created, not started; its initial context malformed JSON),
 * `bad-items` (running; the items its one commit enqueued malformed JSON), `bad-delta` (failed at its third step;
 * the delta of its second commit not an object), and three whose run row has corrupt fields: `bad-record` (running;
 * its input malformed JSON, its creation time the text `yesterday`), `bad-status` (the unknown status `zombie`,
 * written past the CHECK constraint as a stray client can) and `bad-error` (failed; its error malformed JSON).
 */
export async function plantCorruptSqliteRuns(file: string): Promise<void> {
  const s = new SqliteCheckpointStore(file);
  try {
    const input = { i: 0, limit: 4 };
    const run = { workflow: LoopWorkflowDef.name, fingerprint: LoopWorkflowDef.fingerprint, input, context: { count: 0 }, deadline: undefined };
    for (const runId of ['bad-start', 'bad-context', 'bad-items', 'bad-record', 'bad-status', 'bad-error']) await s.createRun({ ...run, runId, start: { node: 'step', id: '0', input } });
    await s.commitStep('bad-items', { itemId: '0', items: [{ node: 'step', id: '1', input: { i: 1, limit: 4 } }], arrivals: [], delta: { count: 1 }, counter: 1, seq: 1 });
    const loop = new LoopWorkflow();
    loop.step.hook = (_ctx, i) => {
      if (i === 2) throw new Error('step 2 broke');
    };
    const failed = await bindWorkflow(LoopWorkflowDef, loop).runWithCheckpoint(new LoopCtx(), input, s, 'bad-delta').then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(failed instanceof Error) || !failed.message.includes('step 2 broke')) throw new Error(`bad-delta should fail at step 2, got ${String(failed)}`);
    s.db.prepare(`UPDATE floxide_runs SET start = '{"node":' WHERE run_id = 'bad-start'`).run();
    s.db.prepare(`UPDATE floxide_runs SET context = '{"count":' WHERE run_id = 'bad-context'`).run();
    s.db.prepare(`UPDATE floxide_journal SET items = '[{"node":' WHERE run_no = (SELECT run_no FROM floxide_runs WHERE run_id = 'bad-items')`).run();
    const changed = s.db
      .prepare(`UPDATE floxide_journal SET delta = '[1]' WHERE k = (SELECT j.k FROM floxide_journal j JOIN floxide_runs r ON r.run_no = j.run_no WHERE r.run_id = 'bad-delta' ORDER BY j.seq LIMIT 1 OFFSET 1)`)
      .run().changes;
    if (changed !== 1) throw new Error(`expected one delta changed, got ${changed}`);
    s.db.prepare(`UPDATE floxide_runs SET input = '{"i":', created_at = 'yesterday' WHERE run_id = 'bad-record'`).run();
    s.db.pragma('ignore_check_constraints = ON');
    s.db.prepare(`UPDATE floxide_runs SET status = 'zombie' WHERE run_id = 'bad-status'`).run();
    s.db.pragma('ignore_check_constraints = OFF');
    s.db.prepare(`UPDATE floxide_runs SET status = 'failed', error = '{"name":' WHERE run_id = 'bad-error'`).run();
  } finally {
    await s.close();
  }
}

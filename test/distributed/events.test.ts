/**
 * Distributed events on real servers: every event of 200 concurrent runs reaches a subscriber exactly once, in order
 * per run, while the subscriber's connection is killed under it (Redis `CLIENT KILL`, Postgres
 * `pg_terminate_backend`), and the observation conformance suite on each backend.
 */
import { createClient } from '@redis/client';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { Worker } from '../../runtime/distributed/worker.js';
import type { DistributedBackend, NewRun, RunObserver } from '../../runtime/distributed/contracts.js';
import { isFinalEvent, type EventEnvelope, type EventsHeld, type WorkflowEvent } from '../../runtime/engine/events.js';
import { describeObservation } from './observation.js';
import { tableEvents } from '../../runtime/distributed/postgres/events.js';
import { CountCtx, REDIS_URL, chain, sleep, until } from './helpers.js';
import { openHolder, usePgSchemas } from './pg-schemas.js';

const base = `flxev-${process.pid}-${Date.now()}`;
let n = 0;

afterAll(async () => {
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  for await (const keys of c.scanIterator({ MATCH: `${base}*`, COUNT: 1000 })) if (keys.length > 0) await c.del(keys);
  await c.close();
});

describeObservation('redis', async () => RedisBackend.connect({ url: REDIS_URL, keyPrefix: `${base}-o${++n}:` }));

const pgs = usePgSchemas('ev');
describeObservation('postgres', async () => pgs.open());

/** Checks one run's events: created first, one final event last, each attempt started before it finished. */
function checkRunOrder(runId: string, events: readonly WorkflowEvent[]): void {
  expect(events[0]?.type, runId).toBe('run.created');
  expect(events.filter(isFinalEvent).map((e) => e.type), runId).toEqual(['run.completed']);
  expect(isFinalEvent(events.at(-1)!), runId).toBe(true);
  const open = new Set<string>();
  for (const e of events) {
    if (e.type === 'step.started') open.add(`${e.itemId}#${e.attempt}`);
    else if (e.type === 'step.finished' || e.type === 'step.retry') {
      expect(open.delete(`${e.itemId}#${e.attempt}`), `${runId}: ${e.itemId} finished before it started`).toBe(true);
    }
  }
  expect(open.size, runId).toBe(0);
}

/**
 * Runs `runs` chain runs with two workers while a subscriber reads every event and `kill` drops its connection twice;
 * then checks the subscriber got exactly what a fresh reader of the same range gets, in order per run.
 */
async function everyEventOnce(b: DistributedBackend & RunObserver, kill: () => Promise<number>, runs = 200): Promise<void> {
  const wf = chain();
  // the cursor before anything of this test: a fresh subscription reads the same range afterwards
  const received: EventEnvelope[] = [];
  const finals = new Set<string>();
  const ac = new AbortController();
  const reading = (async () => {
    for await (const e of b.subscribe({ after: 'now', signal: ac.signal })) {
      received.push(e);
      if (isFinalEvent(e.event)) finals.add(e.event.runId);
      if (finals.size === runs) break;
    }
  })();
  await sleep(200);
  const workers = [new Worker(b, wf.def, wf.instance, { concurrency: 8, idleMinMs: 1, idleMaxMs: 20 }), new Worker(b, wf.def, wf.instance, { concurrency: 8, idleMinMs: 1, idleMaxMs: 20 })];
  try {
    for (const w of workers) await w.start();
    const ids = Array.from({ length: runs }, (_, i) => `ev-${i}`);
    await Promise.all(ids.map((id) => wf.startDistributed(new CountCtx(), 1, b, id)));
    await until(() => received.length > 300, 60_000, 'the first events');
    expect(await kill()).toBeGreaterThan(0);
    await until(() => finals.size > runs / 2, 120_000, 'half the runs');
    expect(await kill()).toBeGreaterThan(0);
    await Promise.race([reading, sleep(120_000).then(() => Promise.reject(new Error(`only ${finals.size} of ${runs} runs finished in the subscription`)))]);
  } finally {
    ac.abort();
    for (const w of workers) await w.stop(0);
  }
  const cursors = received.map((e) => e.cursor);
  expect(new Set(cursors).size).toBe(cursors.length);
  // the same range read again in one go, uninterrupted: nothing was lost, repeated or reordered
  const again: EventEnvelope[] = [];
  const ac2 = new AbortController();
  const first = received[0]!;
  for await (const e of b.subscribe({ signal: ac2.signal, after: undefined })) {
    if (again.length === 0 && e.cursor !== first.cursor) continue;
    again.push(e);
    if (again.length === received.length) break;
  }
  expect(again.map((e) => e.cursor)).toEqual(cursors);
  const byRun = new Map<string, WorkflowEvent[]>();
  for (const e of received) byRun.set(e.event.runId, [...(byRun.get(e.event.runId) ?? []), e.event]);
  expect(byRun.size).toBe(runs);
  for (const [runId, events] of byRun) {
    checkRunOrder(runId, events);
    expect(events.filter((e) => e.type === 'step.finished')).toHaveLength((await b.stepHistory(runId)).length);
  }
}

describe('redis events across a killed connection', () => {
  it('delivers every event of 200 concurrent runs once, in order per run', { timeout: 300_000 }, async () => {
    const keyPrefix = `${base}-k${++n}:`;
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix });
    const admin = createClient({ url: REDIS_URL });
    await admin.connect();
    const kill = async (): Promise<number> => {
      const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
      const ids = list
        .split('\n')
        .filter((line) => line.includes(` name=floxide-events:${keyPrefix}events `))
        .map((line) => /(?:^|\s)id=(\d+)/.exec(line)![1]!);
      for (const id of ids) await admin.sendCommand(['CLIENT', 'KILL', 'ID', id]);
      return ids.length;
    };
    try {
      await everyEventOnce(b, kill);
    } finally {
      await admin.close();
      await b.close();
    }
  });
});

describe('redis events off (?events=0)', () => {
  it('keeps the step history but publishes no events; a bad events parameter is refused', async () => {
    const { connectBackend } = await import('../../runtime/distributed/connect.js');
    const { InvalidArgumentError } = await import('../../runtime/core/errors.js');
    const keyPrefix = `${base}-q${++n}:`;
    const b = (await connectBackend(`${REDIS_URL}?prefix=${encodeURIComponent(keyPrefix)}&events=0`)) as RedisBackend;
    const admin = createClient({ url: REDIS_URL });
    await admin.connect();
    try {
      const wf = chain();
      await wf.startDistributed(new CountCtx(), 1, b, 'quiet');
      for (let i = 0; i < 5; i++) await wf.stepDistributed(b, 'w-quiet');
      expect((await b.getRun('quiet'))?.status).toBe('completed');
      expect(await b.stepHistory('quiet')).toHaveLength(5);
      expect(await admin.exists(`${keyPrefix}events`)).toBe(0);
      await expect(connectBackend(`${REDIS_URL}?prefix=${encodeURIComponent(keyPrefix)}&events=lots`)).rejects.toBeInstanceOf(InvalidArgumentError);
    } finally {
      await admin.close();
      await b.close();
    }
  });
});

describe('postgres events across a killed connection', () => {
  it('delivers every event of 200 concurrent runs once, in order per run', { timeout: 300_000 }, async () => {
    // (the pool's connections carry the URL's application_name; the subscription's own still has its name)
    const b = await pgs.open(undefined, { connectionString: `${pgs.url}?application_name=flx_ev_pool` });
    const kill = async (): Promise<number> => {
      const { rows } = await pgs.admin.query<{ killed: boolean }>(
        'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
        [`floxide-events:${b.schema}`],
      );
      return rows.filter((r) => r.killed).length;
    };
    await everyEventOnce(b, kill);
  });
});

/**
 * A stored event that does not parse, after a good one in the same entry or row (written by `writeBad`, which returns
 * the bad event's cursor): a subscription delivers what comes before it, then ends with CorruptStateError naming that
 * cursor (not a silent retry of the same read); one resumed after the cursor goes on with the next event.
 */
async function corruptEventEnds(b: DistributedBackend & RunObserver, writeBad: () => Promise<string>): Promise<void> {
  const { CorruptStateError } = await import('../../runtime/core/errors.js');
  const spec = (runId: string): NewRun => ({ runId, workflow: 'wf', fingerprint: 'fp', input: 1, context: {}, firstItem: { node: 'a', id: '0', input: 1 } });
  await b.createRun(spec('c1'));
  const bad = await writeBad();
  await b.createRun(spec('c2'));
  const got: string[] = [];
  const read = async (): Promise<void> => {
    for await (const e of b.subscribe({})) got.push(`${e.event.runId}:${e.event.type}`);
  };
  const failure = await read().then(() => undefined, (err: unknown) => err);
  expect(failure).toBeInstanceOf(CorruptStateError);
  expect((failure as Error).message).toContain(`event ${bad}`);
  expect(got).toEqual(['c1:run.created', 'c1:run.paused']);
  for await (const e of b.subscribe({ after: bad })) {
    expect(`${e.event.runId}:${e.event.type}`).toBe('c2:run.created');
    break;
  }
}

describe('a stored event that does not parse', () => {
  const paused = JSON.stringify({ type: 'run.paused', runId: 'c1', at: 1 });
  it('ends a Redis subscription with CorruptStateError at its cursor', async () => {
    const keyPrefix = `${base}-x${++n}:`;
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix });
    const admin = createClient({ url: REDIS_URL });
    await admin.connect();
    try {
      await corruptEventEnds(b, async () => String(await admin.sendCommand(['XADD', `${keyPrefix}events`, '*', 'r', 'c1', 'e', paused, 'r', 'c1', 'e', '{bad'])));
    } finally {
      await admin.close();
      await b.close();
    }
  });
  it('ends a Postgres subscription with CorruptStateError at its cursor', async () => {
    const b = await pgs.open();
    await corruptEventEnds(b, async () => {
      const { rows } = await pgs.admin.query<{ tx: string; pos: string }>(
        `INSERT INTO "${b.schema}".events (tx, run_id, run_seq, event) VALUES (pg_current_xact_id(), 'c1', 2, $1) RETURNING tx::text, pos::text`,
        [`${paused}\n{bad`],
      );
      return `${rows[0]!.tx}-${rows[0]!.pos}`;
    });
  });
});

describe('postgres events off (events: false)', () => {
  it('keeps the step history but records no events; a bad events parameter is refused', async () => {
    const { connectBackend } = await import('../../runtime/distributed/connect.js');
    const { InvalidArgumentError } = await import('../../runtime/core/errors.js');
    const schema = pgs.freshSchema();
    const b = await connectBackend(`${pgs.url}?schema=${schema}&events=0`);
    try {
      const wf = chain();
      await wf.startDistributed(new CountCtx(), 1, b, 'quiet');
      for (let i = 0; i < 5; i++) await wf.stepDistributed(b, 'w-quiet');
      expect((await b.getRun('quiet'))?.status).toBe('completed');
      expect(await (b as DistributedBackend & RunObserver).stepHistory('quiet')).toHaveLength(5);
      const { rows } = await pgs.admin.query(`SELECT count(*)::integer AS n FROM "${schema}".events`);
      expect(rows[0].n).toBe(0);
      await expect(connectBackend(`${pgs.url}?schema=${schema}&events=lots`)).rejects.toBeInstanceOf(InvalidArgumentError);
    } finally {
      await b.close();
    }
  });
});

describe('postgres event text', () => {
  it('stores compact JSON built by the SQL functions, strings escaped, and delivers it as the store wrote it', async () => {
    const b = await pgs.open();
    // quotes, a backslash, a control character and non-ASCII in the string fields (ids are plain)
    const runId = 'r.1:x';
    const node = 'n "x"';
    const error = { name: 'Error', message: 'bad "input" \\ \n ü' };
    await b.createRun({ runId, workflow: 'wf', fingerprint: 'fp', input: 1, context: {}, firstItem: { node, id: 'i "1"', input: 1 } });
    const [first] = await b.claim('w1@h', 1, 30_000);
    await b.commitStep({ runId, itemId: first!.item.id, leaseToken: first!.leaseToken, outcome: { type: 'retry', attempt: 1, delayMs: 0, error } });
    let second: Awaited<ReturnType<typeof b.claim>>[number] | undefined;
    await until(async () => ([second] = await b.claim('w1@h', 1, 30_000)).length > 0, 20_000, 'the retry');
    await b.commitStep({ runId, itemId: second!.item.id, leaseToken: second!.leaseToken, outcome: { type: 'failed', attempts: 2, error } });
    const got: WorkflowEvent[] = [];
    for await (const e of b.subscribe({ runId })) {
      got.push(e.event);
      if (isFinalEvent(e.event)) break;
    }
    expect(got.map((e) => e.type)).toEqual(['run.created', 'step.started', 'step.retry', 'step.started', 'step.finished', 'run.failed']);
    expect(got[1]).toEqual({ type: 'step.started', runId, at: got[1]!.at, node, itemId: 'i "1"', attempt: 1, workerId: 'w1@h' });
    expect(got[2]).toMatchObject({ type: 'step.retry', runId, node, itemId: 'i "1"', attempt: 1, workerId: 'w1@h', delayMs: 0, error });
    expect(got[4]).toMatchObject({ type: 'step.finished', runId, node, attempt: 2, outcome: 'failed', error });
    expect(got[5]).toMatchObject({ type: 'run.failed', runId, error });
    // compact: no blank after a separator (jsonb's text has ", " and ": ", WAL the event table pays for every event)
    // one row per transaction: two claims (step.started), the retry, the failure (step.finished and run.failed)
    const { rows } = await pgs.admin.query<{ event: string }>(`SELECT event FROM "${b.schema}".events WHERE run_id = $1 AND run_seq > 1 ORDER BY run_seq`, [runId]);
    expect(rows.map((r) => r.event.split('\n').map((t) => (JSON.parse(t) as WorkflowEvent).type))).toEqual([['step.started'], ['step.retry'], ['step.started'], ['step.finished', 'run.failed']]);
    for (const r of rows) for (const t of r.event.split('\n')) expect(t).toBe(JSON.stringify(JSON.parse(t)));
  });
});

describe('postgres events: two transactions appending to one run', () => {
  it('the later one waits for the first, then continues its run_seq, its events ordered after the first\'s', async () => {
    const b = await pgs.open();
    await b.createRun({ runId: 'two', workflow: 'wf', fingerprint: 'fp', input: 1, context: {}, firstItem: { node: 'a', id: '0', input: 1 } });
    const client = () => new pg.Client({ connectionString: pgs.url, options: `-c search_path=${b.schema}` });
    const older = client();
    const newer = client();
    await older.connect();
    await newer.connect();
    const event = (type: string, at: number) => JSON.stringify({ type, runId: 'two', at });
    try {
      // the older transaction takes its id first, the newer one appends first and holds its events uncommitted
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()');
      await newer.query('BEGIN');
      await newer.query('SELECT record_events($1, $2)', [['two'], [event('run.paused', 1)]]);
      let appended = false;
      const second = older.query('SELECT record_events($1, $2)', [['two', 'two'], [event('run.resumed', 2), event('run.paused', 3)]]).then(() => (appended = true));
      await sleep(300);
      expect(appended).toBe(false);
      await newer.query('COMMIT');
      await second;
      await older.query('COMMIT');
      const { rows } = await pgs.admin.query<{ run_seq: number; tx: string; xid: string; event: string }>(
        `SELECT run_seq, tx::text, xid::text, event FROM "${b.schema}".events WHERE run_id = 'two' ORDER BY run_seq`,
      );
      // one row per run and transaction: the older transaction's two events share one
      expect(rows.map((r) => r.run_seq)).toEqual([1, 2, 3]);
      expect(rows.slice(1).map((r) => r.event.split('\n').map((t) => JSON.parse(t).at))).toEqual([[1], [2, 3]]);
      // the older transaction's events carry the newer one's tx (raised), so the global order keeps the run's order
      expect(BigInt(rows[2]!.xid)).toBeLessThan(BigInt(rows[1]!.xid));
      expect(rows[2]!.tx).toBe(rows[1]!.tx);
      const got: WorkflowEvent[] = [];
      for await (const e of b.subscribe({})) {
        got.push(e.event);
        if (got.length === 4) break;
      }
      expect(got.map((e) => e.type)).toEqual(['run.created', 'run.paused', 'run.resumed', 'run.paused']);
    } finally {
      await older.end();
      await newer.end();
    }
  });
});

describe('postgres events: held back behind an open transaction, lost to a purge', () => {
  /** A run of one item `a`: one `run.created` event. */
  const oneStep = (runId: string): NewRun => ({ runId, workflow: 'wf', fingerprint: 'fp', input: 1, context: {}, firstItem: { node: 'a', id: '0', input: 1 } });

  it('delivers an event committed while an older transaction was open once that one ends, though it notifies nothing', async () => {
    const b = await pgs.open();
    const other = await openHolder();
    const ac = new AbortController();
    try {
      const got: EventEnvelope[] = [];
      const reading = (async () => {
        for await (const e of b.subscribe({ signal: ac.signal })) got.push(e);
      })();
      // an unrelated transaction with an id, older than the run's: the run's events sort after it, so no reader may
      // pass them before it ends (it could still write an event before them)
      await other.begin();
      await b.createRun(oneStep('held'));
      await sleep(300);
      expect(got).toEqual([]);
      await other.commit();
      await until(() => got.length === 1, 20_000, 'the held event');
      expect(got[0]!.event).toMatchObject({ type: 'run.created', runId: 'held' });
      ac.abort();
      await reading;
    } finally {
      ac.abort();
      await other.end();
    }
  });

  it('reads an event whose holder ended between its read and its next look (no NOTIFY announces that end)', async () => {
    const b = await pgs.open();
    const other = await openHolder();
    const ac = new AbortController();
    try {
      await other.begin();
      await b.createRun(oneStep('race'));
      // The subscription's connection, with the holder's COMMIT slipped in just before its second look at the store's
      // state: its (re)start look, then a read that returns nothing (the event is held), then that look.
      let looks = 0;
      const newClient = (b as unknown as { newClient(app: string): pg.Client }).newClient;
      const source = {
        schema: b.schema,
        isClosed: () => false,
        currentSnapshot: () => Promise.reject(new Error('not used: this subscription does not start from now')),
        newClient: (app: string): pg.Client => {
          const client = newClient(app);
          const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
          (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
            if ((args[0] as { name?: string }).name === 'floxide:events_state.sql' && ++looks === 2) await other.commit();
            return query(...args);
          };
          return client;
        },
      };
      const got: EventEnvelope[] = [];
      const reading = (async () => {
        for await (const e of tableEvents(source, { runId: 'race', signal: ac.signal })) got.push(e);
      })();
      // nothing else happens in this schema: only the subscription's own looking again can find the event
      await until(() => got.length === 1, 5_000, 'the event whose holder ended unannounced');
      expect(looks).toBeGreaterThanOrEqual(2);
      expect(got[0]!.event).toMatchObject({ type: 'run.created', runId: 'race' });
      ac.abort();
      await reading;
    } finally {
      ac.abort();
      await other.end();
    }
  });

  it('tells onHeld what holds events back (a writing transaction in another database), and when they flow again', async () => {
    const b = await pgs.open();
    // transaction ids are the server's: a transaction in another database holds this one's events back too
    const otherDb = new URL(pgs.url);
    otherDb.pathname = '/postgres';
    const other = await openHolder(otherDb.toString());
    const ac = new AbortController();
    try {
      expect(() => b.subscribe({ heldAfterMs: -1 })).toThrow(/heldAfterMs must be a number of ms >= 0, got -1/);
      const told: Array<EventsHeld | undefined> = [];
      const got: EventEnvelope[] = [];
      const reading = (async () => {
        for await (const e of b.subscribe({ signal: ac.signal, heldAfterMs: 200, onHeld: (h) => told.push(h) })) got.push(e);
      })();
      await other.begin();
      const t0 = Date.now();
      await b.createRun(oneStep('held-2'));
      await until(() => told.length === 1, 10_000, 'the report of held events');
      expect(told[0]).toEqual({ since: expect.any(Number), holder: { pid: other.pid, database: 'postgres', since: expect.any(Number) } });
      expect(told[0]!.holder!.since!).toBeLessThanOrEqual(t0);
      expect(told[0]!.since).toBeGreaterThanOrEqual(t0 - 1000);
      expect(got).toEqual([]);
      await other.commit();
      await until(() => got.length === 1 && told.length === 2, 20_000, 'the held event and the all-clear');
      expect(got[0]!.event).toMatchObject({ type: 'run.created', runId: 'held-2' });
      expect(told[1]).toBeUndefined();
      ac.abort();
      await reading;

      // a callback that throws ends the iteration with its error (not taken for a lost connection)
      await other.begin();
      await b.createRun(oneStep('held-3'));
      const failing = (async () => {
        for await (const _ of b.subscribe({ after: 'now', heldAfterMs: 0, onHeld: () => { throw new Error('my callback broke'); } })) void _;
      })();
      const created = b.createRun(oneStep('held-4'));
      await expect(failing).rejects.toThrow('my callback broke');
      await created;
      await other.commit();
    } finally {
      ac.abort();
      await other.end();
    }
  });

  it('purges history and events with the run; a cursor before a purged event is EventsLostError', async () => {
    const { EventsLostError, RunNotFoundError } = await import('../../runtime/core/errors.js');
    const b = await pgs.open();
    const wf = chain();
    await wf.startDistributed(new CountCtx(), 1, b, 'old');
    for (let i = 0; i < 5; i++) await wf.stepDistributed(b, 'w-old');
    const first: EventEnvelope[] = [];
    for await (const e of b.subscribe({ runId: 'old' })) {
      first.push(e);
      if (isFinalEvent(e.event)) break;
    }
    expect(first).toHaveLength(12);
    expect(await b.stepHistory('old')).toHaveLength(5);
    expect(await b.purgeFinished({ olderThanMs: 0 })).toBe(1);
    await expect(b.stepHistory('old')).rejects.toBeInstanceOf(RunNotFoundError);
    const { rows } = await pgs.admin.query(`SELECT (SELECT count(*) FROM "${b.schema}".events)::integer AS events, (SELECT count(*) FROM "${b.schema}".steps)::integer AS steps`);
    expect(rows[0]).toEqual({ events: 0, steps: 0 });
    const resume = async (after: string) => {
      for await (const _ of b.subscribe({ after })) break;
    };
    await expect(resume(first[3]!.cursor)).rejects.toBeInstanceOf(EventsLostError);
    // inside the newest purged row (the last commit's step.finished, before run.completed): the rest of it is lost too
    expect(first[10]!.cursor).toMatch(/^\d+-\d+\.0$/);
    await expect(resume(first[10]!.cursor)).rejects.toBeInstanceOf(EventsLostError);
    // from the oldest retained: the purge horizon, nothing lost
    await wf.startDistributed(new CountCtx(), 1, b, 'new');
    for await (const e of b.subscribe()) {
      expect(e.event).toMatchObject({ type: 'run.created', runId: 'new' });
      break;
    }
  });
});

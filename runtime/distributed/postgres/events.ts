/**
 * The Postgres backend's event subscription: reads of the `events` table (migrations/0005_events.sql) in its global
 * `(tx, pos)` order on a connection of its own, woken by `LISTEN floxide_events` (the writers' `NOTIFY` arrives when
 * their transaction commits), not by a polling loop. A row holds one run's events of one transaction, their JSON
 * texts joined by newlines (functions/record_events.sql). Cursors are a row's `<tx>-<pos>`, with the event's index
 * for one that is not its row's last (event-cursor.ts). After a dropped connection it connects again and continues
 * after the last event it delivered, so nothing is lost or repeated; a cursor older than an event `purgeFinished`
 * deleted is `EventsLostError`.
 *
 * A read only returns events below its snapshot's xmin (see the migration), so an event whose transaction committed
 * while an older transaction was still open is held back until that one ends. Its end is not notified when it wrote
 * no event, so after each read the subscription asks whether events after its cursor exist that the read did not
 * return (held back, or released by such an end since the read) and, while there are, looks again after a short wait.
 */
import type pg from 'pg';
import { CorruptStateError, EventsLostError, InvalidArgumentError, StoreError } from '../../core/errors.js';
import { parseStoredJson } from '../../core/ids.js';
import type { EventEnvelope, EventsHeld, SubscribeOptions, WorkflowEvent } from '../../engine/events.js';
import { groupCursor, parseGroupCursor } from '../event-cursor.js';
import { aheadError } from '../../engine/feed.js';
import { sqlFile } from './migrate.js';

/** What a subscription needs of its backend. */
export interface EventSource {
  /** A new, unconnected client on the backend's database and schema (search_path set, the backend's type parsers). */
  newClient(applicationName: string): pg.Client;
  readonly schema: string;
  isClosed(): boolean;
  /** The store's current snapshot (text) and its xmin (text), read on the backend's pool: where 'now' starts. */
  currentSnapshot(): Promise<{ readonly snapshot: string; readonly xmin: string }>;
}

/** A row's `<tx>-<pos>`: the position part of a cursor (event-cursor.ts). */
const ROW = /[0-9]{1,20}-[0-9]{1,20}/;
/** Events per read. */
const BATCH = 1000;
/** The NOTIFY channel of every schema (the payload names the schema). */
export const EVENTS_CHANNEL = 'floxide_events';
/** The longest wait before looking again while the store holds events back (ms); doubles from 10 ms. */
const HELD_MAX_WAIT_MS = 500;
/** {@link SubscribeOptions.heldAfterMs} by default. */
const DEFAULT_HELD_AFTER_MS = 5_000;

interface Position {
  readonly tx: bigint;
  readonly pos: bigint;
}

function before(a: Position, b: Position): boolean {
  return a.tx < b.tx || (a.tx === b.tx && a.pos < b.pos);
}

/** Where a cursor of this store (`<tx>-<pos>`, or `<tx>-<pos>.<k>` inside a row) points. */
function startOf(cursor: string): { readonly at: Position; readonly inRow: number | undefined } {
  const { position, inGroup } = parseGroupCursor(cursor, ROW);
  const dash = position.indexOf('-');
  return { at: { tx: BigInt(position.slice(0, dash)), pos: BigInt(position.slice(dash + 1)) }, inRow: inGroup };
}

/** The envelopes of one row's events after position `from` (-1: all of them). */
function* rowEvents(r: EventRow, from: number): Generator<EventEnvelope> {
  const texts = r.event.split('\n');
  const last = texts.length - 1;
  for (let k = from + 1; k <= last; k++) {
    const cursor = groupCursor(`${r.tx}-${r.pos}`, k, last + 1);
    yield { cursor, event: parseStoredJson<WorkflowEvent>(texts[k]!, `event ${cursor}`) };
  }
}

/** See the module comment. */
export function tableEvents(source: EventSource, options: SubscribeOptions): AsyncIterable<EventEnvelope> {
  const after = options.after === undefined || options.after === 'now' ? options.after : startOf(options.after);
  if (options.heldAfterMs !== undefined && !(Number.isFinite(options.heldAfterMs) && options.heldAfterMs >= 0)) {
    throw new InvalidArgumentError(`heldAfterMs must be a number of ms >= 0, got ${JSON.stringify(options.heldAfterMs)}`);
  }
  return { [Symbol.asyncIterator]: () => iterate(source, after, options) };
}

interface StateRow {
  xmin: string;
  purged_tx: string | null;
  purged_pos: number | null;
  held: boolean;
  unread: boolean;
}

interface EventRow {
  tx: string;
  pos: number;
  run_id: string;
  event: string;
}

async function* iterate(source: EventSource, after: ReturnType<typeof startOf> | 'now' | undefined, options: SubscribeOptions): AsyncGenerator<EventEnvelope> {
  const signal = options.signal;
  const runId = options.runId ?? null;
  let cursor: Position | undefined = typeof after === 'object' ? after.at : undefined;
  /** A cursor inside a row: the rest of that row comes first. */
  let inRow = typeof after === 'object' ? after.inRow : undefined;
  /** With 'now': the start snapshot, whose events are skipped. */
  let skip: string | null = null;
  if (signal?.aborted) return;
  if (after === 'now') {
    // taken at once, on the backend's pool (not once this subscription's own connection is up): what committed
    // before the call is skipped, and nothing committed after it is
    const start = await source.currentSnapshot();
    skip = start.snapshot;
    cursor = { tx: BigInt(start.xmin), pos: 0n };
  }
  let client: pg.Client | undefined;
  /** Set by every notification of this schema (and by a lost connection): look again before waiting. */
  let dirty = true;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    dirty = true;
    wake?.();
  };
  const onAbort = (): void => poke();
  signal?.addEventListener('abort', onAbort, { once: true });
  /** Whether a (re)start checks that nothing after the cursor was purged: not at the start from 'now'. */
  let checkPurged = after !== 'now';
  /** Whether the start checks that the caller's cursor is not ahead of every transaction (once). */
  let checkAhead = true;
  let failures = 0;
  let heldWait = 0;
  const report = options.onHeld === undefined ? undefined : new HeldReport(options.onHeld, options.heldAfterMs ?? DEFAULT_HELD_AFTER_MS);
  try {
    while (!signal?.aborted) {
      try {
        if (client === undefined) {
          client = await connect(source, poke);
          if (typeof after === 'object' && cursor !== undefined && checkAhead) {
            await refuseAhead(client, cursor, options.after!);
            checkAhead = false;
          }
          // (re)started: from the cursor, after checking that nothing after it was purged
          const state = await state_(client, cursor ?? { tx: 0n, pos: 0n }, runId, skip);
          const purged = state.purged_tx === null ? undefined : { tx: BigInt(state.purged_tx), pos: BigInt(state.purged_pos!) };
          if (cursor === undefined) cursor = purged ?? { tx: 0n, pos: 0n };
          else if (checkPurged && purged !== undefined && (inRow === undefined ? before(cursor, purged) : !before(purged, cursor))) {
            // (a cursor inside a row: that row's purge lost the rest of it too)
            throw new EventsLostError(`events after cursor ${cursor.tx}-${cursor.pos} are no longer retained (purgeFinished deleted events up to ${purged.tx}-${purged.pos})`);
          }
          checkPurged = true;
          failures = 0;
          dirty = true;
        }
        if (inRow !== undefined) {
          const row = await readRow(client, cursor!);
          if (row !== undefined && (runId === null || row.run_id === runId)) {
            for (const envelope of rowEvents(row, inRow)) {
              yield envelope;
              if (signal?.aborted) return;
            }
          }
          inRow = undefined;
        }
        if (dirty) {
          dirty = false;
          const rows = await read(client, cursor!, skip, runId);
          for (const r of rows) {
            cursor = { tx: BigInt(r.tx), pos: BigInt(r.pos) };
            for (const envelope of rowEvents(r, -1)) {
              yield envelope;
              if (signal?.aborted) return;
            }
          }
          if (rows.length === BATCH) {
            dirty = true;
            continue;
          }
          // events after the cursor that this read did not return (see events_state.sql): look again soon
          const st = await state_(client, cursor!, runId, skip);
          heldWait = st.unread ? Math.min(HELD_MAX_WAIT_MS, Math.max(10, heldWait * 2)) : 0;
          if (report !== undefined) await report.saw(st.held, st.xmin, client);
          if (dirty) continue;
        }
        await new Promise<void>((resolve) => {
          const timer = heldWait > 0 ? setTimeout(poke, heldWait) : undefined;
          wake = () => {
            wake = undefined;
            if (timer !== undefined) clearTimeout(timer);
            resolve();
          };
          if (dirty || signal?.aborted) wake();
        });
      } catch (err) {
        // a stored event that does not parse ends the iteration (resume after its cursor to skip it), as on Redis
        if (err instanceof EventsLostError || err instanceof InvalidArgumentError || err instanceof CorruptStateError) throw err;
        if (err instanceof OnHeldFailure) throw err.cause; // the consumer's own callback: its error ends the iteration
        if (signal?.aborted) return;
        if (source.isClosed()) throw new StoreError('the Postgres backend is closed', { cause: err });
        // the connection broke (or could not be opened): drop it and connect again after a pause
        const broken = client;
        client = undefined;
        await broken?.end().catch(() => undefined);
        failures += 1;
        await pause(Math.min(1_000, 25 * 2 ** Math.min(failures, 6)), signal);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await client?.end().catch(() => undefined);
  }
}

/**
 * Tells {@link SubscribeOptions.onHeld} when events have been held back for `afterMs` behind the same transaction
 * (the snapshots' xmin did not move: on a busy server events are often briefly above a moving xmin, which is not
 * worth telling), with the holder the server shows, once, and when they flow again. A subscription waiting for events
 * looks every 500 ms at most while they are held, so it is told within that of `afterMs`.
 */
class HeldReport {
  /** The transaction (snapshot xmin) events are held behind, and since when; undefined while they flow. */
  private holding: { readonly xmin: string; readonly since: number } | undefined;
  private told = false;

  constructor(
    private readonly onHeld: (held: EventsHeld | undefined) => void,
    private readonly afterMs: number,
  ) {}

  async saw(held: boolean, xmin: string, client: pg.Client): Promise<void> {
    if (!held || this.holding?.xmin !== xmin) {
      // flowing, or held behind another transaction now: what was told is over, and the count starts again
      if (this.told) {
        this.told = false;
        this.tell(undefined);
      }
      this.holding = held ? { xmin, since: Date.now() } : undefined;
    }
    const holding = this.holding;
    if (holding === undefined || this.told || Date.now() - holding.since < this.afterMs) return;
    this.told = true;
    const row = (await client.query<{ pid: number; datname: string | null; since: string | null }>({ name: 'floxide:events_holder.sql', text: sqlFile('events_holder.sql') })).rows[0];
    const holder = row === undefined ? undefined : { pid: row.pid, database: row.datname ?? undefined, since: row.since === null ? undefined : Number(row.since) };
    this.tell(holder === undefined ? { since: holding.since } : { since: holding.since, holder });
  }

  private tell(held: EventsHeld | undefined): void {
    try {
      this.onHeld(held);
    } catch (err) {
      throw new OnHeldFailure(err);
    }
  }
}

/** An error thrown by the consumer's `onHeld`: not a lost connection (see the loop's catch). */
class OnHeldFailure {
  constructor(readonly cause: unknown) {}
}

/** Opens the subscription's connection and listens; `poke` is called on every notification of the schema and on errors. */
async function connect(source: EventSource, poke: () => void): Promise<pg.Client> {
  const client = source.newClient(`floxide-events:${source.schema}`);
  client.on('error', () => poke()); // the next query fails and the loop reconnects
  client.on('end', () => poke());
  client.on('notification', (n) => {
    if (n.channel === EVENTS_CHANNEL && n.payload === source.schema) poke();
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/**
 * Throws {@link aheadError} when `cursor` (the caller's `given` cursor) names a transaction that has not begun yet:
 * no event row has it, so this store never issued it (an issued cursor's tx is a transaction that wrote an event).
 */
async function refuseAhead(client: pg.Client, cursor: Position, given: string): Promise<void> {
  const res = await client.query<{ xmax: string; newest: string | null }>(
    'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, (SELECT tx::text || \'-\' || pos FROM events ORDER BY tx DESC, pos DESC LIMIT 1) AS newest',
  );
  const row = res.rows[0]!;
  if (cursor.tx >= BigInt(row.xmax)) throw aheadError(given, row.newest ?? 'none yet');
}

async function state_(client: pg.Client, cursor: Position, runId: string | null, skip: string | null): Promise<StateRow> {
  const res = await client.query<StateRow>({ name: 'floxide:events_state.sql', text: sqlFile('events_state.sql'), values: [String(cursor.tx), String(cursor.pos), runId, skip] });
  return res.rows[0]!;
}

async function read(client: pg.Client, cursor: Position, skip: string | null, runId: string | null): Promise<EventRow[]> {
  const values: unknown[] = [String(cursor.tx), String(cursor.pos), skip, BATCH];
  const res =
    runId === null
      ? await client.query<EventRow>({ name: 'floxide:events_read.sql', text: sqlFile('events_read.sql'), values })
      : await client.query<EventRow>({ name: 'floxide:events_read_run.sql', text: sqlFile('events_read_run.sql'), values: [...values, runId] });
  return res.rows;
}

/** The row at `cursor` (undefined when purged since). */
async function readRow(client: pg.Client, cursor: Position): Promise<EventRow | undefined> {
  const res = await client.query<EventRow>({ name: 'floxide:events_row.sql', text: sqlFile('events_row.sql'), values: [String(cursor.tx), String(cursor.pos)] });
  return res.rows[0];
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

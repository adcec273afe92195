/**
 * The Redis backend's event subscription: blocking `XREAD`s of the stream the scripts append to (`P events`), on a
 * connection of the subscription's own. An entry holds the events of one script call, in order, as field pairs
 * `r` = run id, `e` = event JSON (see publish in lua/includes/common.lua). Cursors are entry ids, with the event's
 * index for one that is not its entry's last (event-cursor.ts). After a dropped connection (node-redis reconnects by
 * itself) it continues after the last entry it delivered, so nothing is lost or repeated; a cursor older than what
 * the stream still holds (trimmed to `eventRetention`) is `EventsLostError`.
 */
import type { createClient } from '@redis/client';
import { EventsLostError, InvalidArgumentError, StoreError } from '../../core/errors.js';
import { aheadError } from '../../engine/feed.js';
import { parseStoredJson } from '../../core/ids.js';
import type { EventEnvelope, SubscribeOptions, WorkflowEvent } from '../../engine/events.js';
import { groupCursor, parseGroupCursor, type GroupCursor } from '../event-cursor.js';

import type { Reply } from './reply.js';

type Client = ReturnType<typeof createClient<{}, {}, {}, 2>>;

/** A stream entry id: the position part of a cursor (event-cursor.ts). */
const ENTRY_ID = /[0-9]{1,20}-[0-9]{1,20}/;
/** Entries per XREAD. */
const BATCH = 1000;

/** Orders two stream ids ("ms-seq"). */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

/** See the module comment. `isClosed` says whether the backend was closed (then a dropped connection ends it). */
export function streamEvents(client: Client, key: string, options: SubscribeOptions, isClosed: () => boolean): AsyncIterable<EventEnvelope> {
  // (only an absent cursor is "from the oldest": `null` is no cursor, refused as every store refuses it)
  const start = options.after === 'now' ? 'now' : parseGroupCursor(options.after === undefined ? '0-0' : options.after, ENTRY_ID);
  return { [Symbol.asyncIterator]: () => iterate(client, key, start, options, isClosed) };
}

/**
 * Throws EventsLostError when entries after `last` were trimmed from the stream, or entry `last` itself when the
 * cursor is inside it (`inEntry`: the rest of that entry is still to come). When `last` is after the newest entry the
 * stream ever had: InvalidArgumentError ({@link aheadError}) for the caller's cursor, but EventsLostError for a
 * position the subscription reached itself (`own`: a check after a dropped connection): the server went back in time
 * under it (restarted from an older snapshot, or the stream was deleted) and lost events it had published.
 */
async function checkRetained(reader: Client, key: string, last: string, inEntry: boolean, own: boolean): Promise<void> {
  if (last === '0-0') return;
  let info: Reply;
  try {
    info = (await reader.sendCommand(['XINFO', 'STREAM', key])) as Reply;
  } catch {
    return; // no stream yet: nothing was trimmed
  }
  const flat = info as Reply[];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === 'last-generated-id' && compareIds(last, String(flat[i + 1])) > 0) {
      if (!own) throw aheadError(last, String(flat[i + 1]));
      throw new EventsLostError(
        `the event stream's newest entry (${String(flat[i + 1])}) is older than the last one this subscription read (${last}): the Redis server lost events it had published (restarted from an older snapshot, or the stream was deleted)`,
      );
    }
    if (flat[i] === 'max-deleted-entry-id') {
      const deleted = String(flat[i + 1]);
      const order = compareIds(last, deleted);
      if (order < 0 || (order === 0 && inEntry)) throw new EventsLostError(`events after cursor ${last} are no longer retained (the stream was trimmed up to ${deleted})`);
    }
  }
}

/** Resolves once `reader` is connected again (or the signal aborts). */
function ready(reader: Client, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      reader.off('ready', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // also after a short pause: a reconnect may have completed between the failure and this call
    const timer = setTimeout(done, reader.isReady ? 50 : 5_000);
    reader.on('ready', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The envelopes of one stream entry (`[id, [field, value, ...]]`) after position `from` (-1: all of them), of run
 * `runId` only when given. Each `e` field is an event of the run named by the `r` field before it.
 */
function* entryEvents(entry: Reply[], runId: string | undefined, from: number): Generator<EventEnvelope> {
  const id = String(entry[0]);
  const fields = entry[1] as string[];
  let count = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'e') count++;
  let run: string | undefined;
  for (let i = 0, k = -1; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'r') run = fields[i + 1];
    else if (fields[i] === 'e' && ++k > from && (runId === undefined || run === runId)) {
      const cursor = groupCursor(id, k, count);
      yield { cursor, event: parseStoredJson<WorkflowEvent>(fields[i + 1]!, `event ${cursor}`) };
    }
  }
}

async function* iterate(client: Client, key: string, start: GroupCursor | 'now', options: SubscribeOptions, isClosed: () => boolean): AsyncGenerator<EventEnvelope> {
  const signal = options.signal;
  if (signal?.aborted) return;
  let last: string;
  /** Where a cursor inside an entry points: the rest of that entry comes first. */
  let inEntry: number | undefined;
  if (start === 'now') {
    // on the backend's own connection: ordered after the caller's earlier calls and before its later ones
    const newest = (await client.sendCommand(['XREVRANGE', key, '+', '-', 'COUNT', '1'])) as Reply[];
    last = newest.length > 0 ? String((newest[0] as Reply[])[0]) : '0-0';
  } else ({ position: last, inGroup: inEntry } = start);
  // named, so an operator (or a test) can find it in CLIENT LIST
  const reader = client.duplicate({ name: `floxide-events:${key}` }) as Client;
  reader.on('error', () => undefined); // node-redis reconnects by itself; a failed read is retried below
  const onAbort = (): void => reader.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      await reader.connect();
    } catch (err) {
      if (signal?.aborted) return;
      throw new StoreError(`cannot connect to Redis for events: ${(err as Error).message}`, { cause: err });
    }
    let checked = false;
    /** The caller's cursor passed its check: a later check (after a dropped connection) is of a position read here. */
    let validated = false;
    while (!signal?.aborted) {
      let entries: Reply[][];
      try {
        if (!checked) {
          await checkRetained(reader, key, last, inEntry !== undefined, validated);
          checked = validated = true;
        }
        if (inEntry !== undefined) entries = (await reader.sendCommand(['XRANGE', key, last, last])) as Reply[][];
        else {
          const reply = (await reader.sendCommand(['XREAD', 'COUNT', String(BATCH), 'BLOCK', '0', 'STREAMS', key, last])) as Reply[][][] | null;
          entries = reply === null ? [] : (reply[0]![1] as Reply[][]);
        }
      } catch (err) {
        if (err instanceof EventsLostError || err instanceof InvalidArgumentError) throw err;
        if (signal?.aborted) return;
        if (isClosed()) throw new StoreError('the Redis backend is closed', { cause: err });
        await ready(reader, signal);
        checked = false;
        continue;
      }
      const from = inEntry ?? -1;
      inEntry = undefined;
      for (const entry of entries) {
        last = String(entry[0]);
        for (const envelope of entryEvents(entry, options.runId, from)) {
          yield envelope;
          if (signal?.aborted) return;
        }
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.destroy();
  }
}

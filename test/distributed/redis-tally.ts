/**
 * The Redis run tally (`P run:{id}:tally`) and index of outstanding items (`P run:{id}:open`), kept by every script that
 * writes an item state, held to their oracles: the item-counts script's `recount` mode, which counts the run's states
 * themselves, and the outstanding states read whole. Each read in one MULTI, so no script runs between its parts.
 */
import { createClient } from '@redis/client';
import type { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { loadScript } from '../../runtime/distributed/redis/scripts.js';
import { REDIS_URL } from './helpers.js';

const newAdmin = () => createClient({ url: REDIS_URL });
type Admin = ReturnType<typeof newAdmin>;
const ITEM_COUNTS = loadScript('itemCounts').source;

/** "status\nnode" -> count, of the `{ 'ok', node, status, count, ... }` triples the script answers. */
function byField(reply: unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 1; i + 2 < reply.length; i += 3) out[`${String(reply[i + 1])}\n${String(reply[i])}`] = Number(reply[i + 2]);
  return out;
}

/**
 * The raw tally hash as counts per "status\nnode" (what `tallyCounts` in lua/includes/common.lua reads, written again
 * here as the test's own reading of the format): a field "status\nnode" counts items that came in that state, a field
 * "to\nnode\nfrom" (or "to\nnode\nfrom\nfromNode") items that moved, counted in `to` and against `from`.
 */
function foldTally(raw: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (field: string, n: number) => void (out[field] = (out[field] ?? 0) + n);
  for (const [field, value] of Object.entries(raw)) {
    const [to, node, from, fromNode] = field.split('\n');
    add(`${to}\n${node}`, Number(value));
    if (from !== undefined) add(`${from}\n${fromNode ?? node}`, -Number(value));
  }
  return out;
}

/**
 * The run's tally (its counts that are not 0) and a recount of its states, read atomically; `tallied` false when the
 * run hash is gone or has no `tallied` mark (a run of a floxide before tallies), `corrupt` when a state cannot be read.
 */
export async function tallyAndRecount(admin: Admin, keyPrefix: string, runId: string): Promise<{ tallied: boolean; corrupt: boolean; tally: Record<string, number>; recount: Record<string, number> }> {
  const run = `${keyPrefix}run:{${runId}}`;
  const [recount, tally, mark] = (await admin
    .multi()
    .eval(ITEM_COUNTS, { keys: [run, `${run}:states`, `${run}:tally`], arguments: ['recount'] })
    .hGetAll(`${run}:tally`)
    .hGet(run, 'tallied')
    .exec()) as unknown as [unknown, Record<string, string>, string | null];
  const fields = Object.fromEntries(Object.entries(foldTally(tally)).filter(([, v]) => v !== 0));
  const corrupt = Array.isArray(recount) && recount[0] === 'corrupt';
  return { tallied: mark === '1', corrupt, tally: fields, recount: Array.isArray(recount) && !corrupt ? byField(recount) : {} };
}

const OUTSTANDING = new Set(['pending', 'in_progress', 'waiting_retry', 'parked']);

/**
 * The run's index of outstanding items (`P run:{id}:open`, id -> seq) and the outstanding items of its states (id ->
 * the seq in its state), read atomically; `indexed` false when the run has no `indexed` mark.
 */
export async function indexAndStates(admin: Admin, keyPrefix: string, runId: string): Promise<{ indexed: boolean; index: Record<string, number>; outstanding: Record<string, number> }> {
  const run = `${keyPrefix}run:{${runId}}`;
  const [open, states, mark] = (await admin
    .multi()
    .zRangeWithScores(`${run}:open`, 0, -1)
    .hGetAll(`${run}:states`)
    .hGet(run, 'indexed')
    .exec()) as unknown as [Array<{ value: string; score: number }>, Record<string, string>, string | null];
  const outstanding: Record<string, number> = {};
  for (const [id, packed] of Object.entries(states)) {
    const f = packed.split('|');
    if (OUTSTANDING.has(f[0]!)) outstanding[id] = Number(f[9]);
  }
  return { indexed: mark === '1', index: Object.fromEntries(open.map((m) => [m.value, m.score])), outstanding };
}

/**
 * Throws when a tallied run's tally is not its recount, or an indexed run's index is not its outstanding items by seq
 * (a run without a readable state or without the mark is not checked).
 */
export async function checkTally(admin: Admin, keyPrefix: string, runId: string, after: string): Promise<void> {
  const show = (c: Record<string, number>) => JSON.stringify(Object.fromEntries(Object.entries(c).sort()));
  const t = await tallyAndRecount(admin, keyPrefix, runId);
  if (t.corrupt) return;
  if (t.tallied && show(t.tally) !== show(t.recount)) throw new Error(`run ${runId} after ${after}: its tally ${show(t.tally)} is not a recount of its states ${show(t.recount)}`);
  const x = await indexAndStates(admin, keyPrefix, runId);
  if (x.indexed && show(x.index) !== show(x.outstanding)) throw new Error(`run ${runId} after ${after}: its index of outstanding items ${show(x.index)} is not its outstanding states ${show(x.outstanding)}`);
}

/** The calls of a backend that write item states (the scripts that call putState). */
const WRITES = new Set(['createRun', 'claim', 'commitStep', 'commitSteps', 'release', 'extendLease', 'cancelRun', 'pauseRun', 'resumeRun', 'failRun', 'signal', 'migrate']);

/**
 * `b`, with every call that writes item states followed by {@link checkTally} of each run it created: the call
 * rejects with the mismatch when a tally went wrong. Closing it closes its admin client too.
 */
export async function tallyChecked(b: RedisBackend): Promise<RedisBackend> {
  const admin = newAdmin();
  await admin.connect();
  const runs = new Set<string>();
  return new Proxy(b, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (key === 'close') return async () => (await target.close(), admin.isOpen && (await admin.close()));
      if (typeof key !== 'string' || !WRITES.has(key)) return v;
      return async (...args: unknown[]) => {
        const created = key === 'createRun' ? (args[0] as { runId: string }).runId : undefined;
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(receiver, args);
        } finally {
          // a new run is tallied by its first count (a short run is not, until then): counted here, so that every
          // later write keeps a tally that is checked
          if (created !== undefined && !runs.has(created)) {
            runs.add(created);
            await target.itemCounts(created).catch(() => undefined);
          }
          for (const runId of runs) await checkTally(admin, target.keyPrefix, runId, key);
        }
      };
    },
  });
}

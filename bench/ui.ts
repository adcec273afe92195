/**
 * The dashboard's runs list with 100,000 runs in the store: the server time of one page (`GET /api/runs`, 50 rows,
 * through `floxide ui`'s HTTP server on loopback), for the newest page, a page filtered by workflow, and a page deep
 * in the list (reached by following `next` cursors), on Redis and Postgres. Keyset paging makes them all cost the same.
 *
 *   tsx bench/ui.ts [--runs 100000] [--backends redis,postgres] [--redis redis://127.0.0.1:6379]
 *     [--postgres postgres://postgres@127.0.0.1:5432/test] [--json]
 *
 * Target: every page under 200 ms.
 */
import { connectBackend } from '../runtime/distributed/connect.js';
import type { DistributedBackend } from '../runtime/distributed/contracts.js';
import { startUiServer } from '../cli/ui/server.js';
import { printRows, spread, type BenchRow } from './rows.js';
import { scratchStore } from './scratch-store.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '100000'));
const BACKENDS = arg('backends', 'redis,postgres').split(',');
const REDIS_URL = arg('redis', 'redis://127.0.0.1:6379');
const POSTGRES_URL = arg('postgres', 'postgres://postgres@127.0.0.1:5432/test');
const REPEAT = 25;
const TARGET_MS = 200;

function storeFor(name: string) {
  return scratchStore(name, { redis: REDIS_URL, postgres: POSTGRES_URL }, 'uibench');
}

/** Creates `RUNS` runs of two workflows, a thousand requests in flight (the backends batch them). */
async function fill(backend: DistributedBackend): Promise<void> {
  const CHUNK = 1000;
  for (let start = 0; start < RUNS; start += CHUNK) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(RUNS, start + CHUNK); i++) {
      const workflow = i % 4 === 0 ? 'Billing' : 'Orders';
      batch.push(backend.createRun({ runId: `run-${i}`, workflow, fingerprint: 'f'.repeat(16), input: { order: i }, context: {}, firstItem: { node: 'start', id: '0', input: { order: i } } }));
    }
    await Promise.all(batch);
  }
}

async function timed(url: string): Promise<{ ms: number; body: { runs: unknown[]; next: string | null } }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { runs: unknown[]; next: string | null };
  const ms = performance.now() - t0;
  if (res.status !== 200 || body.runs.length !== 50) throw new Error(`${url}: ${res.status} with ${body.runs?.length} runs`);
  return { ms, body };
}

async function benchBackend(name: string): Promise<BenchRow[]> {
  const { url, cleanup } = await storeFor(name);
  const backend = await connectBackend(url);
  try {
    const filled = performance.now();
    await fill(backend);
    console.log(`${name}: ${RUNS} runs created in ${((performance.now() - filled) / 1000).toFixed(1)} s`);
    const server = await startUiServer({ backend });
    try {
      // The page after the first 10,000 runs: follow the cursors 500 rows at a time.
      let after: string | null = null;
      for (let n = 0; n < 10_000; n += 500) {
        const page = (await (await fetch(`${server.url}api/runs?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`)).json()) as { next: string | null };
        after = page.next;
      }
      const pages: Array<[string, string]> = [
        ['newest page', `${server.url}api/runs`],
        ['filtered by workflow', `${server.url}api/runs?workflow=Billing`],
        ['page after 10,000 runs', `${server.url}api/runs?after=${encodeURIComponent(after!)}`],
      ];
      const rows: BenchRow[] = [];
      for (const [what, pageUrl] of pages) {
        const times: number[] = [];
        await timed(pageUrl); // warm: prepared statements, script cache, connections
        for (let i = 0; i < REPEAT; i++) times.push((await timed(pageUrl)).ms);
        const s = spread(times.map((t) => Math.round(t * 10) / 10));
        console.log(`${name}: ${what}: median ${s.value} ms (${s.min}-${s.max})`);
        rows.push({ figure: `ui runs list, ${RUNS.toLocaleString('en-US')} runs, ${what} (${name})`, ...s, unit: 'ms', target: `< ${TARGET_MS} ms`, pass: s.value < TARGET_MS });
      }
      return rows;
    } finally {
      await server.close();
    }
  } finally {
    await backend.close();
    await cleanup();
  }
}

const rows: BenchRow[] = [];
for (const name of BACKENDS) rows.push(...(await benchBackend(name)));
if (process.argv.includes('--json')) printRows(rows);

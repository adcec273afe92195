/**
 * The dashboard's pages, through `floxide ui`'s HTTP server on loopback, timed by the client:
 * - `list`: the runs list with 100,000 runs in the store: one page (`GET /api/runs`, 50 rows) for the newest page, a
 *   page filtered by workflow, and a page deep in the list (reached by following `next` cursors), on Redis and
 *   Postgres. Keyset paging makes them all cost the same.
 * - `run`: one run's page (`GET /api/runs/<id>`) of a long run: a 2-node loop of 20,000 steps (LoopBench of
 *   bench/flows/local.ts), and a fan-out of 2,000 items into a join (FanWorkflow of test/fixtures/distributed/flows.ts),
 *   finished, and (Redis, Postgres) paused right after its fan-out, its 2,000 items outstanding; on Redis and Postgres
 *   (run by an in-process worker) and a SQLite checkpoint file (`runWithCheckpoint`).
 *
 *   tsx bench/ui.ts [--pages list,run] [--runs 100000] [--steps 20000] [--fan 2000] [--backends redis,postgres]
 *     [--run-backends redis,postgres,sqlite] [--redis redis://127.0.0.1:6379]
 *     [--postgres postgres://postgres@127.0.0.1:5432/test] [--json]
 *
 * Target: every page under 200 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindWorkflow, Orchestrator, Worker, supportsObservation } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { connectBackend } from '../runtime/distributed/connect.js';
import type { DistributedBackend } from '../runtime/distributed/contracts.js';
import { startUiServer } from '../cli/ui/server.js';
import type { RunsStore } from '../cli/store/runs-store.js';
import { SqliteRunsStore } from '../cli/store/sqlite-runs.js';
import { BenchCtx, LoopBench } from './flows/local.js';
import { LoopBenchDef } from './flows/local.floxide.js';
import { CountCtx, FanWorkflow } from '../test/fixtures/distributed/flows.js';
import { FanWorkflowDef } from '../test/fixtures/distributed/flows.floxide.js';
import { printRows, spread, type BenchRow } from './rows.js';
import { scratchStore } from './scratch-store.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '100000'));
const BACKENDS = arg('backends', 'redis,postgres').split(',');
const PAGES = arg('pages', 'list,run').split(',');
const STEPS = Number(arg('steps', '20000'));
const FAN = Number(arg('fan', '2000'));
const RUN_BACKENDS = arg('run-backends', 'redis,postgres,sqlite').split(',');
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

/** The run page of `runId`, `REPEAT` times after a warm-up: its figure row. */
async function timeRunPage(store: RunsStore, runId: string, what: string, name: string): Promise<BenchRow> {
  const server = await startUiServer({ backend: store });
  try {
    const pageUrl = `${server.url}api/runs/${encodeURIComponent(runId)}`;
    const once = async () => {
      const t0 = performance.now();
      const res = await fetch(pageUrl);
      const body = (await res.json()) as { run?: unknown };
      const ms = performance.now() - t0;
      if (res.status !== 200 || !body.run) throw new Error(`${pageUrl}: ${res.status}`);
      return ms;
    };
    await once();
    const times: number[] = [];
    for (let i = 0; i < REPEAT; i++) times.push(await once());
    const s = spread(times.map((t) => Math.round(t * 10) / 10));
    console.log(`${name}: run page, ${what}: median ${s.value} ms (${s.min}-${s.max})`);
    return { figure: `ui run page, ${what} (${name})`, ...s, unit: 'ms', target: `< ${TARGET_MS} ms`, pass: s.value < TARGET_MS };
  } finally {
    await server.close();
  }
}

/** Runs `runId` to its end with an in-process worker; with `pauseAfter`, pauses it once that node's first step finished instead. */
async function runOn(backend: DistributedBackend, runId: string, start: (orch: Orchestrator<any, any, any>, runId: string) => Promise<string>, wf: Parameters<typeof bindWorkflow>[0], instance: object, pauseAfter?: string): Promise<string> {
  const bound = bindWorkflow(wf as never, instance as never) as never;
  const orch = new Orchestrator(backend, bound);
  const worker = new Worker(backend, (bound as { def: never }).def, (bound as { instance: never }).instance, { concurrency: pauseAfter ? 1 : 16, idleMinMs: 1, idleMaxMs: 20 });
  const ac = new AbortController();
  let paused: Promise<void> | undefined;
  if (pauseAfter && supportsObservation(backend)) {
    paused = (async () => {
      for await (const e of backend.subscribe({ runId, signal: ac.signal })) {
        if (e.event.type === 'step.finished' && e.event.node === pauseAfter) return void (await backend.pauseRun(e.event.runId));
      }
    })();
  }
  void worker.start();
  try {
    await start(orch, runId);
    if (paused) await paused;
    else await orch.waitForCompletion(runId, { timeoutMs: 600_000, pollMs: 100 });
    return runId;
  } finally {
    ac.abort();
    await worker.stop();
  }
}

async function benchRunPages(name: string): Promise<BenchRow[]> {
  const steps = `${STEPS.toLocaleString('en-US')}-step loop`;
  const fan = `fan-out of ${FAN.toLocaleString('en-US')}`;
  const rows: BenchRow[] = [];
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'floxide-uibench-'));
    try {
      const file = join(dir, 'runs.db');
      const writer = new SqliteCheckpointStore(file);
      const filled = performance.now();
      await bindWorkflow(LoopBenchDef, new LoopBench(STEPS / 2)).runWithCheckpoint(new BenchCtx(), { n: 0 }, writer, 'loop');
      await bindWorkflow(FanWorkflowDef, new FanWorkflow()).runWithCheckpoint(new CountCtx(), FAN, writer, 'fan');
      await writer.close();
      console.log(`${name}: runs made in ${((performance.now() - filled) / 1000).toFixed(1)} s`);
      const store = SqliteRunsStore.open(file);
      try {
        rows.push(await timeRunPage(store, 'loop', steps, name));
        rows.push(await timeRunPage(store, 'fan', `${fan}, finished`, name));
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  }
  const { url, cleanup } = storeFor(name);
  const backend = await connectBackend(url);
  try {
    const filled = performance.now();
    const loop = await runOn(backend, 'loop', (o, runId) => o.startRun(new BenchCtx(), { n: 0 }, { runId }), LoopBenchDef, new LoopBench(STEPS / 2));
    const fanDone = await runOn(backend, 'fan', (o, runId) => o.startRun(new CountCtx(), FAN, { runId }), FanWorkflowDef, new FanWorkflow());
    const fanOpen = await runOn(backend, 'fan-open', (o, runId) => o.startRun(new CountCtx(), FAN, { runId }), FanWorkflowDef, new FanWorkflow(), 'split');
    console.log(`${name}: runs made in ${((performance.now() - filled) / 1000).toFixed(1)} s`);
    rows.push(await timeRunPage(backend, loop, steps, name));
    rows.push(await timeRunPage(backend, fanDone, `${fan}, finished`, name));
    rows.push(await timeRunPage(backend, fanOpen, `${fan}, paused after the fan-out`, name));
    return rows;
  } finally {
    await backend.close();
    await cleanup();
  }
}

const rows: BenchRow[] = [];
if (PAGES.includes('list')) for (const name of BACKENDS) rows.push(...(await benchBackend(name)));
if (PAGES.includes('run')) for (const name of RUN_BACKENDS) rows.push(...(await benchRunPages(name)));
if (process.argv.includes('--json')) printRows(rows);

/**
 * One run of 100,000 items, as an operator sees it (not part of `npm run bench`: minutes, not seconds). On each store,
 * a WideWorkflow run (test/fixtures/distributed/wide.ts) fans out `--items` rows and part of them are processed; then,
 * with the run open and again once it ended, each operation an operator runs is timed (wall time) and, for the CLI
 * commands, the peak memory of the `floxide` process (`/usr/bin/time`'s max RSS): `runs show` (plain, `--context`,
 * `--json`, `--limit 20 --context`), `runs list`, `runs watch <run>` (time to its first line), the dashboard's run page
 * (`GET /api/runs/<id>`) and its live stream's first event, pause/resume/cancel, and `runs purge`. On Redis and
 * Postgres, also the store's counts of the run as the run page reads them (`itemCounts`, `metrics`, in process), and one claim of a small run's item next to the open big run (`claim` with the small run's version only,
 * and plain), against the same claim in a store with one small run. Results: docs/benchmarks.md.
 *
 *   npm run build:dist && tsx bench/big-run.ts [--items 100000] [--done 10000] [--stores redis,postgres,sqlite]
 */
import { spawnSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindWorkflow, Orchestrator, Worker } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { connectBackend } from '../runtime/distributed/connect.js';
import type { DistributedBackend } from '../runtime/distributed/contracts.js';
import { startUiServer } from '../cli/ui/server.js';
import { openRunsStore } from '../cli/store/open.js';
import { WideCtx, WideWorkflow } from '../test/fixtures/distributed/wide.js';
import { WideWorkflowDef } from '../test/fixtures/distributed/wide.floxide.js';
import { ChainWorkflow, CountCtx } from '../test/fixtures/distributed/flows.js';
import { ChainWorkflowDef } from '../test/fixtures/distributed/flows.floxide.js';
import { scratchStore } from './scratch-store.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const ITEMS = Number(arg('items', '100000'));
const DONE = Number(arg('done', '10000'));
const STORES = arg('stores', 'redis,postgres,sqlite').split(',');
const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'cli.js');
const urls = { redis: 'redis://127.0.0.1:6379', postgres: 'postgres://postgres@127.0.0.1:5432/test' };

const log = (what: string, value: string) => console.log(`  ${what.padEnd(44)} ${value}`);

/** `floxide <args>` in its own process: wall time, peak RSS and stdout size. */
function cli(what: string, args: string[]): void {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const [secs, kb] = r.stderr.trim().split('\n').pop()!.split(' ');
  log(what, `${(Number(secs) * 1000).toFixed(0)} ms, ${(Number(kb) / 1024).toFixed(0)} MB RSS, ${(r.stdout.length / 1024).toFixed(0)} KB out, exit ${r.status}${r.status ? `: ${r.stderr.split('\n')[0]}` : ''}`);
}

/** `floxide runs watch <run>`: the time to its first line (it then streams on; stopped after that). */
async function watch(url: string, runId: string): Promise<void> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'runs', 'watch', runId, '--store', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', () => resolve());
  });
  log('runs watch <run>: first line', `${(performance.now() - t0).toFixed(0)} ms`);
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
}

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const v = await fn();
  log(what, `${(performance.now() - t0).toFixed(0)} ms`);
  return v;
}

async function uiPage(url: string, runId: string): Promise<void> {
  const store = await openRunsStore(url);
  const server = await startUiServer({ backend: store });
  try {
    for (let i = 0; i < 3; i++) {
      await timed(`ui run page GET /api/runs/<id> #${i + 1}`, async () => {
        const res = await fetch(`${server.url}api/runs/${runId}`);
        const body = await res.text();
        if (res.status !== 200) throw new Error(`${res.status} ${body.slice(0, 200)}`);
      });
    }
    await timed('ui run page live: first event', async () => {
      const ac = new AbortController();
      const res = await fetch(`${server.url}api/runs/${runId}/live`, { signal: ac.signal });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
      ac.abort();
    });
  } finally {
    await server.close();
    await store.close();
  }
}

async function operations(url: string, runId: string, when: string): Promise<void> {
  console.log(` ${when}`);
  cli('runs show <run>', ['runs', 'show', runId, '--store', url]);
  cli('runs show <run> --context', ['runs', 'show', runId, '--context', '--store', url]);
  cli('runs show <run> --json', ['runs', 'show', runId, '--json', '--store', url]);
  cli('runs show <run> --limit 20 --context', ['runs', 'show', runId, '--limit', '20', '--context', '--store', url]);
  cli('runs list', ['runs', 'list', '--store', url]);
  await watch(url, runId);
  await uiPage(url, runId);
}

/** One claim of a small run's item, `n` times (the item is given back each time). */
async function claims(backend: DistributedBackend, what: string, fingerprints?: string[]): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const got = await backend.claim('probe', 1, 30_000, fingerprints ? { workflow: 'ChainWorkflow', fingerprints } : undefined);
    times.push(performance.now() - t0);
    for (const l of got) await backend.release(l.runId, l.item.id, l.leaseToken);
  }
  times.sort((a, b) => a - b);
  log(what, `median ${times[10]!.toFixed(2)} ms (max ${times[19]!.toFixed(1)})`);
}

/** The store's counts of the run, as the run page reads them (`itemCounts`, `metrics`), in this process: 3 reads each. */
async function counts(backend: DistributedBackend, runId: string): Promise<void> {
  for (const [what, read] of [['itemCounts', () => backend.itemCounts(runId)], ['metrics', () => backend.metrics(runId)]] as const) {
    const times: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await read();
      times.push((performance.now() - t0).toFixed(1));
    }
    log(`${what} of the big run (3 reads)`, `${times.join(', ')} ms`);
  }
}

async function distributed(name: string): Promise<void> {
  const scratch = scratchStore(name, urls, 'bigrun');
  const backend = await connectBackend(scratch.url);
  try {
    console.log(`${name}: ${ITEMS} items, ${DONE} processed before the open measurements`);
    const small = new Orchestrator(backend, bindWorkflow(ChainWorkflowDef, new ChainWorkflow()));
    await small.startRun(new CountCtx(), 0, { runId: 'small-empty' });
    await claims(backend, 'claim, store with one small run (baseline)', [ChainWorkflowDef.fingerprint]);
    await backend.cancelRun('small-empty');
    let rows = 0;
    let pausing: Promise<unknown> | undefined;
    const wf = new WideWorkflow(async () => {
      if (++rows === DONE) pausing = backend.pauseRun('wide');
    });
    const orch = new Orchestrator(backend, bindWorkflow(WideWorkflowDef, wf));
    const worker = new Worker(backend, WideWorkflowDef, wf, { concurrency: 16, idleMinMs: 1, idleMaxMs: 20 });
    void worker.start();
    const t0 = performance.now();
    await orch.startRun(new WideCtx(), ITEMS, { runId: 'wide' });
    while (pausing === undefined) await new Promise((r) => setTimeout(r, 50));
    await pausing;
    await worker.stop();
    log(`fan-out + ${DONE} rows`, `${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await timed('resume (paused by the bench)', () => backend.resumeRun('wide'));
    await small.startRun(new CountCtx(), 0, { runId: 'small' });
    await claims(backend, 'claim, small run\'s version, big run open', [ChainWorkflowDef.fingerprint]);
    await claims(backend, 'claim, any version, big run open');
    await counts(backend, 'wide');
    await operations(scratch.url, 'wide', `open (${ITEMS - DONE} outstanding)`);
    await timed('pause', () => backend.pauseRun('wide'));
    await timed('resume', () => backend.resumeRun('wide'));
    const w2 = new Worker(backend, WideWorkflowDef, new WideWorkflow(), { concurrency: 32, idleMinMs: 1, idleMaxMs: 20 });
    void w2.start();
    const t1 = performance.now();
    await orch.waitForCompletion('wide', { timeoutMs: 3_600_000, pollMs: 500 });
    log('rest of the run', `${((performance.now() - t1) / 1000).toFixed(1)} s`);
    await w2.stop();
    await counts(backend, 'wide');
    await operations(scratch.url, 'wide', 'completed');
    // a second run to cancel while open
    const w3 = new Worker(backend, WideWorkflowDef, new WideWorkflow(), { concurrency: 1 });
    void w3.start();
    await orch.startRun(new WideCtx(), ITEMS, { runId: 'wide-cancel' });
    while ((await backend.metrics('wide-cancel')).completed < 1) await new Promise((r) => setTimeout(r, 50));
    await w3.stop();
    await timed(`cancel (${ITEMS} outstanding)`, () => backend.cancelRun('wide-cancel'));
    if (name === 'postgres') cli('runs purge --older-than-ms 0', ['runs', 'purge', '--older-than-ms', '0', '--store', scratch.url]);
  } finally {
    await backend.close();
    await scratch.cleanup();
  }
}

async function sqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'floxide-bigrun-'));
  const file = join(dir, 'runs.db');
  const url = `sqlite:${file}`;
  try {
    console.log(`sqlite: ${ITEMS} items, ${DONE} processed before the open measurements`);
    const store = new SqliteCheckpointStore(file);
    let rows = 0;
    let open!: () => void;
    const held = new Promise<void>((r) => (open = r));
    let reached!: () => void;
    const atDone = new Promise<void>((r) => (reached = r));
    const wf = new WideWorkflow(async () => {
      if (++rows === DONE) {
        reached();
        await held;
      }
    });
    const t0 = performance.now();
    const run = bindWorkflow(WideWorkflowDef, wf).runWithCheckpoint(new WideCtx(), ITEMS, store, 'wide');
    await atDone;
    log(`fan-out + ${DONE} rows`, `${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await operations(url, 'wide', `open (${ITEMS - DONE} outstanding, its process holding it)`);
    open();
    await run;
    log('whole run', `${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await operations(url, 'wide', 'completed');
    cli('runs purge --older-than-ms 0', ['runs', 'purge', '--older-than-ms', '0', '--store', url]);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const s of STORES) {
  if (s === 'sqlite') await sqlite();
  else await distributed(s);
}

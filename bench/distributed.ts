/**
 * Distributed throughput: N runs (default 2,000) of a 5-step chain processed by 2 worker processes, per backend,
 * with every commit guarantee on (leases, one atomic idempotent commit per step, context deltas, metrics).
 * Reports end-to-end steps/s (first run created -> last step committed) and item latency p50/p99 (from the
 * commit that enqueued an item, or the run's creation for the first step, to the item's own commit).
 *
 *   tsx bench/distributed.ts [--runs 2000] [--warmup 1000] [--repeat 3] [--concurrency 128] [--backends redis,postgres] [--redis redis://127.0.0.1:6379]
 *     [--postgres postgres://postgres@127.0.0.1:5432/test] [--cpu-prof <dir>]
 *
 * `--cpu-prof <dir>`: each worker writes a V8 CPU profile (100 us sampling) of its measured steps only, from the end
 * of its warm-up to its stop (`<dir>/worker-<pid>.cpuprofile`), without module loading or warm-up in it.
 *
 * Each repetition starts fresh worker processes and first has them process `--warmup` runs, untimed (their commits
 * and CPU time not counted): the figures are those of workers past their JIT warm-up, as a long-lived worker runs.
 *
 * Targets: Redis >= 10,000 steps/s, Postgres >= 3,000 steps/s. `redis-events-off` / `postgres-events-off` are the
 * same backends publishing no events (`?events=0`; the step history is kept either way): the `<backend>: events` rows
 * are the steps/s with events over without them, the cost of the events (target: under 10%, i.e. >= 90%).
 * `redis-traced` is Redis with OpenTelemetry tracing on (runs stored with a traceparent, workers with `tracing`, an
 * SDK tracer provider whose batch processor hands every span to an exporter that drops it): the `redis: tracing` row
 * is the steps/s traced over the same untraced (`redis`), the cost of making and processing the spans (target: under
 * 10%). `redis-traced-sampled` is the same with one run in ten sampled (as a parent-based ratio sampler records them):
 * the other runs' steps still go through floxide's tracing, as spans the SDK does not record. `redis-traced-cm` is
 * `redis-traced` in workers that registered a context manager, as `NodeSDK.start()` does (spans live while their
 * node runs, node code inside them).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printRows, spread } from './rows.js';
import { randomBytes } from 'node:crypto';
import { connectBackend, formatTraceparent } from 'floxide';
import { ChainWorkflowDef } from '../test/fixtures/distributed/flows.floxide.js';
import { scratchStore } from './scratch-store.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '2000'));
/** Runs processed by each repetition's fresh workers before the timed ones (see above). */
const WARMUP = Number(arg('warmup', '1000'));
// 128 items in flight per worker process: the Postgres path is latency-bound (each commit waits on a flush), so it
// needs more in flight than Redis; measured 64 vs 128 on the same machine (docs/benchmarks.md).
const CONCURRENCY = Number(arg('concurrency', '128'));
const BACKENDS = arg('backends', 'redis,redis-events-off,redis-traced,redis-traced-sampled,redis-traced-cm,postgres,postgres-events-off').split(',');
/** `redis-traced-sampled`: one run in this many is sampled (its spans recorded). */
const SAMPLED_ONE_IN = 10;
const REDIS_URL = arg('redis', 'redis://127.0.0.1:6379');
const POSTGRES_URL = arg('postgres', 'postgres://postgres@127.0.0.1:5432/test');
/** Directory for the worker processes' V8 CPU profiles of the measured steps (made, when given). */
const CPU_PROF = arg('cpu-prof', '');
if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
/** Repetitions per backend (the median goes in the --json rows). */
const REPEAT = Number(arg('repeat', '3'));
const STEPS = 5;
const WORKERS = 2;
const TARGET: Record<string, number> = { redis: 10_000, 'redis-events-off': 10_000, 'redis-traced': 10_000, 'redis-traced-sampled': 10_000, 'redis-traced-cm': 10_000, postgres: 3_000, 'postgres-events-off': 3_000 };

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Child {
  readonly done: Promise<void>;
  readonly ready: Promise<void>;
  /** Tells the worker its warm-up is over: resolves once it has forgotten its commits and restarted its CPU count. */
  mark(): Promise<void>;
  completed: number;
  /** User + system CPU microseconds the worker spent after `ready`, or after its warm-up (known once it stopped). */
  cpuUs: number;
  kill(): void;
}

/** `mode`: the worker's tracing (see bench/distributed-worker.ts). */
function spawnWorker(store: string, out: string, mode: 'traced' | 'traced-cm' | undefined): Child {
  const args = ['--import', 'tsx', 'bench/distributed-worker.ts', store, String(CONCURRENCY), out, ...(mode ? [mode] : [])];
  const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: CPU_PROF ? { ...process.env, FLOXIDE_BENCH_CPU_PROF: CPU_PROF } : process.env });
  let buf = '';
  let ready!: () => void;
  let marked: (() => void) | undefined;
  const child: Child = {
    ready: new Promise<void>((r) => (ready = r)),
    mark: () =>
      new Promise<void>((r) => {
        marked = r;
        p.kill('SIGUSR2');
      }),
    done: new Promise<void>((r) => p.on('exit', () => r())),
    completed: 0,
    cpuUs: 0,
    kill: () => p.kill('SIGTERM'),
  };
  p.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      if (l === 'ready') ready();
      else if (l === 'marked') marked?.();
      else if (l.startsWith('progress ')) child.completed = Number(l.slice(9));
      else if (l.startsWith('cpu ')) child.cpuUs = Number(l.slice(4));
    }
  });
  return child;
}

/** Last CPU seconds seen per Postgres server process of the bench's connections (see serverCpuSeconds). */
const pgSeen = new Map<number, number>();

/**
 * CPU seconds the store's server used so far, or NaN when unknown. Redis: INFO cpu of its main process. Postgres:
 * user + system time (`/proc/<pid>/stat`, so only for a server on this machine) of the server processes of the
 * bench's own connections (`application_name` = `tag`), each counted from 0 (a connection opened during the run
 * counts whole); the server's background processes (WAL writer, checkpointer) are not included.
 */
async function serverCpuSeconds(name: string, tag: string): Promise<number> {
  if (name.startsWith('postgres')) {
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    try {
      const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [tag]);
      for (const { pid } of rows) {
        try {
          // utime and stime are fields 14 and 15, in clock ticks (100 per second); the name in (...) may hold spaces
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          pgSeen.set(pid, (Number(f[11]) + Number(f[12])) / 100);
        } catch {
          return NaN; // not a local server (or the process just ended)
        }
      }
      return [...pgSeen.values()].reduce((a, b) => a + b, 0);
    } finally {
      await c.end();
    }
  }
  if (!name.startsWith('redis')) return NaN;
  const { createClient } = await import('@redis/client');
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  try {
    const info = (await c.sendCommand(['INFO', 'cpu'])) as string;
    const field = (k: string) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    await c.close();
  }
}

function storeFor(name: string) {
  return scratchStore(name, { redis: REDIS_URL, postgres: POSTGRES_URL }, 'bench');
}

async function benchBackend(name: string) {
  const { url, tag, cleanup } = await storeFor(name);
  const backend = await connectBackend(url);
  const dir = mkdtempSync(join(tmpdir(), 'flx-bench-'));
  try {
    const outs = Array.from({ length: WORKERS }, (_, i) => join(dir, `w${i}.json`));
    const mode = name === 'redis-traced-cm' ? 'traced-cm' : name.startsWith('redis-traced') ? 'traced' : undefined;
    const traced = mode !== undefined;
    const sampled = name === 'redis-traced-sampled';
    const children = outs.map((o) => spawnWorker(url, o, mode));
    await Promise.all(children.map((c) => c.ready));
    // traced: each run stored with a traceparent, as `startDistributed` with `tracing` stores its start span's
    // (sampled: one run in SAMPLED_ONE_IN marked sampled, as a ratio sampler at the start decides; the workers' SDK,
    // parent-based by default, records the spans of those runs only)
    const traceparentOf = (i: number) =>
      traced ? { traceparent: formatTraceparent({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: !sampled || i % SAMPLED_ONE_IN === 0 ? 1 : 0 }) } : {};
    const create = (runId: string, i: number) =>
      backend.createRun({ runId, workflow: ChainWorkflowDef.name, fingerprint: ChainWorkflowDef.fingerprint, input: 0, context: { count: 0 }, firstItem: { node: 's1', id: '0', input: 0 }, ...traceparentOf(i) });
    const completed = () => children.reduce((n, c) => n + c.completed, 0);
    if (WARMUP > 0) {
      await Promise.all(Array.from({ length: WARMUP }, (_, i) => create(`w${i}`, i)));
      while (completed() < WARMUP) await new Promise((r) => setTimeout(r, 20));
      await Promise.all(children.map((c) => c.mark()));
    }
    const created = new Map<string, number>();
    const serverCpu0 = await serverCpuSeconds(name, tag);
    const t0 = Date.now();
    // Every createRun is issued at once: the client pipelines them (they count in the elapsed time). An item's
    // latency starts when its createRun was issued (step 1) or when the commit that enqueued it returned.
    await Promise.all(
      Array.from({ length: RUNS }, async (_, i) => {
        const runId = `r${i}`;
        created.set(runId, Date.now());
        await create(runId, i);
      }),
    );
    const tCreated = Date.now();
    while (completed() < WARMUP + RUNS) await new Promise((r) => setTimeout(r, 20));
    const serverCpu = (await serverCpuSeconds(name, tag)) - serverCpu0;
    for (const c of children) c.kill();
    await Promise.all(children.map((c) => c.done));
    const commits = outs.flatMap((o) => JSON.parse(readFileSync(o, 'utf8')) as Array<[string, string, number]>);
    const t1 = Math.max(...commits.map((c) => c[2]));
    const byRun = new Map<string, Map<string, number>>();
    for (const [runId, node, t] of commits) {
      let m = byRun.get(runId);
      if (!m) byRun.set(runId, (m = new Map()));
      m.set(node, t);
    }
    const latencies: number[] = [];
    for (const [runId, m] of byRun) {
      let prev = created.get(runId)!;
      for (let s = 1; s <= STEPS; s++) {
        const t = m.get(`s${s}`)!;
        latencies.push(t - prev);
        prev = t;
      }
    }
    latencies.sort((a, b) => a - b);
    // Every run completed with the right output, each step committed once.
    const sample = await backend.listRuns({ status: 'completed' });
    const wrong = sample.filter((r) => r.output !== 5).length;
    if (commits.length !== RUNS * STEPS || sample.length !== WARMUP + RUNS || wrong > 0) {
      throw new Error(`${name}: ${commits.length} commits for ${RUNS * STEPS} steps, ${sample.length} completed runs of ${WARMUP + RUNS}, ${wrong} wrong outputs`);
    }
    return {
      backend: name,
      runs: RUNS,
      steps: RUNS * STEPS,
      seconds: (t1 - t0) / 1000,
      stepsPerSec: Math.round((RUNS * STEPS * 1000) / (t1 - t0)),
      createMs: tCreated - t0,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      target: TARGET[name] ?? 0,
      /** CPU microseconds per step: both worker processes together, and the server (NaN when not measured). */
      workerUsPerStep: children.reduce((n, c) => n + c.cpuUs, 0) / (RUNS * STEPS),
      serverUsPerStep: (serverCpu * 1e6) / (RUNS * STEPS),
    };
  } finally {
    await backend.close();
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each backend REPEAT times (fresh keys / schema and worker processes each time), interleaved; the table shows every
// repetition and the --json rows the median with its spread.
const rows: Array<Awaited<ReturnType<typeof benchBackend>>> = [];
for (let rep = 0; rep < REPEAT; rep++) for (const name of BACKENDS) rows.push(await benchBackend(name));
console.log(`\n${RUNS} runs x ${STEPS}-step chain (after ${WARMUP} warm-up runs), ${WORKERS} worker processes x concurrency ${CONCURRENCY}, ${REPEAT} repetition(s)\n`);
console.log('backend    steps    seconds  steps/s  target   item p50  item p99   CPU us/step: workers  server');
const us = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-').padStart(7);
for (const r of rows) {
  console.log(
    `${r.backend.padEnd(9)}  ${String(r.steps).padStart(6)}  ${r.seconds.toFixed(2).padStart(7)}  ${String(r.stepsPerSec).padStart(7)}  ${String(r.target).padStart(6)}${r.stepsPerSec >= r.target ? ' ok' : ' --'}  ${String(r.p50).padStart(6)} ms  ${String(r.p99).padStart(6)} ms  ${us(r.workerUsPerStep).padStart(20)}  ${us(r.serverUsPerStep)}`,
  );
}
if (process.argv.includes('--json')) {
  printRows([
    ...BACKENDS.flatMap((name) => {
      const mine = rows.filter((r) => r.backend === name);
      const of = (f: (r: (typeof mine)[number]) => number) => spread(mine.map(f));
      const rate = of((r) => r.stepsPerSec);
      const target = TARGET[name] ?? 0;
      const server = of((r) => r.serverUsPerStep);
      return [
        { figure: `${name}: ${RUNS} runs x ${STEPS}-step chain, ${WORKERS} worker processes x ${CONCURRENCY}`, ...rate, unit: 'steps/s', target: `>= ${target}`, pass: rate.value >= target },
        { figure: `${name}: item latency p50`, ...of((r) => r.p50), unit: 'ms', target: '-' },
        { figure: `${name}: item latency p99`, ...of((r) => r.p99), unit: 'ms', target: '-' },
        { figure: `${name}: worker CPU per step (both processes)`, ...round(of((r) => r.workerUsPerStep)), unit: 'us', target: '-' },
        ...(Number.isFinite(server.value) ? [{ figure: `${name}: server CPU per step`, ...round(server), unit: 'us', target: '-' }] : []),
      ];
    }),
    ...eventsRow('redis'),
    ...eventsRow('postgres'),
    ...tracingRow(),
  ]);
}

/** The steps/s of backend `on` over those of `off` (medians of the same session), when both ran: a feature's cost. */
function costRow(on: string, off: string, figure: string, target: string) {
  if (!BACKENDS.includes(on) || !BACKENDS.includes(off)) return [];
  const rate = (name: string) => spread(rows.filter((r) => r.backend === name).map((r) => r.stepsPerSec)).value;
  const ratio = rate(on) / rate(off);
  return [{ figure, value: rate(on), bare: rate(off), ratio, unit: 'steps/s', target, pass: ratio >= 0.9 }];
}

/** The cost of the events: a backend's steps/s with events over the same without. */
function eventsRow(backend: 'redis' | 'postgres') {
  return costRow(backend, `${backend}-events-off`, `${backend}: events (on vs off, steps/s)`, '>= 90% of events off');
}

/** The cost of tracing: Redis traced over the same untraced, every run sampled, one in ten, and with a context manager. */
function tracingRow() {
  return [
    ...costRow('redis-traced', 'redis', 'redis: tracing (spans on vs off, steps/s)', '>= 90% of tracing off'),
    ...costRow('redis-traced-sampled', 'redis', `redis: tracing, 1 run in ${SAMPLED_ONE_IN} sampled (on vs off, steps/s)`, '>= 90% of tracing off'),
    ...costRow('redis-traced-cm', 'redis', 'redis: tracing with a context manager, as NodeSDK (on vs off, steps/s)', '>= 90% of tracing off'),
  ];
}

function round(x: { value: number; min: number; max: number }) {
  return { value: Math.round(x.value), min: Math.round(x.min), max: Math.round(x.max) };
}

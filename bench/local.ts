/**
 * The local-mode figures, each beside the same work done bare in the same process (the ceiling):
 *   1. in-memory `run` of a 2-node loop, 1,000,000 steps, vs a bare async loop calling the same two process()
 *      methods (target >= 15% of the bare loop's steps/s);
 *   2. the same loop for 20,000 steps checkpointed on SQLite, one commit per step, default (background WAL
 *      checkpoints), `checkpoints: 'inline'` and `exclusive: true` stores, vs the bare loop plus one bare one-row
 *      SQLite transaction per step with SQLite's inline auto-checkpoint (target >= 30,000 steps/s);
 *      also per CPU-second, which a shared machine's load does not skew as much as wall time;
 *   3. bytes written per step (the process's write() bytes, WAL and checkpoints included) with a 1 KB and a 1 MB
 *      context (target: flat);
 *   4. a 10,000-item fan-out into one join (< 50 ms) and 100,000 items' peak RSS (< 300 MB, in a child process).
 * Every figure is measured several times: the value is the median, min/max the spread.
 *
 * Usage: npx tsx bench/local.ts [--json] [--runs 5]   (--json: one `{"rows": [...]}` line for bench/run.ts)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import {
  bindWorkflow,
  type CheckpointStore,
  type WorkflowCtx,
} from 'floxide';
import { SqliteCheckpointStore, type SqliteCheckpointStoreOptions } from 'floxide/sqlite';
import { BenchCtx, Check, FanInBench, Inc, LoopBench, Spread, Sum } from './flows/local.js';
import { FanInBenchDef, LoopBenchDef } from './flows/local.floxide.js';
import { printRows, spread, type BenchRow } from './rows.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 5);
const MEMORY_STEPS = 1_000_000;
const SQLITE_STEPS = 20_000;
const FAN = 10_000;
const FAN_RSS = 100_000;

// ---- the bare ceilings ----------------------------------------------------------------------------------------

/** The 2-node loop without the engine: the same process() calls, `steps` of them. `commit` runs after each. */
async function bareLoop(steps: number, commit?: (step: number) => void): Promise<number> {
  const inc = new Inc();
  const check = new Check(steps / 2);
  const ctx: WorkflowCtx<BenchCtx> = { store: new BenchCtx(), signal: new AbortController().signal, runId: 'bare', itemId: '0', attempt: 1, failure: undefined };
  let input = { n: 0 };
  let done = 0;
  for (;;) {
    const a = await inc.process(ctx, input);
    if (commit) commit(done);
    done++;
    if (a.type !== 'next') throw new Error('unexpected');
    const b = await check.process(ctx, a.value);
    if (commit) commit(done);
    done++;
    if (b.type !== 'next') throw new Error('unexpected');
    if (b.value.kind === 'done') return done;
    input = b.value;
  }
}

/**
 * A bare one-row SQLite commit per step, with the store's journal row shape and pragmas: a row appended to a
 * rowid table by one INSERT statement in autocommit mode, 1 KB pages, WAL, synchronous=NORMAL.
 */
function bareCommitter(file: string, exclusive: boolean): { commit: (step: number) => void; close: () => void } {
  const db = new Database(file);
  db.pragma('page_size = 1024');
  if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 10000');
  db.exec('CREATE TABLE IF NOT EXISTS j (k INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO j VALUES (?, ?)');
  let run = 0;
  return {
    commit: (step) => ins.run(step + run * 1e9, `[{"node":"inc","id":"${step + 1}","input":{"n":${step}}}]`),
    close: () => {
      run++;
      db.close();
    },
  };
}

// ---- measuring ------------------------------------------------------------------------------------------------

interface Sample {
  ms: number;
  cpuMs: number;
}

async function sample(f: () => Promise<unknown>): Promise<Sample> {
  const c = process.cpuUsage();
  const t = process.hrtime.bigint();
  await f();
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const cu = process.cpuUsage(c);
  return { ms, cpuMs: (cu.user + cu.system) / 1000 };
}

const perSec = (steps: number, ms: number) => steps / (ms / 1000);

/** Bytes this process has passed to write() so far (Linux), or undefined elsewhere. */
function writtenBytes(): number | undefined {
  try {
    const m = /^wchar:\s*(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Delegates to a SQLite store and counts the bytes written between the first step commit and the completion.
 * The WAL is checkpointed before the first step, so the one-off write of the initial context is not counted.
 */
class MeteredStore implements CheckpointStore {
  from: number | undefined;
  to: number | undefined;
  constructor(readonly inner: SqliteCheckpointStore) {}
  createRun: CheckpointStore['createRun'] = (r) => this.inner.createRun(r);
  load: CheckpointStore['load'] = (id) => this.inner.load(id);
  getRun: CheckpointStore['getRun'] = (id) => this.inner.getRun(id);
  commitStep: CheckpointStore['commitStep'] = (id, c) => {
    if (this.from === undefined) {
      this.inner.db.pragma('wal_checkpoint(TRUNCATE)');
      this.from = writtenBytes();
    }
    return this.inner.commitStep(id, c);
  };
  complete: CheckpointStore['complete'] = async (id, c) => {
    const r = await this.inner.complete(id, c);
    this.to = writtenBytes();
    return r;
  };
  fail: CheckpointStore['fail'] = (id, e, s) => this.inner.fail(id, e, s);
  cancel: CheckpointStore['cancel'] = (id, r) => this.inner.cancel(id, r);
  reopen: CheckpointStore['reopen'] = (id) => this.inner.reopen(id);
  migrate: CheckpointStore['migrate'] = (id, m) => this.inner.migrate(id, m);
  signal: CheckpointStore['signal'] = (id, n, p, k) => this.inner.signal(id, n, p, k);
  takeSignal: CheckpointStore['takeSignal'] = (id, n, i) => this.inner.takeSignal(id, n, i);
  pendingSignals: CheckpointStore['pendingSignals'] = (id) => this.inner.pendingSignals(id);
  stepHistory: CheckpointStore['stepHistory'] = (id) => this.inner.stepHistory(id);
  close: CheckpointStore['close'] = () => this.inner.close();
}

function contextOf(bytes: number): BenchCtx {
  const ctx = new BenchCtx();
  ctx.payload = 'x'.repeat(bytes);
  return ctx;
}

// ---- the figures ----------------------------------------------------------------------------------------------

async function memoryRows(): Promise<BenchRow[]> {
  const wf = bindWorkflow(LoopBenchDef, new LoopBench(MEMORY_STEPS / 2));
  await bareLoop(MEMORY_STEPS);
  await wf.run(new BenchCtx(), { n: 0 });
  const bare: number[] = [];
  const run: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    bare.push(perSec(MEMORY_STEPS, (await sample(() => bareLoop(MEMORY_STEPS))).ms));
    run.push(perSec(MEMORY_STEPS + 1, (await sample(() => wf.run(new BenchCtx(), { n: 0 }))).ms));
  }
  const v = spread(run);
  const b = spread(bare).value;
  return [{ figure: 'in-memory run, 2-node loop, 1M steps', unit: 'steps/s', ...v, bare: b, ratio: v.value / b, target: '>= 15% of bare', pass: v.value / b >= 0.15 }];
}

async function sqliteRows(dir: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const reps = Math.max(3, Math.ceil(RUNS / 2));
  const configs: [string, SqliteCheckpointStoreOptions][] = [
    ['SQLite, default options (background checkpoints)', {}],
    ["SQLite, checkpoints: 'inline'", { checkpoints: 'inline' }],
    ['SQLite, exclusive: true', { exclusive: true }],
  ];
  for (const [label, options] of configs) {
    const exclusive = options.exclusive === true;
    const store = new SqliteCheckpointStore(join(dir, `loop-${rows.length}.db`), options);
    await bindWorkflow(LoopBenchDef, new LoopBench(500)).runWithCheckpoint(new BenchCtx(), { n: 0 }, store, 'warm');
    const bareSql = bareCommitter(join(dir, `bare-${rows.length}.db`), exclusive);
    await bareLoop(2000, bareSql.commit);
    const wall: number[] = [];
    const cpu: number[] = [];
    const bareWall: number[] = [];
    const bareCpu: number[] = [];
    for (let r = 0; r < reps; r++) {
      const wf = bindWorkflow(LoopBenchDef, new LoopBench(SQLITE_STEPS / 2));
      const s = await sample(() => wf.runWithCheckpoint(new BenchCtx(), { n: 0 }, store, `run-${r}`));
      wall.push(perSec(SQLITE_STEPS + 1, s.ms));
      cpu.push(perSec(SQLITE_STEPS + 1, s.cpuMs));
      const b = await sample(() => bareLoop(SQLITE_STEPS, (step) => bareSql.commit(step + (r + 1) * SQLITE_STEPS)));
      bareWall.push(perSec(SQLITE_STEPS, b.ms));
      bareCpu.push(perSec(SQLITE_STEPS, b.cpuMs));
    }
    bareSql.close();
    await store.close();
    const w = spread(wall);
    const c = spread(cpu);
    const bw = spread(bareWall).value;
    const bc = spread(bareCpu).value;
    rows.push({ figure: `${label}, 20k steps, commit/step`, unit: 'steps/s', ...w, bare: bw, ratio: w.value / bw, target: '>= 30,000', pass: w.value >= 30_000 });
    rows.push({ figure: `${label}, per CPU-second`, unit: 'steps/cpu-s', ...c, bare: bc, ratio: c.value / bc, target: '>= 30,000', pass: c.value >= 30_000 });
  }

  const bytes: Record<number, number[]> = { 1024: [], [1024 * 1024]: [] };
  for (let r = 0; r < 2; r++) {
    for (const size of [1024, 1024 * 1024]) {
      // Inline checkpoints: their writes then happen before the completion, inside the measured window.
      const metered = new MeteredStore(new SqliteCheckpointStore(join(dir, `bytes-${size}-${r}.db`), { checkpoints: 'inline' }));
      await bindWorkflow(LoopBenchDef, new LoopBench(SQLITE_STEPS / 2)).runWithCheckpoint(contextOf(size), { n: 0 }, metered, 'bytes');
      await metered.close();
      if (metered.from === undefined || metered.to === undefined) return rows;
      bytes[size].push((metered.to - metered.from) / (SQLITE_STEPS + 1));
    }
  }
  const small = spread(bytes[1024]);
  const large = spread(bytes[1024 * 1024]);
  rows.push({ figure: 'bytes written per step, 1 KB context', unit: 'B/step', ...small, target: 'flat', pass: undefined });
  const ratio = large.value / small.value;
  rows.push({ figure: 'bytes written per step, 1 MB context', unit: 'B/step', ...large, bare: small.value, ratio, target: '<= 1.1x the 1 KB figure', pass: ratio <= 1.1 });
  return rows;
}

async function fanRows(): Promise<BenchRow[]> {
  const fan = bindWorkflow(FanInBenchDef, new FanInBench());
  const bareFan = async (n: number) => {
    const spreadNode = new Spread();
    const sum = new Sum();
    const ctx: WorkflowCtx = { store: undefined, signal: new AbortController().signal, runId: 'bare', itemId: '0', attempt: 1, failure: undefined };
    const t = spreadNode.process(ctx, n);
    if (t.type !== 'nextAll') throw new Error('unexpected');
    return sum.process(ctx, [...t.values]);
  };
  await fan.run(undefined, FAN);
  const ms: number[] = [];
  const bareMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    ms.push((await sample(() => fan.run(undefined, FAN))).ms);
    bareMs.push((await sample(() => bareFan(FAN))).ms);
  }
  const v = spread(ms);
  const b = spread(bareMs).value;
  const rss = (bare: boolean) => {
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--fanin-rss', String(FAN_RSS), ...(bare ? ['--bare'] : [])];
    const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!) as { peakRssMb: number };
  };
  const peaks: number[] = [];
  const barePeaks: number[] = [];
  for (let r = 0; r < 2; r++) {
    peaks.push(rss(false).peakRssMb);
    barePeaks.push(rss(true).peakRssMb);
  }
  const p = spread(peaks);
  const bp = spread(barePeaks).value;
  return [
    { figure: 'fan-out of 10,000 into one join', unit: 'ms', ...v, bare: b, ratio: b / v.value, target: '< 50 ms', pass: v.value < 50 },
    { figure: 'fan-out of 100,000: peak RSS (child)', unit: 'MB', ...p, bare: bp, ratio: bp / p.value, target: '< 300 MB', pass: p.value < 300 },
  ];
}

/** Child mode: one 100,000-item fan-in (or its bare equivalent), then the process's peak RSS as JSON. */
async function fanInRss(n: number, bare: boolean): Promise<void> {
  if (bare) {
    const ctx: WorkflowCtx = { store: undefined, signal: new AbortController().signal, runId: 'bare', itemId: '0', attempt: 1, failure: undefined };
    const t = new Spread().process(ctx, n);
    if (t.type !== 'nextAll') throw new Error('unexpected');
    // The engine holds one item per value on its queue: the bare version holds one promise per value.
    const values = await Promise.all(t.values.map(async (v) => v));
    await new Sum().process(ctx, values);
  } else {
    await bindWorkflow(FanInBenchDef, new FanInBench()).run(undefined, n);
  }
  console.log(JSON.stringify({ n, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--fanin-rss');
  if (i >= 0) return fanInRss(Number(process.argv[i + 1]), process.argv.includes('--bare'));
  const dir = mkdtempSync(join(tmpdir(), 'floxide-bench-'));
  try {
    const rows = [...(await memoryRows()), ...(await sqliteRows(dir)), ...(await fanRows())];
    if (process.argv.includes('--json')) printRows(rows);
    else for (const r of rows) console.log(`${r.figure}: ${r.value.toFixed(1)} ${r.unit} (${r.min?.toFixed(1)}-${r.max?.toFixed(1)}), bare ${r.bare?.toFixed(1) ?? '-'}, target ${r.target}: ${r.pass === undefined ? '-' : r.pass ? 'pass' : 'FAIL'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * The three local-mode figures, printed as ratios against a bare async loop where one applies:
 *   1. in-memory `run` of a 2-node loop vs a bare async loop calling the same two process() methods (target >= 15%);
 *   2. SQLite checkpointed steps/s with one commit per step (target >= 30,000);
 *   3. a 10,000-item fan-out into one join (target < 50 ms) and 100,000 items' peak RSS (target < 300 MB).
 * Usage: npx tsx bench/local.ts [--json]   (the fan-in RSS figure runs in a child process for a clean baseline)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindWorkflow, SqliteCheckpointStore, type WorkflowCtx } from 'floxide';
import { BenchCtx, Check, FanInBench, Inc, LoopBench } from './flows/local.js';
import { FanInBenchDef, LoopBenchDef } from './flows/local.floxide.js';

async function bareLoop(limit: number): Promise<number> {
  const inc = new Inc();
  const check = new Check(limit);
  const ctx: WorkflowCtx<BenchCtx> = { store: new BenchCtx(), signal: new AbortController().signal, runId: 'bare', itemId: '0', attempt: 1, failure: undefined };
  let input = { n: 0 };
  let steps = 0;
  for (;;) {
    const a = await inc.process(ctx, input);
    steps++;
    if (a.type !== 'next') throw new Error('unexpected');
    const b = await check.process(ctx, a.value);
    steps++;
    if (b.type !== 'next') throw new Error('unexpected');
    if (b.value.kind === 'done') return steps;
    input = b.value;
  }
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await f();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

async function best<T>(runs: number, f: () => Promise<T>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) min = Math.min(min, (await timed(f))[1]);
  return min;
}

async function fanInRss(n: number): Promise<void> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const [out, ms] = await timed(() => bindWorkflow(FanInBenchDef, new FanInBench()).run(undefined, n));
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(JSON.stringify({ n, ms, out, peakRssMb: peak / 2 ** 20 }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--fanin-rss') return fanInRss(Number(process.argv[3]));
  const json = process.argv.includes('--json');
  const limit = 500_000;
  const wf = bindWorkflow(LoopBenchDef, new LoopBench(limit));
  const steps = await bareLoop(limit);
  await bareLoop(limit);
  await wf.run(new BenchCtx(), { n: 0 });
  const bareMs = await best(5, () => bareLoop(limit));
  const runMs = await best(5, () => wf.run(new BenchCtx(), { n: 0 }));
  const bareRate = steps / (bareMs / 1000);
  const runRate = (steps + 1) / (runMs / 1000);

  const dir = mkdtempSync(join(tmpdir(), 'floxide-bench-'));
  const sqliteSteps = 50_000;
  const store = new SqliteCheckpointStore(join(dir, 'bench.db'));
  const swf = bindWorkflow(LoopBenchDef, new LoopBench(sqliteSteps / 2));
  await bindWorkflow(LoopBenchDef, new LoopBench(1000)).runWithCheckpoint(new BenchCtx(), { n: 0 }, store, 'warm');
  const [, sqliteMs] = await timed(() => swf.runWithCheckpoint(new BenchCtx(), { n: 0 }, store, 'bench'));
  const sqliteRate = (sqliteSteps + 1) / (sqliteMs / 1000);
  await store.close();
  rmSync(dir, { recursive: true, force: true });

  const fan = bindWorkflow(FanInBenchDef, new FanInBench());
  await fan.run(undefined, 10_000);
  const fanMs = await best(5, () => fan.run(undefined, 10_000));
  const child = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fanin-rss', '100000'], { encoding: 'utf8' });
  const rss = JSON.parse(child.trim().split('\n').pop()!) as { ms: number; peakRssMb: number };

  const figures = {
    bareLoopStepsPerSec: Math.round(bareRate),
    runStepsPerSec: Math.round(runRate),
    runVsBare: runRate / bareRate,
    sqliteCheckpointedStepsPerSec: Math.round(sqliteRate),
    fanIn10kMs: fanMs,
    fanIn100kMs: rss.ms,
    fanIn100kPeakRssMb: rss.peakRssMb,
  };
  if (json) console.log(JSON.stringify(figures));
  else {
    console.log(`in-memory run, 2-node loop: ${figures.runStepsPerSec.toLocaleString()} steps/s = ${(figures.runVsBare * 100).toFixed(1)}% of a bare async loop (${figures.bareLoopStepsPerSec.toLocaleString()} steps/s); target >= 15%`);
    console.log(`SQLite checkpointed run: ${figures.sqliteCheckpointedStepsPerSec.toLocaleString()} steps/s, one commit per step; target >= 30,000`);
    console.log(`fan-out of 10,000 into one join: ${fanMs.toFixed(1)} ms (target < 50 ms)`);
    console.log(`fan-out of 100,000 into one join: ${rss.ms.toFixed(0)} ms, peak RSS ${rss.peakRssMb.toFixed(0)} MB (target < 300 MB)`);
  }
}

await main();

/**
 * Instructions per step of the SQLite checkpointed loop (bench/local.ts's "SQLite per CPU-second" rows), a figure the
 * machine's load does not move: run under callgrind with instrumentation off, this script switches it on
 * (`callgrind_control -i on <pid>`) for runs 2..N of 20,001 steps on the default store (all threads, the checkpoint
 * worker's included), after a 1,000-step warm-up and a first run, so startup, compilation and JIT warm-up stay out.
 *
 *   valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/sq.cg node --import tsx bench/sqlite-callgrind.ts [--runs 3] [--exclusive]
 *   # instructions/step = the "I refs" total / (20,001 x (runs - 1)); callgrind_annotate /tmp/sq.cg for where they go
 *
 * Without valgrind it prints steps per CPU-second per run (callgrind_control then fails and is ignored).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { BenchCtx, LoopBench } from './flows/local.js';
import { LoopBenchDef } from './flows/local.floxide.js';

const i = process.argv.indexOf('--runs');
const RUNS = Math.max(2, i >= 0 ? Number(process.argv[i + 1]) : 3);
const STEPS = 20_000;
const instrument = (on: boolean): void => {
  try {
    execFileSync('callgrind_control', ['-i', on ? 'on' : 'off', String(process.pid)], { stdio: 'ignore' });
  } catch {
    // not under callgrind
  }
};
const dir = mkdtempSync(join(tmpdir(), 'floxide-sqlite-cg-'));
const store = new SqliteCheckpointStore(join(dir, 'loop.db'), process.argv.includes('--exclusive') ? { exclusive: true } : {});
await bindWorkflow(LoopBenchDef, new LoopBench(500)).runWithCheckpoint(new BenchCtx(), { n: 0 }, store, 'warm');
const perCpuSecond: number[] = [];
for (let r = 0; r < RUNS; r++) {
  if (r === 1) instrument(true);
  const c = process.cpuUsage();
  await bindWorkflow(LoopBenchDef, new LoopBench(STEPS / 2)).runWithCheckpoint(new BenchCtx(), { n: 0 }, store, `run-${r}`);
  const u = process.cpuUsage(c);
  perCpuSecond.push(Math.round((STEPS + 1) / ((u.user + u.system) / 1e6)));
}
instrument(false);
console.log(`steps per CPU-second: ${perCpuSecond.join(' ')} (measured: runs 2-${RUNS}, ${(STEPS + 1) * (RUNS - 1)} steps)`);
await store.close();
rmSync(dir, { recursive: true, force: true });

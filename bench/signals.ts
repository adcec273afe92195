/**
 * Signals delivered per second to 1,000 runs waiting for one (examples/approval.ts: each run waits for signal
 * `approval` with a 24 h timeout), per store: the distributed memory, Redis and Postgres backends, and a SQLite
 * checkpoint file. Distributed: the runs are parked first (an in-process worker runs each to its wait, then stops: a
 * waiting run holds no worker); then every signal is sent at once through `Orchestrator.signal` (payload checked,
 * delivered atomically to the run's wait). SQLite: 1,000 `runWithCheckpoint` runs in this process wait (each stored,
 * its wait parked in the file); every signal is sent at once through the local durable API (`Workflow.signal`:
 * payload checked, kept in the run's mailbox in the file, the waiting run woken). The figure is signals / elapsed
 * seconds until the last delivery returned. The runs are then finished and every output is checked (each run got
 * its own signal, once).
 *
 *   tsx bench/signals.ts [--runs 1000] [--repeat 3] [--backends memory,redis,postgres,sqlite] [--redis redis://127.0.0.1:6379]
 *     [--postgres postgres://postgres@127.0.0.1:5432/test] [--json]
 *
 * Informational (no target).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindWorkflow, connectBackend, MemoryBackend, Orchestrator, supportsObservation, Worker, type DistributedBackend } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { ApprovalWorkflow } from '../examples/approval.js';
import { ApprovalWorkflowDef } from '../examples/approval.floxide.js';
import { printRows, spread, type BenchRow } from './rows.js';
import { scratchStore } from './scratch-store.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '1000'));
const REPEAT = Number(arg('repeat', '3'));
const BACKENDS = arg('backends', 'memory,redis,postgres,sqlite').split(',');
const URLS = { redis: arg('redis', 'redis://127.0.0.1:6379'), postgres: arg('postgres', 'postgres://postgres@127.0.0.1:5432/test') };

const approval = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());

function worker(backend: DistributedBackend): Worker {
  return new Worker(backend, approval.def, approval.instance, { concurrency: 64, idleMinMs: 1, idleMaxMs: 20 });
}

/** Resolves once `n` waits of the store started (its wait.started events). */
async function parked(backend: DistributedBackend, n: number, signal: AbortSignal): Promise<void> {
  if (!supportsObservation(backend)) throw new Error(`the ${backend.kind} backend reports no events`);
  let seen = 0;
  for await (const e of backend.subscribe({ signal })) {
    if (e.event.type === 'wait.started' && ++seen >= n) return;
  }
}

/** SQLite: `runWithCheckpoint` runs waiting in this process, signalled through `Workflow.signal`. */
async function benchSqlite(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'floxide-sigbench-'));
  const store = new SqliteCheckpointStore(join(dir, 'signals.db'));
  try {
    let waiting = 0;
    let allWaiting!: () => void;
    const parkedAll = new Promise<void>((r) => (allWaiting = r));
    const onEvent = (e: { type: string }) => {
      if (e.type === 'wait.started' && ++waiting === RUNS) allWaiting();
    };
    const ids = Array.from({ length: RUNS }, (_, i) => `sig-${i}`);
    const outs = ids.map((runId, i) => approval.runWithCheckpoint(undefined, { id: `exp-${i}`, amount: i }, store, runId, { onEvent }));
    await parkedAll;

    const t0 = performance.now();
    const answers = await Promise.all(ids.map((runId, i) => approval.signal(store, runId, 'approval', { approved: true, by: `a${i}` }, { key: `mail-${i}` })));
    const seconds = (performance.now() - t0) / 1000;
    if (answers.some((a) => a !== 'delivered')) throw new Error('sqlite: a signal was not delivered');
    const wrong = (await Promise.all(outs)).filter((o, i) => o !== `approved by a${i}`).length;
    if (wrong > 0) throw new Error(`sqlite: ${wrong} runs did not complete with their own signal`);
    return RUNS / seconds;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchBackend(name: string): Promise<number> {
  if (name === 'sqlite') return benchSqlite();
  const scratch = name === 'memory' ? undefined : scratchStore(name, URLS, 'sigbench');
  const backend = scratch ? await connectBackend(scratch.url) : new MemoryBackend();
  try {
    const orch = new Orchestrator(backend, approval);
    const ac = new AbortController();
    const waiting = parked(backend, RUNS, ac.signal);
    const w = worker(backend);
    void w.start();
    const ids = await Promise.all(Array.from({ length: RUNS }, (_, i) => orch.startRun(undefined, { id: `exp-${i}`, amount: i }, { runId: `sig-${i}` })));
    await waiting;
    ac.abort();
    await w.stop();

    const t0 = performance.now();
    const answers = await Promise.all(ids.map((runId, i) => orch.signal(runId, 'approval', { approved: true, by: `a${i}` }, { key: `mail-${i}` })));
    const seconds = (performance.now() - t0) / 1000;
    if (answers.some((a) => a !== 'delivered')) throw new Error(`${name}: a signal was not delivered`);

    const finish = worker(backend);
    void finish.start();
    try {
      const outs = await Promise.all(ids.map((runId) => orch.waitForCompletion(runId, { timeoutMs: 120_000, pollMs: 50 })));
      const wrong = outs.filter((r, i) => r.output !== `approved by a${i}`).length;
      if (wrong > 0) throw new Error(`${name}: ${wrong} runs did not complete with their own signal`);
    } finally {
      await finish.stop();
    }
    return RUNS / seconds;
  } finally {
    await backend.close();
    await scratch?.cleanup();
  }
}

const rates = new Map<string, number[]>(BACKENDS.map((b) => [b, []]));
for (let rep = 0; rep < REPEAT; rep++) for (const name of BACKENDS) rates.get(name)!.push(await benchBackend(name));
console.log(`\nsignals delivered to ${RUNS} waiting runs (examples/approval.ts), ${REPEAT} repetition(s)\n`);
for (const [name, xs] of rates) console.log(`${name.padEnd(9)} ${xs.map((x) => Math.round(x).toString().padStart(8)).join(' ')} signals/s`);
if (process.argv.includes('--json')) {
  printRows(
    [...rates].map(([name, xs]): BenchRow => {
      const s = spread(xs);
      return { figure: `${name}: signals delivered to ${RUNS} waiting runs`, value: Math.round(s.value), min: Math.round(s.min), max: Math.round(s.max), unit: 'signals/s', target: '-' };
    }),
  );
}

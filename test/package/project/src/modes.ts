/** Runs WordsWorkflow in memory, durably on SQLite, and on the distributed memory backend with a worker pool. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bindWorkflow, MemoryBackend, Orchestrator, WorkerPool } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { Tally, WordsWorkflow } from './words.js';
import { WordsWorkflowDef } from './words.floxide.js';

export interface ModeResult {
  output: unknown;
  words: number;
  seen: string[];
}

const result = (output: unknown, ctx: Tally): ModeResult => ({ output, words: ctx.words, seen: [...ctx.seen].sort() });

export async function runAllModes(text: string): Promise<Record<string, ModeResult>> {
  const wf = bindWorkflow(WordsWorkflowDef, new WordsWorkflow());
  const out: Record<string, ModeResult> = {};

  const memCtx = new Tally();
  out.run = result(await wf.run(memCtx, text), memCtx);

  const dir = mkdtempSync(path.join(tmpdir(), 'words-'));
  const store = new SqliteCheckpointStore(path.join(dir, 'runs.sqlite'));
  try {
    const output = await wf.runWithCheckpoint(new Tally(), text, store, 'run-1');
    out.sqlite = result(output, await wf.storedContext(store, 'run-1'));
    // A completed run returns its stored output without running again.
    out.sqliteResumed = result(await wf.resume(store, 'run-1'), await wf.storedContext(store, 'run-1'));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const backend = new MemoryBackend();
  const pool = new WorkerPool(backend, wf.def, wf.instance, { size: 2, concurrency: 2, idleMinMs: 1, idleMaxMs: 20 });
  const orch = new Orchestrator(backend, wf);
  await pool.start();
  try {
    const runId = await orch.startRun(new Tally(), text);
    const run = await orch.waitForCompletion(runId, { timeoutMs: 30_000, pollMs: 5 });
    out.distributed = result(run.output, await orch.context(runId));
  } finally {
    await pool.stop();
    await backend.close();
  }
  return out;
}

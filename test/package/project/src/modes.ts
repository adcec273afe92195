/**
 * Runs WordsWorkflow (a class context) and JournalWorkflow (an interface context) in memory, durably on SQLite, and
 * on the distributed memory backend with a worker pool; also on Redis and Postgres when FLOXIDE_REDIS_URL and
 * FLOXIDE_POSTGRES_URL are set (their key prefix and schema from FLOXIDE_KEY_PREFIX and FLOXIDE_SCHEMA). The driver
 * options are typed by the published declarations: the project has only the packages the README lists.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bindWorkflow, MemoryBackend, Orchestrator, WorkerPool, type DistributedBackend, type Workflow } from 'floxide';
import { PostgresBackend, type PostgresBackendOptions } from 'floxide/postgres';
import { RedisBackend, type RedisBackendOptions } from 'floxide/redis';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { JournalWorkflow, newJournal, type Journal } from './journal.js';
import { JournalWorkflowDef } from './journal.floxide.js';
import { Tally, WordsWorkflow } from './words.js';
import { WordsWorkflowDef } from './words.floxide.js';

export interface ModeResult {
  output: unknown;
  words: number;
  seen: string[];
}

export interface JournalResult {
  output: unknown;
  entries: string[];
  /** The context's `started` as its type and value: a Date in every mode. */
  started: string;
}

export const MODES = ['run', 'sqlite', 'sqliteResumed', 'distributed'] as const;

type Backends = Record<string, () => Promise<DistributedBackend>>;

/** The distributed backends of every run: memory, plus Redis and Postgres when the environment names them. */
function backends(): Backends {
  const out: Backends = { distributed: async () => new MemoryBackend() };
  const env = process.env;
  if (env.FLOXIDE_REDIS_URL) {
    const options: RedisBackendOptions = { url: env.FLOXIDE_REDIS_URL, keyPrefix: env.FLOXIDE_KEY_PREFIX, client: { name: 'floxide-package-test', socket: { connectTimeout: 5000 } } };
    out.redis = () => RedisBackend.connect(options);
  }
  if (env.FLOXIDE_POSTGRES_URL) {
    const options: PostgresBackendOptions = { connectionString: env.FLOXIDE_POSTGRES_URL, schema: env.FLOXIDE_SCHEMA, pool: { max: 2, idleTimeoutMillis: 1000, application_name: 'floxide-package-test' } };
    out.postgres = () => PostgresBackend.connect(options);
  }
  return out;
}

/** What one workflow gives in each mode: its output and a view of its final context. */
async function inEveryMode<I, O, C, R>(wf: Workflow<I, O, C>, context: () => C, input: I, view: (output: O, ctx: C) => R): Promise<Record<string, R>> {
  const out: Record<string, R> = {};

  const memCtx = context();
  out.run = view(await wf.run(memCtx, input), memCtx);

  const dir = mkdtempSync(path.join(tmpdir(), 'floxide-modes-'));
  const store = new SqliteCheckpointStore(path.join(dir, 'runs.sqlite'));
  try {
    const output = await wf.runWithCheckpoint(context(), input, store, 'run-1');
    out.sqlite = view(output, await wf.storedContext(store, 'run-1'));
    // A completed run returns its stored output without running again.
    out.sqliteResumed = view(await wf.resume(store, 'run-1'), await wf.storedContext(store, 'run-1'));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }

  for (const [mode, open] of Object.entries(backends())) {
    const backend = await open();
    const pool = new WorkerPool(backend, wf.def, wf.instance, { size: 2, concurrency: 2, idleMinMs: 1, idleMaxMs: 20 });
    const orch = new Orchestrator(backend, wf);
    await pool.start();
    try {
      const runId = await orch.startRun(context(), input);
      const run = await orch.waitForCompletion(runId, { timeoutMs: 30_000, pollMs: 5 });
      out[mode] = view(run.output as O, (await orch.context(runId)) as C);
    } finally {
      await pool.stop();
      await backend.close();
    }
  }
  return out;
}

export function runAllModes(text: string): Promise<Record<string, ModeResult>> {
  const wf = bindWorkflow(WordsWorkflowDef, new WordsWorkflow());
  return inEveryMode(wf, () => new Tally(), text, (output, ctx: Tally) => ({ output, words: ctx.words, seen: [...ctx.seen].sort() }));
}

export function runJournalInAllModes(entry: string): Promise<Record<string, JournalResult>> {
  const wf = bindWorkflow(JournalWorkflowDef, new JournalWorkflow());
  return inEveryMode(wf, newJournal, entry, (output, ctx: Journal) => ({
    output,
    entries: ctx.entries,
    started: ctx.started instanceof Date ? `Date ${ctx.started.toISOString()}` : `${typeof ctx.started} ${String(ctx.started)}`,
  }));
}

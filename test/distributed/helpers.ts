/** Shared helpers of the distributed worker, orchestrator and fault tests. */
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';
import { ChainWorkflow, CountCtx, FanWorkflow, SlowWorkflow, type Behaviour } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef, FanWorkflowDef, SlowWorkflowDef } from '../fixtures/distributed/flows.floxide.js';

export const REDIS_URL = process.env.FLOXIDE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.FLOXIDE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const fan = (behaviour: Behaviour = {}) => bindWorkflow(FanWorkflowDef, new FanWorkflow(behaviour));
export const chain = () => bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
export const slow = () => bindWorkflow(SlowWorkflowDef, new SlowWorkflow());
export { CountCtx, FanWorkflowDef, ChainWorkflowDef, SlowWorkflowDef };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until it holds or `ms` pass. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Asserts the exactly-once invariants of a completed fan run of width n. */
export async function checkFanRun(backend: DistributedBackend, runId: string, n: number): Promise<{ output: unknown; count: number; enqueued: number; completed: number }> {
  const run = await backend.getRun(runId);
  const metrics = await backend.metrics(runId);
  const snap = await backend.readContext(runId);
  let count = (snap.initial as { count?: number } | undefined)?.count ?? 0;
  for (const d of snap.deltas) count += (d.delta as { count?: number }).count ?? 0;
  const states = await backend.itemStates(runId);
  const ids = new Set(snap.deltas.map((d) => d.itemId));
  if (ids.size !== snap.deltas.length) throw new Error(`run ${runId}: an item appended two deltas`);
  if (run?.status !== 'completed') throw new Error(`run ${runId} is ${run?.status}: ${JSON.stringify(run?.error)}`);
  if (states.some((s) => s.status !== 'completed')) throw new Error(`run ${runId}: items not completed: ${JSON.stringify(states.filter((s) => s.status !== 'completed'))}`);
  return { output: run.output, count, enqueued: metrics.enqueued, completed: metrics.completed };
}

/** A key prefix no other test uses. */
export function uniquePrefix(tag: string): string {
  return `t-${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}:`;
}

// ---------------------------------------------------------------------------------------------------------------
// Child worker processes and real backends

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtModule } from '../built-module.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FAN_WORKER = 'test/fixtures/distributed/fan-worker.ts';

export interface ChildWorker {
  readonly proc: ChildProcess;
  /** Resolves when the worker printed its `started` line (a JSON line: the child's stdout is not a terminal). */
  readonly ready: Promise<void>;
  /** Resolves with the exit code (or the signal name). */
  readonly exit: Promise<number | string>;
  output(): string;
}

/**
 * Runs `floxide worker <module> --store <store> ...args` in a child process as users run it in production: the built
 * bin (dist/cli/cli.js, no tsx) on the module compiled (bundled by esbuild: test/built-module.ts). Module: the fan
 * workflow's by default.
 */
export function spawnWorker(store: string, args: readonly string[] = [], env: Record<string, string> = {}, module = FAN_WORKER): ChildWorker {
  return childWorker([path.join(ROOT, 'dist/cli/cli.js'), 'worker', builtModule(module), '--store', store, ...args], env);
}

/**
 * Runs `floxide worker <module> --store <store> ...args` from the sources under tsx, the module too, for a test whose
 * point is the module as tsx loads it (the import order of a module that binds its own workflow) or a `.ts` module
 * that `nodeArgs` import into the worker (e.g. `--import` of a module that sets up OpenTelemetry).
 */
export function spawnTsxWorker(store: string, args: readonly string[] = [], env: Record<string, string> = {}, module = FAN_WORKER, nodeArgs: readonly string[] = []): ChildWorker {
  return childWorker(['--import', 'tsx', ...nodeArgs, 'cli/cli.ts', 'worker', module, '--store', store, ...args], env);
}

/**
 * The worker processes still running. A test that fails or times out before it stops its worker leaves it polling
 * the store for good, loading the machine the rest of the suite runs on: they are killed after the test file.
 */
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of running) proc.kill('SIGKILL');
});

function childWorker(nodeArgs: readonly string[], env: Record<string, string>): ChildWorker {
  const proc = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => ((readyResolve = res), (readyReject = rej)));
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('"event":"started"')) readyResolve();
  });
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | string>((res) =>
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      readyReject(new Error(`worker exited before it started (${code ?? signal}):\n${out}`));
      res(code ?? signal ?? -1);
    }),
  );
  ready.catch(() => undefined);
  return { proc, ready, exit, output: () => out };
}

export type BackendName = 'redis' | 'postgres';

export interface TestBackend {
  readonly backend: DistributedBackend;
  /** The --store URL a child process uses to reach the same state. */
  readonly storeUrl: string;
  /** Server-side kill of this backend's connections (Redis CLIENT KILL, Postgres pg_terminate_backend). */
  killConnections(): Promise<number>;
  /** Closes the backend and removes its state. */
  dispose(): Promise<void>;
}

/** A backend over fresh state (unique Redis key prefix / Postgres schema) whose connections are tagged by name. */
export async function openTestBackend(name: BackendName, tag: string): Promise<TestBackend> {
  const id = `${tag}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (name === 'redis') {
    const { RedisBackend } = await import('../../runtime/distributed/redis/backend.js');
    const { createClient } = await import('@redis/client');
    const keyPrefix = `flxt:${id}:`;
    const clientName = `flx-${id}`;
    const backend = await RedisBackend.connect({ url: REDIS_URL, keyPrefix, client: { name: clientName, socket: { reconnectStrategy: (n: number) => Math.min(10 * 2 ** n, 200) } } });
    const admin = createClient({ url: REDIS_URL });
    await admin.connect();
    return {
      backend,
      storeUrl: `${REDIS_URL}?prefix=${encodeURIComponent(keyPrefix)}`,
      async killConnections() {
        // Only this test's connections: other suites share the server.
        const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
        const ids = list.split('\n').filter((l) => l.includes(` name=${clientName} `)).map((l) => /(?:^|\s)id=(\d+)/.exec(l)?.[1]).filter((x): x is string => !!x);
        for (const cid of ids) await admin.sendCommand(['CLIENT', 'KILL', 'ID', cid]).catch(() => undefined);
        return ids.length;
      },
      async dispose() {
        await backend.close().catch(() => undefined);
        let cursor = '0';
        do {
          const [next, keys] = (await admin.sendCommand(['SCAN', cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', '1000'])) as [string, string[]];
          cursor = next;
          if (keys.length > 0) await admin.sendCommand(['DEL', ...keys]);
        } while (cursor !== '0');
        await admin.close();
      },
    };
  }
  const { PostgresBackend } = await import('../../runtime/distributed/postgres/backend.js');
  const pg = (await import('pg')).default;
  const schema = `flxt_${id}`;
  const appName = `flx_${id}`;
  const backend = await PostgresBackend.connect({ connectionString: `${PG_URL}?application_name=${appName}`, schema, onConnectionError: () => undefined });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  return {
    backend,
    storeUrl: `${PG_URL}?schema=${schema}`,
    async killConnections() {
      const r = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()', [appName]);
      return r.rowCount ?? 0;
    },
    async dispose() {
      await backend.close().catch(() => undefined);
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    },
  };
}

/** The backends the fault and example tests run on. */
export const REAL_BACKENDS: readonly BackendName[] = ['redis', 'postgres'];

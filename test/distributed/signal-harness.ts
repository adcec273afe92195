/**
 * What the distributed signal suites (signals, signals-nested, cli/runs-signal-check) share: every backend that keeps
 * parked items (memory, then the real Redis and Postgres), and per test the backends it opened and the workers it
 * started, stopped and disposed of after it.
 */
import { afterEach } from 'vitest';
import { MemoryBackend, Worker, type AnyWorkflowDef, type DistributedBackend, type WorkerOptions } from 'floxide';
import { openTestBackend, REAL_BACKENDS, until } from './helpers.js';

/** How long a test waits for a condition a loaded machine may be slow to reach (a bound, not a timing). */
export const SIGNAL_WAIT_MS = 30_000;

export interface SignalBackend {
  readonly backend: DistributedBackend;
  /** The --store URL a child process (the CLI) uses to reach the same state; undefined in memory. */
  readonly storeUrl?: string;
  /** Kills the backend's store connections server-side (a no-op in memory). */
  killConnections(): Promise<unknown>;
  dispose(): Promise<void>;
}

/**
 * `[name, open]` for memory, Redis and Postgres (fresh state each time; `tag` names the real backends' state);
 * `real`: Redis and Postgres only (a test that reaches the store from another process).
 */
export function signalBackends(tag: string, which: 'all' | 'real' = 'all'): Array<[string, () => Promise<SignalBackend>]> {
  const real = REAL_BACKENDS.map((name): [string, () => Promise<SignalBackend>] => [name, () => openTestBackend(name, tag)]);
  if (which === 'real') return real;
  const memory = async (): Promise<SignalBackend> => {
    const backend = new MemoryBackend();
    return { backend, killConnections: async () => 0, dispose: () => backend.close() };
  };
  return [['memory', memory], ...real];
}

/** The opened backends and started workers of the current test; call inside a `describe` (it adds an `afterEach`). */
export function signalHarness(openBackend: () => Promise<SignalBackend>) {
  const workers: Worker[] = [];
  const opened: SignalBackend[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(0)));
    await Promise.all(opened.splice(0).map((o) => o.dispose()));
  });
  const parkedCount = async (b: DistributedBackend, runId: string) => (await b.itemStates(runId)).filter((s) => s.status === 'parked').length;
  return {
    /** A backend over fresh state, disposed of after the test. */
    async open(): Promise<SignalBackend> {
      const o = await openBackend();
      opened.push(o);
      return o;
    },
    /** A started worker of `wf` (stopped after the test unless the test stops it first). */
    worker(b: DistributedBackend, wf: { readonly def: AnyWorkflowDef; readonly instance: object }, options: Pick<WorkerOptions, 'clock'> = {}): Worker {
      const w = new Worker(b, wf.def, wf.instance, { concurrency: 4, idleMinMs: 1, idleMaxMs: 20, leaseMs: 2_000, heartbeatMs: 200, ...options });
      workers.push(w);
      void w.start();
      return w;
    },
    /** Stops `w` now (a test that loses its workers). */
    async stop(w: Worker): Promise<void> {
      workers.splice(workers.indexOf(w), 1);
      await w.stop(0);
    },
    parkedCount,
    /** Waits (up to {@link SIGNAL_WAIT_MS}) until run `runId` has `n` parked items. */
    untilParked(b: DistributedBackend, runId: string, n = 1, what = 'the wait to park'): Promise<void> {
      return until(async () => (await parkedCount(b, runId)) === n, SIGNAL_WAIT_MS, what);
    },
  };
}

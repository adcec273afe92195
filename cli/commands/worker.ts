/**
 * `floxide worker <module> --store <url>`: runs a pool of workers for the bound workflow a module exports, until
 * SIGTERM/SIGINT (graceful: in-flight items finish or are given back), then exits 0.
 */
import { Command } from 'commander';
import type { CliIo, CommandFactory } from './types.js';
import { withHelp, type CommandHelp } from '../help.js';

const HELP: CommandHelp = {
  notes: [
    'The module exports a bound workflow (bindWorkflow(XDef, new X(...))) or a function returning one (sync or async); --export picks the export (default: "default", else a function "createWorkflow", else the only export that is a bound workflow). Stop with SIGTERM or Ctrl-C: the pool stops claiming, lets running items finish for --grace-ms, gives the rest back to the queue and exits 0 (a second signal exits at once).',
    'Several modules: the first is the current build, the others earlier builds of the same workflow (other graph versions); the worker claims only items of runs of these versions, so runs started on an earlier version finish here while new runs start on the current one (docs/deploying.md).',
    'Output: on a terminal, one live line (steps/s, items in flight, done, failures); otherwise, or with --json, one JSON object per line: {"event":"started"|"step"|"released"|"stopping"|"stopped", "at", ...} (docs/cli.md).',
  ],
  examples: [
    { run: 'floxide worker dist/flows/orders.js --store redis://127.0.0.1:6379' },
    { run: "floxide worker dist/flows/orders.js --store 'postgres://app@db:5432/prod?schema=orders' --workers 2 --concurrency 16" },
    { run: "floxide worker release-42/flows/orders.js release-41/flows/orders.js --store 'redis://cache:6379?prefix=shop:'", note: 'the current build, and the graph version of the one before it' },
    { run: "NODE_OPTIONS='--import tsx' floxide worker src/flows/orders.ts --export ordersWorkflow --store redis://127.0.0.1:6379", note: 'a TypeScript module, under tsx' },
  ],
  exitCodes: {
    0: 'stopped gracefully by SIGTERM or Ctrl-C',
    1: 'the module cannot be loaded (a missing or stale generated module says to run `floxide build`, and `tsc` after it for compiled `.js`), or the store cannot be reached',
    2: 'bad usage: a malformed store URL or a `sqlite:` one (a checkpoint file has no workers), a number that is not an integer in range, an unknown option',
  },
};

interface WorkerFlags {
  store: string;
  concurrency: string;
  workers: string;
  export?: string;
  leaseMs?: string;
  graceMs?: string;
  maxRedeliveries?: string;
  handoffLimit?: string;
  purgeEveryMs?: string;
  /** false with --no-schedules. */
  schedules: boolean;
  json?: boolean;
  tracing?: boolean;
}

function int(v: string | undefined, what: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

class UsageError extends Error {}

const workerCommand: CommandFactory = (io: CliIo) =>
  withHelp(new Command('worker'), HELP)
    .description('process the work items of a workflow module from a Redis or Postgres store')
    .argument('<modules...>', 'the module exporting the bound workflow (or a factory), e.g. `dist/flows/orders.js`; more modules: earlier builds whose graph versions it serves too')
    .requiredOption('-s, --store <url>', 'the store, e.g. `redis://127.0.0.1:6379` or `postgres://app@db:5432/prod`')
    .option('-c, --concurrency <n>', 'items each worker runs at once, e.g. `--concurrency 16`', '8')
    .option('-w, --workers <n>', 'workers in this process, e.g. `--workers 2`', '1')
    .option('-e, --export <name>', 'the export to use, e.g. `--export ordersWorkflow`')
    .option('--lease-ms <ms>', 'lease length; a crashed worker\'s items come back after it (default 30000), e.g. `--lease-ms 60000`')
    .option('--grace-ms <ms>', 'on stop, how long running items may finish before they are given back (default 30000), e.g. `--grace-ms 10000`')
    .option('--max-redeliveries <n>', 'dead-letter an item after this many deliveries without a commit (default 10), e.g. `--max-redeliveries 3`')
    .option('--handoff-limit <n>', 'successor hand-offs in a row per chain before its next item goes back through the queue (default 8; 0: none), e.g. `--handoff-limit 0`')
    .option('--purge-every-ms <ms>', 'how often to delete finished runs past the store\'s retention (Postgres: 7 days; Redis expires them itself) and the records of workers unseen for a day (default 60000; 0: never), e.g. `--purge-every-ms 0`')
    .option('--no-schedules', 'do not start the runs of this workflow\'s schedules from this process (docs/schedules.md)')
    .option('--json', 'print JSON lines (one per step, and start/stop) even on a terminal, e.g. for log collectors')
    .option('--tracing', 'OpenTelemetry: a span per step, in each run\'s trace, and the run span of each run this worker finishes, sent to the global tracer provider (register an SDK with `node --import`; docs/observability.md)')
    .action(async (modulePaths: string[], flags: WorkerFlags) => {
      const { loadWorkflowModule, ModuleLoadError } = await import('../../runtime/workflow/load.js');
      const { connectBackend, redactUrl } = await import('../../runtime/distributed/connect.js');
      const { WorkerPool } = await import('../../runtime/distributed/pool.js');
      const { FloxideError, InvalidArgumentError } = await import('../../runtime/core/errors.js');
      const { workerOutput } = await import('../worker/output.js');
      let size: number, concurrency: number, leaseMs: number | undefined, graceMs: number | undefined, maxRedeliveries: number | undefined, handoffLimit: number | undefined, purgeEveryMs: number | undefined;
      try {
        size = int(flags.workers, '--workers', 1)!;
        concurrency = int(flags.concurrency, '--concurrency', 1)!;
        leaseMs = int(flags.leaseMs, '--lease-ms', 1);
        graceMs = int(flags.graceMs, '--grace-ms', 0);
        maxRedeliveries = int(flags.maxRedeliveries, '--max-redeliveries', 0);
        handoffLimit = int(flags.handoffLimit, '--handoff-limit', 0);
        purgeEveryMs = int(flags.purgeEveryMs, '--purge-every-ms', 0);
      } catch (err) {
        io.stderr.write(`floxide worker: ${(err as Error).message}\n`);
        io.exitCode = 2;
        return;
      }
      let workflow, earlier;
      try {
        [workflow, ...earlier] = await Promise.all(modulePaths.map((m) => loadWorkflowModule(m, io.cwd, flags.export)));
      } catch (err) {
        io.stderr.write(`floxide worker: ${err instanceof ModuleLoadError || err instanceof FloxideError ? err.message : String((err as Error)?.stack ?? err)}\n`);
        io.exitCode = 1;
        return;
      }
      let backend;
      try {
        backend = await connectBackend(flags.store);
      } catch (err) {
        io.stderr.write(`floxide worker: ${(err as Error).message}\n`);
        io.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
        return;
      }
      const live = !flags.json && (io.stdout as { isTTY?: boolean }).isTTY === true;
      const output = workerOutput(io.stdout, live ? 'live' : 'json', Date.now, io.stderr);
      const log = output.log;
      let pool;
      try {
        pool = new WorkerPool(backend, workflow.def, workflow.instance, {
          size,
          concurrency,
          ...(leaseMs === undefined ? {} : { leaseMs }),
          ...(graceMs === undefined ? {} : { graceMs }),
          ...(maxRedeliveries === undefined ? {} : { maxRedeliveries }),
          ...(handoffLimit === undefined ? {} : { handoffLimit }),
          ...(purgeEveryMs === undefined ? {} : { purgeEveryMs }),
          schedules: flags.schedules,
          ...(earlier.length > 0 ? { versions: earlier.map((w) => ({ def: w.def, instance: w.instance })) } : {}),
          callbacks: output.callbacks,
          ...(flags.tracing ? { tracing: true } : {}),
          onError: (err) => output.error((err as Error)?.message ?? String(err)),
        });
      } catch (err) {
        await backend.close();
        io.stderr.write(`floxide worker: ${(err as Error).message}\n`);
        io.exitCode = 2;
        return;
      }
      const p = pool;
      io.onStop(async () => {
        output.stop();
        log('stopping', { workers: size });
        await p.stop();
      });
      await p.start();
      log('started', { workflow: workflow.name, versions: p.workers[0]!.versions, store: redactUrl(flags.store), backend: backend.kind, workers: p.workers.map((w) => w.workerId), concurrency });
      output.start();
      await p.done;
      output.stop();
      const stats = p.stats();
      await backend.close();
      log('stopped', { processed: stats.processed, errors: stats.errors, released: stats.released });
      io.exitCode = 0;
    });

export default workerCommand;

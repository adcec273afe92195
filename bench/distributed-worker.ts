/**
 * One worker process of `bench/distributed.ts`: a WorkerPool serving the 5-step ChainWorkflow from the store given
 * on the command line. Prints `ready`, then `progress <completed runs>` every 50 ms. On SIGUSR2 (the bench's warm-up
 * is over) it forgets the commits so far, counts its CPU time from then on and prints `marked`. On SIGTERM it stops
 * gracefully, writes every commit's `{runId, node, t}` to the file given as third argument and prints
 * `cpu <microseconds>` (its user + system CPU time since `ready`, or since `marked`). With `traced`, the pool traces
 * every step (`tracing`) through an OpenTelemetry SDK tracer provider whose batch processor hands the spans to an
 * exporter that drops them: the cost of making and processing spans, without a network. With `traced-cm`, the same
 * with an AsyncLocalStorage context manager registered, as the SDK's `NodeSDK.start()` or a Node tracer provider's
 * `register()` does: each attempt's span is then live while its node runs, and node code runs in it.
 * Usage: node --import tsx bench/distributed-worker.ts <store-url> <concurrency> <out-file> [traced|traced-cm]
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { bindWorkflow, connectBackend, WorkerPool } from 'floxide';
import { ChainWorkflow } from '../test/fixtures/distributed/flows.js';
import { ChainWorkflowDef } from '../test/fixtures/distributed/flows.floxide.js';

const [store, concurrencyArg, outFile, mode] = process.argv.slice(2);
if (!store || !outFile) throw new Error('usage: distributed-worker.ts <store-url> <concurrency> <out-file>');
const backend = await connectBackend(store);
const wf = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
const commits: Array<[string, string, number]> = [];
let completedRuns = 0;
const pool = new WorkerPool(backend, wf.def, wf.instance, {
  size: 1,
  concurrency: Number(concurrencyArg ?? 64),
  idleMinMs: 1,
  idleMaxMs: 20,
  ...(mode === 'traced' || mode === 'traced-cm' ? { tracing: { tracerProvider: droppingTracerProvider() } } : {}),
  callbacks: {
    onCommitted(lease, _outcome, result) {
      if (result.status !== 'applied') return;
      commits.push([lease.runId, lease.item.node, Date.now()]);
      if (result.runStatus === 'completed') completedRuns++;
    },
  },
});
if (mode === 'traced-cm') context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
function droppingTracerProvider(): BasicTracerProvider {
  const exporter = { export: (_spans: unknown[], done: (r: { code: number }) => void) => done({ code: 0 }), shutdown: async () => undefined };
  return new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
}

await pool.start();
let cpuAtReady = process.cpuUsage();
// FLOXIDE_BENCH_CPU_PROF=<dir>: a V8 CPU profile of the measured steps only (from the mark to the stop), so that
// neither module loading nor the warm-up is in it
const profDir = process.env.FLOXIDE_BENCH_CPU_PROF;
const profiler = profDir ? new Session() : undefined;
process.on('SIGUSR2', () => {
  commits.length = 0;
  const marked = () => {
    cpuAtReady = process.cpuUsage();
    process.stdout.write('marked\n');
  };
  if (!profiler) return marked();
  profiler.connect();
  void profiler.post('Profiler.enable').then(() => profiler.post('Profiler.setSamplingInterval', { interval: 100 })).then(() => profiler.post('Profiler.start')).then(marked);
});
process.stdout.write('ready\n');
const progress = setInterval(() => process.stdout.write(`progress ${completedRuns}\n`), 50);
process.once('SIGTERM', () => {
  clearInterval(progress);
  void pool.stop().then(async () => {
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(`${profDir}/worker-${process.pid}.cpuprofile`, JSON.stringify(profile));
    }
    writeFileSync(outFile, JSON.stringify(commits));
    await backend.close();
    const cpu = process.cpuUsage(cpuAtReady);
    process.stdout.write(`cpu ${cpu.user + cpu.system}\nstopped\n`);
  });
});

/**
 * Runners of the distributed examples, used by `test/distributed/examples.test.ts` and from the command line:
 * `tsx examples/distributed/run.ts event-log|merge|schedule [store-url]` (default `redis://127.0.0.1:6379`).
 */
import { bindWorkflow, connectBackend, newRunId, Orchestrator, scheduledRunOf, WorkerPool, type DistributedBackend, type RunRecord } from 'floxide';
import { EventCtx, EventLogWorkflow, replay } from './event_log.js';
import { EventLogWorkflowDef } from './event_log.floxide.js';
import { MergeCtx, OrchestratedMergeWorkflow } from './orchestrated_merge.js';
import { OrchestratedMergeWorkflowDef } from './orchestrated_merge.floxide.js';

/**
 * Starts one EventLogWorkflow run with input 10 and drives it with two concurrent worker loops of
 * `stepDistributed`. Returns what each loop got back (exactly one gets the terminal output), the run record and
 * the replay of its event log (counter 27, four lines).
 */
export async function runEventLogExample(backend: DistributedBackend, runId: string = newRunId()) {
  const wf = bindWorkflow(EventLogWorkflowDef, new EventLogWorkflow());
  await wf.startDistributed(new EventCtx(), 10, backend, runId);
  const orch = new Orchestrator(backend, wf);
  const loop = async (workerId: string) => {
    for (;;) {
      const r = await wf.stepDistributed(backend, workerId);
      if (r?.runId === runId) return r.output;
      if ((await orch.status(runId)) !== 'running') return undefined;
      if (!r) await new Promise((res) => setTimeout(res, 5));
    }
  };
  const results = await Promise.all([loop('example-worker-1'), loop('example-worker-2')]);
  const ctx = await orch.context(runId);
  return { results, run: await orch.run(runId), ...replay(ctx) };
}

/** Starts a run of `split(10)` served by a `WorkerPool(3)` and waits for it; returns the run, metrics, errors and context. */
export async function runOrchestratedMergeExample(backend: DistributedBackend, runId: string = newRunId()) {
  const wf = bindWorkflow(OrchestratedMergeWorkflowDef, new OrchestratedMergeWorkflow());
  const pool = new WorkerPool(backend, wf.def, wf.instance, { size: 3, concurrency: 4, idleMinMs: 5, idleMaxMs: 100 });
  const orch = new Orchestrator(backend, wf);
  await pool.start();
  try {
    await orch.startRun(new MergeCtx(), 10, { runId });
    const run = await orch.waitForCompletion(runId, { timeoutMs: 30_000, pollMs: 20 });
    return { run, metrics: await orch.metrics(runId), errors: await orch.errors(runId), context: await orch.context(runId), pending: await orch.pendingWork(runId) };
  } finally {
    await pool.stop();
  }
}

/**
 * Schedules the merge workflow every second (input 4) and lets a `WorkerPool(2)` start and run the ticks until
 * `runs` runs started; then removes the schedule. Returns the first `runs` runs once they finished, oldest tick first:
 * one per tick.
 */
export async function runScheduledExample(backend: DistributedBackend, runs = 3): Promise<RunRecord[]> {
  const wf = bindWorkflow(OrchestratedMergeWorkflowDef, new OrchestratedMergeWorkflow());
  const orch = new Orchestrator(backend, wf);
  await orch.schedule({ id: 'merge-every-second', cron: '* * * * * *', input: 4, catchUp: 'all' });
  const pool = new WorkerPool(backend, wf.def, wf.instance, { size: 2, concurrency: 4, idleMinMs: 5, idleMaxMs: 100 });
  await pool.start();
  try {
    let started: RunRecord[] = [];
    while (started.length < runs) {
      await new Promise((res) => setTimeout(res, 100));
      started = (await orch.listRuns({ workflow: wf.def.name })).filter((r) => scheduledRunOf(r.runId)?.schedule === 'merge-every-second');
    }
    const first = started.sort((a, b) => scheduledRunOf(a.runId)!.tick - scheduledRunOf(b.runId)!.tick).slice(0, runs);
    return await Promise.all(first.map((r) => orch.waitForCompletion(r.runId, { timeoutMs: 30_000, pollMs: 20 })));
  } finally {
    await orch.removeSchedule('merge-every-second');
    await pool.stop();
  }
}

async function main(which: string, url: string): Promise<void> {
  const backend = await connectBackend(url);
  try {
    if (which === 'event-log') {
      const out = await runEventLogExample(backend);
      console.log('worker results:', out.results);
      console.log('replayed counter:', out.counter);
      for (const line of out.lines) console.log(`  ${line}`);
    } else if (which === 'merge') {
      const out = await runOrchestratedMergeExample(backend);
      console.log('run:', out.run.status, JSON.stringify(out.run.output));
      console.log('metrics:', out.metrics);
      console.log(`errors (${out.errors.length} failed attempts, all retried):`);
      for (const e of out.errors) console.log(`  ${e.node} attempt ${e.attempt}: ${e.error.message}`);
      console.log('context steps:', out.context.steps);
    } else if (which === 'schedule') {
      for (const run of await runScheduledExample(backend)) console.log(`${run.runId}: ${run.status} ${JSON.stringify(run.output)}`);
    } else {
      throw new Error(`unknown example ${JSON.stringify(which)}: use event-log, merge or schedule`);
    }
  } finally {
    await backend.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv[2] ?? 'merge', process.argv[3] ?? 'redis://127.0.0.1:6379').catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

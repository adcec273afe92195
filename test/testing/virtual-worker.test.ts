/**
 * A distributed worker on virtual time, as docs/testing.md says: a `MemoryBackend` and the worker on one
 * `VirtualClock`, time moved with `advance` once the run is parked (the worker sets no timer on the clock for a parked
 * item: the store holds it), and the worker's scheduler kept from passing every virtual second (it waits between
 * passes on that clock: at its default `schedulePollMs` of a second, each virtual day cost 86 400 passes, half a minute
 * of real time, and `clock.until` crept up to a sleep's end a second at a time, overshooting it by hours).
 */
import { expect, it } from 'vitest';
import { bindWorkflow, MemoryBackend, Orchestrator, Worker, scheduleRunId } from 'floxide';
import { VirtualClock } from 'floxide/testing';
import { ChainWorkflowDef, chain, until } from '../distributed/helpers.js';
import { SleepFlow } from '../fixtures/signals/flows.js';
import { SleepFlowDef } from '../fixtures/signals/flows.floxide.js';

const DAY = 86_400_000;

it('a day-long sleep on a worker ends a day later, once time is moved past it', async () => {
  const clock = new VirtualClock();
  const start = clock.now();
  const backend = new MemoryBackend({ clock: () => clock.now() });
  const orchestrator = new Orchestrator(backend, bindWorkflow(SleepFlowDef, new SleepFlow()));
  const worker = new Worker(backend, SleepFlowDef, new SleepFlow(), { clock, schedules: false });
  await worker.start();
  try {
    await orchestrator.startRun(undefined, { ms: DAY }, { runId: 'nap' });
    await until(async () => (await orchestrator.pendingWork('nap')).some((w) => w.item.notBefore !== undefined), 30_000, 'the sleep to park');
    await clock.advance(DAY);
    const run = await orchestrator.waitForCompletion('nap');
    expect(run).toMatchObject({ status: 'completed', output: 'woke after 86400000 ms' });
    expect(clock.now() - start).toBe(DAY);
  } finally {
    await worker.stop();
  }
});

it('a daily schedule starts a run on each of three virtual days', async () => {
  const clock = new VirtualClock();
  const backend = new MemoryBackend({ clock: () => clock.now() });
  const orchestrator = new Orchestrator(backend, chain());
  await orchestrator.schedule({ id: 'daily', cron: '0 9 * * *', input: 5 });
  const worker = new Worker(backend, ChainWorkflowDef, chain().instance, { clock, schedulePollMs: 7 * DAY });
  await worker.start();
  try {
    await clock.advance(3 * DAY);
    for (const day of [1, 2, 3]) {
      const run = await orchestrator.waitForCompletion(scheduleRunId('daily', Date.UTC(2026, 0, day, 9)));
      expect(run.status).toBe('completed');
    }
    expect((await orchestrator.listRuns()).length).toBe(3);
  } finally {
    await worker.stop();
  }
});

/**
 * A cron schedule tested on virtual time, as docs/testing.md says: a `MemoryBackend` and the worker on one
 * `VirtualClock`, and the worker's scheduler told to poll rarely (it waits between passes on that clock: at its
 * default of a second, each virtual day cost 86 400 passes, half a minute of real time).
 */
import { expect, it } from 'vitest';
import { MemoryBackend, Orchestrator, Worker, scheduleRunId } from 'floxide';
import { VirtualClock } from 'floxide/testing';
import { ChainWorkflowDef, chain } from '../distributed/helpers.js';

const DAY = 86_400_000;

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

/**
 * Schedules on the real backends: the store conformance suite, and worker processes racing for the ticks of one
 * schedule (`floxide worker` child processes over one Redis key prefix / Postgres schema).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DistributedBackend, ScheduleStore } from '../../runtime/distributed/contracts.js';
import { supportsSchedules } from '../../runtime/distributed/contracts.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { nextTickAfter, scheduledRunOf } from '../../runtime/distributed/schedule-rules.js';
import { Scheduler } from '../../runtime/distributed/scheduler.js';
import { compiledOf } from '../../runtime/engine/compile.js';
import { InvalidScheduleError } from '../../runtime/core/errors.js';
import { describeScheduleConformance } from './schedule-conformance.js';
import { plantPreviousReleasePut, plantScheduleTimezone, plantUntimedSchedule } from './tamper.js';
import { ChainWorkflowDef, FanWorkflowDef, openTestBackend, spawnWorker, until, type BackendName, type TestBackend } from './helpers.js';

const BACKENDS: readonly BackendName[] = ['redis', 'postgres'];

for (const name of BACKENDS) {
  const opened: TestBackend[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((t) => t.dispose()));
  });
  describeScheduleConformance(name, async () => {
    const t = await openTestBackend(name, 'sc');
    opened.push(t);
    if (!supportsSchedules(t.backend)) throw new Error(`${name} keeps no schedules`);
    return t.backend as DistributedBackend & ScheduleStore;
  });

  describe(`a schedule stored before timings were kept: ${name}`, () => {
    it('keeps its cursor when defined again with the same expression, moves it for an expression written otherwise (once: its timing is kept then)', async () => {
      const t = await openTestBackend(name, 'suntimed');
      opened.push(t);
      const store = t.backend as DistributedBackend & ScheduleStore;
      const first = await store.putSchedule({ id: 'old', workflow: 'ChainWorkflow', cron: '0 * * * *' });
      await plantUntimedSchedule(t.backend, 'old');
      await new Promise((r) => setTimeout(r, 20));
      expect((await store.putSchedule({ id: 'old', workflow: 'ChainWorkflow', cron: '0 * * * *' })).cursor).toBe(first.cursor);
      await plantUntimedSchedule(t.backend, 'old');
      const moved = await store.putSchedule({ id: 'old', workflow: 'ChainWorkflow', cron: '@hourly' });
      expect(moved.cursor).toBeGreaterThan(first.cursor);
      await new Promise((r) => setTimeout(r, 20));
      expect((await store.putSchedule({ id: 'old', workflow: 'ChainWorkflow', cron: '0 */1 * * *' })).cursor).toBe(moved.cursor);
    });
  });

  describe(`a schedule the previous release defined again during a rolling upgrade: ${name}`, () => {
    it('does not keep a timing that release left behind: defined again by this one, the cursor moves to now, never back', async () => {
      const t = await openTestBackend(name, 'srolling');
      opened.push(t);
      const store = t.backend as DistributedBackend & ScheduleStore;
      const first = await store.putSchedule({ id: 'r', workflow: 'ChainWorkflow', cron: '0 * * * *' });
      // an old worker defines it with its own expression: the cursor moves (here to a time long past, to tell them
      // apart), the hourly timing stays in the record
      await plantPreviousReleasePut(t.backend, 'r', '*/5 * * * *', 1_000);
      const again = await store.putSchedule({ id: 'r', workflow: 'ChainWorkflow', cron: '0 * * * *' });
      expect(again.cursor).toBeGreaterThanOrEqual(first.cursor); // from now: the ticks since 1970 are not back-filled
      // and its own timing counts again from then on
      expect((await store.putSchedule({ id: 'r', workflow: 'ChainWorkflow', cron: '@hourly' })).cursor).toBe(again.cursor);
    });
  });

  describe(`a schedule this process cannot read: ${name}`, () => {
    it('fails alone (the other schedules start their ticks, its cursor stays), reported naming it, without a pass at once after it', async () => {
      const t = await openTestBackend(name, 'sbad');
      opened.push(t);
      const store = t.backend as DistributedBackend & ScheduleStore;
      await store.putSchedule({ id: 'a-unreadable', workflow: 'ChainWorkflow', cron: '* * * * * *' });
      const fine = await store.putSchedule({ id: 'b-fine', workflow: 'ChainWorkflow', cron: '* * * * * *' });
      // a zone this process's time zone data does not know (a worker on an older Node than the machine that added it)
      await plantScheduleTimezone(t.backend, 'a-unreadable', 'Mars/Olympus');
      const before = (await store.getSchedule('a-unreadable'))!.cursor;
      await until(async () => (await store.dueSchedules('ChainWorkflow')).now > fine.cursor + 1_000, 20_000, 'a tick due');
      const errors: unknown[] = [];
      const scheduler = new Scheduler(store, compiledOf(ChainWorkflowDef), { onError: (e) => errors.push(e) });
      const pass = await scheduler.runOnce();
      expect(pass.started.length).toBeGreaterThan(0);
      expect(new Set(pass.started.map((s) => s.schedule))).toEqual(new Set(['b-fine']));
      expect(pass.failed).toEqual([{ schedule: 'a-unreadable', error: expect.any(InvalidScheduleError) }]);
      expect(pass.nextTickAt).toBeGreaterThan(pass.now);
      expect((await store.getSchedule('a-unreadable'))!.cursor).toBe(before);
      // the running scheduler reports it, the message naming the schedule
      scheduler.start();
      await until(() => errors.length > 0, 20_000, 'the failure reported');
      await scheduler.stop();
      expect(errors[0]).toBeInstanceOf(InvalidScheduleError);
      expect((errors[0] as Error).message).toMatch(/^schedule a-unreadable: invalid time zone "Mars\/Olympus"/);
    }, 60_000);
  });

  describe(`schedules with worker processes: ${name}`, () => {
    it('a schedule firing every second for 10 s with 3 worker processes starts exactly 10 runs', { timeout: 180_000 }, async () => {
      const t = await openTestBackend(name, 'sp');
      opened.push(t);
      const workers = [0, 1, 2].map(() => spawnWorker(t.storeUrl, ['--concurrency', '4']));
      try {
        await Promise.all(workers.map((w) => w.ready));
        const orch = new Orchestrator(t.backend, FanWorkflowDef);
        // Ten consecutive seconds of every minute, starting a few seconds from now: exactly ten ticks, then a pause
        // of fifty seconds, long enough to count them and remove the schedule.
        const first = (new Date().getUTCSeconds() + 4) % 60;
        const seconds = Array.from({ length: 10 }, (_, i) => (first + i) % 60).join(',');
        const rec = await orch.schedule({ id: 'every-second', cron: `${seconds} * * * * *`, input: 3, catchUp: 'all' });
        const ticks: number[] = [];
        for (let at = rec.cursor; ticks.length < 10; ) ticks.push((at = nextTickAfter(rec, at)!));
        expect(ticks[9]! - ticks[0]!).toBe(9_000);
        await until(async () => (await t.backend.listRuns({ status: 'completed' })).length >= 10, 90_000, 'ten completed runs');
        // Three more seconds of store time: a duplicate or an eleventh run would have had time to appear.
        const store = t.backend as DistributedBackend & ScheduleStore;
        await until(async () => (await store.dueSchedules('FanWorkflow')).now > ticks[9]! + 3_000, 20_000, 'three more seconds');
        expect(await orch.removeSchedule('every-second')).toBe(true);
        const runs = await t.backend.listRuns();
        expect(runs).toHaveLength(10);
        expect(runs.map((r) => scheduledRunOf(r.runId)!.tick).sort((a, b) => a - b)).toEqual(ticks);
        for (const r of runs) expect(r).toMatchObject({ workflow: 'FanWorkflow', status: 'completed', input: 3 });
      } finally {
        for (const w of workers) w.proc.kill('SIGTERM');
        await Promise.all(workers.map((w) => w.exit));
      }
    });
  });
}

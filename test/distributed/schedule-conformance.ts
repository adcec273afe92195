/**
 * The schedule store conformance suite: one spec, every backend (memory, Redis, Postgres), against real servers and
 * their clocks. `make` returns a backend over fresh, empty state on every call.
 *
 * ```ts
 * describeScheduleConformance('redis', async () => RedisBackend.connect({ url, keyPrefix: uniquePrefix('s') }));
 * ```
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidScheduleError, ScheduleNotFoundError } from '../../runtime/core/errors.js';
import type { DistributedBackend, ScheduleStore } from '../../runtime/distributed/contracts.js';
import { compiledOf } from '../../runtime/engine/compile.js';
import { Scheduler } from '../../runtime/distributed/scheduler.js';
import { scheduledRunOf } from '../../runtime/distributed/schedule-rules.js';
import { ChainWorkflowDef } from '../fixtures/distributed/flows.floxide.js';

type Backend = DistributedBackend & ScheduleStore;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function describeScheduleConformance(name: string, make: () => Promise<Backend>): void {
  describe(`schedule store conformance: ${name}`, () => {
    let b: Backend;
    beforeEach(async () => {
      b = await make();
    });
    afterEach(async () => {
      await b.close();
    });

    it('creates, reads, lists and removes schedules', async () => {
      const before = Date.now();
      const rec = await b.putSchedule({ id: 'nightly', workflow: 'W', cron: '0 3 * * *', timezone: 'Europe/Paris', input: { n: 1 } });
      expect(rec).toMatchObject({ id: 'nightly', workflow: 'W', cron: '0 3 * * *', timezone: 'Europe/Paris', input: { n: 1 }, catchUp: 'latest', catchUpLimit: 100, graceMs: 10_000, paused: false, skipped: 0 });
      expect(rec.lastTickAt).toBeUndefined();
      expect(rec.cursor).toBe(rec.createdAt);
      expect(Math.abs(rec.cursor - before)).toBeLessThan(60_000);
      await b.putSchedule({ id: 'a-first', workflow: 'V', cron: '*/5 * * * * *' });
      expect(await b.getSchedule('nightly')).toEqual(rec);
      expect(await b.getSchedule('missing')).toBeUndefined();
      expect((await b.listSchedules()).map((s) => s.id)).toEqual(['a-first', 'nightly']);
      expect((await b.listSchedules({ workflow: 'W' })).map((s) => s.id)).toEqual(['nightly']);
      expect(await b.removeSchedule('nightly')).toBe(true);
      expect(await b.removeSchedule('nightly')).toBe(false);
      expect(await b.getSchedule('nightly')).toBeUndefined();
    });

    it('refuses an invalid cron expression or time zone at definition time, naming it, and stores nothing', async () => {
      await expect(b.putSchedule({ id: 's', workflow: 'W', cron: 'every tuesday' })).rejects.toThrow(InvalidScheduleError);
      await expect(b.putSchedule({ id: 's', workflow: 'W', cron: 'every tuesday' })).rejects.toThrow(/"every tuesday"/);
      await expect(b.putSchedule({ id: 's', workflow: 'W', cron: '61 * * * *' })).rejects.toThrow(/invalid cron expression "61 \* \* \* \*"/);
      await expect(b.putSchedule({ id: 's', workflow: 'W', cron: '* * * * *', timezone: 'Mars/Olympus' })).rejects.toThrow(/invalid time zone "Mars\/Olympus"/);
      await expect(b.putSchedule({ id: 'bad id', workflow: 'W', cron: '* * * * *' })).rejects.toThrow(InvalidArgumentError);
      await expect(b.putSchedule({ id: 's', workflow: 'W', cron: '* * * * *', catchUp: 'some' as never })).rejects.toThrow(/unknown catch-up policy "some"/);
      await expect(b.putSchedule({ id: 's', workflow: 'W', cron: '* * * * *', input: () => 1 })).rejects.toThrow(InvalidArgumentError);
      expect(await b.listSchedules()).toEqual([]);
    });

    it('updates a schedule in place: the cursor moves only when the expression or time zone changes, the paused state stays', async () => {
      const first = await b.putSchedule({ id: 's', workflow: 'W', cron: '* * * * *', input: 1 });
      await b.pauseSchedule('s');
      await sleep(20);
      const same = await b.putSchedule({ id: 's', workflow: 'W', cron: '* * * * *', input: 2, catchUp: 'all', catchUpLimit: 5 });
      expect(same).toMatchObject({ input: 2, catchUp: 'all', catchUpLimit: 5, paused: true, cursor: first.cursor, createdAt: first.createdAt });
      expect(same.updatedAt).toBeGreaterThanOrEqual(first.updatedAt);
      const moved = await b.putSchedule({ id: 's', workflow: 'W', cron: '*/2 * * * *', input: 2 });
      expect(moved.cursor).toBeGreaterThan(first.cursor);
      expect(moved).toMatchObject({ paused: true, catchUp: 'latest', createdAt: first.createdAt });
      const tz = await b.putSchedule({ id: 's', workflow: 'W', cron: '*/2 * * * *', timezone: 'UTC', input: 2 });
      expect(tz.cursor).toBeGreaterThanOrEqual(moved.cursor);
      expect(tz.timezone).toBe('UTC');
    });

    it('keeps the cursor of a schedule defined again with an equivalent expression (same instants, written otherwise); a different one moves it', async () => {
      const first = await b.putSchedule({ id: 'hourly', workflow: 'W', cron: '0 * * * *' });
      // as a scheduler pass would have moved it: re-defining must not lose where the schedule is
      expect(await b.advanceSchedule('hourly', first.cursor, { cursor: first.cursor + 1, skipped: 1, lastTickAt: first.cursor, lastRunId: 'r0' })).toBe(true);
      const at = first.cursor + 1;
      await sleep(20);
      for (const [cron, timezone] of [['0 */1 * * *', undefined], ['0  *  * * *', undefined], ['0 0 * * * *', undefined], ['@hourly', undefined], ['0 0-23 * * *', 'UTC'], ['0 * * * *', undefined]] as const) {
        const again = await b.putSchedule({ id: 'hourly', workflow: 'W', cron, ...(timezone ? { timezone } : {}) });
        expect(again, `${cron} ${timezone ?? ''}`).toMatchObject({ cron, cursor: at, skipped: 1, lastTickAt: first.cursor, lastRunId: 'r0' });
      }
      // other instants, or another zone: a new timing, from now
      for (const [cron, timezone] of [['30 * * * *', undefined], ['30 * * * *', 'Europe/Paris']] as const) {
        await sleep(5);
        const before = (await b.getSchedule('hourly'))!.cursor;
        const moved = await b.putSchedule({ id: 'hourly', workflow: 'W', cron, ...(timezone ? { timezone } : {}) });
        expect(moved.cursor, `${cron} ${timezone ?? ''}`).toBeGreaterThan(before);
      }
    });

    it('pauses and resumes; unknown ids are ScheduleNotFoundError', async () => {
      await b.putSchedule({ id: 's', workflow: 'W', cron: '* * * * *' });
      await b.putSchedule({ id: 'p', workflow: 'W', cron: '* * * * *', paused: true });
      expect((await b.dueSchedules('W')).schedules.map((s) => s.id)).toEqual(['s']);
      const paused = await b.pauseSchedule('s');
      expect(paused.paused).toBe(true);
      expect(await b.pauseSchedule('s')).toEqual(paused);
      expect((await b.dueSchedules('W')).schedules).toEqual([]);
      const resumed = await b.resumeSchedule('s');
      expect(resumed.paused).toBe(false);
      expect(resumed.resumedAt).toBeGreaterThanOrEqual(paused.updatedAt);
      expect(await b.resumeSchedule('s')).toEqual(resumed);
      const due = await b.dueSchedules('W');
      expect(due.schedules.map((s) => s.id)).toEqual(['s']);
      expect(Math.abs(due.now - Date.now())).toBeLessThan(60_000);
      await expect(b.pauseSchedule('nope')).rejects.toThrow(ScheduleNotFoundError);
      await expect(b.resumeSchedule('nope')).rejects.toThrow(/no schedule with id "nope"/);
    });

    it('moves the cursor by compare-and-set only', async () => {
      const s = await b.putSchedule({ id: 's', workflow: 'W', cron: '* * * * *' });
      expect(await b.advanceSchedule('s', s.cursor, { cursor: s.cursor + 1000, skipped: 2, lastTickAt: s.cursor + 500, lastRunId: 'r1' })).toBe(true);
      expect(await b.advanceSchedule('s', s.cursor, { cursor: s.cursor + 2000, skipped: 0 })).toBe(false);
      expect(await b.getSchedule('s')).toMatchObject({ cursor: s.cursor + 1000, skipped: 2, lastTickAt: s.cursor + 500, lastRunId: 'r1' });
      expect(await b.advanceSchedule('s', s.cursor + 1000, { cursor: s.cursor + 3000, skipped: 1 })).toBe(true);
      expect(await b.getSchedule('s')).toMatchObject({ cursor: s.cursor + 3000, skipped: 3, lastTickAt: s.cursor + 500, lastRunId: 'r1' });
      await b.pauseSchedule('s');
      expect(await b.advanceSchedule('s', s.cursor + 3000, { cursor: s.cursor + 4000, skipped: 0 })).toBe(false);
      expect(await b.advanceSchedule('gone', 0, { cursor: 1, skipped: 0 })).toBe(false);
      await expect(b.advanceSchedule('s', s.cursor + 3000, { cursor: s.cursor, skipped: 0 })).rejects.toThrow(InvalidArgumentError);
    });

    it('two schedulers racing on the same ticks start one run per tick', async () => {
      const wf = compiledOf(ChainWorkflowDef);
      await b.putSchedule({ id: 'race', workflow: wf.def.name, cron: '* * * * * *', input: 7, catchUp: 'all' });
      await sleep(2_100);
      const schedulers = Array.from({ length: 4 }, () => new Scheduler(b, wf));
      const passes = await Promise.all(schedulers.map((s) => s.runOnce()));
      const starts = passes.flatMap((p) => p.started);
      const ticks = [...new Set(starts.map((s) => s.tick))];
      expect(ticks.length).toBeGreaterThanOrEqual(2);
      for (const tick of ticks) expect(starts.filter((s) => s.tick === tick && s.created)).toHaveLength(1);
      const runs = await b.listRuns({ workflow: wf.def.name });
      expect(runs.map((r) => r.runId).sort()).toEqual([...new Set(starts.map((s) => s.runId))].sort());
      for (const r of runs) {
        expect(r.input).toBe(7);
        expect(scheduledRunOf(r.runId)?.schedule).toBe('race');
      }
      let rec = await b.getSchedule('race');
      expect(ticks).toContain(rec!.lastTickAt);
      if (rec!.cursor < Math.max(...ticks)) {
        // The passes' clocks straddled a tick: one that read the store's time after it started that tick's run and
        // lost the cursor's compare-and-set to one that read it before. The next pass finds the run (no second one)
        // and moves the cursor past it.
        const again = await new Scheduler(b, wf).runOnce();
        expect(again.started.filter((s) => ticks.includes(s.tick) && s.created)).toEqual([]);
        rec = await b.getSchedule('race');
      }
      expect(rec!.cursor).toBeGreaterThanOrEqual(Math.max(...ticks));
    });
  });
}

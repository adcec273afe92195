/**
 * Schedules on the memory backend: the store conformance suite, then the scheduler's tick and catch-up rules
 * driven by a manual clock (every tick and every pause exactly where the test puts it), the Orchestrator API and
 * workers starting scheduled runs.
 */
import { describe, expect, it, vi } from 'vitest';
import { Cron } from 'croner';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { Scheduler } from '../../runtime/distributed/scheduler.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { compiledOf } from '../../runtime/engine/compile.js';
import { InvalidArgumentError, InvalidScheduleError, ScheduleNotFoundError, reviveError, serializeError } from '../../runtime/core/errors.js';
import { nextTickAfter, planTicks, scheduleRunId, scheduledRunOf } from '../../runtime/distributed/schedule-rules.js';
import { DEFAULT_LIVENESS_THRESHOLD_MS, type ScheduleRecord } from '../../runtime/distributed/contracts.js';
import { describeScheduleConformance } from './schedule-conformance.js';
import { ChainWorkflowDef, CountCtx, chain, until } from './helpers.js';
import { DeployFlow as DeployFlowV1, type DeployLog } from '../fixtures/distributed/deploy-v1.js';
import { DeployFlowDef as V1Def } from '../fixtures/distributed/deploy-v1.floxide.js';
import { DeployFlow as DeployFlowV2 } from '../fixtures/distributed/deploy-v2.js';
import { DeployFlowDef as V2Def } from '../fixtures/distributed/deploy-v2.floxide.js';

describeScheduleConformance('memory', async () => new MemoryBackend());

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const S = 1_000;

function setup(start = T0 + 200) {
  let now = start;
  const clock = { now: () => now, set: (t: number) => void (now = t), advance: (ms: number) => void (now += ms) };
  const backend = new MemoryBackend({ clock: clock.now });
  const wf = compiledOf(ChainWorkflowDef);
  const scheduler = new Scheduler(backend, wf);
  const ticksOf = async () => (await backend.listRuns()).map((r) => scheduledRunOf(r.runId)!.tick - T0).sort((a, b) => a - b);
  return { clock, backend, wf, scheduler, ticksOf };
}

describe('scheduler (memory backend, manual clock)', () => {
  it('starts one run per tick, named after the schedule and the tick, with the schedule input', async () => {
    const { clock, backend, scheduler, ticksOf } = setup();
    await backend.putSchedule({ id: 'every-second', workflow: 'ChainWorkflow', cron: '* * * * * *', input: 5 });
    expect((await scheduler.runOnce()).started).toEqual([]);
    clock.set(T0 + S + 10);
    const pass = await scheduler.runOnce();
    expect(pass.started).toEqual([{ schedule: 'every-second', tick: T0 + S, runId: 'schedule:every-second:2026-01-01T00:00:01.000Z', created: true }]);
    expect(pass.nextTickAt).toBe(T0 + 2 * S);
    expect((await scheduler.runOnce()).started).toEqual([]);
    clock.set(T0 + 3 * S + 500);
    expect((await scheduler.runOnce()).started.map((s) => s.tick - T0)).toEqual([2 * S, 3 * S]);
    expect(await ticksOf()).toEqual([S, 2 * S, 3 * S]);
    const run = await backend.getRun(scheduleRunId('every-second', T0 + S));
    expect(run).toMatchObject({ workflow: 'ChainWorkflow', input: 5, status: 'running' });
    expect(await backend.getSchedule('every-second')).toMatchObject({ lastTickAt: T0 + 3 * S, lastRunId: 'schedule:every-second:2026-01-01T00:00:03.000Z', cursor: T0 + 3 * S + 500, skipped: 0 });
  });

  it('only serves schedules of its own workflow', async () => {
    const { clock, backend, scheduler } = setup();
    await backend.putSchedule({ id: 'other', workflow: 'FanWorkflow', cron: '* * * * * *', input: 1 });
    clock.advance(5 * S);
    expect((await scheduler.runOnce()).started).toEqual([]);
    expect(await backend.listRuns()).toEqual([]);
  });

  it('catch-up none: ticks older than graceMs are skipped and counted', async () => {
    const { clock, backend, scheduler, ticksOf } = setup();
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', catchUp: 'none', graceMs: 2_500 });
    clock.set(T0 + 10 * S + 100); // down for ~10 s: ticks 1..7 are older than 2.5 s
    const pass = await scheduler.runOnce();
    expect(pass.started.map((s) => s.tick - T0)).toEqual([8 * S, 9 * S, 10 * S]);
    expect(pass.skipped).toBe(7);
    expect(await ticksOf()).toEqual([8 * S, 9 * S, 10 * S]);
    expect((await backend.getSchedule('s'))!.skipped).toBe(7);
  });

  it('catch-up latest: one run for the most recent missed tick', async () => {
    const { clock, backend, scheduler, ticksOf } = setup();
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', catchUp: 'latest', graceMs: 0 });
    clock.set(T0 + 10 * S + 100);
    const pass = await scheduler.runOnce();
    expect(pass.started.map((s) => s.tick - T0)).toEqual([10 * S]);
    expect(pass.skipped).toBe(9);
    expect(await ticksOf()).toEqual([10 * S]);
  });

  it('catch-up all: every missed tick up to catchUpLimit, the most recent ones', async () => {
    const { clock, backend, scheduler, ticksOf } = setup();
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', catchUp: 'all', catchUpLimit: 4, graceMs: 0 });
    clock.set(T0 + 10 * S + 100);
    const pass = await scheduler.runOnce();
    expect(pass.started.map((s) => s.tick - T0)).toEqual([7 * S, 8 * S, 9 * S, 10 * S]);
    expect(pass.skipped).toBe(6);
    expect(await ticksOf()).toEqual([7 * S, 8 * S, 9 * S, 10 * S]);
  });

  it('pause stops ticks; resume restarts them and the ticks missed while paused follow the catch-up policy', async () => {
    for (const [catchUp, expected] of [
      ['none', [1, 2, 6, 7]],
      ['latest', [1, 2, 5, 6, 7]],
      ['all', [1, 2, 3, 4, 5, 6, 7]],
    ] as const) {
      const { clock, backend, scheduler, ticksOf } = setup();
      await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', catchUp, graceMs: 60_000 });
      clock.set(T0 + 2 * S + 100);
      await scheduler.runOnce();
      await backend.pauseSchedule('s');
      clock.set(T0 + 5 * S + 300); // ticks 3, 4, 5 fall during the pause (even though they are within graceMs)
      expect((await scheduler.runOnce()).started).toEqual([]);
      await backend.resumeSchedule('s');
      clock.set(T0 + 7 * S + 100);
      await scheduler.runOnce();
      expect(await ticksOf(), catchUp).toEqual(expected.map((t) => t * S));
    }
  });

  it('a removed schedule starts nothing more; its runs stay', async () => {
    const { clock, backend, scheduler, ticksOf } = setup();
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *' });
    clock.set(T0 + S + 100);
    await scheduler.runOnce();
    expect(await backend.removeSchedule('s')).toBe(true);
    clock.set(T0 + 5 * S + 100);
    expect((await scheduler.runOnce()).started).toEqual([]);
    expect(await ticksOf()).toEqual([S]);
  });

  it('a new cron expression never back-fills: its ticks start after the update', async () => {
    const { clock, backend, scheduler, ticksOf } = setup();
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '0 0 * * * *', catchUp: 'all', graceMs: 0 });
    clock.set(T0 + 30 * 60 * S);
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '*/10 * * * * *', catchUp: 'all', graceMs: 0 });
    clock.advance(25 * S);
    await scheduler.runOnce();
    expect(await ticksOf()).toEqual([30 * 60 * S + 10 * S, 30 * 60 * S + 20 * S]);
  });

  it('reads the expression in the schedule time zone', async () => {
    const { clock, backend, scheduler } = setup(Date.parse('2026-07-01T06:00:00.000Z'));
    await backend.putSchedule({ id: 'paris', workflow: 'ChainWorkflow', cron: '0 9 * * *', timezone: 'Europe/Paris' });
    await backend.putSchedule({ id: 'utc', workflow: 'ChainWorkflow', cron: '0 9 * * *' });
    clock.set(Date.parse('2026-07-01T09:00:00.500Z'));
    const pass = await scheduler.runOnce();
    // 09:00 in Paris in July is 07:00 UTC.
    expect(pass.started.map((s) => s.runId).sort()).toEqual(['schedule:paris:2026-07-01T07:00:00.000Z', 'schedule:utc:2026-07-01T09:00:00.000Z']);
  });

  it('a tick whose run exists with another input (the schedule changed meanwhile) counts as started', async () => {
    const { clock, backend, scheduler, wf } = setup();
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', input: 1 });
    await new Orchestrator(backend, ChainWorkflowDef).startRun(new CountCtx(), 99, { runId: scheduleRunId('s', T0 + S) });
    clock.set(T0 + S + 100);
    expect((await scheduler.runOnce()).started).toEqual([{ schedule: 's', tick: T0 + S, runId: scheduleRunId('s', T0 + S), created: false }]);
    expect((await backend.getRun(scheduleRunId('s', T0 + S)))!.input).toBe(99);
    expect(wf.def.name).toBe('ChainWorkflow');
  });
});

describe('schedules during a rolling deploy', () => {
  const health = (info: Record<string, string>, status: 'idle' | 'stopping' = 'idle') => ({ status, current: [], processed: 0, errors: 0, info });

  it('a scheduler leaves due ticks to a live worker of a build that supersedes its version, and takes them back once it is gone', async () => {
    const { clock, backend, scheduler, wf, ticksOf } = setup();
    const mine = wf.def.fingerprint;
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', input: 1, catchUp: 'all' });
    // workers that do not supersede this version: another workflow, a build that does not list it, one stopping
    await backend.heartbeat('other-workflow', health({ workflow: 'FanWorkflow', versions: 'aaaaaaaaaaaaaaaa', supersedes: mine }));
    await backend.heartbeat('unrelated', health({ workflow: 'ChainWorkflow', versions: 'bbbbbbbbbbbbbbbb', supersedes: 'cccccccccccccccc' }));
    await backend.heartbeat('stopping', health({ workflow: 'ChainWorkflow', versions: 'dddddddddddddddd', supersedes: mine }, 'stopping'));
    clock.set(T0 + S + 10);
    const first = await scheduler.runOnce();
    expect([first.started.map((x) => x.tick - T0), first.deferredTo]).toEqual([[S], undefined]);
    // a newer build's worker is alive: nothing started, the cursor stays (the ticks stay due for that worker)
    await backend.heartbeat('newer', health({ workflow: 'ChainWorkflow', versions: 'eeeeeeeeeeeeeeee,ffffffffffffffff', supersedes: `ffffffffffffffff,${mine}` }));
    clock.set(T0 + 2 * S + 10);
    const deferred = await scheduler.runOnce();
    expect(deferred).toMatchObject({ started: [], skipped: 0, deferredTo: 'eeeeeeeeeeeeeeee', nextTickAt: undefined });
    expect((await backend.getSchedule('s'))!.cursor).toBe(T0 + S + 10);
    // its heartbeat goes stale (a killed worker, a rollback): the ticks are this scheduler's again, the missed ones by the catch-up policy
    clock.set(T0 + 2 * S + 10 + DEFAULT_LIVENESS_THRESHOLD_MS);
    const back = await scheduler.runOnce();
    expect(back.deferredTo).toBeUndefined();
    expect(await ticksOf()).toEqual(Array.from({ length: 12 }, (_, i) => (i + 1) * S));
  });

  it("a newer build's worker that starts no scheduled runs (schedules: false, floxide worker --no-schedules) takes no ticks from the older build (every tick was left to it, and none started)", async () => {
    const { clock, backend, scheduler, wf, ticksOf } = setup();
    const mine = wf.def.fingerprint;
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', input: 1 });
    // a worker that starts no scheduled runs says so in its heartbeat
    const quiet = new Worker(backend, ChainWorkflowDef, chain().instance, { schedules: false });
    await quiet.start();
    expect((await backend.listWorkers()).map((w) => w.health.info?.schedules)).toEqual(['off']);
    await quiet.stop(0);
    // a newer build's worker that says so takes no ticks: this scheduler starts them
    await backend.heartbeat('newer', health({ workflow: 'ChainWorkflow', versions: 'eeeeeeeeeeeeeeee', supersedes: mine, schedules: 'off' }));
    clock.set(T0 + S + 10);
    const pass = await scheduler.runOnce();
    expect([pass.started.map((x) => x.tick - T0), pass.deferredTo]).toEqual([[S], undefined]);
    expect(await ticksOf()).toEqual([S]);
  });

  it('two builds that supersede each other (a change reverted to a graph on record): the smaller version id takes the ticks, the other leaves them', async () => {
    const clock = { t: T0 + S + 10 };
    const backend = new MemoryBackend({ clock: () => clock.t });
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', input: 1 });
    const me = ChainWorkflowDef.fingerprint;
    const smaller = '0'.repeat(16);
    const larger = 'f'.repeat(16);
    expect([smaller < me, larger > me]).toEqual([true, true]);
    // this build lists both other versions as recorded before it; each other build lists this one
    const scheduler = new Scheduler(backend, compiledOf({ ...ChainWorkflowDef, supersedes: [smaller, larger] }));
    await backend.heartbeat('larger', health({ workflow: 'ChainWorkflow', versions: larger, supersedes: me }));
    clock.t += S;
    const kept = await scheduler.runOnce();
    expect([kept.started.length, kept.deferredTo]).toEqual([1, undefined]);
    await backend.heartbeat('smaller', health({ workflow: 'ChainWorkflow', versions: smaller, supersedes: me }));
    clock.t += S;
    const left = await scheduler.runOnce();
    expect([left.started.length, left.deferredTo]).toEqual([0, smaller]);
  });

  it("old and new workers side by side: every tick's run starts on the new build's version while a new worker is alive, on the old one's after it stopped", async () => {
    const backend = new MemoryBackend();
    const log: DeployLog = [];
    // the definition `floxide build` generates for version 2 once version 1 is on record beside it
    const v2 = { ...V2Def, supersedes: [V1Def.fingerprint] };
    await new Orchestrator(backend, V1Def).schedule({ id: 'tick', cron: '* * * * * *', input: '1', catchUp: 'all' });
    const old = new WorkerPool(backend, V1Def, new DeployFlowV1(log), { size: 1, idleMaxMs: 50, schedulePollMs: 100 });
    const fresh = new WorkerPool(backend, v2, new DeployFlowV2(log), { size: 1, idleMaxMs: 50, schedulePollMs: 100 });
    const byVersion = async () => {
      const runs = await backend.listRuns();
      return { v1: runs.filter((r) => r.fingerprint === V1Def.fingerprint).length, v2: runs.filter((r) => r.fingerprint === V2Def.fingerprint).length };
    };
    try {
      await fresh.start();
      await old.start();
      expect((await backend.listWorkers()).map((w) => w.health.info?.supersedes)).toContain(V1Def.fingerprint);
      await until(async () => (await byVersion()).v2 >= 3, 20_000, 'three scheduled runs on version 2');
      expect((await byVersion()).v1).toBe(0);
      await fresh.stop();
      await until(async () => (await byVersion()).v1 >= 1, 20_000, 'a scheduled run on version 1 once version 2 is gone');
      await backend.pauseSchedule('tick');
      await old.stop();
      const ticks = (await backend.listRuns()).map((r) => scheduledRunOf(r.runId)!.tick).sort((a, b) => a - b);
      expect(new Set(ticks).size).toBe(ticks.length);
    } finally {
      await fresh.stop();
      await old.stop();
      await backend.close();
    }
  }, 60_000);
});

describe('planTicks', () => {
  const rec = (over: Partial<ScheduleRecord>): ScheduleRecord => ({
    id: 's', workflow: 'W', cron: '* * * * * *', timezone: undefined, input: null, catchUp: 'latest', catchUpLimit: 100, graceMs: 0,
    paused: false, cursor: T0, resumedAt: undefined, lastTickAt: undefined, lastRunId: undefined, skipped: 0, createdAt: T0, updatedAt: T0, ...over,
  });
  it('is undefined when nothing is due, and never enumerates a year of missed ticks', () => {
    expect(planTicks(rec({}), T0 + 999)).toBeUndefined();
    const year = 365 * 24 * 3600 * S;
    expect(planTicks(rec({ catchUp: 'all', catchUpLimit: 3 }), T0 + year)).toMatchObject({ fire: [T0 + year - 2 * S, T0 + year - S, T0 + year], cursor: T0 + year });
  });
  it('fires at most 1 000 on-time ticks per pass and leaves the others due for the next pass (none is lost)', () => {
    const long = rec({ graceMs: 2 ** 31 - 1 });
    const first = planTicks(long, T0 + 2_500 * S)!;
    expect(first).toMatchObject({ skipped: 0, cursor: T0 + 1_000 * S });
    expect(first.fire).toHaveLength(1_000);
    expect(first.fire.at(-1)).toBe(T0 + 1_000 * S);
    const second = planTicks({ ...long, cursor: first.cursor }, T0 + 2_500 * S)!;
    expect(second.fire[0]).toBe(T0 + 1_001 * S);
    const third = planTicks({ ...long, cursor: second.cursor }, T0 + 2_500 * S)!;
    expect(third).toMatchObject({ skipped: 0, cursor: T0 + 2_500 * S });
    expect([...first.fire, ...second.fire, ...third.fire]).toEqual(Array.from({ length: 2_500 }, (_, i) => T0 + (i + 1) * S));
  });
  it("reads a schedule without a time zone in UTC whatever the process's zone (it was read in the process's zone: workers in two zones started two runs a day)", () => {
    const zone = process.env.TZ;
    try {
      for (const tz of ['America/New_York', 'Asia/Kolkata', 'UTC']) {
        process.env.TZ = tz;
        expect(new Date(nextTickAfter({ cron: '0 3 * * 1-5', timezone: undefined }, Date.parse('2026-12-07T00:00:00.000Z'))!).toISOString()).toBe('2026-12-07T03:00:00.000Z');
        expect(planTicks({ ...rec({ cron: '0 3 * * 1-5' }), cursor: Date.parse('2026-12-06T00:00:00.000Z') }, Date.parse('2026-12-07T03:00:01.000Z'))?.fire).toEqual([Date.parse('2026-12-07T03:00:00.000Z')]);
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('walks only the ticks since the cursor to catch up: a daily schedule down 3 days with catchUpLimit 10 000 asks croner for a few ticks, not 10 000 back (27 years, seconds of a blocked event loop per pass)', () => {
    const start = Date.parse('2026-03-28T12:00:00Z');
    const daily = rec({ cron: '30 2 * * *', timezone: 'Europe/Paris', catchUp: 'all', catchUpLimit: 10_000, cursor: start });
    planTicks(daily, start + 1); // croner's pattern parsed and cached first
    const next = vi.spyOn(Cron.prototype, 'nextRun');
    const previous = vi.spyOn(Cron.prototype, 'previousRuns');
    try {
      const plan = planTicks(daily, start + 3 * 24 * 3600 * S)!;
      expect(plan.fire.map((t) => new Date(t).toISOString())).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
      const asked = next.mock.calls.length + previous.mock.calls.reduce((n, [count]) => n + (count ?? 0), 0);
      expect(asked).toBeLessThan(20);
    } finally {
      next.mockRestore();
      previous.mockRestore();
    }
    // more missed ticks than the limit: the latest ones, as before
    expect(planTicks({ ...daily, catchUpLimit: 2 }, start + 3 * 24 * 3600 * S)).toMatchObject({ fire: [Date.parse('2026-03-30T00:30:00.000Z'), Date.parse('2026-03-31T00:30:00.000Z')], skipped: 1 });
  });

  it('follows daylight saving time as documented, pass by pass and in one catch-up pass alike: a fixed time in the spring gap runs once after it, an autumn repeat once; an interval job skips the gap and runs on both occurrences', () => {
    // every tick of (from, to] (Paris: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00), seen by a pass every
    // 10 minutes (each tick on time) and by one catch-up pass at the end
    const ticks = (cron: string, from: string, to: string) => {
      const [start, end, step] = [Date.parse(from), Date.parse(to), 10 * 60 * S];
      const base = rec({ cron, timezone: 'Europe/Paris', catchUp: 'all', catchUpLimit: 10_000, cursor: start });
      let r = { ...base, graceMs: 2 * step };
      const walked: number[] = [];
      for (let now = start + step; now <= end; now += step) {
        const plan = planTicks(r, now);
        if (plan) [walked.push(...plan.fire), (r = { ...r, cursor: plan.cursor })];
      }
      const atOnce = planTicks(base, end)!;
      expect([walked, atOnce.skipped]).toEqual([atOnce.fire, 0]);
      return walked.map((t) => new Date(t).toISOString());
    };
    expect(ticks('30 2 * * *', '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(ticks('30 2 * * *', '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    expect(ticks('*/30 * * * *', '2026-03-29T00:00:00Z', '2026-03-29T02:00:00Z')).toEqual(['2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-29T02:00:00.000Z']);
    expect(ticks('*/30 * * * *', '2026-10-24T23:40:00Z', '2026-10-25T01:40:00Z')).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z']);
  });

  it('counts a tick exactly graceMs old as missed and a tick exactly at now as on time', () => {
    expect(planTicks(rec({ graceMs: 2 * S }), T0 + 3 * S)).toEqual({ fire: [T0 + S, T0 + 2 * S, T0 + 3 * S], skipped: 0, cursor: T0 + 3 * S });
  });
});

describe('schedule errors', () => {
  it('an invalid cron expression is an InvalidScheduleError, a kind of InvalidArgumentError, with its own code, revived as such', () => {
    const err = new InvalidScheduleError('invalid cron expression "x"');
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ name: 'InvalidScheduleError', code: 'FLOXIDE_INVALID_SCHEDULE' });
    const back = reviveError(serializeError(err));
    expect(back).toBeInstanceOf(InvalidScheduleError);
    expect(reviveError(serializeError(new ScheduleNotFoundError('no schedule')))).toBeInstanceOf(ScheduleNotFoundError);
  });

  it("catchUp 'none' with graceMs 0 is refused: every tick would be missed, and no run ever started (a scheduler sees a tick after its time)", async () => {
    const backend = new MemoryBackend();
    await expect(backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', catchUp: 'none', graceMs: 0 })).rejects.toThrow(
      "catchUp 'none' with graceMs 0 never starts a run: a scheduler sees each tick some milliseconds after its time, so every tick would be missed and skipped; give graceMs the lateness a run may start with (default 10000)",
    );
    expect(await backend.listSchedules()).toEqual([]);
    await backend.putSchedule({ id: 's', workflow: 'ChainWorkflow', cron: '* * * * * *', catchUp: 'latest', graceMs: 0 });
  });
});

describe('Orchestrator schedules API', () => {
  it('defines, lists, pauses, resumes and removes schedules of its workflow', async () => {
    const backend = new MemoryBackend();
    const orch = new Orchestrator(backend, chain());
    const rec = await orch.schedule({ id: 'hourly', cron: '0 * * * *', input: 3 });
    expect(rec).toMatchObject({ id: 'hourly', workflow: 'ChainWorkflow', input: 3 });
    await expect(orch.schedule({ id: 'bad', cron: '* * * *' })).rejects.toThrow(InvalidScheduleError);
    await expect(orch.schedule({ id: 'bad', cron: '* * * *' })).rejects.toThrow('invalid cron expression "* * * *": it has 4 field(s); expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)');
    // croner would name a 7-field form that this mode refuses: the count is said here
    await expect(orch.schedule({ id: 'bad', cron: '0 0 * * * * *' })).rejects.toThrow('it has 7 field(s); expected 5');
    expect((await orch.schedules()).map((s) => s.id)).toEqual(['hourly']);
    expect((await orch.pauseSchedule('hourly')).paused).toBe(true);
    expect((await orch.resumeSchedule('hourly')).paused).toBe(false);
    expect(await orch.removeSchedule('hourly')).toBe(true);
    expect(await orch.getSchedule('hourly')).toBeUndefined();
    await expect(orch.pauseSchedule('hourly')).rejects.toThrow(ScheduleNotFoundError);
    await expect(new Orchestrator(backend).schedule({ id: 'x', cron: '* * * * *' })).rejects.toThrow(/needs the workflow/);
  });
});

describe('workers start scheduled runs', () => {
  it('a pool of several workers starts each tick once and runs it to completion', async () => {
    const backend = new MemoryBackend();
    const orch = new Orchestrator(backend, chain());
    await orch.schedule({ id: 'tick', cron: '* * * * * *', input: 1, catchUp: 'all' });
    const pools = [0, 1].map(() => new WorkerPool(backend, ChainWorkflowDef, chain().instance, { size: 2, idleMaxMs: 50, schedulePollMs: 200 }));
    await Promise.all(pools.map((p) => p.start()));
    await until(async () => (await backend.listRuns({ status: 'completed' })).length >= 3, 20_000, 'three scheduled runs');
    await orch.pauseSchedule('tick');
    await Promise.all(pools.map((p) => p.stop()));
    const runs = await backend.listRuns();
    const ticks = runs.map((r) => scheduledRunOf(r.runId)!.tick).sort((a, b) => a - b);
    expect(new Set(ticks).size).toBe(ticks.length);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(S);
  });
});

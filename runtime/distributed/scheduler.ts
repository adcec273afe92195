/**
 * `Scheduler`: starts the runs of one workflow's schedules from a worker process. Each pass reads the workflow's
 * active schedules with the backend's clock, plans each one's due ticks (`schedule-rules.ts` `planTicks`: the
 * catch-up policy), creates one run per fired tick under the tick's deterministic run id, then moves the schedule's
 * cursor with a compare-and-set. Any number of schedulers may race: `createRun` is create-if-absent per run id, so a
 * tick starts exactly one run, and a scheduler that crashes between creating runs and moving the cursor leaves the
 * ticks due for the next pass, which finds their runs already there.
 *
 * During a rolling deploy the workers of two builds schedule side by side: a scheduler whose graph version a live
 * worker's build supersedes (`WorkflowDef.supersedes`, in the worker's heartbeat) leaves every due tick to that
 * worker, and starts them again once no such worker is alive (a rollback).
 */
import type { CompiledWorkflow } from '../engine/compile.js';
import { FingerprintMismatchError, InvalidArgumentError, RunInputMismatchError, reviveError, serializeError } from '../core/errors.js';
import type { DistributedBackend, ScheduleRecord, ScheduleStore } from './contracts.js';
import { startDistributedRun } from './execution.js';
import { nextTickAfter, planTicks, scheduleRunId, type TickPlan } from './schedule-rules.js';
import { systemClock, type Clock } from '../core/time.js';
import type { TracingOption } from '../engine/tracing.js';

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  /** Longest wait between passes in ms (default 1 000): how soon a new or resumed schedule is noticed. */
  readonly pollMs?: number;
  /**
   * Where the scheduler waits between passes (default the system clock). Which ticks are due is decided by the
   * backend's clock: a test drives both with a `MemoryBackend` on the same virtual clock.
   */
  readonly clock?: Clock;
  /**
   * Errors of a pass (store unreachable...) and of one schedule in it (an expression or time zone this process cannot
   * read, a run that cannot start: a `FloxideError` whose message names the schedule, the error as its cause); the
   * scheduler carries on. Default: ignored.
   */
  readonly onError?: (error: unknown) => void;
  /** OpenTelemetry: trace the runs it starts (see `StartDistributedOptions.tracing`). */
  readonly tracing?: TracingOption;
}

/** A tick a scheduler pass handled by starting a run. */
export interface ScheduledStart {
  readonly schedule: string;
  readonly tick: number;
  readonly runId: string;
  /** false when the run already existed (another scheduler started it first). */
  readonly created: boolean;
}

/** A schedule a pass could not handle; it keeps its cursor, so its due ticks are tried again by the next pass. */
export interface ScheduleFailure {
  readonly schedule: string;
  readonly error: unknown;
}

/** What one {@link Scheduler.runOnce} pass did. */
export interface SchedulerPass {
  readonly started: readonly ScheduledStart[];
  /** Ticks skipped by catch-up policies. */
  readonly skipped: number;
  /**
   * Schedules whose ticks this pass could not handle (each reported to `onError` by the running scheduler, the
   * message naming the schedule): one failing schedule does not stop the others.
   */
  readonly failed: readonly ScheduleFailure[];
  /** The earliest next tick of the active schedules (backend epoch ms), if any; not of those left to a newer build. */
  readonly nextTickAt: number | undefined;
  /** The backend's clock at the pass. */
  readonly now: number;
  /**
   * Set when ticks were due and left to the workers of a newer build: the graph version of a live worker that
   * supersedes this scheduler's (nothing started, no cursor moved).
   */
  readonly deferredTo?: string;
}

/** Starts the runs of one workflow's schedules; see the module comment. */
export class Scheduler {
  private readonly pollMs: number;
  private cancelTimer: (() => void) | undefined;
  private pass: Promise<unknown> | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(
    private readonly backend: DistributedBackend & ScheduleStore,
    private readonly wf: CompiledWorkflow,
    private readonly options: SchedulerOptions = {},
  ) {
    const pollMs = options.pollMs ?? 1_000;
    if (typeof pollMs !== 'number' || !Number.isFinite(pollMs) || pollMs <= 0) throw new InvalidArgumentError(`pollMs must be a positive number of ms, got ${String(pollMs)}`);
    this.pollMs = pollMs;
  }

  /** Starts passes: one now, then one at each next tick (at most `pollMs` apart). Idempotent. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.loop(0);
  }

  /** Stops scheduling and waits for a pass in progress. Idempotent. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    this.cancelTimer?.();
    await this.pass?.catch(() => undefined);
  }

  private loop(delay: number): void {
    this.cancelTimer = (this.options.clock ?? systemClock).setTimer(() => {
      if (this.state !== 'running') return;
      const pass = this.runOnce().then(
        (p) => {
          // the same kind of error, its message naming the schedule
          for (const f of p.failed) {
            const e = serializeError(f.error);
            this.report(reviveError({ ...e, message: `schedule ${f.schedule}: ${e.message}`, cause: e }));
          }
          return p.nextTickAt === undefined ? this.pollMs : p.nextTickAt - p.now + 5;
        },
        (err: unknown) => {
          this.report(err);
          return this.pollMs;
        },
      );
      this.pass = pass;
      void pass.then((next) => {
        if (this.state === 'running') this.loop(Math.max(5, Math.min(next, this.pollMs)));
      });
    }, delay);
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // an observer's failure changes nothing
    }
  }

  /** One pass over the workflow's active schedules (what the timer runs; tests call it directly with a manual clock). */
  async runOnce(): Promise<SchedulerPass> {
    const { now, schedules } = await this.backend.dueSchedules(this.wf.def.name);
    const started: ScheduledStart[] = [];
    let skipped = 0;
    let nextTickAt: number | undefined;
    // asked once per pass, only when a tick is due
    let newer: Promise<string | undefined> | undefined;
    const failed: ScheduleFailure[] = [];
    for (const s of schedules) {
      // A schedule that fails (an expression or time zone this process cannot read, a run that cannot start) keeps
      // its cursor and sets no next tick (it is tried again after pollMs, not at once); the others go on.
      let plan: TickPlan | undefined;
      try {
        plan = planTicks(s, now);
      } catch (error) {
        failed.push({ schedule: s.id, error });
        continue;
      }
      // (its due ticks set no next tick: they are past, and would have this scheduler ask again at once; it looks
      // again after pollMs)
      if (plan && (await (newer ??= this.newerBuild())) !== undefined) continue;
      if (plan) {
        try {
          for (const tick of plan.fire) started.push(await this.start1(s, tick));
          const last = plan.fire.at(-1);
          const fired = last === undefined ? {} : { lastTickAt: last, lastRunId: scheduleRunId(s.id, last) };
          if (await this.backend.advanceSchedule(s.id, s.cursor, { cursor: plan.cursor, skipped: plan.skipped, ...fired })) skipped += plan.skipped;
        } catch (error) {
          failed.push({ schedule: s.id, error });
          continue;
        }
      }
      const next = nextTickAfter(s, plan?.cursor ?? s.cursor);
      if (next !== undefined && (nextTickAt === undefined || next < nextTickAt)) nextTickAt = next;
    }
    const deferredTo = newer && (await newer);
    return { started, skipped, failed, nextTickAt, now, ...(deferredTo !== undefined ? { deferredTo } : {}) };
  }

  /**
   * The graph version of a live worker of this workflow whose build supersedes this one's (its heartbeat's
   * `supersedes` lists this scheduler's version), or undefined. A worker that is stopping, or that starts no scheduled
   * runs (`schedules: 'off'` in its heartbeat: `schedules: false`, `--no-schedules`), does not count. Two builds
   * that supersede each other (a change reverted to a graph on record: each build lists the other's version) cannot
   * tell which is newer: the one with the smaller version id takes the ticks, so that one of them always does.
   */
  private async newerBuild(): Promise<string | undefined> {
    const me = this.wf.def.fingerprint;
    const mine = this.wf.def.supersedes ?? [];
    for (const w of await this.backend.listWorkers()) {
      const info = w.health.info;
      if (w.liveness !== 'alive' || w.health.status === 'stopping' || info?.workflow !== this.wf.def.name || info.supersedes === undefined || info.schedules === 'off') continue;
      const version = info.versions?.split(',')[0];
      if (version === undefined || version === me || !info.supersedes.split(',').includes(me)) continue;
      if (!mine.includes(version) || version < me) return version;
    }
    return undefined;
  }

  /** Creates the run of one tick, or finds it there (created by another scheduler, maybe of another version). */
  private async start1(s: ScheduleRecord, tick: number): Promise<ScheduledStart> {
    const runId = scheduleRunId(s.id, tick);
    try {
      const res = await startDistributedRun(this.wf, undefined, s.input, this.backend, runId, this.options.tracing ? { tracing: this.options.tracing } : undefined);
      return { schedule: s.id, tick, runId, created: res.created };
    } catch (err) {
      // The tick's run exists with another input or graph: the schedule changed, or a worker of another version
      // started it first. Either way the tick has its run.
      if (err instanceof RunInputMismatchError || err instanceof FingerprintMismatchError) return { schedule: s.id, tick, runId, created: false };
      throw err;
    }
  }
}

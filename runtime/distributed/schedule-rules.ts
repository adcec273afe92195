/**
 * The schedule rules, pure (no store): what a schedule definition may say (checked once, here, for every backend),
 * which cron ticks a scheduler pass fires or skips (the catch-up policy), and the deterministic run id of a tick,
 * which is what makes a tick start exactly one run however many workers race for it (every backend's `createRun`
 * is create-if-absent per run id). Cron expressions are parsed by croner, never by hand.
 */
import { createHash } from 'node:crypto';
import { Cron, CronPattern } from 'croner';
import { InvalidArgumentError, InvalidScheduleError } from '../core/errors.js';
import { canonicalJson } from '../core/ids.js';
import { assertString } from '../core/validate.js';
import { CATCH_UP_POLICIES, type CatchUpPolicy, type ScheduleAdvance, type ScheduleDefinition, type ScheduleRecord } from './contracts.js';

/** Defaults of a {@link ScheduleDefinition}. */
export const SCHEDULE_DEFAULTS = { catchUp: 'latest', catchUpLimit: 100, graceMs: 10_000 } as const;
/** The largest `catchUpLimit`: a catch-up never starts more runs than this at once. */
export const MAX_CATCH_UP_LIMIT = 10_000;

const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Run ids of scheduled runs: `schedule:<schedule id>:<tick as ISO 8601 UTC>`. */
const SCHEDULED_RUN_ID = /^schedule:([A-Za-z0-9][A-Za-z0-9._-]{0,63}):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$/;

/** A schedule definition with every default filled in, as stores keep it. */
export interface NormalizedSchedule {
  readonly id: string;
  readonly workflow: string;
  readonly cron: string;
  readonly timezone: string | undefined;
  /** Canonical JSON of the input every run gets. */
  readonly inputJson: string;
  readonly catchUp: CatchUpPolicy;
  readonly catchUpLimit: number;
  readonly graceMs: number;
  /** Only read when the schedule is created. */
  readonly paused: boolean;
  /** Its {@link scheduleTiming}: a definition of the same timing keeps the stored schedule's cursor. */
  readonly timing: string;
}

/** Throws {@link InvalidArgumentError} unless `id` is 1-64 characters of `[A-Za-z0-9._-]` starting with a letter or digit. */
export function assertScheduleId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !SCHEDULE_ID.test(id) || id.includes('..')) {
    throw new InvalidArgumentError(`invalid schedule id ${JSON.stringify(typeof id === 'string' ? id.slice(0, 80) : typeof id)}: expected 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit`);
  }
}

const crons = new Map<string, Cron>();

/**
 * The croner pattern of `cron` in `timezone` (UTC when undefined, whatever the process's zone; cached). Throws
 * {@link InvalidScheduleError} naming the expression (or the time zone) when croner refuses it.
 */
export function cronOf(cron: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ''}\u0000${cron}`;
  let c = crons.get(key);
  if (c) return c;
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: timezone });
    } catch {
      throw new InvalidScheduleError(`invalid time zone ${JSON.stringify(timezone)} for cron expression ${JSON.stringify(cron)}: expected an IANA name such as "Europe/Paris" or "UTC"`);
    }
  }
  // croner's own message for a wrong count of fields names the 7-field form too, which this mode refuses
  const fields = cron.trim() === '' ? 0 : cron.trim().split(/\s+/).length;
  if (!cron.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    throw new InvalidScheduleError(`invalid cron expression ${JSON.stringify(cron)}: it has ${fields} field(s); expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first), or a nickname such as @daily`);
  }
  try {
    // without a zone croner reads the process's: every worker must read the same ticks (UTC, as documented)
    c = new Cron(cron, { paused: true, mode: '5-or-6-parts', timezone: timezone ?? 'UTC' });
  } catch (err) {
    throw new InvalidScheduleError(`invalid cron expression ${JSON.stringify(cron)}: ${(err as Error).message}`, { cause: err });
  }
  if (c.nextRun(new Date(0)) === null) throw new InvalidScheduleError(`cron expression ${JSON.stringify(cron)} never fires`);
  if (crons.size >= 1_000) crons.clear();
  crons.set(key, c);
  return c;
}

/**
 * What the ticks of `cron` in `timezone` are, whatever the spelling: `0 * * * *`, `0 0-23 * * *`, `0 0 * * * *`, `@hourly`
 * and an hourly step in UTC (or no zone) have one timing. Made of croner's parse of the expression (the values each field
 * matches, and the flags that change how they combine or how daylight saving time moves them) and the time zone,
 * hashed. A store keeps it with the schedule: a schedule defined again with the same timing keeps its cursor (an
 * expression written otherwise, a deploy defining it again); another timing starts from now. Undefined for an
 * expression or zone croner refuses (a schedule stored by a machine whose time zone data is newer).
 */
export function scheduleTiming(cron: string, timezone: string | undefined): string | undefined {
  let zone: string;
  let p: CronPattern;
  try {
    cronOf(cron, timezone);
    zone = new Intl.DateTimeFormat('en', { timeZone: timezone ?? 'UTC' }).resolvedOptions().timeZone;
    p = new CronPattern(cron, zone, { mode: '5-or-6-parts' });
  } catch {
    return undefined;
  }
  const parsed = [
    zone, p.second, p.minute, p.hour, p.day, p.month, p.dayOfWeek, p.starYear ? '*' : p.year, p.lastDayOfMonth, p.lastWeekday,
    p.nearestWeekdays, p.starDOM, p.starDOW, p.useAndLogic, p.isFixedTime,
  ];
  return `1:${createHash('sha256').update(JSON.stringify(parsed)).digest('hex').slice(0, 32)}`;
}

function intIn(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new InvalidArgumentError(`${what} must be an integer in ${min}..${max}, got ${String(v)}`);
  return v;
}

/**
 * Checks a schedule definition and fills in its defaults. Throws {@link InvalidScheduleError} for a cron expression
 * or time zone croner refuses (the message quotes it) and {@link InvalidArgumentError} for anything else (bad id,
 * unknown catch-up policy, an input JSON cannot represent, `catchUp: 'none'` with `graceMs: 0`, which never starts a run).
 */
export function normalizeSchedule(def: ScheduleDefinition): NormalizedSchedule {
  if (typeof def !== 'object' || def === null) throw new InvalidArgumentError('a schedule definition must be an object');
  assertScheduleId(def.id);
  assertString(def.workflow, 'workflow');
  if (typeof def.cron !== 'string') throw new InvalidScheduleError(`invalid cron expression ${JSON.stringify(def.cron)}: expected a string`);
  if (def.timezone !== undefined) assertString(def.timezone, 'timezone');
  cronOf(def.cron, def.timezone);
  const catchUp = def.catchUp ?? SCHEDULE_DEFAULTS.catchUp;
  if (!CATCH_UP_POLICIES.includes(catchUp)) throw new InvalidArgumentError(`unknown catch-up policy ${JSON.stringify(catchUp)}: expected ${CATCH_UP_POLICIES.join(', ')}`);
  const graceMs = intIn(def.graceMs ?? SCHEDULE_DEFAULTS.graceMs, 0, 2 ** 31 - 1, 'graceMs');
  if (catchUp === 'none' && graceMs === 0) {
    throw new InvalidArgumentError(
      "catchUp 'none' with graceMs 0 never starts a run: a scheduler sees each tick some milliseconds after its time, so every tick would be missed and skipped; give graceMs the lateness a run may start with (default 10000)",
    );
  }
  return {
    id: def.id,
    workflow: def.workflow,
    cron: def.cron,
    timezone: def.timezone,
    inputJson: canonicalJson(def.input ?? null),
    catchUp,
    catchUpLimit: intIn(def.catchUpLimit ?? SCHEDULE_DEFAULTS.catchUpLimit, 1, MAX_CATCH_UP_LIMIT, 'catchUpLimit'),
    graceMs,
    paused: def.paused ?? false,
    timing: scheduleTiming(def.cron, def.timezone)!,
  };
}

/** The run id of `scheduleId`'s tick at `tick` (epoch ms): the same for every worker, so the store creates it once. */
export function scheduleRunId(scheduleId: string, tick: number): string {
  assertScheduleId(scheduleId);
  return `schedule:${scheduleId}:${new Date(tick).toISOString()}`;
}

/** The schedule and tick a run was started for, from its id; `undefined` for a run no schedule started. */
export function scheduledRunOf(runId: string): { readonly schedule: string; readonly tick: number } | undefined {
  const m = SCHEDULED_RUN_ID.exec(runId);
  if (!m) return undefined;
  const tick = Date.parse(m[2]!);
  return Number.isNaN(tick) ? undefined : { schedule: m[1]!, tick };
}

/** The first tick of the schedule strictly after `after` (epoch ms), or `undefined` when it never fires again. */
export function nextTickAfter(s: Pick<ScheduleRecord, 'cron' | 'timezone'>, after: number): number | undefined {
  return cronOf(s.cron, s.timezone).nextRun(new Date(after))?.getTime();
}

/** What one scheduler pass does with one schedule. */
export interface TickPlan {
  /** Ticks to start a run for, oldest first. */
  readonly fire: readonly number[];
  /** How many due ticks the catch-up policy skipped. */
  readonly skipped: number;
  /** The schedule's new cursor: every tick at or before it is handled. */
  readonly cursor: number;
}

/** At most this many on-time ticks in one pass (a 1-second cron with a long grace); the next pass fires the others. */
const MAX_ON_TIME = 1_000;

/**
 * The ticks due at `now` (after the cursor, at or before `now`) and what to do with them. A due tick is **on time**
 * when it is less than `graceMs` old and did not fall while the schedule was paused (at or before `resumedAt`): it
 * fires. The others were **missed**: `none` skips them, `latest` fires the most recent one, `all` fires them all up
 * to `catchUpLimit` (the most recent ones; older ones are skipped). `skipped` counts at most 1 000 missed ticks per
 * pass. At most 1 000 on-time ticks fire per pass: beyond them the cursor stops at the last one fired, so the next
 * pass fires the rest (still on time if less than `graceMs` old by then). `undefined` when no tick is due.
 */
export function planTicks(s: ScheduleRecord, now: number): TickPlan | undefined {
  const cron = cronOf(s.cron, s.timezone);
  const first = cron.nextRun(new Date(s.cursor))?.getTime();
  if (first === undefined || first > now) return undefined;
  // Ticks at or before `missedUntil` were missed; later ones are on time.
  const missedUntil = Math.max(now - s.graceMs, s.resumedAt ?? -Infinity);
  const onTime: number[] = [];
  let t = cron.nextRun(new Date(Math.max(s.cursor, missedUntil)))?.getTime();
  for (; t !== undefined && t <= now && onTime.length < MAX_ON_TIME; t = cron.nextRun(new Date(t))?.getTime()) onTime.push(t);
  // More on-time ticks than one pass fires: the cursor stops at the last one fired, the rest stay due for the next pass
  const cursor = t !== undefined && t <= now ? onTime.at(-1)! : now;
  let missed: number[] = [];
  let missedCount = 0;
  if (first <= missedUntil) {
    const until = Math.min(missedUntil, now);
    const want = s.catchUp === 'none' ? 0 : s.catchUp === 'latest' ? 1 : s.catchUpLimit;
    // The missed ticks from the cursor on, up to one more than wanted: when they are all there are, they are the ones
    // (asking croner for `want` runs back from `until` instead walked back past the cursor: a daily schedule with a
    // catchUpLimit of 10 000 back down for a day went 27 years back, seconds of a blocked event loop per pass).
    const forward: number[] = [];
    for (let m: number | undefined = first; want > 0 && m !== undefined && m <= until && forward.length <= want; m = cron.nextRun(new Date(m))?.getTime()) forward.push(m);
    // previousRuns(n, ref) lists runs before ref, newest first; +1 ms includes a tick exactly at `until`. Only asked
    // when more than `want` ticks were missed, so it never walks back past the cursor.
    missed = forward.length <= want ? forward : cron.previousRuns(want, new Date(until + 1)).map((d) => d.getTime()).filter((t) => t > s.cursor).reverse();
    missedCount = countTicks(cron, s.cursor, until, missed.length);
  }
  return { fire: [...missed, ...onTime], skipped: Math.max(0, missedCount - missed.length), cursor };
}

/** At most this many missed ticks are counted per pass (`skipped` is a lower bound beyond it). */
const MAX_COUNTED = 1_000;

/** Ticks in (`after`, `until`], counted up to {@link MAX_COUNTED} (a year of a 1-second cron is not enumerated). */
function countTicks(cron: Cron, after: number, until: number, atLeast: number): number {
  let n = 0;
  for (let t = cron.nextRun(new Date(after))?.getTime(); t !== undefined && t <= until && n < MAX_COUNTED; t = cron.nextRun(new Date(t))?.getTime()) n += 1;
  return Math.max(n, atLeast);
}

/** Throws {@link InvalidArgumentError} unless `from` and `advance` describe a forward move of a schedule's cursor. */
export function assertScheduleAdvance(from: unknown, advance: ScheduleAdvance): void {
  if (typeof from !== 'number' || !Number.isSafeInteger(from)) throw new InvalidArgumentError(`from must be an epoch-millisecond integer, got ${String(from)}`);
  if (typeof advance !== 'object' || advance === null) throw new InvalidArgumentError('advance must be an object');
  intIn(advance.cursor, from, Number.MAX_SAFE_INTEGER, 'advance.cursor');
  intIn(advance.skipped, 0, Number.MAX_SAFE_INTEGER, 'advance.skipped');
  if (advance.lastTickAt !== undefined) intIn(advance.lastTickAt, 0, Number.MAX_SAFE_INTEGER, 'advance.lastTickAt');
  if (advance.lastRunId !== undefined) assertString(advance.lastRunId, 'advance.lastRunId');
}

/**
 * The Redis backend's {@link ScheduleStore}. Keys (P = key prefix):
 *
 * | key | type | holds |
 * |---|---|---|
 * | `P schedule:<id>` | HASH | workflow, cron, timezone, input (JSON), catchUp, catchUpLimit, graceMs, paused (`0`/`1`), cursor, resumedAt, lastTickAt, lastRunId, skipped, createdAt, updatedAt (`''` = unset), timing (`scheduleTiming`; absent in a schedule stored before it was kept) |
 * | `P schedules` | SET | every schedule id |
 * | `P schedules:wf:<workflow>` | SET | the ids of a workflow's schedules |
 *
 * Every write is one Lua script (`lua/schedule-*.lua`); reads of several schedules are one script too, so they see
 * one instant, with Redis `TIME` as the clock.
 */
import { CorruptStateError } from '../../core/errors.js';
import { parseStoredJson } from '../../core/ids.js';
import { assertString } from '../../core/validate.js';
import { CATCH_UP_POLICIES, type CatchUpPolicy, type ScheduleAdvance, type ScheduleDefinition, type ScheduleRecord, type ScheduleStore } from '../contracts.js';
import { replyError } from '../replies.js';
import { assertScheduleAdvance, assertScheduleId, normalizeSchedule } from '../schedule-rules.js';
import type { ScriptName } from './scripts.js';
import { optNumber, pairs, type Reply } from './reply.js';

/** What the schedule store needs from its {@link RedisBackend}. */
export interface RedisScheduleHost {
  readonly keyPrefix: string;
  /** Runs a script (StoreError when Redis cannot be reached). */
  script(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply>;
  /** Runs one raw command (StoreError when Redis cannot be reached). */
  command(args: readonly string[]): Promise<Reply>;
}

/** The stored fields of schedule `id` as a record (`CorruptStateError` for fields that cannot be one). */
function recordOf(id: string, f: Map<string, string>): ScheduleRecord {
  const catchUp = f.get('catchUp') as CatchUpPolicy;
  if (!CATCH_UP_POLICIES.includes(catchUp) || f.get('workflow') === undefined || f.get('cron') === undefined) {
    throw new CorruptStateError(`schedule ${id} is corrupt: ${JSON.stringify(Object.fromEntries(f)).slice(0, 200)}`);
  }
  return {
    id,
    workflow: f.get('workflow')!,
    cron: f.get('cron')!,
    timezone: f.get('timezone') || undefined,
    input: parseStoredJson(f.get('input'), `schedule ${id} input`),
    catchUp,
    catchUpLimit: Number(f.get('catchUpLimit')),
    graceMs: Number(f.get('graceMs')),
    paused: f.get('paused') === '1',
    cursor: Number(f.get('cursor')),
    resumedAt: optNumber(f.get('resumedAt')),
    lastTickAt: optNumber(f.get('lastTickAt')),
    lastRunId: f.get('lastRunId') || undefined,
    skipped: Number(f.get('skipped') ?? 0),
    createdAt: Number(f.get('createdAt')),
    updatedAt: Number(f.get('updatedAt')),
  };
}

/** Schedules on Redis; see the module comment. */
export class RedisScheduleStore implements ScheduleStore {
  constructor(private readonly host: RedisScheduleHost) {}

  private key(id: string): string {
    return `${this.host.keyPrefix}schedule:${id}`;
  }

  private get all(): string {
    return `${this.host.keyPrefix}schedules`;
  }

  private ofWorkflow(workflow: string): string {
    return `${this.host.keyPrefix}schedules:wf:${workflow}`;
  }

  async putSchedule(def: ScheduleDefinition): Promise<ScheduleRecord> {
    const n = normalizeSchedule(def);
    const reply = await this.host.script('schedulePut', [this.key(n.id), this.all, this.ofWorkflow(n.workflow)], [
      this.host.keyPrefix,
      n.id,
      n.workflow,
      n.cron,
      n.timezone ?? '',
      n.inputJson,
      n.catchUp,
      n.catchUpLimit,
      n.graceMs,
      n.paused ? '1' : '0',
      n.timing,
    ]);
    return recordOf(n.id, pairs(reply));
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    assertScheduleId(id);
    const f = pairs(await this.host.command(['HGETALL', this.key(id)]));
    return f.size === 0 ? undefined : recordOf(id, f);
  }

  async listSchedules(filter: { readonly workflow?: string } = {}): Promise<ScheduleRecord[]> {
    if (filter.workflow !== undefined) assertString(filter.workflow, 'workflow');
    return (await this.read(filter.workflow === undefined ? this.all : this.ofWorkflow(filter.workflow))).schedules;
  }

  async dueSchedules(workflow: string): Promise<{ now: number; schedules: ScheduleRecord[] }> {
    assertString(workflow, 'workflow');
    const { now, schedules } = await this.read(this.ofWorkflow(workflow));
    return { now, schedules: schedules.filter((s) => !s.paused) };
  }

  /** Every schedule of a set, ordered by id, and Redis' clock. */
  private async read(set: string): Promise<{ now: number; schedules: ScheduleRecord[] }> {
    const [now, ...rest] = (await this.host.script('readSchedules', [set], [this.host.keyPrefix])) as Reply[];
    const schedules: ScheduleRecord[] = [];
    for (let i = 0; i + 1 < rest.length; i += 2) schedules.push(recordOf(String(rest[i]), pairs(rest[i + 1]!)));
    schedules.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { now: Number(now), schedules };
  }

  pauseSchedule(id: string): Promise<ScheduleRecord> {
    return this.setState(id, 'pause');
  }

  resumeSchedule(id: string): Promise<ScheduleRecord> {
    return this.setState(id, 'resume');
  }

  private async setState(id: string, op: 'pause' | 'resume'): Promise<ScheduleRecord> {
    assertScheduleId(id);
    const reply = await this.host.script('scheduleState', [this.key(id)], [op]);
    if (reply === 'not_found') throw replyError({ code: 'schedule_not_found', id });
    return recordOf(id, pairs(reply));
  }

  async removeSchedule(id: string): Promise<boolean> {
    assertScheduleId(id);
    return Number(await this.host.script('scheduleRemove', [this.key(id), this.all], [this.host.keyPrefix, id])) === 1;
  }

  async advanceSchedule(id: string, from: number, advance: ScheduleAdvance): Promise<boolean> {
    assertScheduleId(id);
    assertScheduleAdvance(from, advance);
    const reply = await this.host.script('scheduleAdvance', [this.key(id)], [
      String(from),
      String(advance.cursor),
      String(advance.skipped),
      advance.lastTickAt === undefined ? '' : String(advance.lastTickAt),
      advance.lastRunId ?? '',
    ]);
    return Number(reply) === 1;
  }
}

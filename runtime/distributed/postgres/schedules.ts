/**
 * The Postgres backend's {@link ScheduleStore}: one row per schedule in `schedules` (migrations 0002, 0010), one SQL statement
 * per operation (`sql/*schedule*.sql`), times from the server's `now_ms()`.
 */
import type pg from 'pg';
import { CorruptStateError } from '../../core/errors.js';
import { parseStoredJson } from '../../core/ids.js';
import { assertString } from '../../core/validate.js';
import { CATCH_UP_POLICIES, type CatchUpPolicy, type ScheduleAdvance, type ScheduleDefinition, type ScheduleRecord, type ScheduleStore } from '../contracts.js';
import { replyError } from '../replies.js';
import { assertScheduleAdvance, assertScheduleId, normalizeSchedule } from '../schedule-rules.js';

/** What the schedule store needs from its {@link PostgresBackend}: one SQL file run with typed errors. */
export interface PostgresScheduleHost {
  run<R extends pg.QueryResultRow>(file: string, values: unknown[], what: string): Promise<R[]>;
}

interface ScheduleRow {
  readonly schedule_id: string;
  readonly workflow: string;
  readonly cron: string;
  readonly timezone: string | null;
  readonly input: string;
  readonly catch_up: string;
  readonly catch_up_limit: number;
  readonly grace_ms: number;
  readonly paused: boolean;
  readonly cursor_ms: number;
  readonly resumed_at: number | null;
  readonly last_tick_at: number | null;
  readonly last_run_id: string | null;
  readonly skipped: number;
  readonly created_at: number;
  readonly updated_at: number;
}

function recordOf(r: ScheduleRow): ScheduleRecord {
  if (!CATCH_UP_POLICIES.includes(r.catch_up as CatchUpPolicy)) throw new CorruptStateError(`schedule ${r.schedule_id} has an unknown catch-up policy ${JSON.stringify(r.catch_up)}`);
  return {
    id: r.schedule_id,
    workflow: r.workflow,
    cron: r.cron,
    timezone: r.timezone ?? undefined,
    input: parseStoredJson(r.input, `schedule ${r.schedule_id} input`),
    catchUp: r.catch_up as CatchUpPolicy,
    catchUpLimit: Number(r.catch_up_limit),
    graceMs: Number(r.grace_ms),
    paused: r.paused,
    cursor: Number(r.cursor_ms),
    resumedAt: r.resumed_at === null ? undefined : Number(r.resumed_at),
    lastTickAt: r.last_tick_at === null ? undefined : Number(r.last_tick_at),
    lastRunId: r.last_run_id ?? undefined,
    skipped: Number(r.skipped),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** Schedules on Postgres; see the module comment. */
export class PostgresScheduleStore implements ScheduleStore {
  constructor(private readonly host: PostgresScheduleHost) {}

  async putSchedule(def: ScheduleDefinition): Promise<ScheduleRecord> {
    const n = normalizeSchedule(def);
    const [row] = await this.host.run<ScheduleRow>(
      'schedule_put.sql',
      [n.id, n.workflow, n.cron, n.timezone ?? null, n.inputJson, n.catchUp, n.catchUpLimit, n.graceMs, n.paused, n.timing],
      'putSchedule',
    );
    return recordOf(row!);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    assertScheduleId(id);
    const [row] = await this.host.run<ScheduleRow>('get_schedule.sql', [id], 'getSchedule');
    return row ? recordOf(row) : undefined;
  }

  async listSchedules(filter: { readonly workflow?: string } = {}): Promise<ScheduleRecord[]> {
    if (filter.workflow !== undefined) assertString(filter.workflow, 'workflow');
    return (await this.read(filter.workflow, true)).schedules;
  }

  async dueSchedules(workflow: string): Promise<{ now: number; schedules: ScheduleRecord[] }> {
    assertString(workflow, 'workflow');
    return this.read(workflow, false);
  }

  private async read(workflow: string | undefined, paused: boolean): Promise<{ now: number; schedules: ScheduleRecord[] }> {
    const rows = await this.host.run<ScheduleRow & { now: number }>('read_schedules.sql', [workflow ?? null, paused], 'listSchedules');
    return { now: Number(rows[0]!.now), schedules: rows.filter((r) => r.schedule_id !== null).map(recordOf) };
  }

  pauseSchedule(id: string): Promise<ScheduleRecord> {
    return this.setPaused(id, true);
  }

  resumeSchedule(id: string): Promise<ScheduleRecord> {
    return this.setPaused(id, false);
  }

  private async setPaused(id: string, paused: boolean): Promise<ScheduleRecord> {
    assertScheduleId(id);
    const [row] = await this.host.run<ScheduleRow>('schedule_state.sql', [id, paused], paused ? 'pauseSchedule' : 'resumeSchedule');
    if (!row) throw replyError({ code: 'schedule_not_found', id });
    return recordOf(row);
  }

  async removeSchedule(id: string): Promise<boolean> {
    assertScheduleId(id);
    return (await this.host.run('remove_schedule.sql', [id], 'removeSchedule')).length > 0;
  }

  async advanceSchedule(id: string, from: number, advance: ScheduleAdvance): Promise<boolean> {
    assertScheduleId(id);
    assertScheduleAdvance(from, advance);
    const rows = await this.host.run(
      'schedule_advance.sql',
      [id, from, advance.cursor, advance.skipped, advance.lastTickAt ?? null, advance.lastRunId ?? null],
      'advanceSchedule',
    );
    return rows.length > 0;
  }
}

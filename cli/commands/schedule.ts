/**
 * `floxide schedule list|add|pause|resume|remove --store <url>`: the schedules of a distributed store (see
 * docs/schedules.md). The workers serving a schedule's workflow start its runs; this command only edits the records.
 */
import { Option } from 'commander';
import { CATCH_UP_POLICIES, supportsSchedules, type CatchUpPolicy, type DistributedBackend, type ScheduleRecord, type ScheduleStore } from '../../runtime/distributed/contracts.js';
import { commandGroup, formatTable, short, storeOption, time, withStore, type StoreFlags } from './runs.js';
import { isDistributed } from '../store/runs-store.js';
import type { CliIo, CommandFactory } from './types.js';
import { withHelp } from '../help.js';

/** What every subcommand answers with exit code 2 (the stores that keep schedules are distributed). */
const BAD_STORE_URL = 'a malformed store URL, or a `sqlite:` one (a checkpoint file keeps no schedules)';
/** What `pause`, `resume` and `remove` answer with exit code 1. */
const UNKNOWN_OR_UNREACHABLE = 'no schedule has this id, or the store cannot be reached (or its Postgres schema does not exist)';

const NAME = 'schedule';

/** The store of every subcommand: a distributed one (the sqlite backend keeps no schedules). */
const scheduleStore = () => storeOption('a distributed store, e.g. `redis://127.0.0.1:6379` or `postgres://app@db:5432/prod` (a SQLite checkpoint file keeps no schedules)');

/**
 * Runs `fn` with a backend that keeps schedules (every built-in backend does); `createSchema`: a Postgres schema that
 * does not exist yet is created, as a worker creates it (`add`: a schedule may be added before the first worker starts).
 */
async function withSchedules(io: CliIo, flags: StoreFlags, fn: (store: DistributedBackend & ScheduleStore) => Promise<void>, createSchema = false): Promise<void> {
  if (flags.store.startsWith('sqlite:')) {
    const { notDistributedError } = await import('../../runtime/distributed/connect.js');
    io.stderr.write(`floxide ${NAME}: ${notDistributedError(flags.store).message}\n`);
    io.exitCode = 2;
    return;
  }
  return withStore(
    io,
    flags,
    async (b) => {
      if (!isDistributed(b) || !supportsSchedules(b)) {
        const { InvalidArgumentError } = await import('../../runtime/core/errors.js');
        throw new InvalidArgumentError(`the ${b.kind} backend keeps no schedules`);
      }
      await fn(b);
    },
    NAME,
    createSchema,
  );
}

/**
 * A schedule's next tick after now (or after its cursor, when that is later); `-` when paused. A stored expression or
 * time zone this process cannot read (written from a machine with newer time zone data) is `?`, with a warning on
 * stderr naming the schedule: the other schedules are still listed, and it can still be paused, fixed or removed.
 */
async function nextTick(io: CliIo, s: ScheduleRecord): Promise<string> {
  if (s.paused) return '-';
  const { nextTickAfter } = await import('../../runtime/distributed/schedule-rules.js');
  const { InvalidScheduleError } = await import('../../runtime/core/errors.js');
  try {
    return time(nextTickAfter(s, Math.max(s.cursor, Date.now())));
  } catch (err) {
    if (!(err instanceof InvalidScheduleError)) throw err;
    io.stderr.write(`floxide ${NAME}: warning: schedule ${s.id}: ${err.message}; workers that cannot read it start none of its runs: define it again (schedule add ${s.id}) or remove it\n`);
    return '?';
  }
}

function scheduleLines(s: ScheduleRecord): string {
  const rows: Array<[string, string]> = [
    ['schedule', s.id],
    ['workflow', s.workflow],
    ['cron', `${s.cron}${s.timezone ? ` (${s.timezone})` : ' (UTC)'}`],
    ['state', s.paused ? 'paused' : 'active'],
    ['input', short(s.input, 200)],
    ['catch-up', `${s.catchUp}${s.catchUp === 'all' ? ` (at most ${s.catchUpLimit})` : ''}, grace ${s.graceMs} ms`],
    ['last run', s.lastRunId ?? '-'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

/**
 * A warning when nothing in the store knows the schedule's workflow (no worker, alive or not, said it serves it, and
 * no run of it exists): most likely a misspelt name, whose ticks no worker would ever take. The schedule is kept:
 * its workers may simply not be deployed yet.
 */
async function unservedWorkflowWarning(b: DistributedBackend, rec: ScheduleRecord): Promise<string | undefined> {
  const workers = await b.listWorkers();
  const served = new Set(workers.flatMap((w) => (w.health.info?.workflow ? [w.health.info.workflow] : [])));
  if (served.has(rec.workflow) || (await b.listRuns({ workflow: rec.workflow, limit: 1 })).length > 0) return undefined;
  const known = [...served].sort();
  return (
    `no worker of this store has said it serves ${JSON.stringify(rec.workflow)}, and it holds no run of it` +
    (known.length > 0 ? ` (workers serve: ${known.join(', ')})` : '') +
    `; the schedule is saved, and its ticks start runs once a worker serving ${JSON.stringify(rec.workflow)} runs. ` +
    `If the name is misspelt: floxide schedule remove ${rec.id} --store <url>`
  );
}

function parseInt0(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

const scheduleCommand: CommandFactory = (io: CliIo) => {
  const cmd = commandGroup(io, NAME, 'list, add, pause, resume and remove the cron schedules that start runs of a workflow');

  withHelp(cmd.command('list'), {
    examples: [
      { run: 'floxide schedule list --store redis://127.0.0.1:6379' },
      { run: "floxide schedule list --store 'postgres://app@db:5432/prod?schema=reports' --workflow ReportWorkflow --json" },
    ],
    exitCodes: { 0: 'the schedules are listed (none: `no schedules`)', 1: 'the store cannot be reached, or its Postgres schema does not exist', 2: `bad usage: ${BAD_STORE_URL}` },
  })
    .description('list the schedules, ordered by id, with their next tick')
    .addOption(scheduleStore())
    .option('--workflow <name>', 'only schedules of this workflow, e.g. `--workflow ReportWorkflow`')
    .option('--json', 'print the schedule records as JSON')
    .action(async (flags: StoreFlags & { workflow?: string }) => {
      await withSchedules(io, flags, async (b) => {
        const schedules = await b.listSchedules(flags.workflow === undefined ? {} : { workflow: flags.workflow });
        if (flags.json) return void io.stdout.write(`${JSON.stringify(schedules, null, 2)}\n`);
        if (schedules.length === 0) return void io.stdout.write('no schedules\n');
        const rows: string[][] = [];
        for (const s of schedules) {
          rows.push([s.id, s.workflow, s.cron, s.timezone ?? 'UTC', s.paused ? 'paused' : 'active', await nextTick(io, s), s.catchUp, s.lastRunId ?? '-']);
        }
        io.stdout.write(formatTable(['ID', 'WORKFLOW', 'CRON', 'TIMEZONE', 'STATE', 'NEXT', 'CATCH-UP', 'LAST RUN'], rows));
      });
    });

  withHelp(cmd.command('add'), {
    notes: ['It warns (exit code still 0) when no worker of the store has said it serves the workflow and no run of it exists: a misspelt --workflow would otherwise never start a run.'],
    examples: [
      { run: `floxide schedule add nightly-report --store redis://127.0.0.1:6379 --workflow ReportWorkflow --cron '0 3 * * *' --timezone Europe/Paris --input '{"region":"eu"}'` },
      { run: "floxide schedule add heartbeat --store postgres://app@db:5432/prod --workflow PingWorkflow --cron '*/10 * * * * *' --catch-up none", note: 'every 10 seconds (6 fields: seconds first); missed ticks are skipped' },
      { run: "floxide schedule add hourly-sync --store redis://127.0.0.1:6379 --workflow SyncWorkflow --cron '@hourly' --catch-up all --catch-up-limit 24 --paused" },
    ],
    exitCodes: {
      0: 'the schedule is saved (printed as it is stored)',
      1: 'the store cannot be reached',
      2: `bad usage: an invalid cron expression or time zone (the message quotes it), id, --input JSON or number, ${BAD_STORE_URL}`,
    },
  })
    .description('create a schedule, or update the one with this id (its paused state is kept)')
    .argument('<id>', 'the schedule id: 1-64 characters of [A-Za-z0-9._-]')
    .addOption(scheduleStore())
    .requiredOption('--workflow <name>', 'the workflow whose runs it starts, e.g. `--workflow ReportWorkflow`')
    .requiredOption('--cron <expr>', "a cron expression: 5 fields, or 6 with seconds first, e.g. `--cron '0 3 * * *'`")
    .option('--input <json>', 'the input of every run, as JSON (default null), e.g. `--input \'{"region":"eu"}\'`')
    .option('--timezone <tz>', 'the IANA time zone the expression is read in (default UTC), e.g. `--timezone Europe/Paris`')
    .addOption(new Option('--catch-up <policy>', 'missed ticks: skip them, one run for the latest, or all (default latest), e.g. `--catch-up all`').choices(CATCH_UP_POLICIES))
    .option('--catch-up-limit <n>', 'with --catch-up all: at most n catch-up runs (default 100), e.g. `--catch-up-limit 24`')
    .option('--grace-ms <ms>', 'a tick seen this late is still on time, not missed (default 10000), e.g. `--grace-ms 60000`')
    .option('--paused', 'create it paused')
    .option('--json', 'print the stored record as JSON')
    .action(
      async (
        id: string,
        flags: StoreFlags & { workflow: string; cron: string; input?: string; timezone?: string; catchUp?: CatchUpPolicy; catchUpLimit?: string; graceMs?: string; paused?: boolean },
      ) => {
        let input: unknown = null;
        let catchUpLimit: number | undefined;
        let graceMs: number | undefined;
        try {
          if (flags.input !== undefined) {
            const { parseJsonOption } = await import('../json-option.js');
            input = parseJsonOption(flags.input, '--input', '{"region":"eu"}');
          }
          if (flags.catchUpLimit !== undefined) catchUpLimit = parseInt0(flags.catchUpLimit, '--catch-up-limit');
          if (flags.graceMs !== undefined) graceMs = parseInt0(flags.graceMs, '--grace-ms');
        } catch (err) {
          io.stderr.write(`floxide ${NAME}: ${(err as Error).message}\n`);
          io.exitCode = 2;
          return;
        }
        await withSchedules(io, flags, async (b) => {
          const rec = await b.putSchedule({
            id,
            workflow: flags.workflow,
            cron: flags.cron,
            input,
            ...(flags.timezone === undefined ? {} : { timezone: flags.timezone }),
            ...(flags.catchUp === undefined ? {} : { catchUp: flags.catchUp }),
            ...(catchUpLimit === undefined ? {} : { catchUpLimit }),
            ...(graceMs === undefined ? {} : { graceMs }),
            ...(flags.paused ? { paused: true } : {}),
          });
          io.stdout.write(flags.json ? `${JSON.stringify(rec, null, 2)}\n` : `${scheduleLines(rec)}next      ${await nextTick(io, rec)}\n`);
          const unserved = await unservedWorkflowWarning(b, rec);
          if (unserved) io.stderr.write(`floxide ${NAME}: warning: ${unserved}\n`);
        }, true);
      },
    );

  for (const [name, description] of [
    ['pause', 'stop a schedule\'s ticks (runs already started go on)'],
    ['resume', 'restart a paused schedule; the ticks it missed follow its catch-up policy'],
  ] as const) {
    withHelp(cmd.command(name), {
      examples: [
        { run: `floxide schedule ${name} nightly-report --store redis://127.0.0.1:6379` },
        { run: `floxide schedule ${name} nightly-report --store postgres://app@db:5432/prod --json` },
      ],
      exitCodes: { 0: name === 'pause' ? 'paused, or already paused' : 'resumed, or already active', 1: UNKNOWN_OR_UNREACHABLE, 2: `bad usage: an invalid id, ${BAD_STORE_URL}` },
    })
      .description(description)
      .argument('<id>', 'the schedule id')
      .addOption(scheduleStore())
      .option('--json', 'print the schedule record as JSON')
      .action(async (id: string, flags: StoreFlags) => {
        await withSchedules(io, flags, async (b) => {
          const rec = name === 'pause' ? await b.pauseSchedule(id) : await b.resumeSchedule(id);
          io.stdout.write(flags.json ? `${JSON.stringify(rec, null, 2)}\n` : `schedule ${id}: ${rec.paused ? 'paused' : 'active'}, next tick ${await nextTick(io, rec)}\n`);
        });
      });
  }

  withHelp(cmd.command('remove'), {
    examples: [
      { run: 'floxide schedule remove nightly-report --store redis://127.0.0.1:6379' },
      { run: 'floxide schedule remove nightly-report --store postgres://app@db:5432/prod --json' },
    ],
    exitCodes: { 0: 'removed (the runs it started are kept)', 1: `${UNKNOWN_OR_UNREACHABLE} (nothing removed)`, 2: `bad usage: an invalid id, ${BAD_STORE_URL}` },
  })
    .description('delete a schedule (the runs it started are kept); exit 1 when there is none')
    .argument('<id>', 'the schedule id')
    .addOption(scheduleStore())
    .option('--json', 'print `{ "id", "removed" }` as JSON')
    .action(async (id: string, flags: StoreFlags) => {
      await withSchedules(io, flags, async (b) => {
        const removed = await b.removeSchedule(id);
        if (flags.json) io.stdout.write(`${JSON.stringify({ id, removed })}\n`);
        else if (removed) io.stdout.write(`schedule ${id}: removed\n`);
        if (!removed) {
          const { replyError } = await import('../../runtime/distributed/replies.js');
          throw replyError({ code: 'schedule_not_found', id });
        }
      });
    });

  return cmd;
};

export default scheduleCommand;

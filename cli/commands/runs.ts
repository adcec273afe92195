/**
 * `floxide runs list|show|watch|cancel|pause|resume|wait|versions|signal|migrate|purge --store <url>`: observe and control runs, of a
 * distributed store or of a SQLite checkpoint file (`sqlite:<file>`, through cli/store/sqlite-runs.ts).
 * Readable tables by default, `--json` for scripts.
 */
import { sleep } from '../../runtime/core/time.js';
import { Command, Option } from 'commander';
import { RUN_STATUSES, isFinalRunStatus, readableRun, supportsObservation, supportsPurge, supportsSignals, type ListRunsFilter, type RunRecord, type RunStatus } from '../../runtime/distributed/contracts.js';
import { eachRun, isDistributed, type RunsStore } from '../store/runs-store.js';
import { isFinalEvent, type EventsHeld, type WorkflowEvent } from '../../runtime/engine/events.js';
import { scheduledRunOf } from '../../runtime/distributed/schedule-rules.js';
import type { CliIo, CommandFactory } from './types.js';
import { STORE_UNREACHABLE as UNREACHABLE, withGroupHint, withHelp } from '../help.js';
import { progressOn, type Progress } from '../progress.js';
import { addMigrateCommand } from './runs-migrate.js';
import { orCorrupt, orphanText, outstandingItems, ownerLine, readRunDetails, runData, stepOutcomeLabel, waitText, waitsOf, type RunWait } from '../run-details.js';
import { valueText } from '../values-text.js';
import { CorruptStateError, UnsupportedOperationError, serializeError } from '../../runtime/core/errors.js';
import { isEpochMs } from '../../runtime/core/time.js';

/** And with exit code 2, for those that take nothing else to check. */
const BAD_STORE_URL = 'bad usage: a malformed store URL';
/** The same for those that take a run id. */
const BAD_RUN_ID = 'bad usage: a malformed run id or store URL';


export interface StoreFlags {
  store: string;
  json?: boolean;
}

/**
 * C0 and C1 control characters but tab and newline, and the bidirectional formatting characters (Unicode's
 * Bidi_Control: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: a terminal that orders text both ways would
 * reorder what surrounds them): what {@link printable} escapes, and the dashboard's page too (`visible` in
 * cli/ui/static/app.js).
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Every control character (and the bidirectional ones): what a table cell or a one-line value escapes ({@link oneLine}). */
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const escapeControl = (c: string) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * `text` with terminal control characters written as escapes (`\u001b`), tabs and newlines kept: stored text (an
 * error message, a signal's name or payload, a workflow name) is data, and printed raw it could retitle the window,
 * clear the screen or color what follows.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/** `text` on one line: every control character escaped, newlines too (`\n`), so a cell cannot start a forged row. */
export function oneLine(text: string): string {
  return text.replace(CONTROL_ALL, escapeControl);
}

/**
 * `io` whose stdout escapes control characters ({@link printable}): what the `runs` commands print is mostly stored
 * text. (stderr keeps its control characters: the progress bar draws with them.)
 */
function printableIo(io: CliIo): CliIo {
  const stdout = { write: (text: string) => io.stdout.write(printable(text)) };
  return new Proxy(io, { get: (target, key, receiver) => (key === 'stdout' ? stdout : Reflect.get(target, key, receiver)) });
}

/**
 * Resolves once `out` has written out what it buffers (its `drain`), or `signal` aborts. `runs watch` waits here when
 * stdout's buffer is full, so that a watch whose reader stalls holds no more events in memory than that buffer (the
 * store keeps the rest) instead of growing until the process runs out of memory. An output that cannot say when it
 * drains (no `once`) is not waited for.
 */
function drained(out: CliIo['stdout'], signal: AbortSignal): Promise<void> {
  const stream = out as CliIo['stdout'] & Partial<Pick<NodeJS.EventEmitter, 'once' | 'off'>>;
  if (typeof stream.once !== 'function' || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off?.('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.once!('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Formats rows as an aligned text table (header first); each cell on one line ({@link oneLine}). */
export function formatTable(header: readonly string[], cells: readonly (readonly string[])[]): string {
  const rows = cells.map((r) => r.map(oneLine));
  // (a loop, not Math.max(...): a run's history may have hundreds of thousands of rows, more than a call's arguments)
  const widths = header.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (r[i] ?? '').length);
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** An epoch ms as UTC text; `-` for none, `?` for a time that cannot be read (NaN, or beyond a Date's range: a corrupt stored record). */
export function time(ms: number | undefined): string {
  return ms === undefined ? '-' : !isEpochMs(ms) ? '?' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/**
 * A value in a table cell or a `runs show` line, cut to `max` characters: a string as itself (an empty one as `""`, so
 * that it is not mistaken for a missing value), anything else as JSON; `-` for none.
 */
export function short(v: unknown, max = 60): string {
  const s = v === undefined ? '-' : v === '' ? '""' : typeof v === 'string' ? oneLine(v) : valueText(v);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/**
 * Runs `fn` with a connected backend, mapping typed failures to messages (`floxide <command>: ...`) and exit codes
 * (2 for bad input, a refused signal's payload included, 1 otherwise).
 */
export async function withStore(io: CliIo, flags: StoreFlags, fn: (backend: RunsStore) => Promise<void>, command = 'runs', createSchema = false): Promise<void> {
  const { openRunsStore } = await import('../store/open.js');
  const { InvalidArgumentError, InvalidSignalError, FloxideError, RunNotFoundError } = await import('../../runtime/core/errors.js');
  const { redactUrl } = await import('../../runtime/distributed/connect.js');
  let backend: RunsStore;
  try {
    backend = await (io.connect ?? ((url: string) => openRunsStore(url, io.cwd, { createSchema })))(flags.store);
  } catch (err) {
    io.stderr.write(`floxide ${command}: ${(err as Error).message}\n`);
    io.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
    return;
  }
  try {
    await fn(backend);
  } catch (err) {
    if (!(err instanceof FloxideError)) throw err;
    // (an unknown run id: say where the ids are)
    const hint = err instanceof RunNotFoundError ? `: \`floxide runs list --store ${redactUrl(flags.store)}\` lists the runs` : '';
    io.stderr.write(`floxide ${command}: ${err.message}${hint}\n`);
    // (a signal the store refuses, its payload: what the command was given, as a malformed --data is)
    io.exitCode = err instanceof InvalidArgumentError || err instanceof InvalidSignalError ? 2 : 1;
  } finally {
    if (!io.connect) await backend.close();
  }
}

/** How many of an open run's first outstanding items (the next ones claimed) `runs list` reads, besides its parked and running ones. */
const LISTED_ITEMS = 20;

/**
 * What a listed run waits for (a finished run waits for nothing), and the `CorruptStateError` of what of it cannot be
 * read: fields of its record, else (an open run, which a worker or a resume will read) one of the outstanding items
 * read (its parked and running items and the first {@link LISTED_ITEMS}: a run with 100,000 items waiting is listed
 * without reading them all), else its context.
 */
async function openWaits(b: RunsStore, r: RunRecord): Promise<{ waits: RunWait[]; corrupt?: CorruptStateError }> {
  if (r.corrupt) return { waits: [], corrupt: r.corrupt };
  if (isFinalRunStatus(r.status)) return { waits: [] };
  const [pending, context] = await Promise.all([orCorrupt(outstandingItems(b, r.runId, LISTED_ITEMS)), orCorrupt(b.readContext(r.runId))]);
  const items = pending instanceof CorruptStateError ? { first: [], heldOrParked: [] } : pending;
  const corrupt = pending instanceof CorruptStateError ? pending : ([...items.first, ...items.heldOrParked].find((p) => p.corrupt)?.corrupt ?? (context instanceof CorruptStateError ? context : undefined));
  return { waits: waitsOf(items.heldOrParked), ...(corrupt ? { corrupt } : {}) };
}

/** `--limit`'s text as a positive integer; undefined, said on stderr with exit code 2, for any other text. */
function limitOption(io: CliIo, text: string): number | undefined {
  const limit = Number(text);
  if (Number.isSafeInteger(limit) && limit > 0) return limit;
  io.stderr.write(`floxide runs: --limit must be a positive integer, got ${JSON.stringify(text)}\n`);
  io.exitCode = 2;
  return undefined;
}

/** The `schedule` line of a run a schedule started (its id says so: see docs/schedules.md). */
function scheduleRow(runId: string): Array<[string, string]> {
  const s = scheduledRunOf(runId);
  return s ? [['schedule', `${s.schedule} (tick ${new Date(s.tick).toISOString()})`]] : [];
}

/** The `migrated` line of a run moved between graph versions (nothing for one never moved, or moved by an older floxide). */
function movesRow(r: RunRecord): Array<[string, string]> {
  if (r.migratedAt === undefined) return [];
  return [['migrated', `${r.startedOn !== undefined ? `started on version ${r.startedOn}, ` : ''}moved to ${r.fingerprint} at ${time(r.migratedAt)}`]];
}

function runLines(r: RunRecord): string {
  const rows: Array<[string, string]> = [
    ['run', r.runId],
    ['workflow', r.workflow],
    ['version', r.fingerprint],
    ...movesRow(r),
    ...scheduleRow(r.runId),
    ['status', r.orphaned ? `${r.status} (${orphanText(r, time)})` : r.status],
    ...(ownerLine(r, Date.now()) === undefined ? [] : [['owner', ownerLine(r, Date.now())!] as [string, string]]),
    ['created', time(r.createdAt)],
    ['updated', time(r.updatedAt)],
    ['finished', time(r.finishedAt)],
    ['deadline', time(r.deadline)],
    ['input', short(r.input, 200)],
  ];
  if (r.status === 'completed') rows.push(['output', short(r.output, 200)]);
  if (r.error) rows.push(['error', `${r.error.name}: ${r.error.message}`]);
  if (r.dropped.length > 0) rows.push(['dropped', r.dropped.map((d) => `${d.node}#${d.id} (${d.reason})`).join(', ')]);
  if (r.corrupt) rows.push(['corrupt', `${r.corrupt.name}: ${r.corrupt.message}`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${oneLine(v)}`).join('\n') + '\n';
}

/** A version move as `runs watch` and `runs show` say it: versions, renames and who moved the run. */
function migrationText(m: { readonly from: string; readonly to: string; readonly renames: Readonly<Record<string, string>>; readonly workerId: string | undefined }): string {
  const renames = Object.entries(m.renames).map(([a, b]) => `${a}->${b}`);
  return `version ${m.from} -> ${m.to}${renames.length > 0 ? ` renaming ${renames.join(', ')}` : ''}${m.workerId !== undefined ? ` by worker ${m.workerId}` : ' by an operator'}`;
}

/** One line per event for `runs watch` (times in UTC). */
export function eventLine(e: WorkflowEvent): string {
  const head = `${time(e.at)}  ${e.runId}  ${e.type.padEnd(13)}`;
  switch (e.type) {
    case 'run.created':
      return `${head}  ${e.workflow}`;
    case 'step.started':
      return `${head}  ${e.node} item ${e.itemId} attempt ${e.attempt}${e.workerId ? ` on ${e.workerId}` : ''}`;
    case 'step.finished':
      return `${head}  ${e.node} item ${e.itemId} attempt ${e.attempt}: ${stepOutcomeLabel(e)}${e.error ? ` (${e.error.name}: ${short(e.error.message, 70)})` : ''} in ${e.at - e.startedAt} ms`;
    case 'step.retry':
      return `${head}  ${e.node} item ${e.itemId} attempt ${e.attempt} failed (${e.error.name}: ${short(e.error.message, 70)}); retry in ${e.delayMs} ms`;
    case 'run.completed':
      return `${head}  output ${short(e.output, 80)}${e.dropped.length > 0 ? ` (${e.dropped.length} item(s) dropped)` : ''}`;
    case 'run.failed':
    case 'run.cancelled':
      return `${head}  ${e.error.name}: ${short(e.error.message, 90)}`;
    case 'run.paused':
    case 'run.resumed':
      return head.trimEnd();
    case 'run.migrated':
      return `${head}  ${migrationText(e)}`;
    case 'wait.started':
      return `${head}  ${e.node} item ${e.itemId} waits for signal ${e.signal}${e.timeoutAt !== undefined ? ` until ${time(e.timeoutAt)}` : ' (no timeout)'}`;
    case 'wait.timedOut':
      return `${head}  ${e.node} item ${e.itemId}: no signal ${e.signal} before its timeout`;
    case 'signal.received':
      return `${head}  ${e.name}${e.itemId !== undefined ? ` to item ${e.itemId}` : ' kept in the mailbox'}${e.key !== undefined ? ` (key ${e.key})` : ''}`;
    case 'timer.started':
      return `${head}  ${e.node} item ${e.itemId} sleeps until ${time(e.until)}`;
    case 'timer.fired':
      return `${head}  ${e.node} item ${e.itemId} wakes`;
    default: {
      // every event type has its line: a new one fails to compile here (at run time, an event of a newer build's
      // type is printed with its head alone)
      const unlisted: never = e;
      void unlisted;
      return head.trimEnd();
    }
  }
}

/** The mandatory `--store` of a subcommand; `description` names the stores it works on (default: every kind). */
export const storeOption = (description = 'the store, e.g. `redis://127.0.0.1:6379`, `postgres://app@db:5432/prod` or `sqlite:runs.db` (a checkpoint file)') =>
  new Option('-s, --store <url>', description).makeOptionMandatory();

/**
 * A command whose work is done by subcommands (`runs`, `schedule`, `versions`); its help ends with how to get theirs,
 * which give the examples and exit codes. Subcommands copy these settings when created: errors must reach `runCli`,
 * not `process.exit`.
 */
export function commandGroup(io: CliIo, name: string, description: string): Command {
  return withGroupHint(new Command(name))
    .description(description)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
}

const runsCommand: CommandFactory = (outer: CliIo) => {
  const io = printableIo(outer);
  const cmd = commandGroup(io, 'runs', 'list, inspect, cancel, pause, resume, signal and wait for runs (distributed stores, SQLite checkpoint files)');

  withHelp(cmd.command('list'), {
    examples: [
      { run: 'floxide runs list --store redis://127.0.0.1:6379' },
      { run: 'floxide runs list --store postgres://app@db:5432/prod --status failed --workflow OrderWorkflow --limit 20' },
      { run: 'floxide runs list --store redis://127.0.0.1:6379 --schedule nightly-report', note: 'the runs a schedule started' },
      { run: 'floxide runs list --store sqlite:runs.db --json', note: 'the runs of a checkpoint file, as JSON' },
    ],
    exitCodes: { 0: 'the runs are listed (none: `no runs`)', 1: UNREACHABLE, 2: 'bad usage: a malformed store URL, an unknown --status, a --limit that is not a positive integer' },
  })
    .description('list runs, newest first')
    .addOption(storeOption())
    .addOption(new Option('--status <status>', 'only runs with this status, e.g. `--status failed`').choices(RUN_STATUSES))
    .option('--workflow <name>', 'only runs of this workflow, e.g. `--workflow OrderWorkflow`')
    .option('--schedule <id>', 'only runs started by this schedule, e.g. `--schedule nightly-report`')
    .option('--limit <n>', 'at most n runs, e.g. `--limit 20`', '50')
    .option('--json', 'print the run records as JSON')
    .action(async (flags: StoreFlags & { status?: RunStatus; workflow?: string; schedule?: string; limit: string }) => {
      const limit = limitOption(io, flags.limit);
      if (limit === undefined) return;
      await withStore(io, flags, async (b) => {
        const filter = { ...(flags.status ? { status: flags.status } : {}), ...(flags.workflow ? { workflow: flags.workflow } : {}) };
        // A schedule's runs are found by their ids (`schedule:<id>:<tick>`), so that filter reads every run first.
        const runs = flags.schedule === undefined ? await b.listRuns({ limit, ...filter }) : await scheduleRuns(b, filter, flags.schedule, limit);
        // What each open run waits for (its parked items). A run whose items cannot be read (corrupt stored data) is
        // listed with that error.
        const open = await Promise.all(runs.map((r) => openWaits(b, r)));
        const waits = open.map((o) => o.waits);
        if (flags.json) {
          const rows = runs.map((r, i) => ({ ...runData(r), ...(waits[i]!.length > 0 ? { waits: waits[i] } : {}), ...(open[i]!.corrupt ? { corrupt: serializeError(open[i]!.corrupt) } : {}) }));
          return void io.stdout.write(`${valueText(rows, 2)}\n`);
        }
        if (runs.length === 0) return void io.stdout.write('no runs\n');
        const result = (r: RunRecord, i: number) =>
          open[i]!.corrupt
            ? `corrupt: ${short(open[i]!.corrupt!.message, 60)}`
            : r.error
              ? `${r.error.name}: ${short(r.error.message, 50)}`
              : r.status === 'completed'
                ? short(r.output, 50)
                : [orphanText(r, time)?.replace(/^orphaned: /, ''), ...waits[i]!.map((w) => waitText(w, time))].filter((t) => t !== undefined).join('; ');
        io.stdout.write(
          formatTable(
            ['RUN', 'WORKFLOW', 'VERSION', 'STATUS', 'CREATED', 'FINISHED', 'RESULT'],
            runs.map((r, i) => [r.runId, r.workflow, r.fingerprint, r.orphaned ? `${r.status} (orphaned)` : r.status, time(r.createdAt), time(r.finishedAt), result(r, i)]),
          ),
        );
      });
    });

  withHelp(cmd.command('show'), {
    examples: [
      { run: 'floxide runs show order-42 --store redis://127.0.0.1:6379' },
      { run: 'floxide runs show order-42 --store sqlite:runs.db --context', note: 'with the context: its initial value and every delta' },
      { run: "floxide runs show order-42 --store 'postgres://app@db:5432/prod?schema=orders' --json" },
      { run: 'floxide runs show crawl-7 --store redis://127.0.0.1:6379 --limit 20', note: 'a run of 100,000 items: the newest 20 attempts and errors, the first 20 waiting items' },
    ],
    exitCodes: { 0: 'the run is shown, also one whose stored data cannot all be read (marked corrupt)', 1: `no run has this id, or ${UNREACHABLE}`, 2: `${BAD_RUN_ID}, a --limit that is not a positive integer` },
  })
    .description('a run with its step history, metrics, outstanding items, errors, dead letters and the workers holding its items')
    .argument('<runId>', 'the run id')
    .addOption(storeOption())
    .option('--context', 'also print the context: the initial value and every committed delta, in order')
    .option('--limit <n>', 'show the newest n attempts, errors, dead letters and context deltas and the first n outstanding items (a run of 100,000 items reads a page of each; what it waits for and the workers holding it stay whole), e.g. `--limit 20`')
    .option('--json', 'print everything as one JSON object')
    .action(async (runId: string, flags: StoreFlags & { context?: boolean; limit?: string }) => {
      const limit = flags.limit === undefined ? undefined : limitOption(io, flags.limit);
      if (flags.limit !== undefined && limit === undefined) return;
      await withStore(io, flags, async (b) => {
        const { run, metrics, errors, deadLetters, context, contextError, history, holders, pending, waits, unreadable } = await readRunDetails(b, runId, limit === undefined ? {} : { limit });
        // (each worker's record, with the run's items the store says it holds)
        const holding = holders.map((h) => ({ ...h.worker, items: h.items }));
        const signals = supportsSignals(b) ? await b.pendingSignals(runId) : [];
        if (flags.json) {
          // a context that cannot be read: its error as data in place of the version (and of the context)
          const ctx = contextError
            ? { contextError: serializeError(contextError) }
            : { contextVersion: context!.version, ...(flags.context ? { context: { initial: context!.initial, deltas: context!.deltas } } : {}) };
          // a corrupt item's error as data (name, message, code), like the run's and the history's errors
          const items = pending.map((p) => (p.corrupt ? { ...p, corrupt: serializeError(p.corrupt) } : p));
          const parts = unreadable.length > 0 ? { unreadable: unreadable.map((u) => ({ part: u.part, error: serializeError(u.error) })) } : {};
          io.stdout.write(`${valueText({ run: runData(run), metrics, history, pending: items, waits, signals, errors, deadLetters, workers: holding, ...ctx, ...parts }, 2)}\n`);
          return;
        }
        io.stdout.write(runLines(run));
        if (waits.length > 0) io.stdout.write(`waiting   ${waits.map((w) => `${w.node}: ${waitText(w, time)}`).join('; ')}\n`);
        if (!context) io.stdout.write(`context   unreadable: ${contextError!.name}: ${contextError!.message}\n`);
        else io.stdout.write(`context   version ${context.version} (${context.deltas.length} deltas)\n`);
        for (const u of unreadable) io.stdout.write(`${u.part} unreadable: ${u.error.name}: ${u.error.message}\n`);
        if (flags.context && context) {
          io.stdout.write(`\ncontext\n  initial  ${valueText(context.initial)}\n`);
          for (const d of context.deltas) io.stdout.write(`  v${d.version} (item ${d.itemId})  ${valueText(d.delta)}\n`);
        }
        if (history && history.length > 0) {
          io.stdout.write(`\nstep history (${history.length})\n`);
          io.stdout.write(
            formatTable(
              ['STARTED', 'MS', 'NODE', 'ITEM', 'ATTEMPT', 'WORKER', 'OUTCOME'],
              history.map((h) => [time(h.startedAt), String(h.finishedAt - h.startedAt), h.node, h.itemId, String(h.attempt), h.workerId ?? '-', h.error ? `${stepOutcomeLabel(h)}: ${h.error.name}: ${short(h.error.message, 60)}` : h.outcome]),
            ),
          );
        }
        const counters = Object.entries(metrics.counters).map(([k, v]) => `${k}=${v}`);
        io.stdout.write(
          `\nmetrics   enqueued=${metrics.enqueued} completed=${metrics.completed} retries=${metrics.retries} failed=${metrics.failed} deadLettered=${metrics.deadLettered} dropped=${metrics.dropped} redeliveries=${metrics.redeliveries}${counters.length ? ` ${counters.join(' ')}` : ''}\n`,
        );
        if (pending.length > 0) {
          io.stdout.write(`\noutstanding items (${pending.length})\n`);
          io.stdout.write(formatTable(['ITEM', 'NODE', 'STATUS', 'ATTEMPT', 'WORKER', 'DUE'], pending.map((p) => [p.item.id, p.item.node, p.corrupt ? `${p.state.status} (corrupt)` : p.state.status, String(p.state.attempt), p.state.workerId ?? '-', time(p.state.notBefore ?? p.state.leaseExpiresAt)])));
        }
        const corrupt = pending.filter((p) => p.corrupt);
        if (corrupt.length > 0) {
          io.stdout.write(`\ncorrupt items (${corrupt.length}): their stored JSON cannot be read; the worker that claims one fails it (a dead letter) and the run\n`);
          io.stdout.write(formatTable(['ITEM', 'NODE', 'ERROR'], corrupt.map((p) => [p.item.id, p.item.node, `${p.corrupt!.name}: ${p.corrupt!.message}`])));
        }
        if (waits.length > 0) {
          io.stdout.write(`\nwaits (${waits.length})\n`);
          io.stdout.write(formatTable(['ITEM', 'NODE', 'WAITING'], waits.map((w) => [w.itemId, w.node, waitText(w, time)])));
        }
        if (signals.length > 0) {
          // (a finished run's mailbox is what no wait took: nothing will take it now)
          io.stdout.write(isFinalRunStatus(run.status) ? `\nsignals no wait took (${signals.length}): the run ended first\n` : `\nsignals waiting for a wait (${signals.length})\n`);
          io.stdout.write(formatTable(['AT', 'NAME', 'KEY', 'PAYLOAD'], signals.map((x) => [time(x.at), x.name, x.key ?? '-', short(x.payload, 70)])));
        }
        if (errors.length > 0) {
          io.stdout.write(`\nerrors (${errors.length})\n`);
          io.stdout.write(formatTable(['AT', 'ITEM', 'NODE', 'ATTEMPT', 'KIND', 'ERROR'], errors.map((e) => [time(e.at), e.itemId, e.node, String(e.attempt), e.kind, `${e.error.name}: ${short(e.error.message, 70)}`])));
        }
        if (deadLetters.length > 0) {
          io.stdout.write(`\ndead letters (${deadLetters.length})\n`);
          io.stdout.write(formatTable(['AT', 'ITEM', 'NODE', 'ATTEMPTS', 'ERROR'], deadLetters.map((d) => [time(d.at), d.item.id, d.item.node, String(d.attempts), `${d.error.name}: ${short(d.error.message, 70)}`])));
        }
        if (holding.length > 0) {
          io.stdout.write(`\nworkers holding its items\n`);
          io.stdout.write(formatTable(['WORKER', 'LIVENESS', 'LAST SEEN', 'ITEMS'], holders.map(({ worker: w, items }) => [w.workerId, w.liveness, time(w.lastSeen), items.join(',')])));
        }
      });
    });

  const transitions = [
    {
      name: 'cancel',
      verb: 'cancelled',
      description: 'cancel a running or paused run: its queued work is dropped and running nodes see their signal abort',
      examples: [
        { run: 'floxide runs cancel order-42 --store redis://127.0.0.1:6379 --reason "duplicate order"' },
        { run: 'floxide runs cancel order-42 --store sqlite:runs.db', note: 'a checkpointed run: the process running it stops within 10 s' },
        { run: 'floxide runs cancel order-42 --store postgres://app@db:5432/prod --json' },
      ],
      exitCodes: {
        0: 'cancelled, or already cancelled (nothing changed)',
        1: `no run has this id, or it already completed (or failed, on redis:// and postgres://), or ${UNREACHABLE}`,
        2: BAD_RUN_ID,
      },
    },
    {
      name: 'pause',
      verb: 'paused',
      description: 'pause a running run: workers stop taking its items',
      examples: [
        { run: 'floxide runs pause order-42 --store redis://127.0.0.1:6379' },
        { run: 'floxide runs pause order-42 --store postgres://app@db:5432/prod --json' },
      ],
      exitCodes: {
        0: 'paused, or already paused (nothing changed)',
        1: `no run has this id, or it is finished, or the store is a SQLite file (a local run is paused by stopping its process), or ${UNREACHABLE}`,
        2: BAD_RUN_ID,
      },
    },
    {
      name: 'resume',
      verb: 'running',
      description: 'resume a paused run',
      examples: [
        { run: 'floxide runs resume order-42 --store redis://127.0.0.1:6379' },
        { run: 'floxide runs resume order-42 --store postgres://app@db:5432/prod --json' },
      ],
      exitCodes: {
        0: 'resumed, or already running (nothing changed)',
        1: `no run has this id, or it is finished, or the store is a SQLite file (a local run continues with \`resume(store, runId)\`), or ${UNREACHABLE}`,
        2: BAD_RUN_ID,
      },
    },
  ] as const;
  for (const { name, verb, description, examples, exitCodes } of transitions) {
    const sub = withHelp(cmd.command(name), { examples, exitCodes })
      .description(description)
      .argument('<runId>', 'the run id')
      .addOption(storeOption())
      .option('--json', 'print the transition as JSON');
    if (name === 'cancel') sub.option('--reason <text>', 'recorded as the run\'s error message, e.g. `--reason "duplicate order"`');
    sub.action(async (runId: string, flags: StoreFlags & { reason?: string }) => {
      await withStore(io, flags, async (b) => {
        const t = name === 'cancel' ? await b.cancelRun(runId, flags.reason) : name === 'pause' ? await b.pauseRun(runId) : await b.resumeRun(runId);
        if (flags.json) return void io.stdout.write(`${JSON.stringify({ runId, ...t })}\n`);
        const dropped = t.dropped.length > 0 ? ` (${t.dropped.length} outstanding item(s) dropped)` : '';
        io.stdout.write(t.applied ? `run ${runId}: ${verb}${dropped}\n` : `run ${runId}: already ${t.status}, nothing changed\n`);
      });
    });
  }

  withHelp(cmd.command('signal'), {
    examples: [
      { run: `floxide runs signal order-42 approval --data '{"approved":true,"by":"ana"}' --store redis://127.0.0.1:6379` },
      { run: `floxide runs signal order-42 approval --data '{"approved":true}' --key mail-42 --store sqlite:runs.db`, note: 'sent again with the same key, it changes nothing' },
      { run: 'floxide runs signal order-42 wake --data null --store postgres://app@db:5432/prod --json', note: 'a signal that carries nothing' },
    ],
    exitCodes: {
      0: "delivered to the wait for it, kept in the run's mailbox, or a duplicate of the signal sent with this --key (nothing changed)",
      1: `no run has this id, the run is finished, the versions file of the run's graph version has no wait for this name (nothing sent), or ${UNREACHABLE}`,
      2: 'bad usage: no --data, malformed --data JSON or a payload no store keeps, a --key the run received with another name or payload (nothing sent), a malformed run id or store URL',
    },
  })
    .description('send a signal to a run: the oldest WaitFor node waiting for <name> continues with the payload, or it waits in the run\'s mailbox')
    .argument('<runId>', 'the run id')
    .argument('<name>', 'the signal name, e.g. `approval` (refused when a *.floxide.versions.json under the current folder records the run\'s graph version and no wait of it takes that name)')
    .addOption(storeOption())
    .option('--data <json>', 'the payload as JSON (required: without the workflow\'s code it cannot be checked here, so the wait checks it when it takes it: one that fails is refused there and changes nothing about the run, which waits on for a valid one; `--data null` for a signal that carries nothing), e.g. `--data \'{"approved":true}\'`')
    .option('--key <key>', 'idempotency key: the same signal sent again with it changes nothing; another name or payload with it is refused (exit 2), e.g. `--key mail-42`')
    .option('--json', 'print the delivery as JSON: { runId, name, delivery, kept }')
    .action(async (runId: string, name: string, flags: StoreFlags & { data?: string; key?: string }) => {
      const example = '{"approved":true,"by":"ana"}';
      // (no default: a null sent for a payload the wait's check refuses would only be refused by the wait later)
      if (flags.data === undefined) {
        io.stderr.write(`floxide runs: --data is needed: the payload of signal ${JSON.stringify(name)} as JSON, e.g. --data '${example}' (floxide cannot check it against the wait's type here; a signal that carries nothing: --data null); nothing was sent\n`);
        io.exitCode = 2;
        return;
      }
      let payload: unknown;
      try {
        const { parseJsonOption } = await import('../json-option.js');
        payload = parseJsonOption(flags.data, '--data', example);
      } catch (err) {
        // (the message names --data and says how to write it)
        io.stderr.write(`floxide runs: ${(err as Error).message}\n`);
        io.exitCode = 2;
        return;
      }
      await withStore(io, flags, async (b) => {
        const { sendSignal } = await import('../store/signal.js');
        // Without the workflow's code, the versions files under the current folder say which names the run's graph
        // version takes: a name none of its waits has would wait in the mailbox for good. Refuse it, sending nothing.
        const run = await b.getRun(runId);
        const { recordedSignalNames } = await import('../../compiler/versions/signals.js');
        const known = run && (await recordedSignalNames([io.cwd], run.workflow, run.fingerprint));
        if (run && known && !known.names.includes(name)) {
          const { relative } = await import('node:path');
          const takes = known.names.length > 0 ? `its signals are ${known.names.join(', ')}` : 'it waits for no signal';
          io.stderr.write(`floxide runs: run ${runId} (${run.workflow}, version ${run.fingerprint}) has no WaitFor on signal ${JSON.stringify(name)}: ${takes} (${relative(io.cwd, known.file)}); nothing was sent: check the name\n`);
          io.exitCode = 1;
          return;
        }
        // delivered: to an item parked waiting for it, or kept in the run's mailbox when none waits for that name
        // (until a wait on it begins; a misspelt name the versions files could not rule out stays there for good: say so)
        const waits = waitsOf(await b.pendingWork(runId, { statuses: ['parked'] })).flatMap((w) => (w.kind === 'signal' && w.signal !== undefined ? [w.signal] : []));
        const waiting = [...new Set(waits)];
        // each wait takes one signal: those already in the mailbox for this name (sent before its process read them,
        // on a checkpoint file) go to the waits first
        const queued = supportsSignals(b) ? (await b.pendingSignals(runId)).filter((x) => x.name === name).length : 0;
        const waited = waits.filter((w) => w === name).length > queued;
        const sent = await sendSignal(b, runId, name, payload, flags.key);
        const delivery = sent.delivery;
        // (a duplicate changed nothing: it was not kept now). A distributed store says where it went; a checkpoint
        // file's mailbox takes every signal, read by the process running the run: whether a wait was parked for it.
        const kept = sent.kept ?? (delivery === 'delivered' && !waited);
        if (flags.json) return void io.stdout.write(`${JSON.stringify({ runId, name, delivery, kept })}\n`);
        const taken = waiting.includes(name);
        const now = waiting.length > 0 ? ` (it waits for ${waiting.join(', ')}${taken ? `, which takes the one${queued > 1 ? 's' : ''} sent before` : ''})` : '';
        const unchecked = run && !known ? `; the name was not checked: no *.floxide.versions.json under ${io.cwd} records version ${run.fingerprint} of ${run.workflow} (run this from the project's folder to have it checked)` : '';
        io.stdout.write(
          delivery === 'duplicate'
            ? `run ${runId}: signal ${name} with key ${flags.key} was already delivered, nothing changed\n`
            : kept
              ? `run ${runId}: signal ${name} kept in the run's mailbox: no item of the run waits for ${name} now${taken ? ' without a signal to take' : ''}${now}; the next WaitFor on ${name} in it takes it${unchecked}\n`
              : `run ${runId}: signal ${name} delivered to the wait for it\n`,
        );
      });
    });

  withHelp(cmd.command('watch'), {
    examples: [
      { run: 'floxide runs watch --store redis://127.0.0.1:6379', note: 'every run, until Ctrl-C' },
      { run: 'floxide runs watch order-42 --store redis://127.0.0.1:6379 --json', note: 'one run, until it ends: exit 0 only when it completed' },
      { run: 'floxide runs watch --store sqlite:runs.db --from-start' },
      { run: 'floxide runs watch --store postgres://app@db:5432/prod --held-after-ms 2000' },
    ],
    exitCodes: {
      0: 'with a run id: the run completed; without: stopped by SIGTERM or Ctrl-C',
      1: `with a run id: the run failed or was cancelled, or the watch was stopped before it ended, or no run has this id; the store publishes no events, or lost some before they were read (EventsLostError); or ${UNREACHABLE}`,
      2: 'bad usage: a malformed run id, store URL or --held-after-ms',
    },
  })
    .description('print events live as they happen: of every run, or of one run until it finishes')
    .argument('[runId]', 'only this run (and stop when it completes, fails or is cancelled)')
    .addOption(storeOption())
    .option('--from-start', 'first print the events the store still retains (default: only new ones; with a run id: always)')
    .option('--json', 'print one JSON object per line: { cursor, event }')
    .option('--held-after-ms <ms>', 'on Postgres, say on stderr when events have been held back this long by a transaction still open on the server, e.g. `--held-after-ms 2000`', '5000')
    .action(async (runId: string | undefined, flags: StoreFlags & { fromStart?: boolean; heldAfterMs: string }) => {
      const heldAfterMs = Number(flags.heldAfterMs);
      if (!(heldAfterMs >= 0)) {
        io.stderr.write(`floxide runs: --held-after-ms must be a number of ms >= 0, got ${JSON.stringify(flags.heldAfterMs)}\n`);
        io.exitCode = 2;
        return;
      }
      await withStore(io, flags, async (b) => {
        const { RunNotFoundError } = await import('../../runtime/core/errors.js');
        if (!supportsObservation(b)) {
          io.stderr.write(`floxide runs: the ${b.kind} store does not publish events\n`);
          io.exitCode = 1;
          return;
        }
        if (runId !== undefined && !(await b.getRun(runId))) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
        const ac = new AbortController();
        io.onStop(() => ac.abort());
        // Postgres holds committed events back behind a transaction still open on the server: say so, and by what
        const onHeld = (held: EventsHeld | undefined): void => {
          if (held === undefined) return void io.stderr.write('floxide runs watch: events flow again\n');
          const h = held.holder;
          const by = h === undefined ? 'a transaction open on the server that this role cannot see in pg_stat_activity' : `a transaction open on the server${h.since === undefined ? '' : ` since ${time(h.since)}`} (pid ${h.pid}, database ${h.database ?? '?'})`;
          io.stderr.write(`floxide runs watch: events held back since ${time(held.since)} by ${by}; they come when it ends\n`);
        };
        for await (const e of b.subscribe({ signal: ac.signal, onHeld, heldAfterMs, ...(runId !== undefined ? { runId } : {}), ...(runId === undefined && !flags.fromStart ? { after: 'now' } : {}) })) {
          // stdout full (a paused pager, a stalled log shipper): read no further event until it drains
          if (io.stdout.write(flags.json ? `${valueText(e)}\n` : `${oneLine(eventLine(e.event))}\n`) === false) await drained(outer.stdout, ac.signal);
          if (runId !== undefined && isFinalEvent(e.event)) {
            io.exitCode = e.event.type === 'run.completed' ? 0 : 1;
            return;
          }
        }
        // stopped (SIGTERM, Ctrl-C) before the run it watches ended: exit 0 would say that it completed
        if (runId !== undefined) {
          io.stderr.write(`floxide runs watch: stopped before run ${runId} ended (it is ${(await b.getRun(runId))?.status ?? 'gone'})\n`);
          io.exitCode = 1;
        }
      });
    });

  withHelp(cmd.command('wait'), {
    notes: ['Stopped by SIGTERM or Ctrl-C, it exits 130 at once (the run goes on).'],
    examples: [
      { run: 'floxide runs wait order-42 --store redis://127.0.0.1:6379' },
      { run: 'floxide runs wait order-42 --store postgres://app@db:5432/prod --timeout-ms 600000 --json' },
      { run: 'floxide runs wait order-42 --store sqlite:runs.db --poll-ms 1000' },
    ],
    exitCodes: {
      0: 'the run completed',
      1: `the run failed or was cancelled, --timeout-ms passed first (a paused run is waited for), no run has this id or its record cannot be read, or ${UNREACHABLE}`,
      2: 'bad usage: a malformed run id, store URL, --timeout-ms or --poll-ms',
    },
  })
    .description('wait until a run completes, fails or is cancelled; exit 0 only when it completed')
    .argument('<runId>', 'the run id')
    .addOption(storeOption())
    .option('--timeout-ms <ms>', 'give up after this long (exit 1), e.g. `--timeout-ms 60000`', '60000')
    .option('--poll-ms <ms>', 'poll period, e.g. `--poll-ms 250`', '200')
    .option('--json', 'print the final run record as JSON')
    .action(async (runId: string, flags: StoreFlags & { timeoutMs: string; pollMs: string }) => {
      const timeoutMs = Number(flags.timeoutMs);
      const pollMs = Number(flags.pollMs);
      const bad = !(timeoutMs >= 0) ? `--timeout-ms must be a number of ms >= 0, got ${JSON.stringify(flags.timeoutMs)}`
        : !(pollMs > 0) ? `--poll-ms must be a number of ms > 0, got ${JSON.stringify(flags.pollMs)}` : undefined;
      if (bad !== undefined) {
        io.stderr.write(`floxide runs: ${bad}\n`);
        io.exitCode = 2;
        return;
      }
      await withStore(io, flags, async (b) => {
        const { Orchestrator, waitForFinalRun } = await import('../../runtime/distributed/orchestrator.js');
        const { RunNotFoundError } = await import('../../runtime/core/errors.js');
        // A distributed run is read through the orchestrator, which also fails a run whose deadline passed unobserved.
        const read = isDistributed(b)
          ? (id: string) => new Orchestrator(b).run(id)
          : async (id: string) => readableRun(await b.getRun(id)) ?? Promise.reject(new RunNotFoundError(`no run with id ${JSON.stringify(id)}`));
        const progress = flags.json ? undefined : await progressOn(io, `run ${runId}:`, 'items done');
        const stop = new AbortController();
        const shown = progress && showRunProgress(b, runId, pollMs, progress, stop.signal);
        let run;
        try {
          run = await waitForFinalRun(read, runId, { timeoutMs, pollMs });
        } finally {
          stop.abort();
          await shown;
          // a run that ended: its last line shows it as it ended, not as the last poll before that saw it
          const m = run && progress && (await b.metrics(runId).catch(() => undefined));
          if (m && run!.status === 'completed') progress!.update(m.completed + m.failed + m.dropped, Math.max(m.enqueued, 1));
          progress?.stop();
          // one that did not complete says so: its dropped items are not "done"
          if (m && run!.status !== 'completed') io.stderr.write(`floxide: run ${runId}: ${run!.status}, not completed (${m.completed} of ${m.enqueued} items completed, ${m.failed} failed, ${m.dropped} dropped)\n`);
        }
        io.stdout.write(flags.json ? `${valueText(run, 2)}\n` : runLines(run));
        io.exitCode = run.status === 'completed' ? 0 : 1;
      });
    });

  withHelp(cmd.command('versions'), {
    examples: [
      { run: 'floxide runs versions --store redis://127.0.0.1:6379' },
      { run: 'floxide runs versions --store postgres://app@db:5432/prod --workflow OrderWorkflow --json' },
      { run: 'floxide runs versions --store sqlite:runs.db' },
    ],
    exitCodes: { 0: 'the rows are printed (none: `no open runs and no live workers`)', 1: UNREACHABLE, 2: BAD_STORE_URL },
  })
    .description('per workflow and graph version: the open (running, paused) runs and the live workers serving it; a version with no open run can lose its workers')
    .addOption(storeOption())
    .option('--workflow <name>', 'only this workflow, e.g. `--workflow OrderWorkflow`')
    .option('--json', 'print the rows as JSON')
    .action(async (flags: StoreFlags & { workflow?: string }) => {
      await withStore(io, flags, async (b) => {
        const rows = await openRunsByVersion(b, flags.workflow);
        if (flags.json) return void io.stdout.write(`${valueText(rows, 2)}\n`);
        if (rows.length === 0) return void io.stdout.write('no open runs and no live workers\n');
        io.stdout.write(
          formatTable(
            ['WORKFLOW', 'VERSION', 'RUNNING', 'PAUSED', 'WORKERS'],
            rows.map((r) => [r.workflow, r.version, String(r.running), String(r.paused), workersText(r)]),
          ),
        );
      });
    });

  withHelp(cmd.command('purge'), {
    examples: [
      { run: 'floxide runs purge --store sqlite:runs.db', note: "the runs that finished more than the store's retention (7 days) ago" },
      { run: 'floxide runs purge --store sqlite:runs.db --older-than-ms 86400000', note: 'those that finished more than a day ago' },
      { run: 'floxide runs purge --store postgres://app@db:5432/prod --older-than-ms 0 --json', note: 'every finished run' },
    ],
    exitCodes: {
      0: 'the finished runs past the retention are deleted (the count is printed, 0 too)',
      1: `the store deletes its finished runs by itself (redis://: nothing changed), or ${UNREACHABLE}`,
      2: 'bad usage: a malformed store URL or --older-than-ms',
    },
  })
    .description('delete the finished runs (completed, failed, cancelled) older than the retention, with their history, errors and signals (sqlite:<file>, postgres://; Redis expires them by itself)')
    .addOption(storeOption('the store: `sqlite:<file>` (a checkpoint file, which deletes nothing by itself) or `postgres://...` (whose workers purge too)'))
    .option('--older-than-ms <ms>', "how long ago a run must have finished (default: the store's retention, 7 days), e.g. `--older-than-ms 86400000` (a day); 0: every finished run")
    .option('--json', 'print { purged } as JSON')
    .action(async (flags: StoreFlags & { olderThanMs?: string }) => {
      const olderThanMs = flags.olderThanMs === undefined ? undefined : Number(flags.olderThanMs);
      if (olderThanMs !== undefined && !(Number.isSafeInteger(olderThanMs) && olderThanMs >= 0)) {
        io.stderr.write(`floxide runs: --older-than-ms must be an integer >= 0, got ${JSON.stringify(flags.olderThanMs)}\n`);
        io.exitCode = 2;
        return;
      }
      await withStore(io, flags, async (b) => {
        if (!supportsPurge(b)) throw new UnsupportedOperationError(`a ${b.kind} store deletes its finished runs by itself (retainFinishedMs): there is nothing to purge`);
        const { purgeInBatches } = await import('../../runtime/distributed/retention.js');
        const purged = await purgeInBatches(b, olderThanMs === undefined ? {} : { olderThanMs });
        io.stdout.write(flags.json ? `${JSON.stringify({ purged })}\n` : `${purged} finished run(s) deleted\n`);
      });
    });

  addMigrateCommand(cmd, io);

  return cmd;
};

/** The WORKERS cell of a `runs versions` row: those serving the version, then those accepting it, marked. */
function workersText(r: VersionRow): string {
  const all = [...r.workers, ...r.accepting.map((w) => `${w} (accepts)`)];
  return all.length > 0 ? all.join(',') : '-';
}

/** One row of `floxide runs versions`. */
export interface VersionRow {
  workflow: string;
  /** The graph fingerprint. */
  version: string;
  running: number;
  paused: number;
  /** Live workers (heartbeat within the threshold) that say they serve it (`WorkerHealth.info.versions`). */
  workers: string[];
  /**
   * Live workers of a newer version that accept this one (`WorkerHealth.info.accepts`): they take its runs over,
   * moving them to their own version, so the version needs no worker of its own.
   */
  accepting: string[];
}

/** Open runs per workflow version, with the live workers serving each; versions served but without runs included. */
export async function openRunsByVersion(b: RunsStore, workflow?: string): Promise<VersionRow[]> {
  const only = workflow === undefined ? {} : { workflow };
  const rows = new Map<string, VersionRow>();
  const row = (wf: string, version: string) => {
    const key = `${wf}\n${version}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { workflow: wf, version, running: 0, paused: 0, workers: [], accepting: [] }));
    return r;
  };
  for await (const r of eachRun(b, { status: 'running', ...only })) row(r.workflow, r.fingerprint).running++;
  for await (const r of eachRun(b, { status: 'paused', ...only })) row(r.workflow, r.fingerprint).paused++;
  for (const w of await b.listWorkers()) {
    if (w.liveness !== 'alive' || !w.health.info?.versions || !w.health.info.workflow) continue;
    if (workflow !== undefined && w.health.info.workflow !== workflow) continue;
    for (const v of w.health.info.versions.split(',')) row(w.health.info.workflow, v).workers.push(w.workerId);
    // a worker whose version accepts an older one takes that version's runs over (it moves them to its own)
    for (const v of w.health.info.accepts?.split(',') ?? []) row(w.health.info.workflow, v).accepting.push(w.workerId);
  }
  return [...rows.values()].sort((a, b) => (a.workflow < b.workflow ? -1 : a.workflow > b.workflow ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** The first `limit` runs `filter` selects that schedule `schedule` started (found by their ids, `schedule:<id>:<tick>`). */
async function scheduleRuns(b: RunsStore, filter: Omit<ListRunsFilter, 'limit' | 'after'>, schedule: string, limit: number): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for await (const r of eachRun(b, filter)) {
    if (scheduledRunOf(r.runId)?.schedule !== schedule) continue;
    if (runs.push(r) >= limit) break;
  }
  return runs;
}

/** Polls the run's metrics into `progress` until `signal` aborts: items finished of items enqueued so far. */
async function showRunProgress(b: RunsStore, runId: string, pollMs: number, progress: Progress, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const m = await b.metrics(runId).catch(() => undefined);
    // dropped items are not counted: a run drops items only when it ends, and a cancelled one is not "n/n done"
    if (m && !signal.aborted) progress.update(m.completed + m.failed, Math.max(m.enqueued, 1));
    // (the clock's timer: node's fires a period past 2^31 - 1 ms after 1 ms, and this loop read the store non-stop)
    await sleep(pollMs, signal).catch(() => undefined);
  }
}

export default runsCommand;

/**
 * What the dashboard's pages show, read from a store: one page of the runs list, and one run with its node states.
 * Plain JSON (the browser renders it with `textContent` only). No HTTP here: `server.ts` serves these.
 */
import { CorruptStateError, InvalidArgumentError, RunNotFoundError, type SerializedError } from '../../runtime/core/errors.js';
import {
  assertRunStatus,
  cursorAfter,
  type ContextDeltaRecord,
  type DeadLetter,
  type ErrorRecord,
  type RunCursor,
  type RunMetrics,
  type RunOwnerRecord,
  type RunRecord,
  type RunStatus,
  type WorkItemStatus,
} from '../../runtime/distributed/contracts.js';
import type { StepRecord } from '../../runtime/engine/events.js';
import { knownTime, orphanText, ownerLine, readRunDetails, runData, stepOutcomeLabel, waitText, waitsOf, type RunWait } from '../run-details.js';
import { isDistributed, runActions, type RunActions, type RunsStore } from '../store/runs-store.js';
import { assertRunId } from '../../runtime/core/ids.js';
import { isSerializedError } from '../../runtime/core/validate.js';

/** The runs list's page size when the query names none, and the largest one it accepts. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** One row of the runs list. */
export interface RunRow {
  readonly runId: string;
  readonly workflow: string;
  /** The graph fingerprint (shown as the version until workflows carry versions). */
  readonly fingerprint: string;
  readonly status: RunStatus;
  /** null when the stored time cannot be read ({@link corrupt} says so). */
  readonly createdAt: number | null;
  readonly updatedAt: number | null;
  readonly finishedAt: number | undefined;
  /** `Name: message` of a failed or cancelled run, its first {@link ROW_TEXT_CHARS} characters (the run page has it whole). */
  readonly error: string | undefined;
  /** `CorruptStateError: <reason>` when fields of the stored run cannot be read (they hold no value), clipped as `error`. */
  readonly corrupt?: string;
  /** A checkpoint file's running run: {@link RunRecord.orphaned}, and its words ({@link orphanText}) when true. */
  readonly orphaned?: boolean;
  readonly orphan?: string;
  /** A checkpoint file's running run: the process holding it ({@link RunRecord.owner}), when the file keeps its claim. */
  readonly owner?: RunOwnerRecord;
}

/**
 * The most characters of a run's error a row of the list carries: a message is user data, as long as a worker made
 * it (a megabyte), and a page of 50 whole ones is megabytes to send and lay out on every reload of the list.
 */
export const ROW_TEXT_CHARS = 500;

/** `text` cut to its first `max` characters (never half of a surrogate pair), with `…` and the count of the rest. */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text[max - 1]!) ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

export interface RunsPage {
  readonly runs: readonly RunRow[];
  /** The `after` of the next page (`<createdAt>~<runId>`), or null on the last page. */
  readonly next: string | null;
}

/** The query of the runs list: `status`, `workflow`, `after` (a cursor from {@link RunsPage.next}) and `limit`. */
export interface RunsQuery {
  readonly status?: string | null;
  readonly workflow?: string | null;
  readonly after?: string | null;
  readonly limit?: string | null;
}

/** Encodes a cursor for a URL: `<createdAt>~<runId>` (run ids never contain `~`). */
export function encodeCursor(cursor: RunCursor): string {
  return `${cursor.createdAt}~${cursor.runId}`;
}

/** Decodes {@link encodeCursor}'s text; `InvalidArgumentError` for anything else (a run id too: `assertRunId`). */
export function decodeCursor(text: string): RunCursor {
  const m = /^(\d{1,16})~(.+)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`invalid page cursor ${JSON.stringify(text)}: expected <createdAt>~<runId>`);
  const runId = m[2]!;
  const createdAt = Number(m[1]);
  // (16 digits may be past the largest integer a number holds exactly: no cursor the list ever wrote)
  if (!Number.isSafeInteger(createdAt)) throw new InvalidArgumentError(`invalid page cursor ${JSON.stringify(text)}: its time ${m[1]} is past ${Number.MAX_SAFE_INTEGER}`);
  try {
    assertRunId(runId);
  } catch (err) {
    throw new InvalidArgumentError(`invalid page cursor ${JSON.stringify(text)}: ${(err as Error).message}`, { cause: err });
  }
  return { createdAt, runId };
}

/**
 * How deep {@link publicError} follows `cause` and an aggregate's `errors` (as deep as `serializeError` writes them, and
 * no deeper for stored data).
 */
const MAX_CAUSE_DEPTH = 5;

/**
 * A stored or serialised error as the dashboard sends it: name, message, code, cause and an aggregate's errors (each
 * the same way), never `stack`, whose frames name the files of the processes that failed (absolute paths of the
 * server and workers).
 */
export function publicError(e: SerializedError, depth = 0): SerializedError {
  const cause = e.cause;
  const readable = depth < MAX_CAUSE_DEPTH && isSerializedError(cause);
  return {
    name: e.name,
    message: e.message,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(readable ? { cause: publicError(cause, depth + 1) } : {}),
    ...(depth < MAX_CAUSE_DEPTH && Array.isArray(e.errors) ? { errors: e.errors.filter(isSerializedError).map((x) => publicError(x, depth + 1)) } : {}),
  };
}

function errorLine(e: Pick<SerializedError, 'name' | 'message'> | undefined): string | undefined {
  return e ? `${e.name}: ${e.message}` : undefined;
}

function rowOf(r: RunRecord): RunRow {
  return {
    runId: r.runId,
    workflow: r.workflow,
    fingerprint: r.fingerprint,
    status: r.status,
    createdAt: knownTime(r.createdAt),
    updatedAt: knownTime(r.updatedAt),
    finishedAt: r.finishedAt,
    error: r.error && clipText(errorLine(r.error)!, ROW_TEXT_CHARS),
    ...(r.corrupt ? { corrupt: clipText(errorLine(r.corrupt)!, ROW_TEXT_CHARS) } : {}),
    ...ownerFacts(r),
  };
}

/** A checkpoint file's running run: whether it is orphaned (and in words), and its owner ({@link RunRow}). */
function ownerFacts(r: RunRecord): Pick<RunRow, 'orphaned' | 'orphan' | 'owner'> {
  if (r.orphaned === undefined) return {};
  const orphan = orphanText(r, isoTime);
  return { orphaned: r.orphaned, ...(orphan ? { orphan } : {}), ...(r.owner ? { owner: r.owner } : {}) };
}

const isoTime = (ms: number) => new Date(ms).toISOString();

/**
 * One page of runs, newest first. Reads `limit + 1` runs through the store's keyset paging (an index read whatever
 * the page's depth) to know whether a next page exists.
 *
 * A run whose stored creation time cannot be read ({@link RunRecord.corrupt}: `createdAt` is NaN) cannot be a
 * cursor: the page ends at the last run before it that can, and it opens the next page instead (the store lists it
 * after that cursor). A page of such runs only is read further, up to {@link MAX_PAGE_SIZE}, until a run that can
 * end it turns up, so that no older run becomes unreachable.
 */
export async function runsPage(backend: RunsStore, query: RunsQuery): Promise<RunsPage> {
  // digits only: Number() also reads `1e2`, `0x10`, ` 10` and `2.0`
  const limit = !query.limit ? DEFAULT_PAGE_SIZE : /^\d{1,4}$/.test(query.limit) ? Number(query.limit) : NaN;
  if (!Number.isSafeInteger(limit) || limit <= 0 || limit > MAX_PAGE_SIZE) throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${JSON.stringify(query.limit)}`);
  if (query.status) assertRunStatus(query.status);
  const filter = {
    ...(query.status ? { status: query.status as RunStatus } : {}),
    ...(query.workflow ? { workflow: query.workflow } : {}),
    ...(query.after ? { after: decodeCursor(query.after) } : {}),
  };
  for (let want = limit; ; want = Math.min(want * 4, MAX_PAGE_SIZE)) {
    const runs = await backend.listRuns({ ...filter, limit: want + 1 });
    if (runs.length <= want) return { runs: runs.map(rowOf), next: null };
    let end = want;
    while (end > 0 && !Number.isSafeInteger(runs[end - 1]!.createdAt)) end--;
    if (end > 0) return { runs: runs.slice(0, end).map(rowOf), next: encodeCursor(cursorAfter(runs[end - 1]!)) };
    if (want === MAX_PAGE_SIZE) {
      throw new CorruptStateError(`the ${MAX_PAGE_SIZE + 1} runs listed after this point all have an unreadable creation time: no page cursor can follow them (see floxide runs list)`);
    }
  }
}

/** How many of a node's items are in each state, as the run page colours the graph. */
export interface NodeCounts {
  /** Waiting to be claimed (pending, waiting for a retry, or parked: a wait or a sleep). */
  queued: number;
  /** Leased by a worker now. */
  running: number;
  /** Committed. */
  done: number;
  /** Failed for good (dead-lettered or failed with the run). */
  failed: number;
  /** Discarded when the run finished. */
  dropped: number;
}

const COUNT_OF: Record<WorkItemStatus, keyof NodeCounts> = {
  pending: 'queued',
  waiting_retry: 'queued',
  parked: 'queued',
  in_progress: 'running',
  completed: 'done',
  failed: 'failed',
  dead_lettered: 'failed',
  dropped: 'dropped',
};

/** One outstanding item, as the run page lists it. */
export interface OutstandingItem {
  readonly itemId: string;
  readonly node: string;
  readonly status: WorkItemStatus;
  readonly attempt: number;
  readonly workerId: string | undefined;
  /** When its lease ends (running), its retry is due (waiting_retry) or it wakes (parked: a sleep's end, a wait's timeout). */
  readonly due: number | undefined;
  /** `CorruptStateError: <reason>` when its stored JSON cannot be read (the worker that claims it fails it). */
  readonly corrupt?: string;
}

/** Everything the run page shows. */
export interface RunView {
  /**
   * The run record ({@link runData}: `corrupt` names the fields of the stored record that cannot be read). Errors here,
   * in `history`, `errors` and `deadLetters` are {@link publicError}s: without stack traces.
   */
  readonly run: ReturnType<typeof runData>;
  readonly metrics: RunMetrics;
  /** Per node name: its items' states. Nodes without items yet are absent. */
  readonly nodes: Readonly<Record<string, NodeCounts>>;
  /** The first {@link LIST_CAP} outstanding items in enqueue order. */
  readonly outstanding: readonly OutstandingItem[];
  /**
   * The latest {@link LIST_CAP} executed attempts, oldest first, each with its outcome as shown ({@link stepOutcomeLabel})
   * (undefined when the store keeps no history).
   */
  readonly history: ReadonlyArray<StepRecord & { readonly label: string }> | undefined;
  readonly errors: readonly ErrorRecord[];
  readonly deadLetters: readonly DeadLetter[];
  /** The initial context and the latest {@link LIST_CAP} committed deltas (newest last); undefined when unreadable. */
  readonly context: { readonly initial: unknown; readonly version: number; readonly deltas: readonly ContextDeltaRecord[] } | undefined;
  /** `CorruptStateError: <reason>` when the stored context or a delta cannot be read. */
  readonly contextError: string | undefined;
  /** `<part>: CorruptStateError: <reason>` for errors, dead letters or a step history that cannot be read (shown empty). */
  readonly unreadable: readonly string[];
  /** The run can be paused and resumed (distributed runs; a checkpoint file's local runs cannot). */
  readonly pausable: boolean;
  /** The actions that change the run now, as the store decides them for its status ({@link runActions}). */
  readonly actions: RunActions;
  /** What the run waits for: its parked `WaitFor` and `Sleep` items (the signal, the timeout or the sleep's end), in words. */
  readonly waits: ReadonlyArray<RunWait & { readonly text: string }>;
  /**
   * A checkpoint file's running run: its orphaned state in words when no live process holds it ({@link orphanText}),
   * and the process holding it ({@link ownerLine}: `none` when the file keeps no claim). The run's `owner` and
   * `orphaned` are in {@link run}.
   */
  readonly orphan?: string;
  readonly owner?: string;
  /** Workers holding the run's items now (none once the run is final). */
  readonly workers: ReadonlyArray<{ readonly workerId: string; readonly liveness: string; readonly lastSeen: number; readonly items: readonly string[] }>;
}

/** How many outstanding items, errors and context deltas a run page lists (the newest errors, the latest deltas). */
export const LIST_CAP = 200;

/** The run page's data. Throws `RunNotFoundError` for an unknown run. */
export async function runView(backend: RunsStore, runId: string): Promise<RunView> {
  // The newest LIST_CAP of each list, and the node counts as the store counts them: a run of 20,000 steps reads a
  // page's worth, not its whole history and every item it ever had.
  const [{ run, metrics, errors, deadLetters, context, contextError, history, holders, pending, waits: parked, unreadable }, counted] = await Promise.all([
    readRunDetails(backend, runId, { limit: LIST_CAP }),
    backend.itemCounts(runId),
  ]);
  const nodes: Record<string, NodeCounts> = Object.create(null);
  for (const [node, byStatus] of Object.entries(counted)) {
    const counts = (nodes[node] = { queued: 0, running: 0, done: 0, failed: 0, dropped: 0 });
    for (const [status, n] of Object.entries(byStatus) as Array<[WorkItemStatus, number]>) counts[COUNT_OF[status]] += n;
  }
  // outstanding: queued (pending, waiting for a retry, parked) or running, as the graph counts them
  const outstanding: OutstandingItem[] = pending.slice(0, LIST_CAP).map(({ state: s, corrupt }) => ({
    itemId: s.itemId,
    node: s.node,
    status: s.status,
    attempt: s.attempt,
    workerId: s.workerId,
    due: s.status === 'in_progress' ? s.leaseExpiresAt : s.notBefore,
    ...(corrupt ? { corrupt: errorLine(corrupt)! } : {}),
  }));
  const waits = parked.map((w) => ({ ...w, text: waitText(w, (ms) => new Date(ms).toISOString()) }));
  const data = runData(run);
  const { orphan } = ownerFacts(run);
  const owner = ownerLine(run, Date.now());
  return {
    ...(orphan ? { orphan } : {}),
    ...(owner ? { owner } : {}),
    run: { ...data, error: data.error && publicError(data.error), ...(data.corrupt ? { corrupt: publicError(data.corrupt) } : {}) },
    metrics,
    nodes,
    outstanding,
    waits,
    history: history?.map((h) => ({ ...h, error: h.error && publicError(h.error), label: stepOutcomeLabel(h) })),
    errors: errors.map((e) => ({ ...e, error: publicError(e.error) })),
    deadLetters: deadLetters.map((d) => ({ ...d, error: publicError(d.error) })),
    context: context && { initial: context.initial, version: context.version, deltas: context.deltas },
    contextError: errorLine(contextError),
    unreadable: unreadable.map((u) => `${u.part}: ${errorLine(u.error)}`),
    pausable: isDistributed(backend),
    actions: runActions(backend, run.status),
    workers: holders.map(({ worker: w, items }) => ({ workerId: w.workerId, liveness: w.liveness, lastSeen: w.lastSeen, items })),
  };
}

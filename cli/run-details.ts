/**
 * One run's details as `floxide runs show` and the dashboard's run page both show them: the run record, its
 * metrics, errors, dead letters, context, step history (when the store keeps one) and the workers holding its items.
 * The holders rule lives here once: a worker holds an item while the store says the item is in progress under its
 * lease (a killed worker's lease, until it expires and another worker takes the item); a finished run has none. A
 * worker's last heartbeat does not say it: a killed worker's stays, naming items others have finished since.
 */
import { CorruptStateError, RunNotFoundError, isSignalRefusal, serializeError, type SerializedError } from '../runtime/core/errors.js';
import {
  isFinalRunStatus,
  supportsObservation,
  type ContextSnapshot,
  type DeadLetter,
  type ErrorRecord,
  type PendingWork,
  type RunMetrics,
  type RunRecord,
  type TailOptions,
  type WorkerRecord,
} from '../runtime/distributed/contracts.js';
import type { StepRecord } from '../runtime/engine/events.js';
import { isDistributed, type RunsStore } from './store/runs-store.js';

/** A worker holding some of the run's items, with those items' ids. */
export interface RunHolder {
  readonly worker: WorkerRecord;
  readonly items: readonly string[];
}

export interface RunDetails {
  readonly run: RunRecord;
  readonly metrics: RunMetrics;
  readonly errors: readonly ErrorRecord[];
  readonly deadLetters: readonly DeadLetter[];
  /** The context; undefined when its stored initial value or a delta cannot be read ({@link contextError} says why). */
  readonly context: ContextSnapshot | undefined;
  /** Why the context cannot be read: a corrupt stored context or delta (the rest of the run is still shown). */
  readonly contextError?: CorruptStateError;
  /** Every executed attempt (the newest `limit` with one), oldest first; undefined when the store keeps no history. */
  readonly history: readonly StepRecord[] | undefined;
  /** Workers holding the run's items now (none once the run is final). */
  readonly holders: readonly RunHolder[];
  /**
   * The run's outstanding items (pending, in progress, waiting retry, parked) in enqueue order, the first `limit` with
   * one (`[]` once final).
   */
  readonly pending: readonly PendingWork[];
  /** What the run waits for ({@link waitsOf} all its parked items, with a `limit` too). */
  readonly waits: readonly RunWait[];
  /**
   * The parts of the run whose stored records cannot be read (a corrupt error record, dead letter or step history
   * entry), each shown empty in its place with this error: the rest of the run is still read.
   */
  readonly unreadable: readonly UnreadablePart[];
}

/** A part of a run's details that cannot be read, and why. */
export interface UnreadablePart {
  readonly part: 'errors' | 'dead letters' | 'step history';
  readonly error: CorruptStateError;
}

/**
 * A run record as data for `--json` and the dashboard: `corrupt` (fields of the stored record that cannot be read) as
 * a serialised error, and the times that cannot be read (NaN in the record) as null.
 */
export function runData(run: RunRecord): Omit<RunRecord, 'corrupt' | 'createdAt' | 'updatedAt'> & { createdAt: number | null; updatedAt: number | null; corrupt?: SerializedError } {
  const { corrupt, createdAt, updatedAt, ...rest } = run;
  return { ...rest, createdAt: knownTime(createdAt), updatedAt: knownTime(updatedAt), ...(corrupt ? { corrupt: serializeError(corrupt) } : {}) };
}

/**
 * What an orphaned run ({@link RunRecord.orphaned}: a checkpoint file's running run no live process holds) is, in words:
 * `orphaned: no process holds it since <time>; resume(store, runId) continues it` (the time: its owner's last heartbeat,
 * else the run's last change); undefined for any other run. `runs list`, `runs show` and the dashboard say it alike.
 */
export function orphanText(run: RunRecord, time: (ms: number) => string): string | undefined {
  if (!run.orphaned) return undefined;
  return `orphaned: no process holds it since ${time(run.owner?.lastSeen ?? run.updatedAt)}; resume(store, runId) continues it`;
}

/**
 * The process running a checkpointed run ({@link RunRecord.owner}) in words: `process 4242 on web-1 (alive), last
 * heartbeat 3 s ago`; `none` for a running run whose file keeps no claim; undefined for a run that has no owner to show
 * (a distributed or a finished one).
 */
export function ownerLine(run: RunRecord, now: number): string | undefined {
  if (run.orphaned === undefined) return undefined;
  const o = run.owner;
  if (!o) return 'none';
  const seen = o.lastSeen === undefined ? 'no heartbeat stored' : `last heartbeat ${Math.max(0, Math.round((now - o.lastSeen) / 1000))} s ago`;
  return `process ${o.pid} on ${o.host} (${o.liveness}), ${seen}`;
}

/** A run record's time as data: null for one that cannot be read (NaN in the record). */
export function knownTime(ms: number): number | null {
  return Number.isNaN(ms) ? null : ms;
}

/** The context as read: its snapshot, or the error of a corrupt stored context. */
type ContextRead = { readonly snapshot?: ContextSnapshot; readonly error?: CorruptStateError };

/** What `read` resolves to, or its `CorruptStateError` as a value; other errors are thrown. */
export async function orCorrupt<T>(read: Promise<T>): Promise<T | CorruptStateError> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof CorruptStateError) return err;
    throw err;
  }
}

/**
 * Reads one run's details. Throws `RunNotFoundError` for an unknown run. Corrupt stored data fails no read: a record
 * whose fields cannot be read is `run.corrupt`, a context that cannot be read is `contextError`, errors, dead letters
 * or a step history that cannot be read are empty and in `unreadable`.
 *
 * With `options.limit`, the step history, errors, dead letters and context deltas are the newest `limit` of each, read
 * as such by the store (a long run's page reads what it shows, not its whole history); `context.version` is still the
 * run's. Without it, all of them (`floxide runs show`).
 */
export async function readRunDetails(backend: RunsStore, runId: string, options: TailOptions = {}): Promise<RunDetails> {
  const run = await backend.getRun(runId);
  if (!run) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
  const [metrics, errors, deadLetters, context, workers, history, pending] = await Promise.all([
    backend.metrics(runId),
    orCorrupt(backend.errors(runId, options)),
    orCorrupt(backend.deadLetters(runId, options)),
    backend.readContext(runId, undefined, options).then(
      (snapshot): ContextRead => ({ snapshot }),
      (err: unknown): ContextRead => {
        if (err instanceof CorruptStateError) return { error: err };
        throw err;
      },
    ),
    isFinalRunStatus(run.status) ? Promise.resolve([]) : backend.listWorkers(),
    supportsObservation(backend) ? orCorrupt(backend.stepHistory(runId, options)) : Promise.resolve(undefined),
    // a finished distributed run has no outstanding items (WorkQueue.pendingWork): no read of its items (a failed
    // run of a checkpoint file keeps its pending items: it can be resumed)
    isFinalRunStatus(run.status) && isDistributed(backend) ? Promise.resolve({ first: [], heldOrParked: [] }) : outstandingItems(backend, runId, options.limit),
  ]);
  const unreadable: UnreadablePart[] = [];
  const readable = <T>(part: UnreadablePart['part'], value: T | CorruptStateError, none: T): T => {
    if (!(value instanceof CorruptStateError)) return value;
    unreadable.push({ part, error: value });
    return none;
  };
  // the items in progress, by the worker whose lease they are under
  const held = new Map<string, Set<string>>();
  for (const { state: s } of pending.heldOrParked) {
    if (s.status !== 'in_progress' || s.workerId === undefined) continue;
    const items = held.get(s.workerId) ?? new Set<string>();
    held.set(s.workerId, items.add(s.itemId));
  }
  const holders = workers.flatMap((worker) => {
    const items = held.get(worker.workerId);
    return items === undefined ? [] : [{ worker, items: [...items] }];
  });
  return {
    run,
    metrics,
    errors: readable('errors', errors, []),
    deadLetters: readable('dead letters', deadLetters, []),
    context: context.snapshot,
    ...(context.error ? { contextError: context.error } : {}),
    history: readable('step history', history, []),
    holders,
    pending: pending.first,
    waits: waitsOf(pending.heldOrParked),
    unreadable,
  };
}

/**
 * A run's outstanding items as its details and `runs list` show them: the first `limit` (all without one), and those
 * that say who holds the run and what it waits for (every item in progress or parked), each selected by the store, so
 * that a page of a run with 100,000 items waiting reads a page of them.
 */
export async function outstandingItems(backend: RunsStore, runId: string, limit: number | undefined): Promise<{ first: PendingWork[]; heldOrParked: PendingWork[] }> {
  if (limit === undefined) {
    const all = await backend.pendingWork(runId);
    return { first: all, heldOrParked: all };
  }
  const [first, heldOrParked] = await Promise.all([backend.pendingWork(runId, { limit }), backend.pendingWork(runId, { statuses: ['in_progress', 'parked'] })]);
  return { first, heldOrParked };
}

/**
 * A parked item of a run (issue 11): a `WaitFor` waiting for signal `signal` (until its timeout, when it has one),
 * or a `Sleep` sleeping until `until`.
 */
export interface RunWait {
  readonly itemId: string;
  readonly node: string;
  readonly kind: 'signal' | 'sleep';
  /** The signal a wait waits for. */
  readonly signal?: string;
  /** When the sleep ends, or the wait times out (epoch ms); undefined for a wait without a timeout. */
  readonly until?: number;
}

/**
 * A step's outcome as `runs show`, `runs watch` and the dashboard show it: a `continue` that carries an error is a
 * signal its wait refused (`refused`: the wait goes on waiting) or a failure its fallbacks took (`fallback`);
 * otherwise the outcome itself.
 */
export function stepOutcomeLabel(h: Pick<StepRecord, 'outcome' | 'error'>): StepRecord['outcome'] | 'fallback' | 'refused' {
  if (h.outcome !== 'continue' || h.error === undefined) return h.outcome;
  return isSignalRefusal(h.error) ? 'refused' : 'fallback';
}

/** The run's waits, from its outstanding items: parked items, less the waits a signal was already given to. */
export function waitsOf(pending: readonly PendingWork[]): RunWait[] {
  const out: RunWait[] = [];
  for (const { item, state } of pending) {
    if (state.status !== 'parked' || item.received !== undefined) continue;
    const until = state.notBefore ?? item.notBefore;
    if (item.wait) out.push({ itemId: item.id, node: item.node, kind: 'signal', signal: item.wait.name, ...(until !== undefined ? { until } : {}) });
    else if (item.sleep) out.push({ itemId: item.id, node: item.node, kind: 'sleep', ...(until !== undefined ? { until } : {}) });
  }
  return out;
}

/** What a run waits for, in words: `waiting for approval (times out <t>)`, `sleeping until <t>`. */
export function waitText(w: RunWait, time: (ms: number) => string): string {
  if (w.kind === 'sleep') return w.until === undefined ? 'sleeping' : `sleeping until ${time(w.until)}`;
  return `waiting for ${w.signal}${w.until === undefined ? '' : ` (times out ${time(w.until)})`}`;
}

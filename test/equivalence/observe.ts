/**
 * What the equivalence suite observes of one run, in a form that does not depend on the mode that ran it:
 *
 * - the result: the output, or the failure (normalised: a node failure is `NodeFailedError` + node + the node's
 *   error, however the mode reports it);
 * - the final context, as returned (`run`) or as the store folds it (every durable mode), with values JSON cannot
 *   carry tagged (`{$date}`, `{$map}`, `{$set}`, `{$number}` for NaN, the infinities and -0) so that a type change shows;
 * - the committed steps: one record per committed step with the node, its input, the attempt that succeeded, the
 *   messages of the attempts that failed before it, what it produced, its join arrivals and its context delta.
 *
 * Item ids are left out on purpose: local modes number items with a run-wide counter, distributed mode hashes
 * (parent id, child index), so the same step has another id in each mode. Event log ids derive from item ids (or are
 * random in `run`), so they are left out too. Records are compared as a multiset of (node, input, outcome):
 * distributed workers commit parallel branches in any order.
 */
import { EventLog, Fixed, mergeStrategiesOf, serializeError, settleJoinGroup, type AnyWorkflowDef, type Checkpoint, type CheckpointCommitResult, type CheckpointFailedStep, type StepRecord as HistoryRecord, type CheckpointStepCommit, type CheckpointStore, type CheckpointTerminalCommit, type ContextDelta, type EngineItem, type JoinArrival, type LocalStepDetail, type NewCheckpointRun, type SerializedError, type WorkflowEvent } from 'floxide';

/** A value with the types JSON cannot carry tagged, EventLogs reduced to their events, keys sorted. */
export type Normalized = null | boolean | number | string | Normalized[] | { [key: string]: Normalized };

/** Normalises any value for comparison (see the module comment). */
export function normalize(v: unknown): Normalized {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return !Number.isFinite(v) ? { $number: String(v) } : Object.is(v, -0) ? { $number: '-0' } : v;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  if (typeof v !== 'object') return { $unsupported: typeof v };
  if (Array.isArray(v)) return Array.from(v, member);
  if (v instanceof Date) return { $date: Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString() };
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [member(k), member(x)]) };
  if (v instanceof Set) return { $set: [...v].map(member) };
  if (v instanceof EventLog) return { $eventLog: v.events().map(normalize) };
  if (v instanceof Fixed) return { $fixed: normalize(v.value) };
  const out: { [key: string]: Normalized } = {};
  for (const key of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[key];
    if (x === undefined || typeof x === 'function') continue;
    out[key] = normalize(x);
  }
  return out;
}

/** An element of an array, a Set or a Map: `undefined` stays apart from `null` (as an absent property does not). */
const member = (x: unknown): Normalized => (x === undefined ? { $undefined: true } : normalize(x));

/** A run's output: `undefined` (a `void` output) stays apart from `null`. */
export const normalizeOutput = member;

/** Canonical text of a normalised value (keys are already sorted). */
export const textOf = (v: unknown): string => JSON.stringify(v);

/** Sorts by canonical text: the order-free form of a list. */
export function sortedByText<T>(values: readonly T[]): T[] {
  return values
    .map((v) => [textOf(v), v] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, v]) => v);
}

// ---------------------------------------------------------------------------------------------------------------
// Results and failures

/** An error reduced to what every mode can report. */
export interface Brief {
  readonly name: string;
  readonly message: string;
  /** An `AggregateError`'s errors, when it has any. */
  readonly errors?: readonly Brief[];
}

/**
 * How a run failed. A node failure with no fallback is `NodeFailedError` naming the node and carrying the node's
 * error: local modes throw exactly that; distributed mode stores the node's error on the run and dead-letters the
 * item (which names the node). Other failures (no terminal, deadline, cancellation) are compared by name only: their
 * messages name item ids and step counts, which differ between modes.
 */
export interface Failure {
  readonly error: string;
  readonly node?: string;
  readonly cause?: Brief;
}

export type RunOutcome = { readonly status: 'completed'; readonly output: Normalized } | { readonly status: 'failed'; readonly failure: Failure };

/** An error (thrown, or stored data) as every mode reports it: an Error through `serializeError`, as stores keep it. */
function briefOf(e: unknown): Brief {
  const data = e instanceof Error ? serializeError(e) : e;
  if (data === null || typeof data !== 'object') return { name: 'Error', message: String(data) };
  const { name, message, errors } = data as SerializedError;
  return { name: String(name), message: String(message), ...(Array.isArray(errors) ? { errors: errors.map(briefOf) } : {}) };
}

/** The chain of an error and its causes (for checks on what exactly a mode reports). */
export function chainOf(e: unknown): Brief[] {
  const out: Brief[] = [];
  for (let cur = e, i = 0; cur !== undefined && cur !== null && i < 8; cur = (cur as { cause?: unknown }).cause, i++) out.push(briefOf(cur));
  return out;
}

/** The failure of a local run from the error it threw. */
export function failureOfThrown(err: unknown): Failure {
  const b = briefOf(err);
  if (b.name === 'NodeFailedError') {
    const node = /^node "([^"]*)"/.exec(b.message)?.[1];
    const cause = (err as { cause?: unknown }).cause;
    return { error: b.name, ...(node === undefined ? {} : { node }), ...(cause === undefined ? {} : { cause: briefOf(cause) }) };
  }
  return { error: b.name };
}

/** The failure of a distributed run from its stored error and dead letters. */
export function failureOfStored(error: SerializedError | undefined, deadLetters: readonly { readonly item: EngineItem }[]): Failure {
  if (!error) return { error: 'unknown (the run record has no error)' };
  if (deadLetters.length > 0) return { error: 'NodeFailedError', node: deadLetters[0].item.node, cause: briefOf(error) };
  return { error: error.name };
}

// ---------------------------------------------------------------------------------------------------------------
// Committed steps

/** An item a step produced, without its id (and without its join frames, whose group ids are item ids). */
export interface ProducedItem {
  readonly node: string;
  readonly input: Normalized;
  /** Depth of the item's fan-out frame stack. */
  readonly depth: number;
  /** Set on fallback items: why the failed node failed. */
  readonly failure?: Normalized;
}

/** A join arrival a step parked, without its group id. */
export interface ParkedArrival {
  readonly node: string | null;
  readonly held: boolean;
  readonly value: Normalized;
  readonly index: number;
  readonly size: number;
  readonly depth: number;
}

export interface StepRecord {
  readonly node: string;
  readonly input: Normalized;
  /** The attempt that committed (the last one for a fallback). */
  readonly attempt: number;
  /** Messages of the failed attempts retried before it, in order. */
  readonly retries: readonly string[];
  readonly result: 'continue' | 'terminal';
  readonly produced: readonly ProducedItem[];
  /** Absent where the mode does not report them (`run` has no store to see them in). */
  readonly arrivals?: readonly ParkedArrival[];
  readonly delta?: Normalized;
  /** Set on a step that refused a signal's payload (its recorded error is a `SignalRefusedError`): that error's name. */
  readonly refused?: string;
}

/** The `refused` field of a step record whose error is `error`. */
function refusedOf(error: SerializedError | undefined): { refused?: string } {
  return error?.name === 'SignalRefusedError' ? { refused: error.name } : {};
}

function producedOf(items: readonly EngineItem[]): ProducedItem[] {
  return sortedByText(
    items.map((it) => ({
      node: it.node,
      input: normalize(it.input),
      depth: it.join?.length ?? 0,
      ...(it.failure ? { failure: normalize({ ...it.failure, message: it.failure.message.replace(INSTANT, '<instant>') }) } : {}),
    })),
  );
}

/** An ISO instant: a wait's timeout message names when it timed out, which each run has its own. */
const INSTANT = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;

function arrivalsOf(arrivals: readonly JoinArrival[]): ParkedArrival[] {
  return sortedByText(
    arrivals.map((a) => ({ node: a.node ?? null, held: a.held, value: normalize(a.value), index: a.index, size: a.size, depth: a.outer.length })),
  );
}

/**
 * The context fields of a definition whose values are event logs: their deltas carry `{id, event}` entries whose ids
 * derive from item ids, so only the events are compared.
 */
export function eventLogFieldsOf(def: AnyWorkflowDef): ReadonlySet<string> {
  const out = new Set<string>();
  for (const [k, s] of Object.entries(def.contextFields ?? {})) if (s === 'eventLog') out.add(k);
  if (def.contextClass) {
    for (const [k, m] of mergeStrategiesOf(def.contextClass)) if (m.strategy === 'eventLog') out.add(k);
    const fresh = new def.contextClass() as Record<string, unknown>;
    for (const k of Object.keys(fresh)) if (fresh[k] instanceof EventLog) out.add(k);
  }
  return out;
}

function deltaOf(delta: ContextDelta | undefined, eventLogs: ReadonlySet<string>): Normalized {
  if (delta === undefined) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(delta)) {
    out[k] = eventLogs.has(k) && Array.isArray(v) ? { $events: v.map((e: { event?: unknown }) => e?.event) } : v;
  }
  return normalize(out);
}

/** What a store commit (or a distributed commit) says a step did. */
export interface CommitFacts {
  readonly result: 'continue' | 'terminal';
  readonly items: readonly EngineItem[];
  readonly arrivals: readonly JoinArrival[];
  readonly delta: ContextDelta | undefined;
}

/**
 * Builds step records in the local modes from the engine's events (`step.finished` and `step.retry`) and, in the durable modes,
 * the store commits they precede: a step counts once its commit is in the store.
 */
export class LocalStepRecorder {
  readonly records: StepRecord[] = [];
  private readonly executed = new Map<string, { readonly node: string; readonly attempt: number; readonly local: LocalStepDetail; readonly error: SerializedError | undefined }>();
  private readonly retries = new Map<string, string[]>();

  /**
   * @param storeCommits true in the durable modes (records come from commits); false for `run`, where a step event
   *   is the record (without arrivals and delta, which only a store sees).
   * @param onRecord called with each new record (the crash child prints them).
   */
  constructor(
    private readonly eventLogs: ReadonlySet<string>,
    private readonly storeCommits: boolean,
    private readonly onRecord?: (r: StepRecord) => void,
  ) {}

  readonly onEvent = (e: WorkflowEvent): void => {
    if (e.type === 'step.retry') {
      const list = this.retries.get(e.itemId) ?? [];
      list.push(e.error.message);
      this.retries.set(e.itemId, list);
    } else if (e.type === 'step.finished' && e.local) {
      const local = e.local;
      if (this.storeCommits) this.executed.set(e.itemId, { node: e.node, attempt: e.attempt, local, error: e.error });
      else {
        this.add({
          node: e.node,
          input: normalize(local.input),
          attempt: e.attempt,
          retries: this.retries.get(e.itemId) ?? [],
          result: local.transition === 'terminal' ? 'terminal' : 'continue',
          produced: producedOf(local.produced),
          ...refusedOf(e.error),
        });
      }
    }
  };

  /** A store applied the commit of `itemId`. */
  committed(itemId: string, facts: CommitFacts): void {
    const e = this.executed.get(itemId);
    if (!e) throw new Error(`the store committed item ${itemId}, but no step event came before it`);
    this.executed.delete(itemId);
    this.add({
      node: e.node,
      input: normalize(e.local.input),
      attempt: e.attempt,
      retries: this.retries.get(itemId) ?? [],
      result: facts.result,
      produced: producedOf(facts.items),
      arrivals: arrivalsOf(facts.arrivals),
      delta: deltaOf(facts.delta, this.eventLogs),
      ...refusedOf(e.error),
    });
  }

  private add(r: StepRecord): void {
    this.records.push(r);
    this.onRecord?.(r);
  }
}

/**
 * The item a leased item ran as: a settlement item (a completed fan-out group, `item.settle`) runs as its join item,
 * with the group's values as input, as the local modes' step events report it; a group of holds stays as it is.
 */
function ranItem(item: EngineItem): EngineItem {
  if (!item.settle || item.settle.length === 0) return item;
  const settled = settleJoinGroup(item.settle[0].group, item.settle);
  return settled !== undefined && 'id' in settled ? settled : item;
}

/** Builds step records in distributed mode from the workers' applied commits (`StepCallbacks.onCommitted`). */
export class DistributedStepRecorder {
  readonly records: StepRecord[] = [];
  private readonly retries = new Map<string, string[]>();

  constructor(private readonly eventLogs: ReadonlySet<string>) {}

  committed(item: EngineItem, attempt: number, outcome: { readonly type: string } & Partial<CommitFacts> & { readonly error?: SerializedError }): void {
    if (outcome.type === 'retry') {
      const list = this.retries.get(item.id) ?? [];
      list.push(outcome.error?.message ?? '');
      this.retries.set(item.id, list);
      return;
    }
    if (outcome.type !== 'continue' && outcome.type !== 'terminal') return;
    const ran = ranItem(item);
    this.records.push({
      node: ran.node,
      input: normalize(ran.input),
      attempt,
      retries: this.retries.get(item.id) ?? [],
      result: outcome.type,
      // A terminal's other products are dropped, not committed: the local stores never see them either.
      produced: outcome.type === 'terminal' ? [] : producedOf(outcome.items ?? []),
      arrivals: outcome.type === 'terminal' ? [] : arrivalsOf(outcome.arrivals ?? []),
      delta: deltaOf(outcome.delta, this.eventLogs),
      ...refusedOf(outcome.error),
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A checkpoint store that reports its commits (and can freeze a run at a chosen commit, for the crash child)

/** Where the crash child stops a run: before the `commit`-th commit is applied, or right after it. */
export interface FreezePoint {
  readonly commit: number;
  readonly phase: 'before' | 'after';
  /** Called once, when the run reaches the point (it then never continues: the process is killed). */
  readonly onFreeze: () => void;
}

const never = () => new Promise<never>(() => undefined);

/** Delegates to a real store and tells the recorder what each commit applied. */
export class ObservedCheckpointStore implements CheckpointStore {
  /** Commits applied through this wrapper (steps and the terminal). */
  commits = 0;
  private reached = 0;

  constructor(
    private readonly inner: CheckpointStore,
    private readonly recorder: LocalStepRecorder,
    private readonly freeze?: FreezePoint,
  ) {}

  createRun(run: NewCheckpointRun): Promise<boolean> {
    return this.inner.createRun(run);
  }

  load(runId: string): Promise<Checkpoint | undefined> {
    return this.inner.load(runId);
  }

  getRun(runId: string) {
    return this.inner.getRun(runId);
  }

  async commitStep(runId: string, commit: CheckpointStepCommit): Promise<CheckpointCommitResult> {
    const last = await this.beforeCommit();
    const r = await this.inner.commitStep(runId, commit);
    if (r.applied) {
      this.commits++;
      this.recorder.committed(commit.itemId, { result: 'continue', items: commit.items, arrivals: commit.arrivals, delta: commit.delta });
    }
    if (last) return this.stop();
    return r;
  }

  async complete(runId: string, commit: CheckpointTerminalCommit): Promise<{ dropped: readonly EngineItem[] }> {
    const last = await this.beforeCommit();
    const r = await this.inner.complete(runId, commit);
    this.commits++;
    this.recorder.committed(commit.itemId, { result: 'terminal', items: [], arrivals: [], delta: commit.delta });
    if (last) return this.stop();
    return r;
  }

  fail(runId: string, error: SerializedError, step?: CheckpointFailedStep): Promise<void> {
    return this.inner.fail(runId, error, step);
  }

  stepHistory(runId: string): Promise<HistoryRecord[]> {
    return this.inner.stepHistory(runId);
  }

  cancel(runId: string, reason?: SerializedError): Promise<boolean> {
    return this.inner.cancel(runId, reason);
  }

  reopen(runId: string): Promise<void> {
    return this.inner.reopen(runId);
  }

  migrate(runId: string, migration: Parameters<CheckpointStore['migrate']>[1]): Promise<void> {
    return this.inner.migrate(runId, migration);
  }

  signal(runId: string, name: string, payload: unknown, key?: string) {
    return this.inner.signal(runId, name, payload, key);
  }

  takeSignal(runId: string, name: string, itemId: string) {
    return this.inner.takeSignal(runId, name, itemId);
  }

  pendingSignals(runId: string) {
    return this.inner.pendingSignals(runId);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Stops for good before this commit when it is the freeze point; says whether to stop right after it. */
  private async beforeCommit(): Promise<boolean> {
    const n = ++this.reached;
    if (!this.freeze || n !== this.freeze.commit) return false;
    if (this.freeze.phase === 'before') return this.stop();
    return true;
  }

  private stop(): Promise<never> {
    this.freeze!.onFreeze();
    return never();
  }
}

/**
 * The checkpoint store contract for the local durable modes (`runWithCheckpoint`, `resume`). A store keeps, per
 * run: the run record (fingerprint, input, deadline, status, output...), the initial context, an append-only list
 * of context deltas (one per committed step, keyed by the consumed item's id), the pending work items in queue
 * order, and parked join arrivals. Every write is one atomic operation; bytes written per step are the step's
 * delta and item changes, never the whole state.
 *
 * Implementations: {@link MemoryCheckpointStore} (tests) and {@link SqliteCheckpointStore} (the embedded default).
 * Both pass the same conformance suite (`test/runtime/checkpoint-store.contract.ts`).
 */
import { CancelledError, FingerprintMismatchError, type SerializedError } from '../core/errors.js';
import type { ContextDelta, EngineItem, JoinArrival } from '../engine/types.js';
import type { PendingSignal, SignalDelivery, SignalReceipt } from '../engine/parked.js';
import type { RetriedAttempt, StepHistoryEntry, StepRecord } from '../engine/events.js';
import { renamedItem, type VersionMove, type VersionMoves } from '../engine/migration.js';
import type { RunOwner } from './ownership.js';
import type { TailOptions } from '../core/validate.js';

export type { PendingSignal, SignalDelivery, SignalReceipt, RetriedAttempt, StepHistoryEntry };

/** Every status of a checkpointed run (the one list: the SQLite schema's CHECK lists the same). */
export const CHECKPOINT_STATUSES = ['running', 'completed', 'failed', 'cancelled'] as const;

/** `running` (including interrupted runs), `completed`, `failed` (resumable), `cancelled` (final). */
export type CheckpointStatus = (typeof CHECKPOINT_STATUSES)[number];

/** What {@link CheckpointStore.createRun} saves before the first step. */
export interface NewCheckpointRun {
  readonly runId: string;
  /** The workflow class name. */
  readonly workflow: string;
  readonly fingerprint: string;
  /** The run input (JSON data). */
  readonly input: unknown;
  /** The serialised initial context (JSON data). */
  readonly context: unknown;
  /** Absolute deadline in epoch ms, if any. */
  readonly deadline: number | undefined;
  /** The start item (id `"0"`). */
  readonly start: EngineItem;
  /** The run span's W3C `traceparent` when the run is traced (runtime/core/trace-context.ts). */
  readonly traceparent?: string;
}

/** A stored run. */
export interface CheckpointRun extends VersionMoves {
  readonly runId: string;
  readonly workflow: string;
  readonly fingerprint: string;
  readonly input: unknown;
  readonly status: CheckpointStatus;
  readonly deadline: number | undefined;
  /** The terminal output, once `completed`. */
  readonly output: unknown;
  /** Why the run failed or was cancelled. */
  readonly error: SerializedError | undefined;
  /** Items that were still queued when the first terminal completed the run. */
  readonly dropped: readonly EngineItem[];
  /** The run-wide child id counter as of the last commit. */
  readonly counter: number;
  /** Committed steps. */
  readonly steps: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The run span's W3C `traceparent`, when the run was started traced: a resume continues that trace. */
  readonly traceparent?: string;
}

/** Everything needed to continue a run. */
export interface Checkpoint {
  readonly run: CheckpointRun;
  /** The serialised initial context; fold {@link deltas} over it to get the current one. */
  readonly context: unknown;
  /** Committed deltas in commit order. */
  readonly deltas: readonly ContextDelta[];
  /** Pending items in queue order. */
  readonly items: readonly EngineItem[];
  /** Join arrivals parked in groups that have not completed. */
  readonly arrivals: readonly JoinArrival[];
}

/** One step's effects, committed atomically by {@link CheckpointStore.commitStep}. */
export interface CheckpointStepCommit {
  /** The consumed item: the commit's key (a second commit of the same item id applies nothing). */
  readonly itemId: string;
  readonly items: readonly EngineItem[];
  readonly arrivals: readonly JoinArrival[];
  readonly delta: ContextDelta | undefined;
  /** The child id counter after the step. */
  readonly counter: number;
  /** This step's position in the run's commit order: committed steps before it + 1. */
  readonly seq: number;
  /** The step's history record (absent: the step is committed without one). */
  readonly history?: StepHistoryEntry;
  /**
   * The graph the step ran on: a run moved to another meanwhile (`floxide runs migrate` while this process ran it)
   * refuses the commit with {@link movedRunError}, so no step of the old graph lands on the new one.
   */
  readonly fingerprint?: string;
  /**
   * The claim of the call committing (`CheckpointStore.claim`): a run another call took over meanwhile (this one's
   * claim went stale, ownership.ts) refuses the commit with a `RunBusyError` (ownership.ts `takenOverError`), so a call that lost its run
   * commits nothing more of it. Absent: no check (a store without claims, or a caller that holds none).
   */
  readonly owner?: RunOwner;
}

/** The refusal of a commit made on graph `mine` to a run that was moved to graph `stored` while the step ran. */
export function movedRunError(runId: string, stored: string, mine: string): FingerprintMismatchError {
  return new FingerprintMismatchError(
    `run ${runId} was moved to graph ${stored} (floxide runs migrate) while this process ran it on graph ${mine}: its commit is refused and the run stays where the move left it; resume it with the build of graph ${stored}`,
  );
}

/** What a call that finds run `run` cancelled (when it starts, or while its items are parked) throws. */
export function cancelledRunError(run: Pick<CheckpointRun, 'runId' | 'error'>): CancelledError {
  return new CancelledError(`run ${run.runId} was cancelled${run.error ? `: ${run.error.message}` : ''}`);
}

export interface CheckpointCommitResult {
  /** false when this item was already committed (nothing was applied). */
  readonly applied: boolean;
  /**
   * Settlement items (`<group>:join`, the parked arrivals as stored: see `engine/joins.ts`) enqueued because this step
   * completed their groups, in creation order.
   */
  readonly created: readonly EngineItem[];
}

/** The terminal step: its commit plus the run's completion, atomically. */
export interface CheckpointTerminalCommit {
  readonly itemId: string;
  readonly output: unknown;
  readonly delta: ContextDelta | undefined;
  readonly counter: number;
  /** This step's position in the run's commit order. */
  readonly seq: number;
  /** The step's history record (outcome `terminal`). */
  readonly history?: StepHistoryEntry;
  /** The graph the step ran on (see {@link CheckpointStepCommit.fingerprint}). */
  readonly fingerprint?: string;
  /** The committing call's claim (see {@link CheckpointStepCommit.owner}). */
  readonly owner?: RunOwner;
}

/** The step that failed a run ({@link CheckpointStore.fail}): its history record, outcome `failed`. */
export interface CheckpointFailedStep extends StepHistoryEntry {
  /** The item that failed (it stays pending: `resume` runs it again). */
  readonly itemId: string;
  /** The failing call's claim (see {@link CheckpointStepCommit.owner}). */
  readonly owner?: RunOwner;
}

/** What {@link CheckpointStore.migrate} does to a run: move it from graph `from` to graph `to`. */
export type CheckpointMigration = VersionMove;

export { renamedItem };

/**
 * The step history records of one step: each retried attempt (`retry`), then the attempt that ended it with
 * `outcome` (`error` for a `failed` one, or for a `continue` whose fallbacks took the failure). `workerId`: the
 * process that ran it, when the store knows it.
 */
export function stepRecordsOf(
  runId: string,
  itemId: string,
  h: StepHistoryEntry,
  outcome: 'continue' | 'terminal' | 'failed',
  error: SerializedError | undefined,
  workerId: string | undefined,
): StepRecord[] {
  const out: StepRecord[] = [];
  for (const r of h.retries ?? []) {
    out.push({ runId, node: h.node, itemId, attempt: r.attempt, workerId, startedAt: r.startedAt, finishedAt: r.finishedAt, outcome: 'retry', error: r.error });
  }
  out.push({ runId, node: h.node, itemId, attempt: h.attempt, workerId, startedAt: h.startedAt, finishedAt: h.finishedAt, outcome, error });
  return out;
}

/**
 * A checkpoint store. All methods validate the run id (`assertRunId`, runtime/core/ids.ts) and reject with typed errors:
 * `RunInputMismatchError`, `RunNotFoundError`, `RunStateError` (writing to a finished run), `CorruptStateError`
 * (unreadable stored data), `StoreError` (the backend failed).
 */
export interface CheckpointStore {
  /**
   * Saves the run record, the initial context and the start item in one transaction, before any step runs.
   * Returns false when the run already exists with the same input (nothing is written); a different input is a
   * `RunInputMismatchError`.
   */
  createRun(run: NewCheckpointRun): Promise<boolean>;
  /** The run and its state, or undefined when no run has this id. */
  load(runId: string): Promise<Checkpoint | undefined>;
  /** The run record only (cheap), or undefined. */
  getRun(runId: string): Promise<CheckpointRun | undefined>;
  /**
   * One transaction: consume `itemId`, insert the produced items, append the delta, park the arrivals (enqueueing
   * the settlement item of every group they complete; the engine settles it), save the counter. Idempotent per item
   * id. `RunStateError` when the run is not `running`.
   */
  commitStep(runId: string, commit: CheckpointStepCommit): Promise<CheckpointCommitResult>;
  /**
   * One transaction: commit the terminal step, store the output, mark the run `completed` and move every other
   * pending item to `dropped` (returned). `RunStateError` when the run is not `running`.
   */
  complete(runId: string, commit: CheckpointTerminalCommit): Promise<{ dropped: readonly EngineItem[] }>;
  /**
   * Marks a running run `failed` with `error` (its pending items stay, so `resume` can retry). With `step` (a node
   * failure no fallback took), its history record is written in the same transaction.
   */
  fail(runId: string, error: SerializedError, step?: CheckpointFailedStep): Promise<void>;
  /** Marks a running or failed run `cancelled` (final). Returns false when it had already finished. */
  cancel(runId: string, reason?: SerializedError): Promise<boolean>;
  /** Marks a `failed` run `running` again before it is resumed (no-op when running). */
  reopen(runId: string): Promise<void>;
  /**
   * Makes `owner` the run's owner (runtime/stores/ownership.ts): one transaction that reads the stored owner and
   * refuses with `RunBusyError` when another owner lives (nothing written then). With `refresh` (the heartbeat of
   * a call that holds the run), only refreshes a claim `owner` still holds: another owner's, even a dead one's, or
   * none (the call looked dead and was taken over) is `RunBusyError` (ownership.ts `takenOverError`), and a run
   * cancelled meanwhile is `RunStateError` (the call stops its node: `assertRefreshable`). The engine
   * claims a run before it runs any of its steps and refreshes the claim while it runs; a store without claims
   * (this method absent) leaves running a run twice to its caller.
   */
  claim?(runId: string, owner: RunOwner, refresh?: boolean): Promise<void>;
  /**
   * The heartbeat of many claims in one call (one transaction; runtime/stores/claim-heartbeat.ts calls it once per
   * process every 10 s for all the claims it holds): per claim, in order, undefined when refreshed, else the error
   * `claim(runId, owner, true)` would throw (nothing written for it).
   */
  refreshClaims?(claims: ReadonlyArray<{ runId: string; owner: RunOwner }>): Promise<ReadonlyArray<Error | undefined>>;
  /** Clears the claim when `owner` holds it (the call that ran the run ended); another owner's claim stays. */
  release?(runId: string, owner: RunOwner): Promise<void>;
  /**
   * One transaction: moves a `running` or `failed` run from graph `migration.from` to `migration.to`, rewriting its
   * pending items' node names by `migration.renames` ({@link renamedItem}). Whether the move is type-safe is the
   * caller's question (`migrateRun`, compiler/versions/migrate.ts). Another current fingerprint:
   * `FingerprintMismatchError`; a completed or cancelled run: `RunStateError`. Nothing is written then.
   */
  migrate(runId: string, migration: CheckpointMigration): Promise<void>;
  /**
   * Keeps a signal in the run's mailbox (run `name`, JSON `payload`, checked by the caller) until a wait item takes
   * it ({@link takeSignal}). `duplicate` (nothing kept) when the run already received a signal with this `key` and the
   * same name and payload digest (even once it finished); `SignalKeyConflictError` (nothing kept) when that signal had
   * another name or payload (`keyConflict` in core/signal-plan.ts).
   * `RunStateError` for a completed or cancelled run, `RunNotFoundError` for an unknown one.
   */
  signal(runId: string, name: string, payload: unknown, key?: string): Promise<SignalDelivery>;
  /**
   * The signal of wait item `itemId`: the one already given to it, else the oldest signal `name` nobody took (given
   * to it now, durably), else undefined. Asked again after a crash, it answers the same.
   */
  takeSignal(runId: string, name: string, itemId: string): Promise<{ payload: unknown } | undefined>;
  /**
   * A value that changes whenever a signal or a cancel may have reached any run of the store since it was read (by
   * another process or by this store). A run waiting in this process reads its mailbox every `signalPollMs` only when
   * it changed (runtime/workflow/signals.ts): without it, every waiting run reads the store every poll.
   */
  arrivalMark?(): string;
  /** Signals no wait took yet, oldest first. */
  pendingSignals(runId: string): Promise<PendingSignal[]>;
  /**
   * The run's step history, oldest first: one record per attempt the commits above described (`history` of
   * {@link commitStep} and {@link complete}: outcome `continue` / `terminal`, each retried attempt before it:
   * `retry`; `step` of {@link fail}: `failed`). Kept as long as the run is (a SQLite file keeps it in the journal row
   * of the step). `workerId`: the process that ran the step when the store knows it (SQLite: `<host>:<pid>`).
   * With `options.limit`, only the newest `limit` records (read as such). Throws `RunNotFoundError` for an unknown
   * run, `InvalidArgumentError` for a `limit` that is not a positive integer.
   */
  stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]>;
  /** Releases resources (closes the database). */
  close(): Promise<void>;
}

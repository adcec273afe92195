/**
 * What every mode reports about a run: ONE typed event union ({@link WorkflowEvent}) for local runs (`onEvent`) and
 * for stores (their subscriptions, {@link EventSubscriber}), the step history a store keeps ({@link StepRecord},
 * {@link StepHistoryReader}), and what a finished local run returns ({@link RunResult}). Types only.
 *
 * Adding an event (waits, signals, timers): add a member to {@link WorkflowEvent} with a new dotted `type` (`wait.*`,
 * `signal.*`, `timer.*`) and the {@link EventBase} fields; consumers switch on `type` and ignore types they do not
 * know, so a new member breaks no reader.
 */
import type { SerializedError } from '../core/errors.js';
import type { TailOptions } from '../core/validate.js';
import type { DroppedItem, EngineItem } from './types.js';

/**
 * How one attempt of a step ended, as its commit recorded it. `continue`: it succeeded and the run goes on (a
 * fallback that took the failure counts as `continue`, with the failure as its `error`); `terminal`: it completed the run; `retry`: it failed and will
 * be tried again; `failed`: it failed for good and failed the run.
 */
export type StepOutcomeKind = 'continue' | 'terminal' | 'retry' | 'failed';

/** One executed attempt of a step, as a store's history keeps it (oldest first, within the store's retention). */
export interface StepRecord {
  readonly runId: string;
  readonly node: string;
  readonly itemId: string;
  /** 1-based. */
  readonly attempt: number;
  /**
   * The distributed worker that ran it; for a run checkpointed in SQLite, the process (`<host>:<pid>`); undefined
   * otherwise.
   */
  readonly workerId: string | undefined;
  /** When the attempt started (epoch ms): in distributed modes, when the item was leased (the store's clock). */
  readonly startedAt: number;
  /** When its outcome was committed (epoch ms; the store's clock in distributed modes). */
  readonly finishedAt: number;
  readonly outcome: StepOutcomeKind;
  /**
   * Why the attempt failed (`retry`, `failed`, and a `continue` whose fallbacks took the failure), or the signal a wait
   * refused (a `continue` whose error is a `SignalRefusedError`: `isSignalRefusal`).
   */
  readonly error: SerializedError | undefined;
}

/** An attempt of a step that failed and was tried again in process (local runs retry inline). */
export interface RetriedAttempt {
  readonly attempt: number;
  /** Epoch ms, on the run's clock. */
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly error: SerializedError;
}

/**
 * What a step adds to its run's step history in the local durable modes (a checkpoint store keeps it with the commit
 * it describes): the attempt that ended the step and the attempts of it retried before.
 */
export interface StepHistoryEntry {
  /** The node that ran (for a settlement item: the join node, or the item's node when every arrival held). */
  readonly node: string;
  /** The attempt that ended the step (1-based). */
  readonly attempt: number;
  /** When that attempt started (epoch ms, on the run's clock). */
  readonly startedAt: number;
  /** When it ended. */
  readonly finishedAt: number;
  /** Attempts retried before it, oldest first (absent: none). */
  readonly retries?: readonly RetriedAttempt[];
  /** Set when that attempt failed and the node's fallbacks took its input: the failure; or the signal a wait refused. */
  readonly error?: SerializedError;
}

/** Fields every event has. */
export interface EventBase {
  readonly runId: string;
  /** When it happened (epoch ms; the store's clock for events a store emits). */
  readonly at: number;
}

/** How a local step's node answered (local modes only: see {@link StepFinishedEvent.local}). */
export type LocalTransition = 'next' | 'nextAll' | 'hold' | 'terminal' | 'fallback' | 'wait' | 'sleep';

/** What a local run knows of a step in process and no store carries: its values. */
export interface LocalStepDetail {
  /** How the node answered. `fallback`: it failed and its fallbacks got the input. */
  readonly transition: LocalTransition;
  readonly input: unknown;
  /** The value (`next`, `terminal`) or values (`nextAll`) the node produced. */
  readonly output: unknown;
  /** The items the step enqueued (join arrivals excluded). */
  readonly produced: readonly EngineItem[];
}

/** A run was created (its record, initial context and start item saved; in `run`, the run began). */
export interface RunCreatedEvent extends EventBase {
  readonly type: 'run.created';
  readonly workflow: string;
}

/** An attempt of a step began (distributed: the item was leased to `workerId`). */
export interface StepStartedEvent extends EventBase {
  readonly type: 'step.started';
  readonly node: string;
  readonly itemId: string;
  readonly attempt: number;
  readonly workerId: string | undefined;
}

/** An attempt of a step ended with a commit that was not a retry. */
export interface StepFinishedEvent extends EventBase {
  readonly type: 'step.finished';
  readonly node: string;
  readonly itemId: string;
  readonly attempt: number;
  readonly workerId: string | undefined;
  readonly startedAt: number;
  readonly outcome: 'continue' | 'terminal' | 'failed';
  /**
   * Set when `outcome` is `failed`, for a `continue` whose fallbacks took the failure, and for a `continue` of a wait that
   * refused the signal it took (a `SignalRefusedError`: the wait parked again; `isSignalRefusal` tells the two apart).
   */
  readonly error: SerializedError | undefined;
  /** Present in local modes only (`run`, `runWithCheckpoint`, `resume` with `onEvent`): the step's values. */
  readonly local?: LocalStepDetail;
}

/** An attempt of a step failed and the step will be tried again after `delayMs`. */
export interface StepRetryEvent extends EventBase {
  readonly type: 'step.retry';
  readonly node: string;
  readonly itemId: string;
  /** The attempt that failed. */
  readonly attempt: number;
  readonly workerId: string | undefined;
  readonly startedAt: number;
  readonly delayMs: number;
  readonly error: SerializedError;
}

/** The run completed with `output` (its first terminal output). */
export interface RunCompletedEvent extends EventBase {
  readonly type: 'run.completed';
  readonly output: unknown;
  /** Items still queued (or produced by the terminal step) that will never run. */
  readonly dropped: readonly DroppedItem[];
}

/** The run failed (a node failure no fallback took, no terminal reached, its deadline). */
export interface RunFailedEvent extends EventBase {
  readonly type: 'run.failed';
  readonly error: SerializedError;
}

/** The run was cancelled (`error` is the `CancelledError`, with the reason given). */
export interface RunCancelledEvent extends EventBase {
  readonly type: 'run.cancelled';
  readonly error: SerializedError;
}

/** A distributed run was paused: workers claim none of its items until it is resumed. */
export interface RunPausedEvent extends EventBase {
  readonly type: 'run.paused';
}

/** A paused distributed run was resumed. */
export interface RunResumedEvent extends EventBase {
  readonly type: 'run.resumed';
}

/**
 * The run was moved from graph version `from` to `to` (`floxide runs migrate`, `migrateRun`, or a worker whose build
 * accepts the run's version), its pending items' nodes renamed by `renames`. Reported atomically with the move.
 */
export interface RunMigratedEvent extends EventBase {
  readonly type: 'run.migrated';
  readonly from: string;
  readonly to: string;
  /** Old node name -> new node name (empty: no rename). */
  readonly renames: Readonly<Record<string, string>>;
  /** The worker (for a checkpointed run, the process `<host>:<pid>`) that moved it; undefined: an operator did. */
  readonly workerId: string | undefined;
}

/** A `WaitFor` item parked until signal `signal` comes (or its timeout, at `timeoutAt`). */
export interface WaitStartedEvent extends EventBase {
  readonly type: 'wait.started';
  readonly node: string;
  readonly itemId: string;
  readonly signal: string;
  /** When the wait times out (epoch ms); absent for a wait without a timeout. */
  readonly timeoutAt?: number;
}

/** A wait's timeout passed without its signal: its node fails with `SignalTimeoutError` (retries, fallbacks apply). */
export interface WaitTimedOutEvent extends EventBase {
  readonly type: 'wait.timedOut';
  readonly node: string;
  readonly itemId: string;
  readonly signal: string;
}

/**
 * The run received signal `name`: given to the parked wait `itemId`, or (no `itemId`) kept in the run's mailbox for
 * the next wait on `name`. A repeat of an idempotency key is not received again (no event).
 */
export interface SignalReceivedEvent extends EventBase {
  readonly type: 'signal.received';
  readonly name: string;
  readonly itemId?: string;
  readonly key?: string;
}

/** A `Sleep` item parked until `until` (epoch ms). */
export interface TimerStartedEvent extends EventBase {
  readonly type: 'timer.started';
  readonly node: string;
  readonly itemId: string;
  readonly until: number;
}

/** A sleep's time came: its item is claimable again (fired once). */
export interface TimerFiredEvent extends EventBase {
  readonly type: 'timer.fired';
  readonly node: string;
  readonly itemId: string;
}

/**
 * Everything a run reports, in every mode. Per run, events come in the order they happened: `run.created` first,
 * then per attempt `step.started` before its `step.finished` / `step.retry`, and one final `run.completed`,
 * `run.failed` or `run.cancelled` last (distributed: commits that arrive after the run finished report nothing).
 */
export type WorkflowEvent =
  | RunCreatedEvent
  | StepStartedEvent
  | StepFinishedEvent
  | StepRetryEvent
  | RunCompletedEvent
  | RunFailedEvent
  | RunCancelledEvent
  | RunPausedEvent
  | RunResumedEvent
  | RunMigratedEvent
  | WaitStartedEvent
  | WaitTimedOutEvent
  | SignalReceivedEvent
  | TimerStartedEvent
  | TimerFiredEvent;

/** Every event type (the one list). */
export const WORKFLOW_EVENT_TYPES = [
  'run.created',
  'step.started',
  'step.finished',
  'step.retry',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'run.paused',
  'run.resumed',
  'run.migrated',
  'wait.started',
  'wait.timedOut',
  'signal.received',
  'timer.started',
  'timer.fired',
] as const satisfies readonly WorkflowEvent['type'][];

/** True for the events after which a run reports nothing more. */
export function isFinalEvent(e: WorkflowEvent): boolean {
  return e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled';
}

/** The history record of a step event (`step.finished`, `step.retry`). */
export function stepRecordOf(e: StepFinishedEvent | StepRetryEvent): StepRecord {
  return {
    runId: e.runId,
    node: e.node,
    itemId: e.itemId,
    attempt: e.attempt,
    workerId: e.workerId,
    startedAt: e.startedAt,
    finishedAt: e.at,
    outcome: e.type === 'step.retry' ? 'retry' : e.outcome,
    error: e.error,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading history and subscribing: the store side

/** An event as a subscription delivers it, with the cursor to resume after it. */
export interface EventEnvelope {
  /** Opaque, ordered within one store: pass it as {@link SubscribeOptions.after} to continue after this event. */
  readonly cursor: string;
  readonly event: WorkflowEvent;
}

export interface SubscribeOptions {
  /** Only this run's events. */
  readonly runId?: string;
  /**
   * Continue after this cursor (from an {@link EventEnvelope}). Omitted: from the oldest event the store still
   * retains, so a subscriber started before a run sees all of it. The literal `'now'`: only events after the call.
   */
  readonly after?: string;
  /** Ends the iteration (the iterator returns; no error). */
  readonly signal?: AbortSignal;
  /**
   * Told when the store has held committed events back for {@link heldAfterMs} (Postgres: behind a transaction still
   * open on the server, docs/distributed.md), with what holds them when the server shows it; told again with
   * `undefined` once they flow. Held events are not lost: they come when the holder ends. Stores that never hold
   * events back (memory, Redis) never call it.
   */
  readonly onHeld?: (held: EventsHeld | undefined) => void;
  /** How long events must be held back before {@link onHeld} is told, in ms (default 5000). */
  readonly heldAfterMs?: number;
}

/** What {@link SubscribeOptions.onHeld} is told: since when events are held back, and by what. */
export interface EventsHeld {
  /** When the subscription first saw events held back (epoch ms). */
  readonly since: number;
  /**
   * The server's oldest open transaction that has written (Postgres `pg_stat_activity`): its process id, database
   * and start (epoch ms). Undefined when the server does not show it (a prepared transaction, or a session this
   * role may not see).
   */
  readonly holder?: { readonly pid: number; readonly database: string | undefined; readonly since: number | undefined };
}

/**
 * A live, resumable event feed. The iterable yields every retained event after `after`, then waits for new ones
 * (pushed by the store, not polled) until `signal` aborts or the consumer breaks. Events of one run come in order.
 * A subscriber that falls behind the store's retention gets `EventsLostError` rather than a silent gap.
 */
export interface EventSubscriber {
  subscribe(options?: SubscribeOptions): AsyncIterable<EventEnvelope>;
}

/** A store's step history. */
export interface StepHistoryReader {
  /**
   * The run's executed attempts, oldest first; with `options.limit`, only the newest `limit` of them (read as such:
   * a run page of a long run does not read its whole history). Throws `RunNotFoundError` for an unknown run,
   * `InvalidArgumentError` for a `limit` that is not a positive integer.
   */
  stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// Local runs

/** The result of a run with its bookkeeping (`runDetailed`). */
export interface RunResult<O = unknown, C = unknown> {
  readonly runId: string;
  /** The first terminal output. */
  readonly output: O;
  /** Items still queued (or produced alongside) when the first terminal completed the run: they never ran. */
  readonly dropped: readonly EngineItem[];
  /** Join arrivals still parked when the run completed (their join never ran). */
  readonly pendingArrivals: number;
  /** Steps executed (retries of one item count once). */
  readonly steps: number;
  readonly context: C;
}

/**
 * The engine's data types, shared by every mode and store: work items as the engine moves them, fan-out frames,
 * join arrivals, a step's outcome and the environment of one step. Types only: no behaviour lives here.
 */
import type { FailureInfo } from '../core/node.js';
import type { SerializedError } from '../core/errors.js';
import type { WorkItemBase } from '../graph/definition.js';
import type { ContextDelta } from '../context/codec.js';
import type { AbortSource } from './abort.js';
import type { Clock } from '../core/time.js';

export type { ContextDelta };

/** One level of fan-out an item belongs to: group `g` (the producing item's id), index `i` of `n`. */
export interface JoinFrame {
  readonly g: string;
  readonly i: number;
  readonly n: number;
}

/**
 * A work item as the engine moves it: the generated `{ node, id, input }` plus engine bookkeeping that never
 * appears in the generated type. Serialised as JSON in durable stores.
 */
export interface EngineItem extends WorkItemBase {
  /** Fan-out frames, innermost last. Absent when empty. */
  readonly join?: readonly JoinFrame[];
  /** Set on items created by a fallback edge. */
  readonly failure?: FailureInfo;
  /**
   * Set on a settlement item only (id `<group>:join`, no input): the parked arrivals of a completed fan-out group, in
   * index order, as the store kept them. The step core settles it (engine/joins.ts) before anything runs.
   */
  readonly settle?: readonly JoinArrival[];
  /**
   * Not claimable before this epoch ms: a sleep's wake-up time, or a wait's timeout. Set on a parked item only
   * (see `isParked` in parked.ts).
   */
  readonly notBefore?: number;
  /**
   * A parked wait (made by a node that returned a `wait` transition at `attempt`): it runs when signal `name`
   * arrives (the store sets {@link received}), or at {@link notBefore} without one, as a `SignalTimeoutError`.
   */
  readonly wait?: { readonly name: string; readonly attempt: number };
  /** The signal delivered to a parked wait: its payload becomes the node's output. */
  readonly received?: { readonly payload: unknown };
  /** A parked sleep: at {@link notBefore}, `value` goes on as the node's output. */
  readonly sleep?: { readonly value: unknown };
  /**
   * Set on a parked item whose wake-up ({@link notBefore}) is the run's deadline (distributed mode: the store keeps it
   * and wakes it then): without a signal, it wakes only to fail the run with `DeadlineExceededError`, whatever the
   * clock of the worker that takes it says (one behind the store's had not yet seen the deadline pass).
   */
  readonly byDeadline?: true;
  /**
   * A nested workflow's run that parked inside this item (the item of the nested workflow node): it waits as
   * {@link wait} (the nested run's first parked wait, its name qualified by the node) and wakes by {@link notBefore}
   * (the nested run's earliest timeout or timer); then the node runs again and the nested run continues from here.
   */
  readonly nested?: NestedState;
}

/**
 * The state of a nested workflow's run that parked (engine/core.ts, `runNested`): JSON, kept in its outer item by
 * every store. Its context is the outer run's (the park committed its writes).
 */
export interface NestedState {
  /** The outer item id the nested run started under: its run id and EventLog ids keep it across parks. */
  readonly key: string;
  /** The attempt of the outer node that parked. */
  readonly attempt: number;
  /** The nested run's parked items, in parking order (a nested one of its own carries its state). */
  readonly items: readonly EngineItem[];
  /** Its join arrivals of fan-out groups not complete yet. */
  readonly arrivals: readonly JoinArrival[];
  /** Its item counter (its item ids continue from it). */
  readonly counter: number;
  /** The id of the parked wait whose signal the outer item waits for (the first in parking order), if any. */
  readonly waiting: string | undefined;
}


/**
 * An item routed to a `@join()` node while inside a fan-out group (or a held item inside a group): it does not
 * run, it is parked under `group` at `index`. When `size` arrivals are parked the store enqueues the group's
 * settlement item, which the engine settles (engine/joins.ts).
 */
export interface JoinArrival {
  readonly group: string;
  readonly index: number;
  readonly size: number;
  /** The join node; undefined for a held item (an empty arrival). */
  readonly node: string | undefined;
  /** The payload; absent for a held item. */
  readonly value?: unknown;
  readonly held: boolean;
  /** The frames outside this group, inherited by the join item. */
  readonly outer: readonly JoinFrame[];
}

export type StepOutcome =
  /**
   * Successors to enqueue and join arrivals to park (either may be empty: e.g. a hold). `error`: set when the node
   * failed for good and its fallbacks took its input (the items are theirs): the failure, which stores record in the
   * run's errors (kind `fallback`) and history; or, for a parked wait that refused the signal it took (its one item the
   * same wait parked again), a `SignalRefusedError` (kind `signal`).
   */
  | { readonly type: 'continue'; readonly items: EngineItem[]; readonly arrivals: JoinArrival[]; readonly delta: ContextDelta | undefined; readonly error?: SerializedError }
  /** A terminal produced the run's output. `items`/`arrivals` are what else the step produced (reported as dropped). */
  | { readonly type: 'terminal'; readonly output: unknown; readonly items: EngineItem[]; readonly arrivals: JoinArrival[]; readonly delta: ContextDelta | undefined }
  /** The attempt failed and should be retried after `delayMs` (only when `StepEnv.inlineRetries` is false). */
  | { readonly type: 'retry'; readonly attempt: number; readonly delayMs: number; readonly error: SerializedError }
  /** The item failed for good and no fallback took it: the run fails. */
  | { readonly type: 'failed'; readonly error: SerializedError; readonly attempts: number };

/**
 * A run's deadline as a distributed step reads it: `run`, epoch ms on the clock of the process that set it (workers arm
 * their deadline timer with it), and `at`, the same instant on the step's clock (the store's), which is when the
 * store wakes an item parked until the deadline.
 */
export interface StepDeadline {
  readonly run: number;
  readonly at: number;
}

export interface StepEnv<C = unknown> {
  readonly runId: string;
  /** The context as of the latest committed delta the caller knows. The step does not mutate it. */
  readonly context: C;
  /**
   * Aborts on cancel / deadline. An {@link AbortSource} creates the node's `ctx.signal` only if the node reads it
   * (cheaper per step than an `AbortSignal`, which the engine would listen to).
   */
  readonly signal: AbortSignal | AbortSource;
  /** The attempt this execution is (1-based; > 1 for a durable retry). */
  readonly attempt: number;
  /** true: retry in-process (cancellable sleep). false: return `{type: 'retry'}` and let the store delay it. */
  readonly inlineRetries: boolean;
  /** Where the step reads time and waits (default: the system clock). */
  readonly clock?: Clock;
  /**
   * The run's deadline when the caller keeps parked items in a store (distributed mode): an item the step parks wakes
   * by then at the latest (marked {@link EngineItem.byDeadline}), so a waiting run still meets its deadline (it fails
   * with `DeadlineExceededError` when it wakes). Local modes abort their in-process wait instead.
   */
  readonly deadline?: StepDeadline;
  /** Id of the `index`-th child of `parent`. Local modes use a counter, distributed mode a hash. */
  childId(parent: EngineItem, index: number): string;
}

/** Why an item that will never run was discarded. */
export type DropReason = 'terminal' | 'failed' | 'cancelled';

/**
 * An item (or a join arrival) that was outstanding when its run finished and will therefore never be processed:
 * reported on the run record instead of being silently discarded.
 */
export interface DroppedItem {
  /** The item id; for a join arrival produced by the terminal step, `<group>[<index>]`. */
  readonly id: string;
  readonly node: string;
  readonly reason: DropReason;
}


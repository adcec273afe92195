/**
 * The step core shared by every execution mode: process one work item of a bound workflow and say what it
 * produced. It performs no I/O on stores; the caller (local loop, checkpointed loop, distributed worker) commits
 * the outcome its own way (in memory, one SQLite transaction, one Lua script, one SQL transaction).
 *
 */
import type { FailureInfo } from '../node.js';
import { serializeError, type SerializedError } from '../errors.js';
import type { WorkItemBase, AnyWorkflowDef } from '../definition.js';
import type { AbortSource } from './abort.js';
import { checkInstance, compiledOf, makeScope, stepCore } from './core.js';
import { isRunAbortError } from './retry.js';

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
}

/**
 * An item routed to a `@join()` node while inside a fan-out group (or a held item inside a group): it does not
 * run, it is parked under `group` at `index`. When `size` arrivals are parked the store creates the join item
 * (see {@link joinItemFor}).
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

/** A step's effect on the context: only the touched fields, per their merge strategy. */
export type ContextDelta = Record<string, unknown>;

export type StepOutcome =
  /** Successors to enqueue and join arrivals to park (either may be empty: e.g. a hold). */
  | { readonly type: 'continue'; readonly items: EngineItem[]; readonly arrivals: JoinArrival[]; readonly delta: ContextDelta | undefined }
  /** A terminal produced the run's output. `items`/`arrivals` are what else the step produced (reported as dropped). */
  | { readonly type: 'terminal'; readonly output: unknown; readonly items: EngineItem[]; readonly arrivals: JoinArrival[]; readonly delta: ContextDelta | undefined }
  /** The attempt failed and should be retried after `delayMs` (only when `StepEnv.inlineRetries` is false). */
  | { readonly type: 'retry'; readonly attempt: number; readonly delayMs: number; readonly error: SerializedError }
  /** The item failed for good and no fallback took it: the run fails. */
  | { readonly type: 'failed'; readonly error: SerializedError; readonly attempts: number };

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
  /** Id of the `index`-th child of `parent`. Local modes use a counter, distributed mode a hash. */
  childId(parent: EngineItem, index: number): string;
}

/** The join item created once every arrival of a group is parked: input = values in index order, holds omitted. */
export function joinItemFor(node: string, group: string, arrivals: readonly JoinArrival[]): EngineItem {
  const sorted = [...arrivals].sort((a, b) => a.index - b.index);
  const outer = sorted[0]?.outer ?? [];
  const input = sorted.filter((a) => !a.held).map((a) => a.value);
  const item: EngineItem = outer.length > 0 ? { node, id: `${group}:join`, input, join: outer } : { node, id: `${group}:join`, input };
  return item;
}

/**
 * Process one item of a bound workflow (see ARCHITECTURE.md "Step semantics") and say what it produced, without
 * touching any store: the caller commits the outcome. `env.context` is not mutated; the attempt runs on a copy and
 * the outcome carries the delta. With `env.inlineRetries` false a retryable failure returns `{type: 'retry'}`.
 * The run's cancellation or deadline (an aborted `env.signal`) comes back as `failed` with a `CancelledError` or
 * `DeadlineExceededError`; it is never retried nor routed to fallbacks. Throws `StaleGeneratedModuleError` for a
 * stale definition and `CorruptStateError` for an item naming an unknown node.
 */
export async function executeStep(def: AnyWorkflowDef, instance: object, item: EngineItem, env: StepEnv): Promise<StepOutcome> {
  const wf = compiledOf(def);
  checkInstance(wf, instance);
  const scope = makeScope(wf, instance, env.runId, env.signal, true, Math.random, undefined);
  try {
    return await stepCore(scope, item, env.context, env.attempt, env.inlineRetries, true, (parent, index) => env.childId(parent, index));
  } catch (err) {
    if (isRunAbortError(err)) return { type: 'failed', error: serializeError(err), attempts: env.attempt };
    throw err;
  }
}

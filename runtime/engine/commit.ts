/**
 * What a step's commit does, decided once for every mode and store (docs/ARCHITECTURE.md "Step semantics"):
 *
 * - {@link planCommit}: the validation of a step's outcome (items, join arrivals, group sizes, delta, output,
 *   counters, retry delay, errors) and its canonical encoding, i.e. what a store enqueues, parks, appends and
 *   stores, the terminal's own dropped items, the dead-letter decision ({@link shouldDeadLetter}) and the error a
 *   run fails with when, after the commit, it has no outstanding work ({@link noTerminalError}). Stores receive a
 *   plan and only make it atomic; they decide nothing.
 * - What a completed join group becomes is decided in `joins.ts` (the settlement rule), when the engine processes
 *   the group's settlement item; a store only parks the arrivals this plan encodes ({@link arrivalJson}).
 *
 * Pure: no store, no I/O.
 */
import { InvalidArgumentError, NoTerminalReachedError, continuedErrorKind, type SerializedError } from '../core/errors.js';
import { assertItemId, assertRunId } from '../core/ids.js';
import { canonicalJson, storedJson } from '../core/json.js';
import { assertSerializedError } from '../core/validate.js';
import { MAX_EPOCH_MS, isEpochMs } from '../core/time.js';
import { assertArrival, assertCounters, assertEngineItem } from './validate.js';
import type { DroppedItem, EngineItem, JoinArrival, StepOutcome } from './types.js';

export type { DropReason, DroppedItem } from './types.js';
import { isParked, parkedAttempt } from './parked.js';
import { HELD_GROUP_NODE } from './joins.js';

// ---------------------------------------------------------------------------------------------------------------
// Dropped items, dead letters, the no-terminal failure


/**
 * Whether a `failed` outcome dead-letters its item. Failures caused by the run rather than the item (its deadline,
 * its cancellation) mark the item `failed` instead. Every backend uses this rule.
 */
export function shouldDeadLetter(error: SerializedError): boolean {
  return error.code !== 'FLOXIDE_DEADLINE' && error.code !== 'FLOXIDE_CANCELLED';
}

/**
 * The error a run fails with when a commit leaves it with no outstanding work and no terminal reached (every mode).
 * `passedNothing`: the node of the last step when it passed nothing on (no item, no join arrival), which the message
 * names with the usual causes.
 */
export function noTerminalError(runId: string, passedNothing?: string): NoTerminalReachedError {
  return new NoTerminalReachedError(noTerminalMessage(runId, passedNothing));
}

function noTerminalMessage(runId: string, passedNothing: string | undefined): string {
  const why =
    passedNothing === undefined
      ? ''
      : passedNothing === HELD_GROUP_NODE
        ? ': the last step settled a fan-out whose branches all held, which passes nothing on (a @join() runs only for the values that arrive)'
        : `: the last step, of node ${passedNothing}, passed nothing on (nextAll of an empty list, a SplitNode or BatchNode of nothing, or hold(); a @join() runs only for the values that arrive)`;
  return `run ${runId} has no work left and reached no terminal node${why}`;
}

/** `node` when `out`, the outcome of a step of it, passed nothing on (no item, no join arrival): what {@link noTerminalError} names. */
export function passedNothing(node: string | undefined, out: StepOutcome | undefined): string | undefined {
  return out?.type === 'continue' && out.items.length === 0 && out.arrivals.length === 0 ? node : undefined;
}

const NO_TERMINAL = noTerminalError('-');

const NO_TERMINAL_HEAD = `{"code":${JSON.stringify(NO_TERMINAL.code)},"message":`;
const NO_TERMINAL_TAIL = `,"name":${JSON.stringify(NO_TERMINAL.name)}}`;

/**
 * {@link noTerminalError} as stored data, canonical JSON (built as text, without an Error: a stack trace and an
 * encoder per commit would cost more than the commit's own encoding).
 */
function noTerminalJson(runId: string, passedNothing: string | undefined): string {
  return NO_TERMINAL_HEAD + JSON.stringify(noTerminalMessage(runId, passedNothing)) + NO_TERMINAL_TAIL;
}

// ---------------------------------------------------------------------------------------------------------------
// The commit plan

/** A work item to enqueue: its id and node (for the store's indexes) and its canonical JSON. */
export interface PlannedItem {
  readonly id: string;
  readonly node: string;
  readonly json: string;
  /**
   * Set on a parked item only (a `WaitFor` or `Sleep` step's, see `isParked`): not claimable before this epoch ms
   * (a sleep's end, a wait's timeout; undefined for a wait without timeout).
   */
  readonly notBefore?: number;
  /** Set on a parked wait only: the signal name it waits for (the store gives it the oldest such signal). */
  readonly wait?: string;
  /**
   * Set on a parked item only: the attempt it parked at (`parkedAttempt`), the attempt the store keeps it at (a new
   * item starts at 1), with `attempt - 1` deliveries, so that `deliveries - attempt` still counts its redeliveries.
   */
  readonly attempt?: number;
}

/** A join arrival to park under (group, index): `node` is the join node of a valued arrival (undefined for a hold). */
export interface PlannedArrival {
  readonly group: string;
  readonly index: number;
  readonly size: number;
  readonly node: string | undefined;
  /** The arrival's canonical JSON: what a settlement item carries. */
  readonly json: string;
}

/** A validated, encoded step commit: what a store applies atomically. Every value is canonical JSON text. */
export type CommitPlan =
  | {
      /** Ack the item, enqueue `items` (ids the run knows are skipped), park `arrivals`, append `delta`. */
      readonly type: 'continue';
      readonly items: readonly PlannedItem[];
      readonly arrivals: readonly PlannedArrival[];
      /** undefined when the step wrote nothing to the context. */
      readonly delta: string | undefined;
      /** The error to fail the run with when, after this commit, it has no outstanding work. */
      readonly noTerminal: string;
      /**
       * The failure the step's fallbacks took (recorded as an error of kind `fallback`), or the signal its wait refused
       * (kind `signal`: see {@link errorKind}), undefined otherwise.
       */
      readonly error: string | undefined;
      /** How a store records {@link error}: `signal` for a refused signal, else `fallback`. */
      readonly errorKind: 'fallback' | 'signal';
      readonly counters: ReadonlyArray<readonly [string, number]>;
    }
  | {
      /** Ack the item, append `delta`, complete the run with `output`; drop every outstanding item, then `dropped`. */
      readonly type: 'terminal';
      readonly delta: string | undefined;
      readonly output: string;
      /** The terminal step's own successors and valued arrivals (they never run). */
      readonly dropped: readonly DroppedItem[];
      readonly counters: ReadonlyArray<readonly [string, number]>;
    }
  | {
      /** The item waits `delayMs` (whole ms), attempt + 1; `error` is recorded. */
      readonly type: 'retry';
      readonly error: string;
      readonly delayMs: number;
      readonly counters: ReadonlyArray<readonly [string, number]>;
    }
  | {
      /** The item fails for good (dead-lettered when `deadLetter`), the error is recorded and the run fails with it. */
      readonly type: 'failed';
      readonly error: string;
      readonly deadLetter: boolean;
      readonly counters: ReadonlyArray<readonly [string, number]>;
    };

/** What {@link planCommit} needs: the consumed item, the step's outcome and the user counters. */
export interface CommitInput {
  readonly runId: string;
  readonly itemId: string;
  /** The consumed item's node: named by the no-terminal error when the step passed nothing on. */
  readonly node?: string;
  readonly outcome: StepOutcome;
  readonly counters?: Readonly<Record<string, number>>;
}

const NO_COUNTERS: ReadonlyArray<readonly [string, number]> = Object.freeze([]);

/**
 * Validates and encodes one step commit. Throws `InvalidArgumentError` for anything a store must refuse (bad ids,
 * malformed items or arrivals, two arrivals of one group with different sizes, a delta that is not an object, a
 * negative delay, a malformed error, values JSON cannot represent). Nothing is written before this returns, so a
 * refused commit changes nothing.
 */
export function planCommit(c: CommitInput): CommitPlan {
  if (typeof c !== 'object' || c === null) throw new InvalidArgumentError('a commit must be an object');
  assertRunId(c.runId);
  assertItemId(c.itemId);
  assertCounters(c.counters);
  const counters = c.counters === undefined ? NO_COUNTERS : Object.entries(c.counters);
  const outcome = c.outcome;
  switch (outcome?.type) {
    case 'continue':
    case 'terminal': {
      if (!Array.isArray(outcome.items) || !Array.isArray(outcome.arrivals)) throw new InvalidArgumentError('outcome.items and outcome.arrivals must be arrays');
      outcome.items.forEach((item, i) => assertEngineItem(item, `outcome.items[${i}]`));
      outcome.arrivals.forEach((a, i) => assertArrival(a, `outcome.arrivals[${i}]`));
      const delta = deltaJson(outcome.delta);
      if (outcome.type === 'terminal') {
        const dropped: DroppedItem[] = [];
        for (const p of outcome.items) dropped.push({ id: p.id, node: p.node, reason: 'terminal' });
        for (const a of outcome.arrivals) if (!a.held) dropped.push({ id: `${a.group}[${a.index}]`, node: a.node!, reason: 'terminal' });
        return { type: 'terminal', delta, output: storedJson(outcome.output), dropped, counters };
      }
      const items = outcome.items.map(plannedItem);
      let arrivals: PlannedArrival[] = [];
      if (outcome.arrivals.length > 0) {
        const sizes = new Map<string, number>();
        for (const a of outcome.arrivals) {
          const size = sizes.get(a.group);
          if (size !== undefined && size !== a.size) throw groupSizeError(a.group, a.size, size);
          sizes.set(a.group, a.size);
        }
        arrivals = outcome.arrivals.map((a) => ({ group: a.group, index: a.index, size: a.size, node: a.held ? undefined : a.node, json: arrivalJson(a) }));
      }
      let error: string | undefined;
      if (outcome.error !== undefined) {
        assertSerializedError(outcome.error, 'outcome.error');
        error = canonicalJson(outcome.error);
      }
      const errorKind = continuedErrorKind(outcome.error);
      return { type: 'continue', items, arrivals, delta, noTerminal: noTerminalJson(c.runId, passedNothing(typeof c.node === 'string' ? c.node : undefined, outcome)), error, errorKind, counters };
    }
    case 'retry':
      // (at most the span a Date holds: the store adds it to its now, and every store keeps the sum)
      if (typeof outcome.delayMs !== 'number' || !(outcome.delayMs >= 0 && outcome.delayMs <= MAX_EPOCH_MS)) {
        throw new InvalidArgumentError(`retry delayMs must be a number of ms in 0..8.64e15, got ${String(outcome.delayMs)}`);
      }
      assertSerializedError(outcome.error, 'outcome.error');
      return { type: 'retry', error: canonicalJson(outcome.error), delayMs: Math.ceil(outcome.delayMs), counters };
    case 'failed':
      assertSerializedError(outcome.error, 'outcome.error');
      return { type: 'failed', error: canonicalJson(outcome.error), deadLetter: shouldDeadLetter(outcome.error), counters };
    default:
      throw new InvalidArgumentError(`unknown step outcome ${JSON.stringify((outcome as { type?: unknown } | undefined)?.type)}`);
  }
}

function plannedItem(item: EngineItem): PlannedItem {
  const p = { id: item.id, node: item.node, json: storedJson(item) };
  if (!isParked(item)) return p;
  if (item.notBefore !== undefined && !isEpochMs(item.notBefore)) throw new InvalidArgumentError(`item ${item.id}: notBefore must be epoch ms a Date can hold (|ms| <= 8.64e15), got ${String(item.notBefore)}`);
  return { ...p, ...(item.notBefore === undefined ? {} : { notBefore: Math.ceil(item.notBefore) }), ...(item.wait === undefined ? {} : { wait: item.wait.name }), attempt: parkedAttempt(item) };
}

/** The refusal of an arrival whose group size disagrees with its group's (parked, or earlier in the same commit). */
export function groupSizeError(group: string, size: number | string, groupSize: number | string): InvalidArgumentError {
  return new InvalidArgumentError(`join arrival for group ${group} has size ${String(size)}, the group has ${String(groupSize)}`);
}

/** The stored form of a parked arrival (what its settlement item carries). */
export function arrivalJson(a: JoinArrival): string {
  return storedJson(a.held ? { group: a.group, held: true, index: a.index, outer: a.outer, size: a.size } : { group: a.group, held: false, index: a.index, node: a.node, outer: a.outer, size: a.size, value: a.value });
}

function deltaJson(delta: unknown): string | undefined {
  if (delta === undefined || delta === null) return undefined;
  if (typeof delta !== 'object' || Array.isArray(delta)) throw new InvalidArgumentError('outcome.delta must be an object');
  for (const _ in delta) return storedJson(delta);
  return undefined;
}

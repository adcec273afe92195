/**
 * Checks of the engine's data crossing into a store (work items, join arrivals, commit counters), shared by every
 * backend so that each rejects exactly the same input.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { assertStorable } from '../core/json.js';
import { assertItemId } from '../core/ids.js';
import { assertPositiveInt, assertString } from '../core/validate.js';
import type { EngineItem, JoinArrival } from './types.js';

export function assertEngineItem(item: unknown, what: string): asserts item is EngineItem {
  if (typeof item !== 'object' || item === null) throw new InvalidArgumentError(`${what} must be a work item object`);
  const it = item as EngineItem;
  assertString(it.node, `${what}.node`);
  assertItemId(it.id);
  if (it.wait !== undefined) {
    assertString(it.wait?.name, `${what}.wait.name`);
    assertPositiveInt(it.wait.attempt, `${what}.wait.attempt`);
  }
  // (a parked item's attempt is the attempt a store keeps it at: see parkedAttempt)
  if (it.nested !== undefined) assertPositiveInt(it.nested?.attempt, `${what}.nested.attempt`);
}

export function assertArrival(a: unknown, what: string): asserts a is JoinArrival {
  if (typeof a !== 'object' || a === null) throw new InvalidArgumentError(`${what} must be a join arrival`);
  const ar = a as JoinArrival;
  assertItemId(ar.group);
  assertPositiveInt(ar.size, `${what}.size`);
  if (!Number.isSafeInteger(ar.index) || ar.index < 0 || ar.index >= ar.size) throw new InvalidArgumentError(`${what}.index ${String(ar.index)} is outside 0..${ar.size - 1}`);
  if (typeof ar.held !== 'boolean') throw new InvalidArgumentError(`${what}.held must be a boolean`);
  if (!ar.held) assertString(ar.node, `${what}.node`);
  if (!Array.isArray(ar.outer)) throw new InvalidArgumentError(`${what}.outer must be an array of join frames`);
}

export function assertCounters(c: unknown): asserts c is Record<string, number> | undefined {
  if (c === undefined) return;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new InvalidArgumentError('counters must be an object of numbers');
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`counter ${JSON.stringify(k)} must be a finite number`);
  }
}

/**
 * What a run starts with (its input, its initial context as the codec serialises it), checked as the step core
 * checks what a step writes, before anything is stored: every mode refuses the same start, plain `run` included.
 */
export function assertStorableStart(input: unknown, context: unknown): void {
  assertStorable(input, 'the run input');
  assertStorable(context, 'the initial context');
}

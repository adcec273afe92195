/**
 * A signal made ready for a store: validated and encoded once, for every store (the memory and SQLite checkpoint
 * stores, the memory, Redis and Postgres backends), which then only delivers it atomically (see `SignalReceiver` in
 * distributed/contracts.ts). What every mode refuses of a payload is here too: a value no store keeps as it is (a
 * function, a symbol, a class instance, a cycle...: core/json.ts `storableProblem`). A sender with the workflow's code
 * is refused by the wait's check (`checkSignal`) first; the stores refuse it for the senders without it (`floxide runs
 * signal`, the dashboard, an `Orchestrator` given no workflow), which would otherwise write it as JSON (a function
 * dropped, a typed array read back as a plain object), so that the wait received another value than was sent.
 */
import { InvalidSignalError } from './errors.js';
import { assertRunId, assertSignalKey, storedJson } from './ids.js';
import { storableProblem } from './json.js';
import { assertString } from './validate.js';

export interface SignalPlan {
  readonly runId: string;
  readonly name: string;
  /** The payload as canonical JSON (`null` for undefined). */
  readonly payload: string;
  readonly key: string | undefined;
  /** The workflow the run must be a run of, when the sender said. */
  readonly workflow: string | undefined;
}

/** Throws {@link InvalidSignalError} (nothing sent) for a payload of signal `name` that no store keeps as it is. */
export function assertSignalPayload(name: string, payload: unknown): void {
  const problem = storableProblem(payload);
  if (problem) throw new InvalidSignalError(`the payload of signal ${JSON.stringify(name)} is not JSON data: ${problem.message}`, { cause: problem });
}

/**
 * Validates and encodes one signal. Throws `InvalidArgumentError` (a run id, name, key or workflow that is not one) or
 * `InvalidSignalError` (a payload no store keeps): nothing sent, nothing changed.
 */
export function planSignal(runId: string, name: string, payload: unknown, key: string | undefined, workflow?: string): SignalPlan {
  assertRunId(runId);
  assertString(name, 'signal name');
  if (key !== undefined) assertSignalKey(key);
  if (workflow !== undefined) assertString(workflow, 'workflow');
  assertSignalPayload(name, payload);
  return { runId, name, payload: storedJson(payload), key, workflow };
}

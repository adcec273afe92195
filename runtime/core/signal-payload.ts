/**
 * What every mode refuses of a signal's payload, in one place: a value no store keeps as it is (a function, a symbol,
 * a class instance, a cycle...: runtime/core/json.ts `storableProblem`). A sender with the workflow's code is refused
 * by the wait's check (`checkSignal`); the stores refuse it too, for the senders without it (`floxide runs signal`, the
 * dashboard, an `Orchestrator` given no workflow), which a store had accepted and written as JSON (a function dropped,
 * a typed array read back as a plain object), so that the wait received another value than was sent.
 */
import { InvalidSignalError } from './errors.js';
import { storableProblem } from './json.js';

/** Throws {@link InvalidSignalError} (nothing sent) for a payload of signal `name` that no store keeps as it is. */
export function assertSignalPayload(name: string, payload: unknown): void {
  const problem = storableProblem(payload);
  if (problem) throw new InvalidSignalError(`the payload of signal ${JSON.stringify(name)} is not JSON data: ${problem.message}`, { cause: problem });
}

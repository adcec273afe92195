/**
 * A signal made ready for a backend: validated and encoded once, for every backend (memory, Redis, Postgres), which
 * then only delivers it atomically (see `SignalReceiver` in contracts.ts).
 */
import { assertRunId, assertSignalKey, storedJson } from '../core/ids.js';
import { assertSignalPayload } from '../core/signal-payload.js';
import { assertString } from '../core/validate.js';

export interface SignalPlan {
  readonly runId: string;
  readonly name: string;
  /** The payload as canonical JSON (`null` for undefined). */
  readonly payload: string;
  readonly key: string | undefined;
  /** The workflow the run must be a run of, when the sender said. */
  readonly workflow: string | undefined;
}

/** Validates and encodes one signal. Throws `InvalidArgumentError` (nothing sent, nothing changed) for bad input. */
export function planSignal(runId: string, name: string, payload: unknown, key: string | undefined, workflow?: string): SignalPlan {
  assertRunId(runId);
  assertString(name, 'signal name');
  if (key !== undefined) assertSignalKey(key);
  if (workflow !== undefined) assertString(workflow, 'workflow');
  assertSignalPayload(name, payload);
  return { runId, name, payload: storedJson(payload), key, workflow };
}

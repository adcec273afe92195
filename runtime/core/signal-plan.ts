/**
 * A signal made ready for a store: validated and encoded once, for every store (the memory and SQLite checkpoint
 * stores, the memory, Redis and Postgres backends), which then only delivers it atomically (see `SignalReceiver` in
 * distributed/contracts.ts). What every mode refuses of a payload is here too: a value no store keeps as it is (a
 * function, a symbol, a class instance, a cycle...: core/json.ts `storableProblem`). A sender with the workflow's code
 * is refused by the wait's check (`checkSignal`) first; the stores refuse it for the senders without it (`floxide runs
 * signal`, the dashboard, an `Orchestrator` given no workflow), which would otherwise write it as JSON (a function
 * dropped, a typed array read back as a plain object), so that the wait received another value than was sent.
 *
 * The one rule for a repeated idempotency key is here too ({@link keyConflict}): every store keeps, per key, the name
 * and the payload digest ({@link signalDigest}) of the first signal sent with it, and answers a repeat `duplicate` when
 * both match, else refuses it with {@link SignalKeyConflictError}.
 */
import { InvalidSignalError, SignalKeyConflictError, type SignalKeyDifference } from './errors.js';
import { assertRunId, assertSignalKey, canonicalJson, sha256Hex, storedJson } from './ids.js';
import { storableProblem } from './json.js';
import { assertString } from './validate.js';

export interface SignalPlan {
  readonly runId: string;
  readonly name: string;
  /** The payload as canonical JSON (`null` for undefined). */
  readonly payload: string;
  readonly key: string | undefined;
  /** The payload's {@link signalDigest}, when the signal has a key (what the store keeps with the key). */
  readonly digest: string | undefined;
  /** The workflow the run must be a run of, when the sender said. */
  readonly workflow: string | undefined;
}

/**
 * What a store keeps of the first signal a run received with a key: its name and payload digest. Both undefined for a
 * key kept by a floxide before digests (it kept the key alone): such a key matches any signal (a `duplicate`, as then).
 */
export interface KeptSignalKey {
  readonly name: string | undefined;
  readonly digest: string | undefined;
}

/**
 * The digest of a signal payload every store keeps with its key: SHA-256 (hex) of its canonical JSON (sorted keys, the
 * tags of core/json.ts), so the same value sent again, its keys in another order, has the same digest.
 */
export function signalDigest(payload: unknown): string {
  return sha256Hex(canonicalJson(payload));
}

/**
 * The one rule for a signal whose key run `signal.runId` already received, first as `kept`: undefined when it repeats
 * that signal (same name, same payload digest, or a key kept before digests: the store answers `duplicate`), else the
 * {@link SignalKeyConflictError} the store refuses it with (nothing delivered or kept).
 */
export function keyConflict(signal: Pick<SignalPlan, 'runId' | 'name' | 'key' | 'digest'>, kept: KeptSignalKey): SignalKeyConflictError | undefined {
  if (signal.key === undefined || kept.digest === undefined) return undefined;
  const differs: SignalKeyDifference[] = [];
  if (kept.name !== signal.name) differs.push('name');
  if (kept.digest !== signal.digest) differs.push('payload');
  return differs.length === 0 ? undefined : SignalKeyConflictError.of(signal.runId, signal.key, differs, kept.name);
}

/**
 * What a store answers a signal whose key run `signal.runId` received first as `kept`: `duplicate` when it repeats that
 * signal, else it throws the {@link SignalKeyConflictError} of {@link keyConflict} (nothing delivered or kept).
 */
export function repeatedSignal(signal: Pick<SignalPlan, 'runId' | 'name' | 'key' | 'digest'>, kept: KeptSignalKey): 'duplicate' {
  const conflict = keyConflict(signal, kept);
  if (conflict) throw conflict;
  return 'duplicate';
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
  return { runId, name, payload: storedJson(payload), key, digest: key === undefined ? undefined : signalDigest(payload), workflow };
}

/**
 * The error hierarchy. Every error Floxide raises is a `FloxideError` with a stable `code`; failures that
 * cross a process boundary are stored as {@link SerializedError} data and revived with {@link reviveError}.
 */
export class FloxideError extends Error {
  /** Stable machine-readable code, e.g. `FLOXIDE_NOT_STARTED`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'FloxideError';
  }
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

function defineError(name: string, code: string) {
  const C = class extends FloxideError {
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(C, 'name', { value: name });
  return C;
}

/** The run was cancelled (by its signal or by the orchestrator). Never retried, never routed to fallbacks. */
export class CancelledError extends defineError('CancelledError', 'FLOXIDE_CANCELLED') {}
/** The workflow-wide deadline passed. Never retried, never routed to fallbacks. */
export class DeadlineExceededError extends defineError('DeadlineExceededError', 'FLOXIDE_DEADLINE') {}
/** The error of a run whose deadline (epoch ms) passed, the same from every place that finds it passed. */
export function deadlinePassed(deadline: number): DeadlineExceededError {
  return new DeadlineExceededError(`the workflow deadline ${new Date(deadline).toISOString()} passed`);
}
/** A node's `@timeout` elapsed (retryable; routed to fallbacks like any node failure). */
export class NodeTimeoutError extends defineError('NodeTimeoutError', 'FLOXIDE_NODE_TIMEOUT') {}
/** A node failed (threw or aborted) and no fallback took the item. `cause` is the node's error. */
export class NodeFailedError extends defineError('NodeFailedError', 'FLOXIDE_NODE_FAILED') {}
/** The queue drained without reaching a terminal node (every branch held or ended). */
export class NoTerminalReachedError extends defineError('NoTerminalReachedError', 'FLOXIDE_NO_TERMINAL') {}
/** No checkpoint or run exists under this id. */
export class RunNotFoundError extends defineError('RunNotFoundError', 'FLOXIDE_NOT_STARTED') {}
/** The run already finished and the operation needs a run that has not (a completed checkpointed run is not one: `runWithCheckpoint` and `resume` return its stored output). */
export class RunAlreadyCompletedError extends defineError('RunAlreadyCompletedError', 'FLOXIDE_ALREADY_COMPLETED') {}
/** A run id was reused with a different input. */
export class RunInputMismatchError extends defineError('RunInputMismatchError', 'FLOXIDE_INPUT_MISMATCH') {}
/** The checkpoint (or distributed run) was written by a different graph than the one running now. */
export class FingerprintMismatchError extends defineError('FingerprintMismatchError', 'FLOXIDE_FINGERPRINT_MISMATCH') {}
/** A generated module no longer matches its decorated source: run `floxide build`. */
export class StaleGeneratedModuleError extends defineError('StaleGeneratedModuleError', 'FLOXIDE_STALE_GENERATED') {}
/** Stored state could not be parsed or is inconsistent. */
export class CorruptStateError extends defineError('CorruptStateError', 'FLOXIDE_CORRUPT_STATE') {}
/** A store could not be reached or answered with an error. */
export class StoreError extends defineError('StoreError', 'FLOXIDE_STORE') {}
/**
 * The store was reached, but the Postgres schema it names does not exist and the caller asked not to create it
 * (`createSchema: false`: `floxide runs`, `floxide ui`, `schedule list`). A kind of {@link StoreError} with its own
 * code; the message says how the schema is made (a worker, `floxide schedule add`, `createSchema: true`).
 */
export class SchemaMissingError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SchemaMissingError';
    (this as { code: string }).code = 'FLOXIDE_SCHEMA_MISSING';
  }
}
/**
 * The store was reached, but its Postgres schema could not be made ready: the role may not create it or use it (the
 * message says what to grant), it was migrated by a newer Floxide, or it is not up to date with `migrate: false`. A
 * kind of {@link StoreError} with its own code: the server answered, and what failed is not its reachability.
 */
export class SchemaSetupError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SchemaSetupError';
    (this as { code: string }).code = 'FLOXIDE_SCHEMA_SETUP';
  }
}
/**
 * A file floxide reads from beside its own modules (a Lua script, a SQL migration or function) is not there: floxide
 * was inlined into an application bundle. A kind of {@link StoreError} with its own code: the store may well be
 * reachable, and the message says to leave floxide out of the bundle.
 */
export class PackageFileMissingError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PackageFileMissingError';
    (this as { code: string }).code = 'FLOXIDE_PACKAGE_FILE_MISSING';
  }
}
/** Bad arguments: a malformed run id, key prefix, option... */
export class InvalidArgumentError extends defineError('InvalidArgumentError', 'FLOXIDE_INVALID_ARGUMENT') {}
/**
 * A schedule definition's cron expression or time zone is not valid (the message quotes it). A kind of
 * {@link InvalidArgumentError} (bad input, changes nothing) with its own code.
 */
export class InvalidScheduleError extends InvalidArgumentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidScheduleError';
    (this as { code: string }).code = 'FLOXIDE_INVALID_SCHEDULE';
  }
}
/** The run was failed or cancelled before this call, or is in a state that forbids the operation. */
export class RunStateError extends defineError('RunStateError', 'FLOXIDE_RUN_STATE') {}

/** The refusal of what workflow `expected` asked of run `runId`, a run of workflow `actual` (nothing read or changed). */
export function otherWorkflowError(runId: string, actual: string, expected: string): RunStateError {
  return new RunStateError(`run ${runId} is a run of ${actual}, not of ${expected}`);
}
/**
 * A checkpointed run is being run by another live process (or another call in this one): `resume` or
 * `runWithCheckpoint` of the same run id would run its nodes a second time. Nothing ran, nothing changed.
 */
export class RunBusyError extends defineError('RunBusyError', 'FLOXIDE_RUN_BUSY') {}
/** One thing that keeps a run from moving to another graph version (see {@link MigrationBlockedError.blocking}). */
export interface MigrationBlocker {
  /** The pending item's id, or the join group of a parked arrival. */
  readonly item?: string;
  /** The node it is for (as named in the run's version). */
  readonly node?: string;
  /** The context field, for a merge strategy change. */
  readonly field?: string;
  readonly reason: string;
}

/** Why an item leased to `worker` blocks a move from version `from` that does not keep leases (the compiler's and the stores' words). */
export function leasedReason(worker: string, from: string): string {
  return `leased by worker ${worker}, whose commit would follow version ${from}: let it finish (or stop that version's workers) and migrate again`;
}

/** Moving a run to another graph version is not type-safe (or not now): the message lists the blocking items. */
export class MigrationBlockedError extends defineError('MigrationBlockedError', 'FLOXIDE_MIGRATION_BLOCKED') {
  /** The blocking items, as data (empty when the store could not say). */
  blocking: readonly MigrationBlocker[] = [];
}
/**
 * A run changed between the judgement of its move to another graph version and the move (a step committed in
 * between): nothing was written; judge it again (`migrateRun` does, a few times). A kind of {@link MigrationBlockedError}.
 */
export class MigrationChangedError extends MigrationBlockedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationChangedError';
    (this as { code: string }).code = 'FLOXIDE_MIGRATION_CHANGED';
  }
}
/** No schedule has this id. */
export class ScheduleNotFoundError extends defineError('ScheduleNotFoundError', 'FLOXIDE_SCHEDULE_NOT_FOUND') {}

/** A `WaitFor` node's signal did not arrive within its timeout (a failure of that node: retries and fallbacks apply). */
export class SignalTimeoutError extends defineError('SignalTimeoutError', 'FLOXIDE_SIGNAL_TIMEOUT') {}
/** A signal names no `WaitFor` node of the run's workflow, or its payload fails the node's check. Nothing was delivered. */
export class InvalidSignalError extends defineError('InvalidSignalError', 'FLOXIDE_INVALID_SIGNAL') {}
/**
 * A wait took a signal whose payload fails its check (sent unchecked: `floxide runs signal`, the dashboard, an
 * `Orchestrator` without the workflow's code): the signal is consumed and refused, and the wait goes on waiting for
 * the same name until its original timeout, as if it had not come (no attempt, retry or fallback). It is recorded as
 * the step's error (run errors of kind `signal`, step history `refused`), never thrown to a caller.
 */
export class SignalRefusedError extends InvalidSignalError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SignalRefusedError';
    (this as { code: string }).code = 'FLOXIDE_SIGNAL_REFUSED';
  }
}

/** What of a signal differs from the one its run first received with the same idempotency key. */
export type SignalKeyDifference = 'name' | 'payload';

/** The data of a {@link SignalKeyConflictError}: kept when the error is serialised and revived. */
export interface SignalKeyConflict {
  readonly runId: string;
  readonly key: string;
  /** What differs from the first signal sent with `key` (one or both, in this order). */
  readonly differs: readonly SignalKeyDifference[];
}

/**
 * A signal reused an idempotency key its run already received with another name or payload (a bug, or two senders
 * sharing an id): refused, nothing delivered or kept, as payment APIs refuse an idempotency key reused with other
 * parameters. The same key with the same name and payload (compared as canonical JSON) is a `duplicate` instead. A
 * kind of {@link InvalidSignalError} with its own code; carries `runId`, `key` and what `differs`.
 */
export class SignalKeyConflictError extends InvalidSignalError {
  readonly runId: string;
  readonly key: string;
  readonly differs: readonly SignalKeyDifference[];
  constructor(message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options);
    this.name = 'SignalKeyConflictError';
    (this as { code: string }).code = 'FLOXIDE_SIGNAL_KEY_CONFLICT';
    const d = signalKeyConflictOf(options?.details);
    this.runId = d?.runId ?? '';
    this.key = d?.key ?? '';
    this.differs = d?.differs ?? [];
  }

  /** The error of signal key `key` of run `runId`, reused with a signal whose `differs` (its stored name: `firstName`). */
  static of(runId: string, key: string, differs: readonly SignalKeyDifference[], firstName: string | undefined): SignalKeyConflictError {
    const what = differs.map((d) => (d === 'name' && firstName !== undefined ? `name (it was ${JSON.stringify(firstName)})` : d)).join(' and ');
    return new SignalKeyConflictError(
      `run ${runId} already received a signal with key ${JSON.stringify(key)} and another ${what}: a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own`,
      { details: { runId, key, differs } satisfies SignalKeyConflict },
    );
  }

  /** What the error carries beside its message (stored by {@link serializeError}). */
  get details(): SignalKeyConflict {
    return { runId: this.runId, key: this.key, differs: this.differs };
  }
}

/** `data` as a {@link SignalKeyConflict}, or undefined when it is not one (stored data is not trusted). */
function signalKeyConflictOf(data: unknown): SignalKeyConflict | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  if (typeof d.runId !== 'string' || typeof d.key !== 'string' || !Array.isArray(d.differs)) return undefined;
  const differs = (['name', 'payload'] as const).filter((x) => (d.differs as unknown[]).includes(x));
  return { runId: d.runId, key: d.key, differs };
}

/**
 * Whether a step's recorded error (a `continue` step's: see `StepOutcome`) is a signal its wait refused
 * ({@link SignalRefusedError}) rather than a failure its fallbacks took: how every store and reader tells the two apart.
 */
export function isSignalRefusal(error: { readonly code?: unknown } | undefined): boolean {
  return error?.code === 'FLOXIDE_SIGNAL_REFUSED';
}

/**
 * The kind of error record a step that went on with an error leaves (`ErrorRecord.kind`; the stores' commit and the
 * SQLite file's reader both ask here): a signal its wait refused, or a failure its fallbacks took.
 */
export function continuedErrorKind(error: { readonly code?: unknown } | undefined): 'signal' | 'fallback' {
  return isSignalRefusal(error) ? 'signal' : 'fallback';
}

/** `waitForCompletion` gave up before the run reached a final status (the run itself is unaffected). */
export class WaitTimeoutError extends defineError('WaitTimeoutError', 'FLOXIDE_WAIT_TIMEOUT') {}
/**
 * A distributed work item was delivered too many times without a commit (its worker crashed or lost the lease
 * every time): it is dead-lettered instead of being redelivered forever.
 */
export class PoisonItemError extends defineError('PoisonItemError', 'FLOXIDE_POISON_ITEM') {}

/**
 * Throw (or `Transition.abort`) this from a node to fail without retrying, like BullMQ's `UnrecoverableError`.
 * Fallback edges still apply.
 */
export class UnrecoverableError extends defineError('UnrecoverableError', 'FLOXIDE_UNRECOVERABLE') {}

/**
 * An optional peer dependency is not installed: `floxide/sqlite` needs `better-sqlite3`, `floxide/redis` needs
 * `@redis/client`, `floxide/postgres` needs `pg`. The message names the package and the command that installs it.
 */
export class MissingDependencyError extends defineError('MissingDependencyError', 'FLOXIDE_MISSING_DEPENDENCY') {}

/**
 * An event subscription asked to resume after a cursor the store no longer retains (its retention trimmed the events
 * after it): some events cannot be delivered, so the subscription ends with this instead of a silent gap.
 */
export class EventsLostError extends defineError('EventsLostError', 'FLOXIDE_EVENTS_LOST') {}

/**
 * The store cannot do this for this kind of run, e.g. pausing a run checkpointed in a SQLite file (a local durable
 * run is paused by stopping its process and continued with `resume`). Nothing changed.
 */
export class UnsupportedOperationError extends defineError('UnsupportedOperationError', 'FLOXIDE_UNSUPPORTED') {}

/** An error as stored data. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SerializedError;
  /** The errors an `AggregateError` gathers (the first {@link AGGREGATED_KEPT}, each serialised the same way). */
  errors?: SerializedError[];
  /** What a Floxide error carries beside its message, as JSON data (a {@link SignalKeyConflictError}'s run, key and differences). */
  details?: unknown;
}

/** How many of an `AggregateError`'s errors {@link serializeError} keeps. */
export const AGGREGATED_KEPT = 10;

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (err instanceof Error) {
    // Each part is read through a getter that may throw: the failure is reported, never replaced by the error of
    // reading it (a throwing `message` getter escaped local runs as a raw error instead of the node's failure).
    const out: SerializedError = { name: textPart(err, 'name') ?? 'Error', message: textPart(err, 'message') ?? '' };
    const code = readPart(err, 'code');
    if (typeof code === 'string') out.code = code;
    const stack = textPart(err, 'stack');
    if (stack) out.stack = stack;
    const cause = readPart(err, 'cause');
    if (cause === UNREADABLE) out.cause = { name: 'Error', message: unreadable('cause') };
    else if (cause !== undefined && depth < 4) out.cause = serializeError(cause, depth + 1);
    const errors = err instanceof AggregateError && depth < 4 ? aggregated(err) : undefined;
    if (errors !== undefined) out.errors = errors.map((e) => serializeError(e, depth + 1));
    if (err instanceof SignalKeyConflictError) out.details = err.details;
    return out;
  }
  return { name: 'Error', message: typeof err === 'string' ? err : safeString(err) };
}

const UNREADABLE: unique symbol = Symbol('floxide.unreadable');

/** The first errors an `AggregateError` gathers, or undefined when it has none that can be read. */
function aggregated(err: AggregateError): unknown[] | undefined {
  const errors = readPart(err, 'errors');
  try {
    return Array.isArray(errors) && errors.length > 0 ? errors.slice(0, AGGREGATED_KEPT) : undefined;
  } catch {
    return undefined; // a revoked proxy, or an array whose elements cannot be read
  }
}

/** Property `key` of a thrown value, or {@link UNREADABLE} when reading it throws. */
function readPart(err: object, key: string): unknown {
  try {
    return (err as Record<string, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

const unreadable = (key: string) => `(the error's ${key} could not be read: its getter threw)`;

/** A text part of an error (`name`, `message`, `stack`): another value as its text, an unreadable one described. */
function textPart(err: object, key: string): string | undefined {
  const v = readPart(err, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  return v === UNREADABLE ? unreadable(key) : safeString(v);
}

/** `v` as text for a message; never throws (a value no rendering can show is named by its type). */
function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    try {
      return String(v);
    } catch {
      return `(a ${typeof v} that cannot be shown)`;
    }
  }
}

const KNOWN: Record<string, new (message: string, options?: { cause?: unknown; details?: unknown }) => FloxideError> = {
  MissingDependencyError,
  CancelledError,
  DeadlineExceededError,
  NodeTimeoutError,
  NodeFailedError,
  NoTerminalReachedError,
  RunNotFoundError,
  RunAlreadyCompletedError,
  RunInputMismatchError,
  FingerprintMismatchError,
  StaleGeneratedModuleError,
  CorruptStateError,
  StoreError,
  SchemaMissingError,
  SchemaSetupError,
  PackageFileMissingError,
  InvalidArgumentError,
  RunStateError,
  RunBusyError,
  UnrecoverableError,
  WaitTimeoutError,
  PoisonItemError,
  SignalTimeoutError,
  InvalidSignalError,
  SignalRefusedError,
  SignalKeyConflictError,
  EventsLostError,
  InvalidScheduleError,
  ScheduleNotFoundError,
  MigrationBlockedError,
  MigrationChangedError,
};

/** Turns stored error data back into an Error (the Floxide subclass when the name is one of ours). */
export function reviveError(data: SerializedError): Error {
  const cause = data.cause ? reviveError(data.cause) : undefined;
  const Known = Object.prototype.hasOwnProperty.call(KNOWN, data.name) ? KNOWN[data.name] : undefined;
  let err: Error;
  if (Known) err = new Known(data.message, { ...(cause ? { cause } : {}), ...(data.details !== undefined ? { details: data.details } : {}) });
  else if (Array.isArray(data.errors)) {
    // Stored data: an entry that is not a serialised error is left out rather than revived as something it is not.
    const errors = data.errors.filter((e) => typeof e === 'object' && e !== null && typeof e.name === 'string' && typeof e.message === 'string').map(reviveError);
    err = new AggregateError(errors, data.message, cause ? { cause } : undefined);
    err.name = data.name;
  } else {
    err = new Error(data.message, cause ? { cause } : undefined);
    err.name = data.name;
    if (data.code !== undefined) (err as { code?: string }).code = data.code;
  }
  if (data.stack) err.stack = data.stack;
  return err;
}

/** True for the failures that end a run at once: cancellation and the workflow deadline. */
export function isRunAbortError(err: unknown): err is CancelledError | DeadlineExceededError {
  return err instanceof CancelledError || err instanceof DeadlineExceededError;
}

/**
 * The error an abort surfaces as: the signal's reason when it is ours (cancel, deadline, node timeout, a checkpointed
 * call that lost its run), else a {@link CancelledError} caused by the foreign reason.
 */
export function abortReason(signal: { readonly reason: unknown }): Error {
  const r: unknown = signal.reason;
  if (isRunAbortError(r) || r instanceof NodeTimeoutError || r instanceof RunBusyError) return r;
  return new CancelledError('the run was cancelled', r === undefined ? undefined : { cause: r });
}

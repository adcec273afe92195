/**
 * The one mapping from what a store answers to the typed error a caller gets, for every backend: the memory backend,
 * the Redis scripts and the Postgres functions return data (a reply code and its fields) and each backend turns it
 * into an error here, so the same situation gives the same error class and message everywhere (BullMQ's
 * `finished-errors.ts` does the same for its scripts' codes).
 */
import {
  CorruptStateError,
  FingerprintMismatchError,
  RunInputMismatchError,
  RunNotFoundError,
  RunStateError,
  ScheduleNotFoundError,
  StoreError,
  type FloxideError,
} from '../core/errors.js';
import { groupSizeError } from '../engine/commit.js';
import { RUN_STATUSES, type RunStatus } from './contracts.js';

/** A store reply that is an error, with the data its message needs. */
export type StoreReply =
  /** No run has this id. */
  | { readonly code: 'not_found'; readonly runId: string }
  /** A commit's join arrival names a group that is parked with another size. */
  | { readonly code: 'bad_group'; readonly group: string; readonly size: number | string; readonly groupSize: number | string }
  /** A transition of a run whose status is final. */
  | { readonly code: 'final'; readonly runId: string; readonly op: string; readonly status: string }
  /** createRun of an existing run id with another workflow, graph or input. */
  | { readonly code: 'workflow_mismatch'; readonly runId: string; readonly workflow: string; readonly existing: string }
  | { readonly code: 'fingerprint_mismatch'; readonly runId: string; readonly fingerprint: string; readonly existing: string }
  | { readonly code: 'input_mismatch'; readonly runId: string }
  /** A signal for a run of another workflow than the sender's. */
  | { readonly code: 'other_workflow'; readonly runId: string; readonly workflow: string; readonly actual: string }
  /** No schedule has this id. */
  | { readonly code: 'schedule_not_found'; readonly id: string }
  /** The backend was closed. */
  | { readonly code: 'closed'; readonly backend: string }
  /** A reply this code does not know (a store of another version, or a bug). */
  | { readonly code: 'unexpected'; readonly what: string; readonly reply: unknown };

/** The typed error of a store reply. */
export function replyError(r: StoreReply): FloxideError {
  switch (r.code) {
    case 'not_found':
      return new RunNotFoundError(`no run with id ${JSON.stringify(r.runId)}`);
    case 'bad_group':
      return groupSizeError(r.group, r.size, r.groupSize);
    case 'final':
      return new RunStateError(`cannot ${r.op} run ${r.runId}: it is already ${r.status}`);
    case 'workflow_mismatch':
      return new RunInputMismatchError(`run ${r.runId} exists for workflow ${r.existing}, not ${r.workflow}`);
    case 'fingerprint_mismatch':
      return new FingerprintMismatchError(`run ${r.runId} was started by graph ${r.existing}, not ${r.fingerprint}: run floxide build or use another run id`);
    case 'input_mismatch':
      return new RunInputMismatchError(`run ${r.runId} already exists with a different input`);
    case 'other_workflow':
      return new RunStateError(`run ${r.runId} is a run of ${r.actual}, not of ${r.workflow}`);
    case 'schedule_not_found':
      return new ScheduleNotFoundError(`no schedule with id ${JSON.stringify(r.id)}`);
    case 'closed':
      return new StoreError(`the ${r.backend} backend is closed`);
    case 'unexpected':
      return new StoreError(`unexpected ${r.what} reply ${describe(r.reply)}`);
  }
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 200) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A stored run status, checked against {@link RUN_STATUSES} (`CorruptStateError` for anything else). */
export function runStatusOf(status: unknown, runId: string): RunStatus {
  if (!RUN_STATUSES.includes(status as RunStatus)) throw new CorruptStateError(`run ${runId} has an unknown status ${JSON.stringify(status)}`);
  return status as RunStatus;
}

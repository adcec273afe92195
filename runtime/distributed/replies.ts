/**
 * The one mapping from what a store answers to the typed error a caller gets, for every backend: the memory backend,
 * the Redis scripts and the Postgres functions return data (a reply code and its fields) and each backend turns it
 * into an error here, so the same situation gives the same error class and message everywhere (BullMQ's
 * `finished-errors.ts` does the same for its scripts' codes).
 */
import {
  CorruptStateError,
  FingerprintMismatchError,
  MigrationBlockedError,
  MigrationChangedError,
  leasedReason,
  RunInputMismatchError,
  RunNotFoundError,
  RunStateError,
  otherWorkflowError,
  ScheduleNotFoundError,
  StoreError,
  type FloxideError,
  type SerializedError,
} from '../core/errors.js';
import { parseStoredJson } from '../core/ids.js';
import { keyConflict, type SignalPlan } from '../core/signal-plan.js';
import { groupSizeError } from '../engine/commit.js';
import { RUN_STATUSES, type RunEnd, type RunStatus } from './contracts.js';

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
  /** A signal whose idempotency key the run received first with another name or payload digest (these). */
  | { readonly code: 'key_conflict'; readonly signal: SignalPlan; readonly name: string; readonly digest: string }
  /** No schedule has this id. */
  | { readonly code: 'schedule_not_found'; readonly id: string }
  /** A migration of a run that is not on the version it was judged on. */
  | { readonly code: 'migration_version'; readonly runId: string; readonly from: string; readonly existing: string }
  /** A migration of a run whose outstanding items are not the ones judged (`item`: one that differs). */
  | { readonly code: 'migration_changed'; readonly runId: string; readonly item: string }
  /** A migration that does not keep leases, of a run with items leased to workers. */
  | {
      readonly code: 'migration_leased';
      readonly runId: string;
      readonly from: string;
      readonly to: string;
      readonly leased: ReadonlyArray<{ readonly item: string; readonly node: string; readonly worker: string }>;
    }
  /** A run record whose field the operation needs is unreadable (a number that is none): nothing was changed. */
  | { readonly code: 'corrupt_run'; readonly runId: string; readonly field: string; readonly value: string }
  /** createRun of a new run id under which the store still keeps an item (its run record was deleted by hand): nothing was created. */
  | { readonly code: 'leftover_item'; readonly runId: string; readonly itemId: string }
  /** The store refused one operation of a batch (a key of the wrong type): that one failed, the others applied. */
  | { readonly code: 'refused'; readonly what: string; readonly reason: string }
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
    case 'migration_version':
      return new FingerprintMismatchError(`run ${r.runId} is on graph ${r.existing}, not ${r.from}: nothing was moved`);
    case 'migration_changed':
      return new MigrationChangedError(`run ${r.runId} changed while its move was judged (item ${r.item}): nothing was moved; judge it again`);
    case 'migration_leased': {
      const blocking = r.leased.map((l) => ({ item: l.item, node: l.node, reason: leasedReason(l.worker, r.from) }));
      const err = new MigrationBlockedError(`run ${r.runId} cannot move from version ${r.from} to ${r.to}:\n${blocking.map((b) => `  ${b.item}: ${b.reason}`).join('\n')}`);
      err.blocking = blocking;
      return err;
    }
    case 'other_workflow':
      return otherWorkflowError(r.runId, r.actual, r.workflow);
    case 'key_conflict':
      // (the store found them unequal: the rule says what differs; a store that said so of an equal signal is wrong)
      return keyConflict(r.signal, { name: r.name, digest: r.digest }) ?? replyError({ code: 'unexpected', what: 'signal', reply: r });
    case 'schedule_not_found':
      return new ScheduleNotFoundError(`no schedule with id ${JSON.stringify(r.id)}`);
    case 'corrupt_run':
      return new CorruptStateError(`run ${r.runId}: its stored ${r.field} ${JSON.stringify(r.value)} is not a number, so nothing was changed (the record was written by something other than floxide: repair or delete it)`);
    case 'leftover_item':
      return new CorruptStateError(`run ${r.runId} has no record but its item ${JSON.stringify(r.itemId)} is still stored (the record was deleted by hand?), so nothing was created: delete the run's keys or use another run id`);
    case 'refused':
      return new StoreError(`${r.what} failed in the store: ${r.reason}`);
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

/**
 * The {@link RunEnd} of an applied commit that finished run `runId`, from what every backend answers for it (the
 * memory backend's record, the commit script's reply lines, the commit function's keys): the run's `createdAt`, the
 * commit's time and the stored error JSON ('' or null: none). `CorruptStateError` for a time that is not an integer
 * or an error that is not JSON.
 */
export function runEndOf(runId: string, createdAt: unknown, finishedAt: unknown, errorJson: string | null | undefined): RunEnd {
  const created = epochOf(createdAt);
  const finished = epochOf(finishedAt);
  if (!Number.isSafeInteger(created) || !Number.isSafeInteger(finished)) {
    throw new CorruptStateError(`run ${runId}: unexpected times in its finishing commit's reply (created ${describe(createdAt)}, finished ${describe(finishedAt)})`);
  }
  if (errorJson === null || errorJson === undefined || errorJson === '') return { createdAt: created, finishedAt: finished };
  return { createdAt: created, finishedAt: finished, error: parseStoredJson<SerializedError>(errorJson, `run ${runId}'s error`) };
}

/** A stored epoch ms (a number, or the digits Redis answers), NaN for anything else. */
function epochOf(v: unknown): number {
  return typeof v === 'number' || (typeof v === 'string' && v !== '') ? Number(v) : NaN;
}

/** What a backend's migrate script or function answers (`lua/migrate-3.lua`, `functions/migrate_run.sql`). */
export type MigrationReply =
  | { readonly code: 'ok' | 'not_found' }
  | { readonly code: 'final'; readonly status: string }
  | { readonly code: 'version'; readonly fingerprint: string }
  | { readonly code: 'changed'; readonly item: string }
  | { readonly code: 'leased'; readonly leased: ReadonlyArray<{ readonly item: string; readonly node: string; readonly worker: string }> };

/** Throws the typed error of a migrate reply of run `runId` moving `from` -> `to` (nothing for `ok`). */
export function checkMigrationReply(runId: string, m: { readonly from: string; readonly to: string }, r: MigrationReply): void {
  switch (r.code) {
    case 'ok':
      return;
    case 'not_found':
      throw replyError({ code: 'not_found', runId });
    case 'final':
      throw replyError({ code: 'final', runId, op: 'migrate', status: r.status });
    case 'version':
      throw replyError({ code: 'migration_version', runId, from: m.from, existing: r.fingerprint });
    case 'changed':
      throw replyError({ code: 'migration_changed', runId, item: r.item });
    case 'leased':
      throw replyError({ code: 'migration_leased', runId, from: m.from, to: m.to, leased: r.leased });
    default:
      throw replyError({ code: 'unexpected', what: 'migrate', reply: r });
  }
}

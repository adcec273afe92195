/**
 * A run record read back from a backend's store (memory, Redis, Postgres): its fields decoded one by one
 * (`decodeStoredRun`, runtime/engine/decode.ts), so a record with unreadable fields is {@link RunRecord.corrupt}, not
 * a failed read.
 */
import { decodeStoredRun, type StoredRunFields } from '../engine/decode.js';
import { versionMovesOf } from '../engine/migration.js';
import { RUN_STATUSES, type DroppedItem, type RunRecord, type RunStatus } from './contracts.js';

/** The fields a store keeps as they are (strings it never parses) beside those {@link decodeStoredRun} reads. */
export interface StoredRunIdentity {
  readonly runId: string;
  readonly traceparent: string | null | undefined;
}

/** The stored run as a {@link RunRecord}; never throws for a corrupt field (it is named in `corrupt`). */
export function decodeRunRecord(id: StoredRunIdentity, fields: StoredRunFields): RunRecord {
  const d = decodeStoredRun<RunStatus, DroppedItem>(id.runId, fields, RUN_STATUSES);
  return {
    runId: id.runId,
    workflow: d.workflow,
    fingerprint: d.fingerprint,
    status: d.status,
    input: d.input,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    finishedAt: d.finishedAt,
    deadline: d.deadline,
    output: d.output,
    error: d.error,
    dropped: d.dropped.map((x) => ({ id: x.id, node: x.node, reason: x.reason })),
    ...(id.traceparent ? { traceparent: id.traceparent } : {}),
    ...versionMovesOf(d),
    ...(d.corrupt ? { corrupt: d.corrupt } : {}),
  };
}

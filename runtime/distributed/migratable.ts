/**
 * A distributed backend as the compiler's `migrateRun` (compiler/versions/migrate.ts) reads and moves a run: the run
 * record, every outstanding item (with the worker holding its lease, if any) and the parked join arrivals. The reads
 * are not one snapshot; the move is guarded instead ({@link RunMigration.expect}): a run that changed in between is
 * refused with `MigrationChangedError` and judged again.
 */
import { parseStoredJson, storedJson } from '../core/ids.js';
import { renamedItem } from '../engine/migration.js';
import type { EngineItem } from '../engine/types.js';
import { readableRun, type DistributedBackend, type RunMigration, type RunMigrator, type RunStatus } from './contracts.js';

/** What `migrateRun` reads and calls (structurally its `MigratableStore`). */
export interface MigratableBackend {
  /** A distributed run can be moved while it is running or paused (a failed run is final). */
  readonly openStatuses: readonly RunStatus[];
  load(runId: string): Promise<
    | {
        readonly run: { readonly workflow: string; readonly fingerprint: string; readonly status: RunStatus };
        readonly items: ReadonlyArray<{ readonly id: string; readonly node: string; readonly leasedBy?: string }>;
        readonly arrivals: ReadonlyArray<{ readonly group: string; readonly node: string | undefined }>;
      }
    | undefined
  >;
  migrate(runId: string, migration: RunMigration): Promise<void>;
}

/** `backend` as `migrateRun` uses it. */
export function migratableBackend(backend: DistributedBackend & RunMigrator): MigratableBackend {
  return {
    openStatuses: ['running', 'paused'],
    async load(runId) {
      const run = readableRun(await backend.getRun(runId));
      if (!run) return undefined;
      const [work, arrivals] = await Promise.all([backend.pendingWork(runId), backend.parkedArrivals(runId)]);
      const now = Date.now();
      const items = work.map(({ item, state }) => {
        const leased = state.status === 'in_progress' && state.workerId !== undefined && (state.leaseExpiresAt ?? 0) > now;
        return { id: item.id, node: item.node, ...(leased ? { leasedBy: state.workerId } : {}) };
      });
      return { run: { workflow: run.workflow, fingerprint: run.fingerprint, status: run.status }, items, arrivals };
    },
    migrate: (runId, m) => backend.migrate(runId, m),
  };
}

/**
 * The stored items (id, canonical JSON) a migration's `renames` change, as `[id, JSON as stored, new JSON, new node]`:
 * what the Redis script and the Postgres function write after checking each stored JSON is still the one judged.
 */
export function migrationRewrites(items: Iterable<{ readonly id: string; readonly json: string }>, renames: Readonly<Record<string, string>>): Array<[string, string, string, string]> {
  const out: Array<[string, string, string, string]> = [];
  if (Object.keys(renames).length === 0) return out;
  for (const { id, json } of items) {
    const item = parseStoredJson<EngineItem>(json, 'work item');
    const moved = renamedItem(item, renames);
    if (moved !== item) out.push([id, json, storedJson(moved), moved.node]);
  }
  return out;
}

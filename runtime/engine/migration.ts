/**
 * Moving a run from one graph version to another (issue 10): what every store's migrate rewrites. Whether a move is
 * type-safe is decided by the compiler (`compiler/versions/migrate.ts`); the stores only apply it atomically.
 */
import type { RunMigratedEvent } from './events.js';
import type { EngineItem } from './types.js';

/** A run's move from graph `from` to graph `to` (what the local stores' `migrate` and the backends' share). */
export interface VersionMove {
  /** The fingerprint the run must have now (else `FingerprintMismatchError`, nothing written). */
  readonly from: string;
  /** The fingerprint it gets. */
  readonly to: string;
  /** Old node name -> new node name: pending items (and settlement items' arrivals) for `old` are rewritten to `new`. */
  readonly renames: Readonly<Record<string, string>>;
  /**
   * Who moves it: the worker (or, for a checkpointed run, the process `<host>:<pid>`) whose build accepts the run's
   * version; absent for an operator's move (`floxide runs migrate`, `migrateRun`). Reported by `run.migrated`.
   */
  readonly workerId?: string;
}

/**
 * What a run record keeps of its version moves (every store: the run records of the distributed backends and the
 * checkpoint stores). Both absent for a run never moved, or moved only by a floxide that did not keep them.
 */
export interface VersionMoves {
  /** The graph version the run was started on, when a move took it to another one (the first move's `from`). */
  readonly startedOn?: string;
  /** When it was last moved (epoch ms; the store's clock in distributed modes). */
  readonly migratedAt?: number;
}

/** The {@link VersionMoves} fields of a decoded record, without the absent ones. */
export function versionMovesOf(d: { readonly startedOn?: string | undefined; readonly migratedAt?: number | undefined }): VersionMoves {
  return { ...(d.startedOn !== undefined ? { startedOn: d.startedOn } : {}), ...(d.migratedAt !== undefined ? { migratedAt: d.migratedAt } : {}) };
}

/** The event of run `runId`'s move `m`, applied at `at`. */
export function migratedEvent(runId: string, at: number, m: VersionMove): RunMigratedEvent {
  return { type: 'run.migrated', runId, at, ...movedFields(m) };
}

/**
 * The JSON of {@link migratedEvent} without its `at`, for the stores that add the time of their own clock when they
 * apply the move (the Redis script, the Postgres function): `{"type":"run.migrated",...}`, no `workerId` when absent.
 */
export function migratedEventJson(runId: string, m: VersionMove): string {
  return JSON.stringify({ type: 'run.migrated', runId, ...movedFields(m) });
}

function movedFields(m: VersionMove): Pick<RunMigratedEvent, 'from' | 'to' | 'renames' | 'workerId'> {
  return { from: m.from, to: m.to, renames: { ...m.renames }, workerId: m.workerId };
}

/** A pending item with its node names moved by `renames` (the item itself when nothing changes). */
export function renamedItem(item: EngineItem, renames: Readonly<Record<string, string>>): EngineItem {
  const to = (n: string | undefined) => (n !== undefined && Object.hasOwn(renames, n) ? renames[n] : n);
  const settle = item.settle?.some((a) => to(a.node) !== a.node) ? item.settle.map((a) => ({ ...a, node: to(a.node) })) : item.settle;
  if (to(item.node) === item.node && settle === item.settle) return item;
  return { ...item, node: to(item.node)!, ...(settle ? { settle } : {}) };
}

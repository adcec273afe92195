/**
 * Moving a run from one graph version to another (issue 10): what every store's migrate rewrites. Whether a move is
 * type-safe is decided by the compiler (`compiler/versions/migrate.ts`); the stores only apply it atomically.
 */
import type { EngineItem } from './types.js';

/** A run's move from graph `from` to graph `to` (what the local stores' `migrate` and the backends' share). */
export interface VersionMove {
  /** The fingerprint the run must have now (else `FingerprintMismatchError`, nothing written). */
  readonly from: string;
  /** The fingerprint it gets. */
  readonly to: string;
  /** Old node name -> new node name: pending items (and settlement items' arrivals) for `old` are rewritten to `new`. */
  readonly renames: Readonly<Record<string, string>>;
}

/** A pending item with its node names moved by `renames` (the item itself when nothing changes). */
export function renamedItem(item: EngineItem, renames: Readonly<Record<string, string>>): EngineItem {
  const to = (n: string | undefined) => (n !== undefined && Object.hasOwn(renames, n) ? renames[n] : n);
  const settle = item.settle?.some((a) => to(a.node) !== a.node) ? item.settle.map((a) => ({ ...a, node: to(a.node) })) : item.settle;
  if (to(item.node) === item.node && settle === item.settle) return item;
  return { ...item, node: to(item.node)!, ...(settle ? { settle } : {}) };
}

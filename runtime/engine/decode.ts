/**
 * Reading the engine's data back from a store: every store (the SQLite checkpoint store, the memory, Redis and
 * Postgres backends) decodes a stored work item through {@link decodeStoredItem}, so a corrupt one is the same
 * {@link CorruptStateError}, naming the run, the item and what is wrong, wherever it is read.
 */
import { CorruptStateError } from '../core/errors.js';
import { excerpt, safeJsonParse } from '../core/json.js';
import type { EngineItem } from './types.js';

/** Where a stored item was read: its run and, when the store keeps them beside the item, its id and node. */
export interface StoredItemRef {
  readonly runId: string;
  readonly itemId?: string;
  readonly node?: string;
}

function where(ref: StoredItemRef): string {
  return ref.itemId === undefined ? `run ${ref.runId}: a stored work item` : `run ${ref.runId} item ${JSON.stringify(ref.itemId)}: the stored work item`;
}

/**
 * Checks a parsed stored item: an object with a string `node` and `id` (the ones the store keeps beside it, when it
 * does) and, if present, `join` as an array. Throws {@link CorruptStateError}.
 */
export function checkStoredItem(value: unknown, ref: StoredItemRef): EngineItem {
  const fail = (what: string) => new CorruptStateError(`${where(ref)} ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`is not an object: ${excerpt(value)}`);
  const it = value as EngineItem;
  if (typeof it.id !== 'string') throw fail(`has no string id: ${excerpt(value)}`);
  if (ref.itemId !== undefined && it.id !== ref.itemId) throw fail(`has id ${JSON.stringify(it.id)}, the store keeps it as ${JSON.stringify(ref.itemId)}`);
  if (typeof it.node !== 'string') throw fail(`names no node: ${excerpt(value)}`);
  if (ref.node !== undefined && it.node !== ref.node) throw fail(`names node ${JSON.stringify(it.node)}, the store keeps ${JSON.stringify(ref.node)}`);
  if (it.join !== undefined && !Array.isArray(it.join)) throw fail(`has fan-out frames that are not an array: ${excerpt(it.join)}`);
  return it;
}

/** Parses and checks a stored item's JSON text ({@link checkStoredItem}). Throws {@link CorruptStateError}. */
export function decodeStoredItem(text: unknown, ref: StoredItemRef): EngineItem {
  let value: unknown;
  try {
    value = safeJsonParse(text, where(ref));
  } catch (err) {
    throw new CorruptStateError(`${(err as Error).message}: ${excerpt(text)}`, { cause: err });
  }
  return checkStoredItem(value, ref);
}

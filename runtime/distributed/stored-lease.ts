/**
 * A claimed item as a backend read it from its store, decoded in one place for every backend (memory, Redis,
 * Postgres), as is every outstanding item `pendingWork` lists and every delta `readContext` returns. A claim leases many items at once, so the decode is per item: an item whose stored JSON (or the
 * context the claim carries for it) is corrupt comes back with {@link LeasedItem.corrupt} set, holding only the id
 * and node the store keeps, and the others are untouched. The worker fails that item at once (`execution.ts`).
 */
import { CorruptStateError } from '../core/errors.js';
import { excerpt, safeJsonParse } from '../core/json.js';
import { decodeStoredItem } from '../engine/decode.js';
import type { ContextDelta, EngineItem } from '../engine/types.js';
import type { ContextDeltaRecord, LeasedItem, WorkQueue } from './contracts.js';

/** One claimed item as the store returned it: the lease, with the item and context parts still as stored text. */
export interface StoredLease {
  readonly runId: string;
  readonly workflow: string;
  readonly fingerprint: string;
  readonly deadline: number | undefined;
  readonly traceparent?: string;
  /** The item's id and node as the store keeps them beside the item (never read from the item's JSON). */
  readonly itemId: string;
  readonly node: string;
  readonly itemJson: unknown;
  readonly attempt: number;
  readonly leaseToken: string;
  readonly leaseExpiresAt: number;
  readonly deliveries: number;
  readonly contextVersion?: number;
  /** The run's initial context (JSON text), when the claim carries it ({@link LeasedItem.initialContext}). */
  readonly initialContextJson?: unknown;
  /** The run's latest delta (JSON text) and the item that committed it, when the claim carries it. */
  readonly lastDelta?: { readonly itemId: string; readonly json: unknown };
}

/**
 * The {@link CorruptStateError} of an item whose run's stored context cannot be read (malformed JSON, not an object,
 * a value of the wrong shape for its merge strategy): it names the run, the item and what is wrong.
 */
export function contextCorruption(lease: Pick<LeasedItem, 'runId' | 'item'>, cause: unknown): CorruptStateError {
  const what = cause instanceof Error ? cause.message : String(cause);
  return new CorruptStateError(`run ${lease.runId} item ${JSON.stringify(lease.item.id)} (node ${lease.item.node}): the run's stored context cannot be read: ${what}`, { cause });
}

/** A stored delta as errors name it: `context delta 2 (item "a1")`. */
export function deltaName(d: Pick<ContextDeltaRecord, 'version' | 'itemId'>): string {
  return `context delta ${d.version} (item ${JSON.stringify(d.itemId)})`;
}

/**
 * Decodes one stored context delta (a claim's latest, or every delta `readContext` returns), as the record of context
 * version `version`. Throws {@link CorruptStateError} naming the delta (version and the item that committed it) for
 * malformed JSON or a value that is not an object.
 */
export function decodeStoredDelta(json: unknown, version: number, itemId: string): ContextDeltaRecord {
  const what = deltaName({ version, itemId });
  const delta = safeJsonParse<unknown>(json, what);
  if (typeof delta !== 'object' || delta === null || Array.isArray(delta)) throw new CorruptStateError(`${what} is not an object: ${excerpt(delta)}`);
  return { version, itemId, delta: delta as ContextDelta };
}

/** Where a stored item is kept: its run, and the id and node the store keeps beside its JSON. */
export interface StoredWorkRef {
  readonly runId: string;
  readonly itemId: string;
  readonly node: string;
}

/**
 * Decodes one stored work item for reading (a claim, {@link WorkQueue.pendingWork}). Never throws for corrupt stored
 * JSON: `corrupt` then holds the {@link CorruptStateError} and `item` only the id and node the store keeps
 * (`input: null`).
 */
export function decodeStoredWork(json: unknown, ref: StoredWorkRef): { readonly item: EngineItem; readonly corrupt?: CorruptStateError } {
  try {
    return { item: decodeStoredItem(json, ref) };
  } catch (err) {
    return { item: { node: ref.node, id: ref.itemId, input: null }, corrupt: err as CorruptStateError };
  }
}

/**
 * Decodes one claimed item. Never throws for corrupt stored data: the lease then carries `corrupt` (and, when the
 * item itself is corrupt, an item of only the stored id and node, `input: null`), so the worker fails it and its
 * run without running it.
 */
export function decodeLease(s: StoredLease): LeasedItem {
  const base = {
    runId: s.runId,
    workflow: s.workflow,
    fingerprint: s.fingerprint,
    deadline: s.deadline,
    ...(s.traceparent === undefined ? {} : { traceparent: s.traceparent }),
    attempt: s.attempt,
    leaseToken: s.leaseToken,
    leaseExpiresAt: s.leaseExpiresAt,
    deliveries: s.deliveries,
    ...(s.contextVersion === undefined ? {} : { contextVersion: s.contextVersion }),
  };
  const { item, corrupt } = decodeStoredWork(s.itemJson, s);
  if (corrupt) return { ...base, item, corrupt };
  try {
    let lastDelta: ContextDeltaRecord | undefined;
    if (s.lastDelta !== undefined && s.contextVersion !== undefined) {
      lastDelta = decodeStoredDelta(s.lastDelta.json, s.contextVersion, s.lastDelta.itemId);
    }
    const initial = s.initialContextJson === undefined ? undefined : safeJsonParse<unknown>(s.initialContextJson, 'initial context');
    return { ...base, item, ...(lastDelta ? { lastDelta } : {}), ...(initial === undefined ? {} : { initialContext: initial }) };
  } catch (err) {
    return { ...base, item, corrupt: contextCorruption({ runId: s.runId, item }, err) };
  }
}

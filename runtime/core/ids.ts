/**
 * Identifiers and stored-JSON helpers shared by every distributed backend: validation of run ids, worker ids,
 * item ids and key prefixes (they end up inside Redis keys and SQL rows), deterministic child item ids, and the
 * canonical/safe JSON encoding every backend uses so that all of them compare and revive values the same way.
 */
import * as crypto from 'node:crypto';
import { InvalidArgumentError } from './errors.js';
import { canonicalJson, runInputJson, safeJsonParse, storedJson } from './json.js';

/** The JSON helpers every backend uses (one implementation, in runtime/json.ts). */
export { canonicalJson, runInputJson, safeJsonParse as parseStoredJson, storedJson };

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const KEY_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const MAX_ITEM_ID = 512;

/** The id of a run's first work item (every mode). */
export const START_ITEM_ID = '0';

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v) : typeof v;
}

/**
 * Throws {@link InvalidArgumentError} unless `runId` is 1-128 characters of `[A-Za-z0-9._:-]` starting with a letter
 * or digit, without `..`. Run ids are embedded in store keys, so anything else (spaces, `*`, `/`, braces, newlines)
 * is refused. Every store, local or distributed, uses this one rule.
 */
export function assertRunId(runId: unknown): asserts runId is string {
  if (typeof runId !== 'string' || !RUN_ID.test(runId) || runId.includes('..')) {
    throw new InvalidArgumentError(`invalid run id ${show(runId)}: expected 1-128 characters of [A-Za-z0-9._:-], starting with a letter or digit, without ".."`);
  }
}

/** Throws {@link InvalidArgumentError} unless `workerId` is 1-128 characters of `[A-Za-z0-9._:@-]` starting with a letter or digit. */
export function assertWorkerId(workerId: unknown): asserts workerId is string {
  if (typeof workerId !== 'string' || !WORKER_ID.test(workerId)) {
    throw new InvalidArgumentError(`invalid worker id ${show(workerId)}: expected 1-128 characters of [A-Za-z0-9._:@-], starting with a letter or digit`);
  }
}

/**
 * Throws {@link InvalidArgumentError} unless `prefix` is 1-64 characters of `[A-Za-z0-9._:-]` starting with a letter
 * or digit (e.g. `floxide:` or `tenant-a.floxide:`). Prefixes must not contain Redis glob or hash-tag characters.
 */
export function assertKeyPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !KEY_PREFIX.test(prefix)) {
    throw new InvalidArgumentError(`invalid key prefix ${show(prefix)}: expected 1-64 characters of [A-Za-z0-9._:-], starting with a letter or digit`);
  }
}

/**
 * Throws {@link InvalidArgumentError} unless `key` (a signal's idempotency key) is 1-512 printable characters of
 * well-formed text: no control character, no half of a surrogate pair. Every store keeps keys as text (Postgres
 * refused a NUL or a lone surrogate with a StoreError, SQLite and a Redis client write UTF-8, where two lone
 * surrogates become the same U+FFFD): one rule in every mode.
 */
export function assertSignalKey(key: unknown): asserts key is string {
  // eslint-disable-next-line no-control-regex
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_ITEM_ID || /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key)) {
    throw new InvalidArgumentError(`invalid signal key ${show(key)}: expected 1-${MAX_ITEM_ID} printable characters (no control character, no lone surrogate)`);
  }
}

/** Throws {@link InvalidArgumentError} unless `itemId` is a non-empty string of at most 512 printable characters. */
export function assertItemId(itemId: unknown): asserts itemId is string {
  // eslint-disable-next-line no-control-regex
  if (typeof itemId !== 'string' || itemId.length === 0 || itemId.length > MAX_ITEM_ID || /[\u0000-\u001f\u007f]/.test(itemId)) {
    throw new InvalidArgumentError(`invalid work item id ${show(itemId)}: expected 1-${MAX_ITEM_ID} printable characters`);
  }
}

/** SHA-256 in hex: the one-shot `crypto.hash` (Node >= 20.12, ~3x cheaper per call) where it exists. */
export const sha256Hex: (s: string) => string =
  typeof crypto.hash === 'function' ? (s) => crypto.hash('sha256', s, 'hex') : (s) => crypto.createHash('sha256').update(s).digest('hex');

/**
 * The id of the `index`-th child produced by the item `parentId`: a hash of both, so a redelivered item produces
 * exactly the same child ids and the store's per-id idempotency recognises them. 20 hex characters (80 bits).
 */
export function childItemId(parentId: string, index: number): string {
  assertItemId(parentId);
  if (!Number.isSafeInteger(index) || index < 0) throw new InvalidArgumentError(`invalid child index ${String(index)}`);
  return sha256Hex(`${parentId}\u0000${index}`).slice(0, 20);
}

/** A fresh random run id (runs are never replayed under a new id, so randomness is fine here). */
export function newRunId(): string {
  return crypto.randomUUID();
}


/**
 * Safe JSON for stored state: parsing drops `__proto__` keys (and `constructor.prototype` pairs), so data read
 * back from a store can never pollute prototypes; malformed text is a {@link CorruptStateError}. Canonical JSON
 * (sorted keys) makes equal values compare equal as text.
 */
import { CorruptStateError, InvalidArgumentError } from '../errors.js';

function reviver(key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined;
  if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) return undefined;
  return value;
}

/** Parses stored JSON text; `what` names it in the error. Throws {@link CorruptStateError}. */
export function safeJsonParse(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw new CorruptStateError(`${what}: expected JSON text, got ${text === null ? 'null' : typeof text}`);
  try {
    return mayPollute(text) ? JSON.parse(text, reviver) : JSON.parse(text);
  } catch (err) {
    throw new CorruptStateError(`${what}: malformed JSON (${(err as Error).message})`, { cause: err });
  }
}

/**
 * The reviver costs a JS call per parsed value (several times the parse itself). A key can only be `__proto__` or
 * `constructor` if the text spells it, or hides it behind a `\uXXXX` escape (the only JSON escape for letters).
 */
function mayPollute(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');
}

/** JSON text with object keys sorted (stable across key insertion order). `undefined` becomes `null`. */
export function canonicalJson(value: unknown): string {
  try {
    return JSON.stringify(sortKeys(value, 0)) ?? 'null';
  } catch (err) {
    throw new InvalidArgumentError(`value is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
}

function sortKeys(v: unknown, depth: number): unknown {
  if (depth > 200) throw new InvalidArgumentError('value nests too deeply to serialise');
  if (v === null || typeof v !== 'object') return v;
  const json = (v as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return sortKeys(json.call(v), depth + 1);
  if (Array.isArray(v)) return v.map((x) => sortKeys(x, depth + 1));
  if (v instanceof Set) return [...v].map((x) => sortKeys(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined && typeof x !== 'function') out[k] = sortKeys(x, depth + 1);
  }
  return out;
}

/** JSON text for stored data (no key sorting: faster). */
export function toJson(value: unknown, what: string): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Safe JSON for stored state, used by every store (checkpoint stores and distributed backends): parsing drops `__proto__` keys (and `constructor.prototype` pairs), so data read
 * back from a store can never pollute prototypes; malformed text is a {@link CorruptStateError}. Canonical JSON
 * (sorted keys) makes equal values compare equal as text.
 */
import { CorruptStateError, InvalidArgumentError } from './errors.js';

function reviver(key: string, value: unknown): unknown {
  if (key === '__proto__') return undefined;
  if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) return undefined;
  return value;
}

/** Parses stored JSON text; `what` names it in the error. Throws {@link CorruptStateError}. */
export function safeJsonParse<T = unknown>(text: unknown, what: string): T {
  if (typeof text !== 'string') throw new CorruptStateError(`${what}: expected JSON text, got ${text === null ? 'null' : typeof text}`);
  try {
    return (mayPollute(text) ? JSON.parse(text, reviver) : JSON.parse(text)) as T;
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

/**
 * JSON with object keys sorted at every level: two equal values always give the same text, so stores can compare
 * values (createRun idempotency, input mismatch) by string equality, also inside Lua and SQL. Sets are written as
 * arrays and `toJSON` is honoured. Throws {@link InvalidArgumentError} for values JSON cannot represent faithfully
 * (functions, symbols, bigint, non-finite numbers, cycles). `undefined` object properties are omitted, as
 * `JSON.stringify` does; `undefined` array elements become `null`; `undefined` at the top level is refused.
 */
export function canonicalJson(value: unknown): string {
  const seen = new Set<object>();
  const enc = (v: unknown, path: string, depth: number): string => {
    if (depth > 200) throw new InvalidArgumentError(`value nests too deeply to store (at ${path})`);
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v)) throw new InvalidArgumentError(`cannot store non-finite number at ${path}`);
        return JSON.stringify(v);
      case 'object': {
        if (seen.has(v)) throw new InvalidArgumentError(`cannot store a cyclic value (at ${path})`);
        const withJson = v as { toJSON?: () => unknown };
        if (typeof withJson.toJSON === 'function' && !Array.isArray(v)) return enc(withJson.toJSON(), path, depth + 1);
        seen.add(v);
        try {
          const list = Array.isArray(v) ? v : v instanceof Set ? [...v] : undefined;
          if (list) return `[${list.map((x, i) => (x === undefined ? 'null' : enc(x, `${path}[${i}]`, depth + 1))).join(',')}]`;
          const parts: string[] = [];
          for (const k of Object.keys(v).sort()) {
            const x = (v as Record<string, unknown>)[k];
            if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
            parts.push(`${JSON.stringify(k)}:${enc(x, `${path}.${k}`, depth + 1)}`);
          }
          return `{${parts.join(',')}}`;
        } finally {
          seen.delete(v);
        }
      }
      default:
        throw new InvalidArgumentError(`cannot store a ${typeof v} at ${path}`);
    }
  };
  return enc(value, '$', 0);
}

/** JSON text for stored data (no key sorting: faster). */
export function toJson(value: unknown, what: string): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Values JSON cannot carry, stored so that they read back as what they were: the one tagged encoding every store
 * uses (through `json.ts`), for inputs, outputs, contexts, deltas, work items, join arrivals and signal payloads.
 *
 * | value | stored as |
 * |---|---|
 * | `Date` | `{"$date": "<ISO 8601>"}` (an invalid Date: `{"$date": null}`) |
 * | `Map` | `{"$map": [[key, value], ...]}` (keys and values encoded the same way, in insertion order) |
 * | `Set` | `{"$set": [member, ...]}` (in insertion order) |
 * | `bigint` | `{"$bigint": "<decimal digits>"}` |
 * | `NaN`, `Infinity`, `-Infinity`, `-0` | `{"$number": "NaN"}`, `{"$number": "Infinity"}`, `{"$number": "-Infinity"}`, `{"$number": "-0"}` |
 * | `undefined` as an array element, a Set member, a Map key or value, or a whole value (a `void` output) | `{"$undefined": null}` (an `undefined` object property is left out, as JSON does: it reads back absent) |
 * | a plain object whose only key is one of these tags (or `$object`) | `{"$object": {...}}`, so data never reads back as a tag |
 *
 * A tag is an object with exactly one key, one of the names above; anything else is plain JSON. Reading is a walk
 * of the parsed value, done only when the text holds `{"$` (no tag can be written otherwise), so plain JSON pays one
 * substring search. The walk replaces values in place: keys named `__proto__`, `constructor` or `prototype` stay own
 * data properties (JSON.parse made them so, and assigning an existing own property never touches the prototype; see
 * runtime/context/keys.ts).
 */
import { CorruptStateError } from './errors.js';

/** The tag of an escaped plain object. */
export const OBJECT_TAG = '$object';

/** Every key that makes a one-key object a tag. */
const TAGS: ReadonlySet<string> = new Set(['$date', '$map', '$set', '$bigint', '$number', '$undefined', OBJECT_TAG]);

/** `undefined` where JSON has no place for it (an array element, a Set member, a Map key or value, a whole value). */
export const UNDEFINED_TAG = '{"$undefined":null}';

/** Whether a plain object with this one key must be written escaped (`{"$object": {...}}`). */
export function isTagName(key: string): boolean {
  return key.charCodeAt(0) === 36 /* $ */ && TAGS.has(key);
}

/** Whether `v` is a plain object (the kind JSON writes as `{...}` without a tag). */
export function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Whether plain `JSON.stringify` would lose something of `v`: a Date, Map, Set, bigint or other class instance, a
 * plain object that needs escaping, a non-finite number (which it writes as `null`), -0 (`0`) or an undefined array
 * element (`null`). Cheaper than encoding:
 * callers that need no sorted keys use it to keep the native encoder for plain data. Very deep values answer true
 * (the tag-aware encoder then refuses them with a clear error).
 */
export function needsTags(v: unknown, depth = 0): boolean {
  if (typeof v !== 'object' || v === null) return unwritable(v);
  if (depth > 200) return true;
  // leaves (strings, numbers, booleans, null: most values) are decided here, without a call each
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as unknown;
      // an undefined element (or a hole), which JSON writes as null
      if (typeof x === 'object' ? x !== null && needsTags(x, depth + 1) : x === undefined || unwritable(x)) return true;
    }
    return false;
  }
  if (!isPlainObject(v)) return true;
  for (const k in v) {
    if (isTagName(k)) return true;
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' ? x !== null && needsTags(x, depth + 1) : unwritable(x)) return true;
  }
  return false;
}

/** A leaf plain `JSON.stringify` gets wrong: a bigint (it throws), a non-finite number (`null`) or -0 (`0`). */
function unwritable(x: unknown): boolean {
  return typeof x === 'number' ? !isPlainNumber(x) : typeof x === 'bigint';
}

/** A number JSON writes as itself: finite and not -0 (the others are `$number` tags: {@link numberTag}). */
export function isPlainNumber(n: number): boolean {
  return n - n === 0 && !(n === 0 && 1 / n < 0);
}

/** The `$number` tag of a number that is not {@link isPlainNumber}. */
export function numberTag(n: number): string {
  return `{"$number":"${n === 0 ? '-0' : String(n)}"}`;
}

/** Whether JSON text may hold a tag (every tag is written `{"$...`). */
export function mayHoldTags(text: string): boolean {
  return text.includes('{"$');
}

/** Replaces every tag in a parsed JSON value by the value it stands for (in place where it can). */
export function reviveTags(v: unknown, what: string): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as unknown;
      if (typeof x === 'object' && x !== null) v[i] = reviveTags(x, what);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && isTagName(keys[0]!)) return fromTag(keys[0]!, o[keys[0]!], what);
  return reviveFields(o, keys, what);
}

function reviveFields(o: Record<string, unknown>, keys: readonly string[], what: string): Record<string, unknown> {
  for (const k of keys) {
    const x = o[k];
    // `k` is an own data property (also when it is `__proto__`): this assignment sets that property.
    if (typeof x === 'object' && x !== null) o[k] = reviveTags(x, what);
  }
  return o;
}

function fromTag(tag: string, body: unknown, what: string): unknown {
  switch (tag) {
    case '$date':
      if (body === null) return new Date(NaN);
      if (typeof body === 'string') {
        const d = new Date(body);
        if (!Number.isNaN(d.getTime())) return d;
      }
      break;
    case '$bigint':
      if (typeof body === 'string' && /^-?[0-9]+$/.test(body)) return BigInt(body);
      break;
    case '$undefined':
      if (body === null) return undefined;
      break;
    case '$number':
      if (body === 'NaN' || body === 'Infinity' || body === '-Infinity') return Number(body);
      if (body === '-0') return -0;
      break;
    case '$set':
      if (Array.isArray(body)) return new Set(reviveTags(body, what) as unknown[]);
      break;
    case '$map':
      if (Array.isArray(body) && body.every((e) => Array.isArray(e) && e.length === 2)) {
        return new Map(reviveTags(body, what) as [unknown, unknown][]);
      }
      break;
    case OBJECT_TAG:
      if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
        const o = body as Record<string, unknown>;
        return reviveFields(o, Object.keys(o), what);
      }
      break;
  }
  throw new CorruptStateError(`${what}: malformed ${tag} value ${String(JSON.stringify(body)).slice(0, 80)}`);
}

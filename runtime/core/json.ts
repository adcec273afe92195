/**
 * Safe JSON for stored state, used by every store (checkpoint stores and distributed backends): malformed text is a
 * {@link CorruptStateError}. Keys named `__proto__`, `constructor` or `prototype` are data at every depth: JSON.parse
 * makes them own properties and never sets a prototype, so stored data reads back exactly as it was given (the
 * engine copies such keys as own properties too: runtime/context/keys.ts). Canonical JSON (sorted keys) makes equal
 * values compare equal as text.
 */
import { CorruptStateError, InvalidArgumentError } from './errors.js';

/** Parses stored JSON text; `what` names it in the error. Throws {@link CorruptStateError}. */
export function safeJsonParse<T = unknown>(text: unknown, what: string): T {
  if (typeof text !== 'string') throw new CorruptStateError(`${what}: expected JSON text, got ${text === null ? 'null' : typeof text}`);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CorruptStateError(`${what}: malformed JSON (${(err as Error).message})`, { cause: err });
  }
}

/** A stored value (or stored text, quoted) as JSON, cut at 120 characters: what an error message shows of it. */
export function excerpt(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * JSON with object keys sorted at every level: two equal values always give the same text, so stores can compare
 * values (createRun idempotency, input mismatch) by string equality, also inside Lua and SQL. Sets are written as
 * arrays and `toJSON` is honoured. Throws {@link InvalidArgumentError} for values JSON cannot represent faithfully
 * (functions, symbols, bigint, non-finite numbers, cycles). `undefined` object properties are omitted, as
 * `JSON.stringify` does; `undefined` array elements become `null`; `undefined` at the top level is refused.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return new CanonicalEncoder().enc(value, 0);
}

/**
 * One {@link canonicalJson} call. The path of the value being encoded (for error messages only) is kept as a stack of
 * keys and spelled out only when an error is thrown: building it as a string for every value cost more than the
 * encoding itself.
 */
class CanonicalEncoder {
  private readonly ancestors: object[] = [];
  private readonly keys: Array<string | number> = [];

  enc(v: unknown, depth: number): string {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v)) throw new InvalidArgumentError(`cannot store non-finite number at ${this.path()}`);
        return JSON.stringify(v);
      case 'object':
        return this.object(v, depth);
      default:
        throw new InvalidArgumentError(`cannot store a ${typeof v} at ${this.path()}`);
    }
  }

  private object(v: object, depth: number): string {
    if (depth > 200) throw new InvalidArgumentError(`value nests too deeply to store (at ${this.path()})`);
    if (this.ancestors.includes(v)) throw new InvalidArgumentError(`cannot store a cyclic value (at ${this.path()})`);
    const withJson = v as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function' && !Array.isArray(v)) return this.enc(withJson.toJSON(), depth + 1);
    this.ancestors.push(v);
    try {
      const list = Array.isArray(v) ? (v as unknown[]) : v instanceof Set ? [...(v as Set<unknown>)] : undefined;
      if (list) {
        let out = '[';
        for (let i = 0; i < list.length; i++) {
          const x = list[i];
          if (i > 0) out += ',';
          if (x === undefined) {
            out += 'null';
            continue;
          }
          this.keys.push(i);
          out += this.enc(x, depth + 1);
          this.keys.pop();
        }
        return out + ']';
      }
      const names = Object.keys(v);
      if (names.length > 1) names.sort();
      let out = '{';
      let first = true;
      for (const k of names) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
        this.keys.push(k);
        out += `${first ? '' : ','}${JSON.stringify(k)}:${this.enc(x, depth + 1)}`;
        this.keys.pop();
        first = false;
      }
      return out + '}';
    } finally {
      this.ancestors.pop();
    }
  }

  /** Where the value being encoded sits, e.g. `$.items[2].input`. */
  private path(): string {
    return '$' + this.keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  }
}

/**
 * A run's input as every store keeps it (canonical JSON): a `void` input (undefined) is stored as `null`, so a
 * workflow whose start node takes no input runs in every mode and a second call with `undefined` finds the same input.
 */
export function runInputJson(input: unknown): string {
  return canonicalJson(input ?? null);
}

/** JSON text for stored data (no key sorting: faster). */
export function toJson(value: unknown, what: string): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
}

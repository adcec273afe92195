/**
 * Safe JSON for stored state, used by every store (checkpoint stores and distributed backends): malformed text is a
 * {@link CorruptStateError}. Values JSON cannot carry (Date, Map, Set, bigint, NaN, the infinities, -0) are written as tags and read back as
 * what they were (`tags.ts`), so a value has the same type in every mode. Keys named `__proto__`, `constructor` or
 * `prototype` are data at every depth: JSON.parse makes them own properties and never sets a prototype, so stored
 * data reads back exactly as it was given (the engine copies such keys as own properties too:
 * runtime/context/keys.ts). Canonical JSON (sorted keys) makes equal values compare equal as text; stored values keep their keys in their own order ({@link storedJson}).
 */
import { CorruptStateError, InvalidArgumentError } from './errors.js';
import { OBJECT_TAG, UNDEFINED_TAG, isPlainNumber, isPlainObject, isTagName, mayHoldTags, needsTags, numberTag, reviveTags } from './tags.js';

/**
 * Parses stored JSON text, tags revived; `what` names it in the error. Throws {@link CorruptStateError} (malformed
 * text or a malformed tag).
 */
export function safeJsonParse<T = unknown>(text: unknown, what: string): T {
  if (typeof text !== 'string') throw new CorruptStateError(`${what}: expected JSON text, got ${text === null ? 'null' : typeof text}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CorruptStateError(`${what}: malformed JSON (${(err as Error).message})`, { cause: err });
  }
  if (!mayHoldTags(text)) return v as T;
  try {
    return reviveTags(v, what) as T;
  } catch (err) {
    if (err instanceof CorruptStateError) throw err;
    throw new CorruptStateError(`${what}: ${(err as Error).message}`, { cause: err });
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
 * values (createRun idempotency, input mismatch) by string equality, also inside Lua and SQL. Date, Map, Set,
 * bigint, non-finite numbers and -0 are written as tags (`tags.ts`); other objects with a `toJSON` are written as it
 * returns. Throws {@link InvalidArgumentError} for values that cannot be stored faithfully (functions and symbols as
 * values, cycles; with `strict`, as object properties too, which are otherwise left out). `undefined` object
 * properties are omitted, as `JSON.stringify` does; `undefined` anywhere else (an array element, a Set member, a Map
 * key or value, the whole value) is written as a tag and reads back as `undefined`.
 */
export function canonicalJson(value: unknown, options?: { readonly strict?: boolean }): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return new CanonicalEncoder(options?.strict === true).enc(value, 0);
}

/**
 * Throws {@link InvalidArgumentError} for a value a store cannot keep as it is, naming where: a function or a symbol
 * (also as a property, which {@link canonicalJson} would leave out), a sparse array's hole, a cycle, nesting deeper
 * than {@link MAX_DEPTH},
 * a class instance other than a Date, Map or Set (it would read back as a plain object, or as its `toJSON`). Writes
 * nothing: how the step core refuses, in every mode (plain `run` stores nothing), what would not read back as it was.
 * `undefined` passes (an absent property, or a tag). `what` names the value in the message.
 */
export function assertStorable(value: unknown, what: string): void {
  const problem = storableProblem(value);
  if (problem) throw new InvalidArgumentError(`${what} cannot be stored: ${problem.message}`, { cause: problem });
}

/** What {@link assertStorable} refuses of `value`, as an error naming only the path; undefined for a storable value. */
export function storableProblem(value: unknown): InvalidArgumentError | undefined {
  if (plainlyStorable(value, 0)) return undefined;
  try {
    new CanonicalEncoder(true, false, true).enc(value, 0);
    return undefined;
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    return err;
  }
}

/**
 * The fast path of {@link assertStorable}, allocating nothing: true for primitives and for plain objects and arrays of
 * them a few levels deep (most values a step writes); false sends the value to the full check.
 */
function plainlyStorable(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return typeof v !== 'function' && typeof v !== 'symbol';
  if (depth > 8) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as unknown;
      if (typeof x === 'object' ? x !== null && !plainlyStorable(x, depth + 1) : x === undefined ? !(i in v) : typeof x === 'function' || typeof x === 'symbol') return false;
    }
    return true;
  }
  if (!isPlainObject(v)) return false;
  // (leaves tested here: a call per primitive field cost more than the test)
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' ? x !== null && !plainlyStorable(x, depth + 1) : typeof x === 'function' || typeof x === 'symbol') return false;
  }
  return true;
}

/** The name a class instance is known by in an error message. */
function className(v: object): string {
  try {
    const name = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? name : 'class instance';
  } catch {
    return 'class instance';
  }
}

/**
 * How deep a value a node writes may nest ({@link assertStorable}: deeper ones are refused, in every mode, so that
 * reading one back never exhausts the stack).
 */
const MAX_DEPTH = 200;

/**
 * How deep stored text may nest: a checked value, inside what a store wraps it in (a work item, a list of items,
 * a delta, the state of a parked nested run). Measured at {@link MAX_DEPTH}, the limit depended on the store's own
 * wrapping: a value 200 levels deep was stored by the memory store and refused by SQLite's list of work items.
 */
const MAX_STORED_DEPTH = MAX_DEPTH + 56;

/**
 * One {@link canonicalJson} call. The path of the value being encoded (for error messages only) is kept as a stack of
 * keys and spelled out only when an error is thrown: building it as a string for every value cost more than the
 * encoding itself.
 */
class CanonicalEncoder {
  private readonly ancestors: object[] = [];
  private readonly keys: Array<string | number> = [];

  /**
   * `strict`: a function or symbol property is refused like any other value JSON cannot carry, not left out.
   * `sorted`: object keys in sorted order (canonical text); otherwise in the object's own order, as `JSON.stringify`.
   * `checking`: {@link assertStorable}'s walk (its text is thrown away): it also refuses what would not read back as it
   * is (a class instance other than a Date, Map or Set, a sparse array's hole), and nesting deeper than
   * {@link MAX_DEPTH}, without the stores' wrapping.
   */
  constructor(
    private readonly strict = false,
    private readonly sorted = true,
    private readonly checking = false,
  ) {}

  enc(v: unknown, depth: number): string {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        return isPlainNumber(v) ? JSON.stringify(v) : numberTag(v);
      case 'object':
        return this.object(v, depth);
      case 'bigint':
        return `{"$bigint":"${v.toString()}"}`;
      case 'undefined':
        return UNDEFINED_TAG;
      default:
        throw new InvalidArgumentError(`cannot store a ${typeof v} at ${this.path()}`);
    }
  }

  private object(v: object, depth: number): string {
    if (depth > (this.checking ? MAX_DEPTH : MAX_STORED_DEPTH)) throw new InvalidArgumentError(`value nests too deeply to store (at ${this.path()})`);
    if (this.ancestors.includes(v)) throw new InvalidArgumentError(`cannot store a cyclic value (at ${this.path()})`);
    const isArray = Array.isArray(v);
    const plain = !isArray && isPlainObject(v);
    if (!isArray) {
      // Another class instance would read back as a plain object (or as what its toJSON returns: a string for a URL,
      // `{type, data}` for a Buffer) in every durable mode, and stay itself in plain `run`.
      if (this.checking && !plain && !(v instanceof Date) && !(v instanceof Map) && !(v instanceof Set)) {
        throw new InvalidArgumentError(`cannot store an instance of ${className(v)} at ${this.path()}: a class instance reads back as a plain object (store its data, a plain object, array, Date, Map or Set)`);
      }
      if (!plain && v instanceof Date) return Number.isNaN(v.getTime()) ? '{"$date":null}' : `{"$date":"${v.toISOString()}"}`;
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return this.enc(toJSON.call(v), depth + 1);
    }
    this.ancestors.push(v);
    try {
      if (isArray) return this.list(v as unknown[], depth + 1);
      if (plain) return this.fields(v, depth + 1);
      if (v instanceof Map) return this.map(v, depth + 1);
      if (v instanceof Set) return this.set(v, depth + 1);
      return this.fields(v, depth + 1);
    } finally {
      this.ancestors.pop();
    }
  }

  private list(list: readonly unknown[], depth: number): string {
    let out = '[';
    for (let i = 0; i < list.length; i++) {
      const x = list[i];
      if (i > 0) out += ',';
      if (x === undefined) {
        // a hole would read back as an undefined element, which `map` and `forEach` visit and `in` finds
        if (this.checking && !(i in list)) throw new InvalidArgumentError(`cannot store a sparse array (a hole at ${this.path()}[${i}]): fill it (undefined is kept)`);
        out += UNDEFINED_TAG;
        continue;
      }
      this.keys.push(i);
      out += this.enc(x, depth);
      this.keys.pop();
    }
    return out + ']';
  }

  private set(v: Set<unknown>, depth: number): string {
    return `{"$set":${this.list([...v], depth)}}`;
  }

  private map(v: Map<unknown, unknown>, depth: number): string {
    let out = '{"$map":[';
    let i = 0;
    for (const [k, x] of v) {
      this.keys.push(i);
      out += `${i > 0 ? ',' : ''}[${this.enc(k, depth)},${this.enc(x, depth)}]`;
      this.keys.pop();
      i++;
    }
    return out + ']}';
  }

  /** A plain object (or a class instance without `toJSON`: its own fields); escaped when it would read as a tag. */
  private fields(v: object, depth: number): string {
    const names = Object.keys(v);
    if (this.sorted && names.length > 1) names.sort();
    let out = '{';
    let written = 0;
    let last = '';
    for (const k of names) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined || ((typeof x === 'function' || typeof x === 'symbol') && !this.strict)) continue;
      this.keys.push(k);
      out += `${written > 0 ? ',' : ''}${JSON.stringify(k)}:${this.enc(x, depth)}`;
      this.keys.pop();
      written++;
      last = k;
    }
    out += '}';
    return written === 1 && isTagName(last) ? `{"${OBJECT_TAG}":${out}}` : out;
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

/**
 * JSON text of a stored value (an item, a delta, an output...), tags included, its object keys in their own order
 * (what `JSON.stringify` writes and `JSON.parse` gives back), so a value reads back with the keys in the order a node
 * wrote them, in every store: sorted keys (canonical text, {@link canonicalJson}) are for values compared as text,
 * such as a run's input. Plain data is written by the native `JSON.stringify`. Throws {@link InvalidArgumentError}
 * as {@link canonicalJson} does.
 */
export function storedJson(value: unknown): string {
  if (value === undefined) return UNDEFINED_TAG;
  return needsTags(value) ? new CanonicalEncoder(false, false).enc(value, 0) : (JSON.stringify(value) ?? 'null');
}

/**
 * {@link storedJson} for stored data, its failure naming `what` (plain data: the native `JSON.stringify`, anything
 * holding a value that needs a tag: the tag-aware encoder, keys in their own order).
 */
export function toJson(value: unknown, what: string): string {
  try {
    return storedJson(value);
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
}

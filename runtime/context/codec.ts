/**
 * The context codec: everything the engine does with a workflow's context object, derived from the generated
 * `contextClass`/`contextFields` plus the `@merge.*` registry (for custom merges). A step's effect on the context
 * is a {@link ContextDelta}: only the touched fields, each as its merge strategy describes it (sum = increase,
 * append = new elements, lastWrite = new value...). Applying every committed delta once, in commit order, to the
 * initial context rebuilds the context exactly; this is how checkpoints stay incremental and replay-safe.
 */
import { mergeStrategiesOf, type CustomMerge, type MergeStrategyName } from '../graph/decorators.js';
import type { AnyWorkflowDef } from '../graph/definition.js';
import { CorruptStateError } from '../core/errors.js';
import { assertStorable, excerpt } from '../core/json.js';
import { ContextFrame, DROP, type FieldRules } from './frame.js';
import { IGNORED_FIELDS, setOwn } from './keys.js';
import { EventLog, Fixed, type LoggedEvent } from './values.js';

/** A step's effect on the context: only the touched fields, per their merge strategy. */
export type ContextDelta = Record<string, unknown>;

/** What the engine does with a workflow's context. Built once per workflow definition. */
export interface ContextCodec<C = unknown> {
  /** A fresh context (`new contextClass()`, or `{}` without one). */
  create(): C;
  /** A working copy for one step: mutating it never touches `ctx`. `stamp` seeds default event ids. */
  clone(ctx: C, stamp?: string): C;
  /** What a step changed, per field strategy; undefined when nothing changed. */
  diff(before: C, after: C): ContextDelta | undefined;
  /**
   * Applies a delta in place (the merge). A field's delta of the wrong shape for its strategy (a `sum` delta that is
   * not a number, an `append` delta that is not an array...) is stored data gone bad: {@link CorruptStateError}.
   */
  apply(ctx: C, delta: ContextDelta): void;
  /**
   * `ctx` updated in place step by step (plain `run`): each attempt writes to `ctx` itself, a successful one leaves
   * the values `apply(ctx, diff(...))` gives, a failed one leaves nothing.
   */
  frame(ctx: C): ContextFrame<C>;
  /**
   * Data for storage: the fields as the stores' JSON writes them (runtime/core/json.ts: plain JSON, Date, Map, Set
   * and bigint tagged), an EventLog as its events, a Fixed as its value.
   */
  serialize(ctx: C): unknown;
  /**
   * The inverse of {@link serialize}. Stored data is validated: a context that is not an object, or a field whose
   * value has the wrong shape for its merge strategy (a `sum`, `max` or `min` field that is not a number, an
   * `append`, `union` or `eventLog` field that is not an array) is {@link CorruptStateError}.
   */
  revive(data: unknown): C;
}

interface FieldStrategy {
  strategy: MergeStrategyName;
  custom: CustomMerge | undefined;
}

const LAST_WRITE: FieldStrategy = Object.freeze({ strategy: 'lastWrite', custom: undefined }) as FieldStrategy;
const EVENT_LOG: FieldStrategy = Object.freeze({ strategy: 'eventLog', custom: undefined }) as FieldStrategy;
const FIXED: FieldStrategy = Object.freeze({ strategy: 'fixed', custom: undefined }) as FieldStrategy;

const codecs = new WeakMap<object, ContextCodec<any>>();

/** The codec of a generated workflow definition (cached). */
export function contextCodecOf<C>(def: AnyWorkflowDef): ContextCodec<C> {
  let c = codecs.get(def);
  if (!c) {
    c = createContextCodec(def.contextClass, def.contextFields);
    codecs.set(def, c);
  }
  return c as ContextCodec<C>;
}

/**
 * Builds a codec from a context class and its declared strategies. Strategies also come from the class's
 * `@merge.*` registry (custom merges live only there) and from values: an {@link EventLog} or {@link Fixed} field
 * merges as such whatever it is declared as.
 */
export function createContextCodec<C>(
  contextClass: (new () => C) | undefined,
  fields: Readonly<Record<string, MergeStrategyName>> = {},
): ContextCodec<C> {
  const strategies = new Map<string, FieldStrategy>();
  for (const [name, strategy] of Object.entries(fields)) strategies.set(name, { strategy, custom: undefined });
  if (contextClass) {
    for (const [name, m] of mergeStrategiesOf(contextClass)) {
      const prev = strategies.get(name);
      strategies.set(name, { strategy: prev && m.strategy !== 'custom' ? prev.strategy : m.strategy, custom: m.custom });
    }
  }
  const strategyOf = (key: string, value: unknown): FieldStrategy => {
    if (typeof value === 'object' && value !== null) {
      if (value instanceof EventLog) return EVENT_LOG;
      if (value instanceof Fixed) return FIXED;
    }
    return strategies.get(key) ?? LAST_WRITE;
  };
  const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

  const create = (): C => (contextClass ? new contextClass() : ({} as C));

  /** A field's working copy for one step: what a step may mutate without touching the committed value. */
  const copyField = (key: string, v: unknown, stamp: string | undefined): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof EventLog) return v.cloneForStep(stamp);
    if (v instanceof Fixed) return v;
    const s = strategyOf(key, v).strategy;
    if ((s === 'append' || s === 'union') && Array.isArray(v)) return v.slice();
    if (s === 'union' && v instanceof Set) return new Set(v);
    return deepClone(v);
  };

  const clone = (ctx: C, stamp?: string): C => {
    if (!isRecord(ctx)) return ctx;
    const out = Object.create(Object.getPrototypeOf(ctx)) as Record<string, unknown>;
    for (const key of Object.keys(ctx)) setOwn(out, key, copyField(key, ctx[key], stamp));
    return out as C;
  };

  const diff = (before: C, after: C): ContextDelta | undefined => {
    if (!isRecord(before) || !isRecord(after)) return undefined;
    let delta: ContextDelta | undefined;
    for (const key of Object.keys(after)) {
      if (IGNORED_FIELDS.has(key)) continue;
      const a = after[key];
      const b = before[key];
      const d = fieldDelta(strategyOf(key, a ?? b), b, a, key in before);
      if (d !== undefined) (delta ??= {})[key] = d;
    }
    return delta;
  };

  const apply = (target: C, delta: ContextDelta): void => {
    const ctx = target as unknown;
    if (!isRecord(ctx) || !isRecord(delta)) return;
    for (const key of Object.keys(delta)) {
      if (IGNORED_FIELDS.has(key)) continue;
      const cur = ctx[key];
      const s = strategyOf(key, cur);
      const d = delta[key];
      if (!fitsStrategy(s.strategy, d, false)) throw shapeError('context delta of field', key, s.strategy, d);
      ctx[key] = applyField(s, cur, d);
    }
  };

  const rules: FieldRules<FieldStrategy | undefined> = {
    copy: copyField,
    // Between primitives, a field merges by its declared strategy (undefined: a key diffs ignore).
    ruleOf: (key) => (IGNORED_FIELDS.has(key) ? undefined : (strategies.get(key) ?? LAST_WRITE)),
    mergePrimitive(rule, before, after) {
      if (rule === undefined) return before;
      const d = fieldDelta(rule, before, after, true);
      return d === undefined ? before : applyField(rule, before, d);
    },
    merge(key, before, after, existed) {
      if (IGNORED_FIELDS.has(key)) return existed ? before : DROP;
      const d = fieldDelta(strategyOf(key, after ?? before), before, after, existed);
      if (d === undefined) return existed ? before : DROP;
      return applyField(strategyOf(key, before), before, d);
    },
    check(key, before, after, existed) {
      if (IGNORED_FIELDS.has(key)) return;
      const d = fieldDelta(strategyOf(key, after ?? before), before, after, existed);
      if (d !== null && (typeof d === 'object' || typeof d === 'function' || typeof d === 'symbol')) assertStorable({ [key]: d }, 'the context');
    },
  };
  const frame = (ctx: C): ContextFrame<C> => new ContextFrame(ctx, rules);

  const serialize = (ctx: C): unknown => {
    if (ctx === undefined) return null;
    if (!isRecord(ctx)) return ctx;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(ctx)) {
      const v = ctx[key];
      if (v === undefined || typeof v === 'function' || IGNORED_FIELDS.has(key)) continue;
      if (v instanceof EventLog) out[key] = v.iter();
      else if (v instanceof Fixed) out[key] = v.value;
      else out[key] = v;
    }
    return out;
  };

  const revive = (data: unknown): C => {
    if (data === null || data === undefined) return contextClass ? create() : (undefined as C);
    if (!contextClass && !isRecord(data)) return data as C;
    if (!isRecord(data) || Array.isArray(data)) throw new CorruptStateError(`stored context is not an object: ${excerpt(data)}`);
    const ctx = (contextClass ? create() : {}) as Record<string, unknown>;
    for (const key of Object.keys(data)) {
      if (IGNORED_FIELDS.has(key)) continue;
      const v = data[key];
      const template = ctx[key];
      const s = strategyOf(key, template).strategy;
      if (!fitsStrategy(s, v, true)) throw shapeError('stored context field', key, s, v);
      if (template instanceof EventLog || s === 'eventLog') {
        if (!Array.isArray(v)) throw new CorruptStateError(`stored event log "${key}" is not an array`);
        ctx[key] = new EventLog(v as LoggedEvent<unknown>[]);
      } else if (template instanceof Fixed) ctx[key] = new Fixed(v);
      else if (template instanceof Set && !(v instanceof Set)) {
        // Stored before Sets were tagged: an array of members.
        if (!Array.isArray(v)) throw new CorruptStateError(`stored set "${key}" is not a set`);
        ctx[key] = new Set(v);
      } else ctx[key] = v;
    }
    return ctx as C;
  };

  return { create, clone, diff, apply, frame, serialize, revive };
}

/**
 * Whether a stored value (`stored`: a field's value; else a field's delta) has the shape its merge strategy needs:
 * a number for sum, max and min, an array for append, union and eventLog (a stored event log is an array; a stored
 * union field may also be a Set); a stored field may also be null. Other strategies take any value.
 */
function fitsStrategy(s: MergeStrategyName, v: unknown, stored: boolean): boolean {
  switch (s) {
    case 'sum':
    case 'max':
    case 'min':
      return typeof v === 'number' || (stored && v === null);
    case 'union':
      return Array.isArray(v) || (stored && (v === null || v instanceof Set));
    case 'append':
    case 'eventLog':
      return Array.isArray(v) || (stored && v === null);
    default:
      return true;
  }
}

function shapeError(what: string, key: string, s: MergeStrategyName, v: unknown): CorruptStateError {
  const expected = s === 'sum' || s === 'max' || s === 'min' ? 'a number' : s === 'union' ? 'an array or a set' : 'an array';
  return new CorruptStateError(`${what} "${key}" (@merge.${s}) holds ${excerpt(v)}, not ${expected}`);
}

function fieldDelta(s: FieldStrategy, b: unknown, a: unknown, existed: boolean): unknown {
  switch (s.strategy) {
    case 'sum': {
      if (typeof a !== 'number') return undefined;
      const d = a - (typeof b === 'number' ? b : 0);
      return d !== 0 ? d : undefined;
    }
    case 'max':
      return typeof a === 'number' && (typeof b !== 'number' || a > b) ? a : undefined;
    case 'min':
      return typeof a === 'number' && (typeof b !== 'number' || a < b) ? a : undefined;
    case 'append': {
      if (!Array.isArray(a)) return undefined;
      const from = Array.isArray(b) ? b.length : 0;
      return a.length > from ? a.slice(from) : undefined;
    }
    case 'union': {
      const after = a instanceof Set ? [...a] : Array.isArray(a) ? a : undefined;
      if (!after) return undefined;
      const seen = b instanceof Set ? b : Array.isArray(b) ? membersOf(b) : new Set();
      // A step's copy of a committed array that kept it as its prefix (it only added): only the tail can be new.
      const from = Array.isArray(b) && Array.isArray(a) && startsWith(a, b) ? b.length : 0;
      const added = (from === 0 ? after : after.slice(from)).filter((x) => !seen.has(x));
      return added.length > 0 ? added : undefined;
    }
    case 'fixed':
      return undefined;
    case 'eventLog': {
      if (!(a instanceof EventLog)) return undefined;
      const added = a.entriesSince(b instanceof EventLog ? b : undefined);
      return added.length > 0 ? added : undefined;
    }
    case 'custom': {
      if (!s.custom) return undefined;
      return s.custom.diff(b, a);
    }
    case 'lastWrite':
    default:
      return existed && deepEqual(a, b) ? undefined : a === undefined ? undefined : a;
  }
}

function applyField(s: FieldStrategy, cur: unknown, d: unknown): unknown {
  switch (s.strategy) {
    case 'sum':
      return (typeof cur === 'number' ? cur : 0) + (typeof d === 'number' ? d : 0);
    case 'max':
      return typeof cur === 'number' && typeof d === 'number' ? Math.max(cur, d) : d;
    case 'min':
      return typeof cur === 'number' && typeof d === 'number' ? Math.min(cur, d) : d;
    case 'append': {
      const arr = Array.isArray(cur) ? cur : [];
      if (Array.isArray(d)) for (const x of d) arr.push(x);
      return arr;
    }
    case 'union': {
      if (!Array.isArray(d)) return cur;
      if (cur instanceof Set) {
        for (const x of d) cur.add(x);
        return cur;
      }
      const arr = Array.isArray(cur) ? cur : [];
      const seen = membersOf(arr);
      for (const x of d) if (!seen.has(x)) (seen.add(x), arr.push(x));
      unionMembers.set(arr, { set: seen, length: arr.length });
      return arr;
    }
    case 'fixed':
      return cur;
    case 'eventLog': {
      const log = cur instanceof EventLog ? cur : new EventLog();
      if (Array.isArray(d)) log.applyEntries(d as LoggedEvent<unknown>[]);
      return log;
    }
    case 'custom':
      return s.custom ? s.custom.merge(cur, d) : d;
    case 'lastWrite':
    default:
      return d;
  }
}

/**
 * The members of committed `union` arrays, kept between steps: without them each step's delta and merge would build
 * a set of the whole array, which makes a fan-out of n steps that each add a member cost n^2. Only {@link applyField}
 * grows a committed array (and keeps its entry up to date); an entry whose length no longer matches is rebuilt.
 */
const unionMembers = new WeakMap<unknown[], { set: Set<unknown>; length: number }>();

function membersOf(arr: unknown[]): Set<unknown> {
  const known = unionMembers.get(arr);
  if (known && known.length === arr.length) return known.set;
  const set = new Set(arr);
  unionMembers.set(arr, { set, length: arr.length });
  return set;
}

/** True when `a` begins with the elements of `b`, in order (compared by identity). */
function startsWith(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length < b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Structural clone keeping prototypes (class instances stay instances). */
function deepClone<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(deepClone) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (v instanceof Set) return new Set([...v].map(deepClone)) as T;
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, deepClone(x)])) as T;
  if (v instanceof EventLog) return v.cloneForStep(undefined) as T;
  if (v instanceof Fixed) return v;
  const out = Object.create(Object.getPrototypeOf(v)) as Record<string, unknown>;
  for (const k of Object.keys(v)) setOwn(out, k, deepClone((v as Record<string, unknown>)[k]));
  return out as T;
}

/** Structural equality for plain data (arrays, objects, Sets, Maps, Dates, primitives). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof Set) {
    const bs = b as Set<unknown>;
    if (a.size !== bs.size) return false;
    for (const x of a) if (!bs.has(x)) return false;
    return true;
  }
  if (a instanceof Map) {
    const bm = b as Map<unknown, unknown>;
    if (a.size !== bm.size) return false;
    for (const [k, x] of a) if (!bm.has(k) || !deepEqual(x, bm.get(k))) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

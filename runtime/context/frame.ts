/**
 * A context updated in place, one step at a time, with exactly the values the durable modes reach by applying each
 * step's delta (docs/ARCHITECTURE.md "Context: deltas, not snapshots"): plain `run` and nested workflows use it.
 *
 * The frame keeps the committed value of every field. Before an attempt, object fields get working copies (so the
 * committed values stay untouched); primitives need nothing. After a successful attempt each field that changed
 * gets its merged value (the field's delta, per its merge strategy, applied to the committed value); after a failed
 * one every field gets its committed value back. A step on a context of primitives thus costs one pass over its
 * fields, with no copy and no delta object.
 */

import { setOwn } from './keys.js';

/** The per-field rules of a context codec that a frame applies (`R`: the codec's rule of one field). */
export interface FieldRules<R = unknown> {
  /** The working copy of field `key` for one attempt (the value itself for primitives and immutable values). */
  copy(key: string, value: unknown, stamp: string | undefined): unknown;
  /** How field `key` merges when its committed and written values are both primitives (looked up once per field). */
  ruleOf(key: string): R;
  /** {@link merge} of an existing field whose committed and written values are both primitives (not a function or a symbol), by its rule. */
  mergePrimitive(rule: R, before: unknown, after: unknown): unknown;
  /**
   * The field's value after a step that changed it from `before` to `after`: the delta applied to `before`, which
   * may be mutated. {@link DROP} when a new field (`existed` false) gets no value. Keys a diff ignores
   * (`__proto__`, `constructor`, `prototype`) keep `before`.
   */
  merge(key: string, before: unknown, after: unknown, existed: boolean): unknown;
  /**
   * Throws `InvalidArgumentError` for a change of field `key` (as {@link merge} takes it) that no store keeps
   * (runtime/core/json.ts `assertStorable`), changing nothing: plain `run` refuses what every store refuses.
   */
  check(key: string, before: unknown, after: unknown, existed: boolean): void;
}

/** What {@link FieldRules.merge} returns for a new field that stays unset. */
export const DROP: unique symbol = Symbol('floxide.drop');

/** A function or a symbol: no primitive merge takes it ({@link FieldRules.merge} refuses it). */
function isCallableOrSymbol(v: unknown): boolean {
  return typeof v === 'function' || typeof v === 'symbol';
}

/** Values that need a working copy per attempt (mutable objects). */
function needsCopy(v: unknown): boolean {
  return v !== null && typeof v === 'object';
}

export class ContextFrame<C = unknown> {
  private keys: string[] = [];
  private values: unknown[] = [];
  /** The rule of each field ({@link FieldRules.ruleOf}). */
  private fieldRules: unknown[] = [];
  /** Indices of the fields that hold objects (they get working copies). */
  private objects: number[] = [];
  /**
   * The fields {@link commit} has committed so far, as (index, committed value) pairs, the first {@link undone}
   * entries: what a refused commit restores (kept from commit to commit: no allocation per step).
   */
  private readonly undo: unknown[] = [];
  private undone = 0;
  /** The indices of the fields {@link commit} merges once all are checked (kept from commit to commit). */
  private readonly merges: number[] = [];

  constructor(
    private readonly ctx: C,
    private readonly rules: FieldRules<any>,
  ) {
    this.capture();
  }

  /** Starts an attempt: returns the context the node writes to (object fields hold fresh working copies). */
  begin(stamp: string): C {
    const ctx = this.ctx as Record<string, unknown>;
    const { keys, values, objects } = this;
    for (let i = 0; i < objects.length; i++) {
      const j = objects[i];
      ctx[keys[j]] = this.rules.copy(keys[j], values[j], stamp);
    }
    return this.ctx;
  }

  /**
   * Ends a successful attempt: each field that changed gets its merged value, which becomes the committed one. Throws
   * what {@link FieldRules.check} throws (a value no store keeps) with the frame as it was: the attempt then fails and
   * {@link rollback}s. Every change of an object (or to a function or a symbol) is checked before any is merged,
   * since a merge may change the committed object in place (an append pushes to it).
   */
  commit(): void {
    this.undone = 0;
    try {
      this.commitFields();
    } catch (err) {
      // the primitive fields committed before the refused one get their committed values back
      const { undo } = this;
      for (let i = this.undone - 2; i >= 0; i -= 2) this.values[undo[i] as number] = undo[i + 1];
      throw err;
    }
  }

  private commitFields(): void {
    const ctx = this.ctx as Record<string, unknown>;
    const { keys, values, undo, merges } = this;
    let j = 0;
    let u = 0;
    let m = 0;
    let reshaped = false;
    // for-in walks the fields without allocating; a field added, deleted or inherited breaks the match.
    for (const key in ctx) {
      if (keys[j] !== key) return this.commitReshaped();
      const after = ctx[key];
      const before = values[j];
      if (after !== before) {
        if (needsCopy(after) || needsCopy(before) || isCallableOrSymbol(after)) {
          // checked now, merged once every field is checked
          this.rules.check(key, before, after, true);
          merges[m++] = j;
        } else {
          const v = this.rules.mergePrimitive(this.fieldRules[j], before, after);
          undo[u++] = j;
          undo[u++] = before;
          this.undone = u;
          ctx[key] = v;
          values[j] = v;
        }
      }
      j++;
    }
    if (j !== keys.length) return this.commitReshaped();
    for (let i = 0; i < m; i++) {
      const k = merges[i]!;
      const key = keys[k]!;
      const before = values[k];
      const v = this.rules.merge(key, before, ctx[key], true);
      ctx[key] = v;
      values[k] = v;
      if (needsCopy(v) !== needsCopy(before)) reshaped = true;
    }
    if (reshaped) this.capture();
  }

  /** Ends a failed attempt: every field gets its committed value back; fields the attempt added are removed. */
  rollback(): void {
    const ctx = this.ctx as Record<string, unknown>;
    if (typeof ctx !== 'object' || ctx === null) return;
    const { keys, values } = this;
    const known = new Set(keys);
    for (const key of Object.keys(ctx)) if (!known.has(key)) delete ctx[key];
    for (let j = 0; j < keys.length; j++) setOwn(ctx, keys[j], values[j]);
  }

  /** The slow path of {@link commit}, for an attempt that added or deleted fields (a deleted field is restored). */
  private commitReshaped(): void {
    const ctx = this.ctx as Record<string, unknown>;
    const committed = new Map<string, unknown>();
    for (let j = 0; j < this.keys.length; j++) committed.set(this.keys[j], this.values[j]);
    // every change checked before any is merged (a merge may change a committed object in place)
    for (const key of Object.keys(ctx)) {
      const existed = committed.has(key);
      const after = ctx[key];
      if (!existed || after !== committed.get(key)) this.rules.check(key, committed.get(key), after, existed);
    }
    for (const key of Object.keys(ctx)) {
      const existed = committed.has(key);
      const before = committed.get(key);
      committed.delete(key);
      const after = ctx[key];
      if (existed && after === before) continue;
      const v = this.rules.merge(key, before, after, existed);
      if (v === DROP) delete ctx[key];
      else setOwn(ctx, key, v);
    }
    for (const [key, v] of committed) setOwn(ctx, key, v);
    this.capture();
  }

  /** Takes the context's current fields as the committed ones. */
  private capture(): void {
    const ctx = this.ctx as Record<string, unknown>;
    this.keys = [];
    this.values = [];
    this.objects = [];
    this.fieldRules = [];
    if (typeof ctx !== 'object' || ctx === null) return;
    for (const key of Object.keys(ctx)) {
      const v = ctx[key];
      if (needsCopy(v)) this.objects.push(this.keys.length);
      this.keys.push(key);
      this.values.push(v);
      this.fieldRules.push(this.rules.ruleOf(key));
    }
  }
}

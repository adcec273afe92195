/**
 * Keys that name an object's prototype machinery (`__proto__`, `constructor`, `prototype`). Inside context values,
 * inputs and outputs they are data like any other key, at every depth: JSON.parse makes them own properties (it
 * never sets a prototype) and the engine copies them as own properties ({@link setOwn}). Only a context's own fields
 * cannot have these names: diffs, merges and revives ignore such a field.
 */

/** Field names a context cannot have (ignored by diff, apply, frame and revive). */
export const IGNORED_FIELDS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** `obj[key] = value` as an own data property, also for `__proto__` (whose assignment would set the prototype). */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

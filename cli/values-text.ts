/**
 * How the CLI and the dashboard print values read from a store (inputs, outputs, contexts, deltas, events): as the
 * stores write them (runtime/core/json.ts), so a Date, Map, Set or bigint prints as its tag (`{"$date": ...}`)
 * instead of vanishing (`{}` for a Map) or failing (`JSON.stringify` throws on a bigint).
 */
import { toJson } from '../runtime/core/json.js';

/** `value` as JSON text, tags included; indented by `space` when given. */
export function valueText(value: unknown, space?: number): string {
  const text = toJson(value, 'the value');
  return space === undefined ? text : JSON.stringify(JSON.parse(text), null, space);
}

/** What Redis answers (RESP 2 as node-redis hands it over), and the readers of its shapes both Redis stores use. */

/** A RESP 2 reply. */
export type Reply = string | number | null | Reply[];

/** A flat `[field, value, ...]` reply (HGETALL) as a map. */
export function pairs(reply: Reply): Map<string, string> {
  const out = new Map<string, string>();
  const flat = (reply ?? []) as string[];
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
  return out;
}

/** A stored number, `undefined` for a missing or empty field. */
export function optNumber(v: Reply | undefined): number | undefined {
  return v === null || v === undefined || v === '' ? undefined : Number(v);
}

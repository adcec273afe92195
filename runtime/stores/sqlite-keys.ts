/**
 * The keys of the SQLite journal (`floxide_journal.k`, migrations 003 and 013): a step's row is keyed by
 * `(slot << 40) + n`, where `slot` is the journal slot of its run (`floxide_runs.slot`) and `n` the number of the item
 * it consumed: the item id itself for a numbered item (a canonical decimal below 2^39), the run's next number above
 * 2^39 for any other id. A run's rows are one range of keys, and its steps append at the right edge of that range.
 *
 * A run's slot is held while its record exists and is free again once the run is purged (its rows go with it, in one
 * transaction): slots are reused, run numbers (`run_no`) never are. So every statement here finds a run's slot by its
 * run number in the statement itself: a reader that remembers a purged run's number reads nothing, never the rows of
 * the run that took its slot since.
 */

/** The highest journal slot: (slot << 40) + n stays within a signed 64-bit integer. */
export const MAX_SLOT = 2 ** 23 - 1;

/** 2^39: journal keys of named (not numbered) items start above it (migration 003). */
export const NAMED_BASE = 549_755_813_888;

/** 2^40 - 1: the item number part of a key (its low 40 bits). */
const ITEM_MASK = 1_099_511_627_775;

/** SQL: the journal slot of run number `@no`, read from its record (NULL once the run is gone). */
const SLOT_OF_RUN = '(SELECT slot FROM floxide_runs WHERE run_no = @no)';

/**
 * SQL: the key of item number `n` in journal slot `slot` (both SQL integer expressions: a number bound from JavaScript
 * is a double, and the key of a high slot computed in floating point runs into its neighbours).
 */
export function keyOf(slot: string, n: string | number): string {
  return `((${slot} << 40) + ${n})`;
}

/** SQL: the key of item number `n` (an SQL integer expression) of run number `@no`. */
export function runKey(n: string): string {
  return keyOf(SLOT_OF_RUN, n);
}

/**
 * SQL: the journal key `k` (a column) is one of run number `@no`'s: a range of the rowid (no key is computed past the
 * slot's last one, which for the highest slot would overflow 64 bits).
 */
export function runKeys(k: string): string {
  return `${k} BETWEEN ${keyOf(SLOT_OF_RUN, 0)} AND ${keyOf(SLOT_OF_RUN, ITEM_MASK)}`;
}

/** SQL: the keys of named items in journal slot `slot`, past the numbered ones. */
export function namedKeys(k: string, slot: string): string {
  return `${k} > ${keyOf(slot, NAMED_BASE)} AND ${k} <= ${keyOf(slot, ITEM_MASK)}`;
}

/** SQL: the item number of journal key `k` (for a numbered item, its id). */
export function itemNumber(k: string): string {
  return `(${k} & ${ITEM_MASK})`;
}

/**
 * The number of a numbered item id (a canonical decimal below 2^39: the local engine's counter ids), or -1. Must
 * match the test in migration 003 and {@link notConsumed}.
 */
export function numberedItem(id: string): number {
  const c = id.charCodeAt(0);
  if (!(c >= 48 && c <= 57) || id.length > 12 || (c === 48 && id.length > 1)) return -1;
  for (let i = 1; i < id.length; i++) {
    const d = id.charCodeAt(i);
    if (d < 48 || d > 57) return -1;
  }
  const n = Number(id);
  return n < NAMED_BASE ? n : -1;
}

/**
 * SQL: no journal row of run `@no` consumed the item whose id is the SQL text `id` (see {@link numberedItem}). Two
 * lookups, each by an index (the rowid; floxide_journal_named), rather than one condition no index can serve.
 */
export function notConsumed(id: string): string {
  const numbered = `(${id} = '0' OR (${id} GLOB '[1-9]*' AND ${id} NOT GLOB '*[^0-9]*' AND length(${id}) <= 12 AND CAST(${id} AS INTEGER) < ${NAMED_BASE}))`;
  return (
    `NOT EXISTS (SELECT 1 FROM floxide_journal AS c WHERE c.k = ${runKey(`CAST(${id} AS INTEGER)`)} AND ${numbered}) ` +
    `AND NOT EXISTS (SELECT 1 FROM floxide_journal AS c WHERE c.run_no = @no AND c.item_id = ${id})`
  );
}

/**
 * The row format every bench script prints for `npm run bench` (bench/run.ts): with `--json`, a bench script's
 * LAST stdout line is `{"rows": BenchRow[]}`; run.ts folds the rows of every script into one table.
 */

/** One figure of the bench table. */
export interface BenchRow {
  /** What was measured, e.g. "in-memory run, 2-node loop (1,000,000 steps)". */
  readonly figure: string;
  /** The measured value (the median when measured several times). */
  readonly value: number;
  readonly unit: string;
  /** Lowest and highest value over the repetitions (the spread on a shared machine). */
  readonly min?: number;
  readonly max?: number;
  /** The same work done bare in the same process (the ceiling), in the same unit. */
  readonly bare?: number;
  /** value / bare (or bare / value for "lower is better" units): the fraction of the ceiling reached. */
  readonly ratio?: number;
  /** The target as text, e.g. ">= 15% of bare" or "< 50 ms". */
  readonly target: string;
  /** Whether the target is met; undefined when the row is informational. */
  readonly pass?: boolean;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `{ value: median, min, max }` of repeated measurements. */
export function spread(xs: readonly number[]): { value: number; min: number; max: number } {
  return { value: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** Prints rows as the JSON line bench/run.ts reads. */
export function printRows(rows: readonly BenchRow[]): void {
  console.log(JSON.stringify({ rows }));
}

/** Parses the last stdout line of a bench script; undefined when it is not a `{"rows": [...]}` line. */
export function parseRows(stdout: string): BenchRow[] | undefined {
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    const v = JSON.parse(last) as { rows?: unknown };
    if (!Array.isArray(v.rows)) return undefined;
    return v.rows.filter((r): r is BenchRow => r !== null && typeof r === 'object' && typeof (r as BenchRow).figure === 'string');
  } catch {
    return undefined;
  }
}

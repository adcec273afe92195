-- purgeFinished: deletes up to $2 runs that finished at least $1 ms ago (server clock), oldest first, with every
-- row that belongs to them (items, commit markers, deltas, errors, dead letters, signals and their keys; finished runs have no join or
-- rotation rows left).
-- Parameters: $1 retention ms, $2 batch limit. Returns: one row, `purged` = number of runs deleted.
-- Locking: the deleted rows; runs being deleted by a concurrent purge are skipped (SKIP LOCKED).
WITH gone AS (
  DELETE FROM runs WHERE run_id IN (
    SELECT run_id FROM runs
    WHERE finished_at IS NOT NULL AND finished_at <= now_ms() - $1::bigint
    ORDER BY finished_at
    LIMIT $2::bigint
    FOR UPDATE SKIP LOCKED)
  RETURNING run_id
), i AS (
  DELETE FROM items WHERE run_id IN (SELECT run_id FROM gone)
), m AS (
  DELETE FROM commits WHERE run_id IN (SELECT run_id FROM gone)
), d AS (
  DELETE FROM deltas WHERE run_id IN (SELECT run_id FROM gone)
), e AS (
  DELETE FROM errors WHERE run_id IN (SELECT run_id FROM gone)
), l AS (
  DELETE FROM dead_letters WHERE run_id IN (SELECT run_id FROM gone)
), s AS (
  DELETE FROM signals WHERE run_id IN (SELECT run_id FROM gone)
), k AS (
  DELETE FROM signal_keys WHERE run_id IN (SELECT run_id FROM gone)
)
SELECT count(*)::integer AS purged FROM gone

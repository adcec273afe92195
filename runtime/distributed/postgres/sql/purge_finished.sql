-- purgeFinished: deletes up to $2 runs that finished at least $1 ms ago (server clock), oldest first, with every
-- row that belongs to them (items, commit markers, deltas, errors, dead letters, step history, events, signals and
-- their keys; finished runs have no join or rotation rows left). events_purged keeps the position of the newest event it deleted.
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
), h AS (
  DELETE FROM steps WHERE run_id IN (SELECT run_id FROM gone)
), ev AS (
  DELETE FROM events WHERE run_id IN (SELECT run_id FROM gone) RETURNING tx, pos
), horizon AS (
  -- the newest event deleted: a subscription resuming from a cursor before it may have lost events
  INSERT INTO events_purged (tx, pos)
  SELECT ev.tx, ev.pos FROM ev ORDER BY ev.tx DESC, ev.pos DESC LIMIT 1
  ON CONFLICT (one) DO UPDATE SET tx = excluded.tx, pos = excluded.pos
  WHERE (events_purged.tx, events_purged.pos) < (excluded.tx, excluded.pos)
)
SELECT count(*)::integer AS purged FROM gone

-- events of one run (a subscription with a run id): as events_read.sql, for run $5, through the run's own index (its
-- events are in run_seq order, which is their (tx, pos) order).
SELECT e.tx::text AS tx, e.pos, e.run_id, e.event
FROM events e
WHERE e.run_id = $5 AND (e.tx, e.pos) > ($1::xid8, $2::bigint) AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
  AND ($3::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(e.xid, $3::pg_snapshot))
ORDER BY e.run_seq
LIMIT $4

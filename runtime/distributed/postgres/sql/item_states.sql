-- itemStates / itemState: a run's items in enqueue order (its outstanding ones: pending_work.sql).
-- Parameters: $1 run_id, $2 item_id | NULL (all items).
-- Returns: no row for an unknown run; otherwise at least one row, with NULL item columns when nothing matched.
-- Locking: none (snapshot read).
SELECT r.run_id AS run, i.*
FROM runs r
LEFT JOIN items i ON i.run_id = r.run_id
  AND ($2::text IS NULL OR i.item_id = $2::text)
WHERE r.run_id = $1
ORDER BY i.seq

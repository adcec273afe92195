-- itemStates / itemState / pendingWork: a run's items in enqueue order.
-- Parameters: $1 run_id, $2 item_id | NULL (all items), $3 true = only outstanding items (pending, in_progress,
--   waiting_retry, parked), $4 text[] | NULL: only items in these states, $5 integer | NULL: only the first $5.
-- Returns: no row for an unknown run; otherwise at least one row, with NULL item columns when nothing matched.
-- Locking: none (snapshot read).
SELECT r.run_id AS run, i.*
FROM runs r
LEFT JOIN items i ON i.run_id = r.run_id
  AND ($2::text IS NULL OR i.item_id = $2::text)
  AND (NOT $3::boolean OR i.due_at IS NOT NULL)
  AND ($4::text[] IS NULL OR i.status = ANY ($4::text[]))
WHERE r.run_id = $1
ORDER BY i.seq
LIMIT $5::integer

-- pendingWork (and the items a version move rewrites): a run's outstanding items (pending, in_progress, waiting_retry,
-- parked: due_at IS NOT NULL), in enqueue order, the first $3 of them (through items_outstanding, migration 0016: a walk
-- of the index that stops there, not a sort of every outstanding item of the run).
-- Parameters: $1 run_id, $2 text[] | NULL: only items in these states, $3 integer | NULL: only the first $3.
-- Returns: no row for an unknown run; otherwise at least one row, with NULL item columns when nothing matched.
-- Locking: none (snapshot read).
SELECT r.run_id AS run, i.*
FROM runs r
LEFT JOIN LATERAL (
  SELECT o.* FROM items o
  WHERE o.run_id = r.run_id AND o.due_at IS NOT NULL AND ($2::text[] IS NULL OR o.status = ANY ($2::text[]))
  ORDER BY o.seq
  LIMIT $3::integer
) i ON true
WHERE r.run_id = $1
ORDER BY i.seq

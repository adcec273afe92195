-- errors: a run's error records, oldest first.
-- Parameters: $1 run_id. Returns: no row for an unknown run; otherwise rows (one with NULL columns when none).
-- Locking: none (snapshot read).
SELECT e.item_id, e.node, e.attempt, e.kind, e.error, e.at
FROM runs r LEFT JOIN errors e ON e.run_id = r.run_id
WHERE r.run_id = $1
ORDER BY e.seq

-- recordError: appends a worker error (kind 'worker', at = server now), also on finished runs.
-- Parameters: $1 run_id, $2 item_id, $3 node, $4 attempt, $5 error (canonical JSON).
-- Returns: one row, or none for an unknown run. Locking: none (append).
INSERT INTO errors (run_id, item_id, node, attempt, kind, error, at)
SELECT r.run_id, $2::text, $3::text, $4::integer, 'worker', $5::text, now_ms() FROM runs r WHERE r.run_id = $1
RETURNING seq

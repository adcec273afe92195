-- errors: a run's error records, oldest first; the newest $2 with a limit.
-- Parameters: $1 run_id, $2 limit | NULL (every record). Returns: no row for an unknown run; otherwise rows (one with
-- NULL columns when none).
-- Locking: none (snapshot read). The limit reads backwards through the errors primary key (run_id, seq).
SELECT e.item_id, e.node, e.attempt, e.kind, e.error, e.at
FROM runs r
LEFT JOIN LATERAL (
  SELECT * FROM errors e WHERE e.run_id = r.run_id ORDER BY e.seq DESC LIMIT $2::integer
) e ON true
WHERE r.run_id = $1
ORDER BY e.seq

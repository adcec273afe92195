-- deadLetters: a run's dead-lettered items, oldest first; the newest $2 with a limit.
-- Parameters: $1 run_id, $2 limit | NULL (every item). Returns: no row for an unknown run; otherwise rows (one with
-- NULL columns when none).
-- Locking: none (snapshot read). The limit reads backwards through the dead_letters primary key (run_id, seq).
SELECT d.item, d.attempts, d.error, d.at
FROM runs r
LEFT JOIN LATERAL (
  SELECT * FROM dead_letters d WHERE d.run_id = r.run_id ORDER BY d.seq DESC LIMIT $2::integer
) d ON true
WHERE r.run_id = $1
ORDER BY d.seq

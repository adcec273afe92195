-- deadLetters: a run's dead-lettered items, oldest first.
-- Parameters: $1 run_id. Returns: no row for an unknown run; otherwise rows (one with NULL columns when none).
-- Locking: none (snapshot read).
SELECT d.item, d.attempts, d.error, d.at
FROM runs r LEFT JOIN dead_letters d ON d.run_id = r.run_id
WHERE r.run_id = $1
ORDER BY d.seq

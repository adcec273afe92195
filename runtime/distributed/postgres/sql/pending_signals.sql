-- pendingSignals: the signals in a run's mailbox (no wait took them yet), oldest first.
-- Parameters: $1 run_id. Returns: no row for an unknown run; otherwise rows (one with NULL columns when none).
-- Locking: none (snapshot read).
SELECT s.name, s.payload, s.key, s.at
FROM runs r LEFT JOIN signals s ON s.run_id = r.run_id
WHERE r.run_id = $1
ORDER BY s.seq

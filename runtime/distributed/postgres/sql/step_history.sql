-- stepHistory: a run's executed attempts (one row per applied commit), oldest first; the newest $2 with a limit.
-- Parameters: $1 run_id, $2 limit | NULL (every attempt). Returns: no row for an unknown run; else one row per
-- attempt, or one row of NULLs (but found) when the run has none yet.
-- Locking: none (snapshot read). The limit reads backwards through the steps primary key (run_id, seq).
SELECT s.node, s.item_id, s.attempt, s.worker_id, s.started_at, s.finished_at, s.outcome, s.error
FROM runs r
LEFT JOIN LATERAL (
  SELECT * FROM steps s WHERE s.run_id = r.run_id ORDER BY s.seq DESC LIMIT $2::integer
) s ON true
WHERE r.run_id = $1
ORDER BY s.seq

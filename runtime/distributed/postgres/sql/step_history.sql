-- stepHistory: a run's executed attempts (one row per applied commit), oldest first.
-- Parameters: $1 run_id. Returns: no row for an unknown run; else one row per attempt, or one row of NULLs (but
-- found) when the run has none yet.
SELECT s.node, s.item_id, s.attempt, s.worker_id, s.started_at, s.finished_at, s.outcome, s.error
FROM runs r LEFT JOIN steps s ON s.run_id = r.run_id
WHERE r.run_id = $1
ORDER BY s.seq

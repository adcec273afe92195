-- pauseRun / resumeRun / cancelRun / failRun: a guarded status transition (transition_run in migration 0002).
-- Parameters: $1 run_id, $2 target status, $3 error (canonical JSON) | NULL. Returns: one row, `result` jsonb.
-- Locking: the run's row FOR UPDATE, then its items and rotation row.
SELECT transition_run($1, $2, $3) AS result

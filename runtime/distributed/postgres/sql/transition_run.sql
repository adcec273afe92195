-- pauseRun / resumeRun / cancelRun / failRun: a guarded status transition (functions/transition_run.sql).
-- Parameters: $1 run_id, $2 target status, $3 error (canonical JSON) | NULL. Returns: one row, `result` jsonb.
-- Locking: the run's row FOR UPDATE, then its items and rotation row.
SELECT transition_run($1, $2, $3) AS result

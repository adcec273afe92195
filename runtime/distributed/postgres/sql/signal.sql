-- signal: delivers a signal to a run (functions/signal_run.sql).
-- Parameters: $1 run_id, $2 signal name, $3 payload (canonical JSON), $4 idempotency key | NULL.
-- Returns: one row, `result` jsonb. Locking: the run's row FOR UPDATE, then the wait's item row.
SELECT signal_run($1, $2, $3, $4) AS result

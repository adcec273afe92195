-- signal: delivers signals to runs, each to its own (functions/signal_run.sql); concurrent calls are coalesced.
-- Parameters: $1 a jsonb array of {run, name, payload (canonical JSON text), key | null, digest | null, workflow | null},
--   every run at most once.
-- Returns: one row, `result`: a jsonb array of results in the order of $1. Locking: the runs rows FOR UPDATE in run
--   id order, then each wait's item row.
SELECT signal_run($1::jsonb) AS result

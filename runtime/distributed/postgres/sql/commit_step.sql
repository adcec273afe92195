-- commitStep: one step's effects in one transaction and one round trip (commit_step in migration 0003).
-- Parameters: $1 the commit as jsonb (built by backend.ts). Returns: one row, `result` jsonb.
-- Locking: the run's row FOR UPDATE, then the item's row; safe to retry (idempotent per item and lease token).
SELECT commit_step($1::jsonb) AS result

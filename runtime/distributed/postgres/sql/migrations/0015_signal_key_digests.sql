-- Migration 0015: what a signal's idempotency key stands for. signal_keys.name and .digest are the name and the
-- payload digest (hex SHA-256 of its canonical JSON: core/signal-plan.ts signalDigest) of the first signal the run
-- received with the key: a repeat answers duplicate only when both match, and is refused (key_conflict) otherwise
-- (functions/signal_run.sql). NULL: a key kept before this migration, which matches any signal (a duplicate, as then).
ALTER TABLE signal_keys ADD COLUMN name text, ADD COLUMN digest text;

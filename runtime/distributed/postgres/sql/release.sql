-- release: gives a live lease back (functions/release_item.sql). With $4 (the worker could not run the item: another
-- workflow or graph version), runs.misrouted counts it.
-- Parameters: $1 run_id, $2 item_id, $3 lease token, $4 misrouted (boolean). Returns: one row, `released` boolean.
-- Locking: the run's row FOR UPDATE, then the item row (the order of commits and transitions).
SELECT release_item($1, $2, $3, $4::boolean) AS released

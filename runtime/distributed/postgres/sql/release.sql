-- release: gives a live lease back (graceful shutdown). The item becomes pending again at once, same attempt,
-- ahead of items enqueued later (due_at 0, enqueue order kept); its delivery is not counted as a redelivery.
-- With $4 (the worker could not run the item: another workflow or graph version), runs.misrouted counts it.
-- Parameters: $1 run_id, $2 item_id, $3 lease token, $4 misrouted (boolean). Returns: one row per released item (0 or 1).
-- Locking: the item row (UPDATE); with $4, then the run row.
WITH released AS (
  UPDATE items SET status = 'pending', lease_token = NULL, lease_expires_at = NULL, due_at = 0, updated_at = now_ms()
  WHERE run_id = $1 AND item_id = $2 AND status = 'in_progress' AND lease_token = $3 AND lease_expires_at > now_ms()
  RETURNING run_id, item_id
), counted AS (
  UPDATE runs r SET misrouted = r.misrouted + 1 FROM released x WHERE $4::boolean AND r.run_id = x.run_id
)
SELECT item_id FROM released

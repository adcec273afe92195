-- extendLease: moves a live lease's expiry to server now + $4 ms. Never revives an expired lease (the expiry is
-- compared with the server's now) and never touches an item of a finished run (its items are no longer in_progress).
-- Parameters: $1 run_id, $2 item_id, $3 lease token, $4 lease ms (integer).
-- Returns: one row: run_status (NULL for an unknown run), lease_expires_at (NULL when the lease is not live).
-- Locking: the item row (UPDATE). Committed with synchronous_commit off: a lost extension only shortens a lease.
WITH cfg AS (
  SELECT set_config('synchronous_commit', 'off', true)
), extended AS (
  UPDATE items SET lease_expires_at = now_ms() + $4::bigint, due_at = now_ms() + $4::bigint, updated_at = now_ms()
  WHERE run_id = $1 AND item_id = $2 AND status = 'in_progress' AND lease_token = $3 AND lease_expires_at > now_ms()
    AND EXISTS (SELECT 1 FROM cfg)
  RETURNING lease_expires_at
)
SELECT (SELECT status FROM runs WHERE run_id = $1) AS run_status,
       (SELECT lease_expires_at FROM extended) AS lease_expires_at

-- claim: leases up to $2 claimable items to worker $1 for $3 ms (see claim_items in migration 0003 for the
-- fairness and locking rules), with what the worker needs of their runs.
-- Parameters: $1 worker_id, $2 max, $3 lease ms (integer), $4 workflow | NULL.
-- Returns: one row per leased item, in hand-out order, with the run's context version as of the claim.
-- Locking: FOR UPDATE SKIP LOCKED on items; never waits for another claim.
SELECT c.run_id, c.item_id, c.payload, c.attempt, c.deliveries, c.lease_token, c.lease_expires_at, c.context_version,
       c.workflow, c.fingerprint, c.deadline
FROM claim_items($1, $2, $3, $4) c
ORDER BY c.ord

-- claim: leases up to $2 claimable items to worker $1 for $3 ms (see functions/claim_items.sql for the
-- fairness and locking rules), with what the worker needs of their runs: the run's latest delta (when it has one)
-- and, while the run is at most at version 1, its initial context, so a worker can skip readContext.
-- Parameters: $1 worker_id, $2 max, $3 lease ms (integer), $4 workflow | NULL, $5 fingerprints (text[]) | NULL.
-- Returns: one row per leased item, in hand-out order, with the run's context version as of the claim. Values are
-- the stored text (the backend decodes each item on its own: a corrupt one fails only its item).
-- Deltas and the initial context are immutable, so reading them in this statement's snapshot is exact; a delta not
-- yet visible here (committed while the claim ran) comes back NULL and the worker reads the context instead.
-- Locking: FOR UPDATE SKIP LOCKED on items; never waits for another claim.
-- The delta is one primary-key probe per item (LATERAL ... LIMIT 1 keeps the planner from hashing the whole deltas
-- table, which it did for a plain join: every claim read every delta of every run kept in the schema).
SELECT c.run_id, c.item_id, c.node, c.payload, c.attempt, c.deliveries, c.lease_token, c.lease_expires_at, c.context_version,
       c.workflow, c.fingerprint, c.deadline, c.traceparent, d.item_id AS delta_item_id, d.delta,
       CASE WHEN c.context_version <= 1 THEN (SELECT r.context FROM runs r WHERE r.run_id = c.run_id) END AS context
FROM claim_items($1, $2, $3, $4, $5) c
LEFT JOIN LATERAL (
  SELECT d.item_id, d.delta FROM deltas d WHERE d.run_id = c.run_id AND d.version = c.context_version LIMIT 1
) d ON true
ORDER BY c.ord

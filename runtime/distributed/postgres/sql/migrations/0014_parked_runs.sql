-- Migration 0014: a run whose outstanding items are all parked (waits, sleeps: migration 0006) leaves the claim
-- rotation until one of them can run, so claims no longer walk it (they did, one index probe per parked run per claim).
-- queue_runs.wake_at: NULL while the run is in the rotation; else the earliest due_at of its parked items (the largest
-- bigint when all are waits without a timeout), set by the commit that left the run so (functions/park_run.sql), judged
-- again by the first claim at or after that time (queue_runs_wake, one index probe: functions/claim_items.sql, which
-- puts it back) and cleared by a signal that wakes one of its waits (functions/signal_run.sql). The rotation indexes
-- leave parked runs out.
--
-- The runs parked when this migration runs join the new structure here. Their runs rows are locked first, in run id
-- order as commits and signals lock them: a signal or commit in flight on one of them ends before they are judged, and
-- the next waits for this transaction.
SELECT count(*) FROM (
  SELECT 1 FROM runs r
  WHERE r.run_id IN (SELECT i.run_id FROM items i WHERE i.due_at IS NOT NULL GROUP BY i.run_id HAVING bool_and(i.status = 'parked'))
  ORDER BY r.run_id FOR UPDATE
) locked;

ALTER TABLE queue_runs ADD COLUMN wake_at bigint;
DROP INDEX queue_runs_rotation;
DROP INDEX queue_runs_workflow_rotation;
DROP INDEX queue_runs_version_rotation;
CREATE INDEX queue_runs_rotation ON queue_runs (served_seq) WHERE NOT paused AND wake_at IS NULL;
CREATE INDEX queue_runs_workflow_rotation ON queue_runs (workflow, served_seq) WHERE NOT paused AND wake_at IS NULL;
CREATE INDEX queue_runs_version_rotation ON queue_runs (workflow, fingerprint, served_seq) WHERE NOT paused AND wake_at IS NULL;
CREATE INDEX queue_runs_wake ON queue_runs (wake_at) WHERE wake_at IS NOT NULL;

-- Each is judged again 10 s from now at the latest (its wake_at no later), by the first claim then (park_run), which
-- parks it again until its real due time: a signal that a process of the previous release delivers meanwhile, its
-- signal_run not yet replaced (functions are applied after the migrations), wakes a wait without putting its run back
-- in the rotation, and that claim does.
UPDATE queue_runs q SET wake_at = least(p.wake, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + 10000)
FROM (SELECT i.run_id, min(i.due_at) AS wake FROM items i WHERE i.due_at IS NOT NULL GROUP BY i.run_id HAVING bool_and(i.status = 'parked')) p
WHERE q.run_id = p.run_id;

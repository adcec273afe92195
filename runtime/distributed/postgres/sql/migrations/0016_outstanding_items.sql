-- Migration 0016: a run's outstanding items (due_at IS NOT NULL: pending, in progress, waiting for a retry, parked) in
-- enqueue order. pendingWork (pending_work.sql) reads the first n of a run with 100,000 items waiting (`floxide runs
-- list`, the run page, `runs show --limit`) as an index walk that stops at n, where it sorted every outstanding item of
-- the run. An item leaves the index when it is finished (its due_at set to NULL), as it leaves items_claimable.
-- IF NOT EXISTS: an operator may have built it beforehand with CREATE INDEX CONCURRENTLY (docs/deploying.md).
CREATE INDEX IF NOT EXISTS items_outstanding ON items (run_id, seq) WHERE due_at IS NOT NULL;

-- Where a subscription from 'now' starts (events.ts): the current snapshot (text; the events it sees are skipped)
-- and its xmin (text; the subscription reads from there).
SELECT pg_current_snapshot()::text AS snapshot, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin

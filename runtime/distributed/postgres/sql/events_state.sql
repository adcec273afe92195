-- The state a subscription (re)starts from, and what tells it to look again.
-- Parameters: $1 tx, $2 pos: its cursor; $3 run id | NULL (every run); $4 its start snapshot (text) | NULL: events it
--   sees are skipped (a subscription from 'now', as events_read.sql).
-- Returns one row: xmin (text: the current snapshot's xmin), purged_tx (text) and purged_pos: the newest event row
--   purge_finished deleted (NULL: none; a cursor before it may have lost events), held: committed events after the
--   cursor at or above xmin (readable once the older transactions end, which no NOTIFY announces), unread: committed
--   events after the cursor, held or not (an event below xmin that the last read did not return was held when it
--   read, and the transaction holding it ended since: nothing will announce it either).
SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
  p.tx::text AS purged_tx, p.pos AS purged_pos,
  EXISTS (SELECT 1 FROM events e WHERE e.tx >= pg_snapshot_xmin(pg_current_snapshot()) AND (e.tx, e.pos) > ($1::xid8, $2::bigint)
    AND ($3::text IS NULL OR e.run_id = $3)) AS held,
  EXISTS (SELECT 1 FROM events e WHERE (e.tx, e.pos) > ($1::xid8, $2::bigint)
    AND ($3::text IS NULL OR e.run_id = $3)
    AND ($4::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(e.xid, $4::pg_snapshot))) AS unread
FROM (SELECT 1) one LEFT JOIN events_purged p ON true

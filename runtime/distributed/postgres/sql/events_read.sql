-- events (a subscription's read): up to $4 rows (each one run's events of one transaction, functions/record_events.sql)
-- after the cursor ($1 tx, $2 pos) in the global (tx, pos) order (migrations/0005_events.sql), only those below the
-- snapshot's xmin (every transaction that could still write one before them has ended). $3: a snapshot (text) |
-- NULL: skip events whose own transaction it sees (a subscription started at 'now'). Returns: tx (text), pos, run_id,
-- event (the row's events' JSON texts, joined by newlines), in order.
SELECT e.tx::text AS tx, e.pos, e.run_id, e.event
FROM events e
WHERE (e.tx, e.pos) > ($1::xid8, $2::bigint) AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
  AND ($3::pg_snapshot IS NULL OR NOT pg_visible_in_snapshot(e.xid, $3::pg_snapshot))
ORDER BY e.tx, e.pos
LIMIT $4

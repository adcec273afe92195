-- One row of events (a subscription resumed after a cursor inside a row: the rest of that row comes first).
-- Parameters: $1 tx, $2 pos. Returns: tx (text), pos, run_id, event (the row's events' JSON texts, joined by
-- newlines), or nothing when the row was purged.
SELECT e.tx::text AS tx, e.pos, e.run_id, e.event
FROM events e
WHERE e.tx = $1::xid8 AND e.pos = $2::bigint

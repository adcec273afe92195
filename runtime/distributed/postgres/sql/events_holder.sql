-- What holds a subscription's events back (events_state.sql: held): the server's oldest open transaction that has a
-- transaction id (one that wrote), in any database (transaction ids, and so snapshots' xmin, are the server's).
-- Returns at most one row: pid, datname, since (xact_start, epoch ms, truncated as Date.now() and now_ms() are: never
-- after the transaction began); none when the server does not show it (a prepared transaction, or a session of
-- another role without pg_read_all_stats).
SELECT pid, datname, floor(extract(epoch FROM xact_start) * 1000)::bigint AS since
FROM pg_stat_activity
WHERE backend_xid IS NOT NULL
ORDER BY age(backend_xid) DESC
LIMIT 1

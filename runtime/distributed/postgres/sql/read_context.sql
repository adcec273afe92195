-- readContext: the initial context (when $3) and the deltas newer than $2 (the newest $4 of them with a limit), read in
-- one snapshot with the version.
-- Parameters: $1 run_id, $2 since version (0 for all), $3 include the initial context, $4 limit | NULL (every delta).
-- Returns: no row for an unknown run; otherwise one row per delta (or one row with NULL delta columns).
-- Locking: none (snapshot read). The limit reads backwards through the deltas primary key (run_id, version).
SELECT r.version AS current_version, CASE WHEN $3::boolean THEN r.context END AS context,
       d.version, d.item_id, d.delta
FROM runs r
LEFT JOIN LATERAL (
  SELECT * FROM deltas d WHERE d.run_id = r.run_id AND d.version > $2::integer ORDER BY d.version DESC LIMIT $4::integer
) d ON true
WHERE r.run_id = $1
ORDER BY d.version

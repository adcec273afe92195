-- readContext: the initial context (when $3) and the deltas newer than $2, read in one snapshot with the version.
-- Parameters: $1 run_id, $2 since version (0 for all), $3 include the initial context.
-- Returns: no row for an unknown run; otherwise one row per delta (or one row with NULL delta columns).
-- Locking: none (snapshot read).
SELECT r.version AS current_version, CASE WHEN $3::boolean THEN r.context END AS context,
       d.version, d.item_id, d.delta
FROM runs r
LEFT JOIN deltas d ON d.run_id = r.run_id AND d.version > $2::integer
WHERE r.run_id = $1
ORDER BY d.version

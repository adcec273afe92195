-- itemCounts: per node, how many of a run's items are in each state.
-- Parameters: $1 run_id. Returns: no row for an unknown run; otherwise one row per node and status that has items, or
-- one row with NULL columns when the run has none.
-- Locking: none (snapshot read). Counts the run's items through the items primary key (run_id, item_id).
SELECT c.node, c.status, c.n
FROM runs r
LEFT JOIN LATERAL (
  SELECT i.node, i.status, count(*)::integer AS n FROM items i WHERE i.run_id = r.run_id GROUP BY i.node, i.status
) c ON true
WHERE r.run_id = $1

-- metrics: a run's counters. Redeliveries are counted per item by claims (so claims never lock the run row).
-- Parameters: $1 run_id. Returns: one row, or none for an unknown run. Locking: none (snapshot read).
SELECT r.enqueued, r.completed, r.retries, r.failed, r.dead_lettered, r.dropped_count, r.counters, r.misrouted,
       (SELECT coalesce(sum(i.redeliveries), 0)::integer FROM items i WHERE i.run_id = r.run_id) AS redeliveries
FROM runs r WHERE r.run_id = $1

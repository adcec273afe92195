-- parkedArrivals: the run's parked join arrivals (group, the group's join node), by group then index; `exists` is
-- false (and no arrival follows) for an unknown run.
-- Parameters: $1 run_id.
SELECT true AS exists, NULL::text AS group_id, NULL::text AS node, -1 AS idx FROM runs WHERE run_id = $1
UNION ALL
SELECT true, a.group_id, g.node, a.idx FROM join_arrivals a JOIN join_groups g ON g.run_id = a.run_id AND g.group_id = a.group_id
WHERE a.run_id = $1
ORDER BY group_id NULLS FIRST, idx

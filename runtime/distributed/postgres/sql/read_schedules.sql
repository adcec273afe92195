-- listSchedules / dueSchedules: the schedules (of a workflow; paused ones included or not) ordered by id, with the
-- server's now. Always at least one row: with no schedule, one row whose schedule columns are NULL carries now.
-- Parameters: $1 workflow (NULL: every workflow), $2 include paused schedules.
-- Returns: rows (now, schedule columns...). Locking: none (snapshot read).
SELECT n.now, s.*
FROM (SELECT now_ms() AS now) n
LEFT JOIN schedules s ON ($1::text IS NULL OR s.workflow = $1::text) AND ($2::boolean OR NOT s.paused)
ORDER BY s.schedule_id COLLATE "C"

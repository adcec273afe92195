-- removeSchedule: deletes a schedule (the runs it started stay).
-- Parameters: $1 id. Returns: one row when it existed. Locking: the row.
DELETE FROM schedules WHERE schedule_id = $1 RETURNING schedule_id

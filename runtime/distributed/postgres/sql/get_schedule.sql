-- getSchedule: one schedule.
-- Parameters: $1 id. Returns: its row, or no row. Locking: none (snapshot read).
SELECT * FROM schedules WHERE schedule_id = $1

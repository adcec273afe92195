-- advanceSchedule: compare-and-set of a schedule's cursor, by a scheduler that handled the ticks up to it.
-- Parameters: $1 id, $2 the cursor the scheduler read, $3 the new cursor, $4 ticks skipped, $5 the last tick fired
-- (NULL: none), $6 its run id (NULL: none).
-- Returns: one row when applied; none when the schedule is gone, paused, or its cursor moved already. Locking: the row.
UPDATE schedules SET
  cursor_ms = $3,
  skipped = skipped + $4,
  last_tick_at = coalesce($5, last_tick_at),
  last_run_id = coalesce($6, last_run_id),
  updated_at = now_ms()
WHERE schedule_id = $1 AND cursor_ms = $2 AND NOT paused
RETURNING schedule_id

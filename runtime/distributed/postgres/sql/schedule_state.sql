-- pauseSchedule / resumeSchedule: sets the paused flag. Resuming a paused schedule sets resumed_at = now (the ticks
-- that fell during the pause count as missed); repeating either changes nothing.
-- Parameters: $1 id, $2 paused. Returns: the schedule's row, or no row for an unknown id. Locking: the row.
UPDATE schedules SET
  paused = $2,
  resumed_at = CASE WHEN paused AND NOT $2 THEN now_ms() ELSE resumed_at END,
  updated_at = CASE WHEN paused <> $2 THEN now_ms() ELSE updated_at END
WHERE schedule_id = $1
RETURNING *

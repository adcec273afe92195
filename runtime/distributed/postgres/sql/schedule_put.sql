-- putSchedule: creates a schedule (cursor = now) or updates it: the definition is replaced, the paused state kept, and
-- the cursor moves to now only when the timing changed (a new expression never back-fills): the same timing
-- (schedule-rules.ts scheduleTiming: an expression written otherwise) or, for a row stored before timings were, the
-- same expression and time zone keep it. A stored timing counts only while timing_of (the expression and time zone it
-- was computed from) is the stored expression's: a floxide before timings defines a schedule again without either.
-- Parameters: $1 id, $2 workflow, $3 cron, $4 time zone (NULL: UTC), $5 input JSON, $6 catch-up policy, $7 catch-up
-- limit, $8 grace ms, $9 paused (read only when the schedule is created), $10 timing.
-- Returns: the schedule's row. Locking: the row (INSERT ... ON CONFLICT DO UPDATE).
INSERT INTO schedules AS s (schedule_id, workflow, cron, timezone, input, catch_up, catch_up_limit, grace_ms, paused, cursor_ms, created_at, updated_at, timing, timing_of)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now_ms(), now_ms(), now_ms(), $10, $3 || E'\n' || coalesce($4, ''))
ON CONFLICT (schedule_id) DO UPDATE SET
  workflow = EXCLUDED.workflow,
  cron = EXCLUDED.cron,
  timezone = EXCLUDED.timezone,
  input = EXCLUDED.input,
  catch_up = EXCLUDED.catch_up,
  catch_up_limit = EXCLUDED.catch_up_limit,
  grace_ms = EXCLUDED.grace_ms,
  cursor_ms = CASE WHEN (s.timing = EXCLUDED.timing AND s.timing_of = s.cron || E'\n' || coalesce(s.timezone, '')) OR (s.cron = EXCLUDED.cron AND s.timezone IS NOT DISTINCT FROM EXCLUDED.timezone) THEN s.cursor_ms ELSE EXCLUDED.cursor_ms END,
  updated_at = EXCLUDED.updated_at,
  timing = EXCLUDED.timing,
  timing_of = EXCLUDED.timing_of
RETURNING *

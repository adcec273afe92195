-- final_event: the JSON text of a run's final event (runtime/engine/events.ts): run.completed (p_output: the output's
-- JSON text, p_dropped: the dropped items) or run.failed / run.cancelled (p_error: the error's JSON text), as
-- p_status says ('completed' | 'failed' | 'cancelled'). Used by finish_run and commit_steps' terminal path.
-- Concatenated text and STABLE (inlined), as started_event (p_output and p_error checked as JSON, kept as given).
CREATE OR REPLACE FUNCTION final_event(p_run text, p_status text, p_at bigint, p_output text, p_error text, p_dropped jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"type":' || to_json('run.' || p_status)::text || ',"runId":' || to_json(p_run)::text || ',"at":' || p_at::text
    || CASE WHEN p_status = 'completed'
         THEN ',"output":' || coalesce(p_output::json::text, 'null') || ',"dropped":' || coalesce(p_dropped::text, '[]')
         ELSE ',"error":' || coalesce(p_error::json::text, 'null') END || '}'
$$;

-- final_event: the JSON text of a run's final event (runtime/engine/events.ts): run.completed (p_output: the output's
-- JSON text, p_dropped: the dropped items) or run.failed / run.cancelled (p_error: the error's JSON text), as
-- p_status says ('completed' | 'failed' | 'cancelled'). Used by finish_run and commit_steps' terminal path.
CREATE OR REPLACE FUNCTION final_event(p_run text, p_status text, p_at bigint, p_output text, p_error text, p_dropped jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT (jsonb_build_object('type', 'run.' || p_status, 'runId', p_run, 'at', p_at)
    || CASE WHEN p_status = 'completed'
         THEN jsonb_build_object('output', coalesce(p_output, 'null')::jsonb, 'dropped', coalesce(p_dropped, '[]'::jsonb))
         ELSE jsonb_build_object('error', coalesce(p_error, 'null')::jsonb) END)::text
$$;

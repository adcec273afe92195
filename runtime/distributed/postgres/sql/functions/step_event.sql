-- step_event: the JSON text of the event of an applied commit (runtime/engine/events.ts): step.retry when p_outcome
-- is 'retry' (with delayMs), else step.finished with p_outcome ('continue' | 'terminal' | 'failed'). p_error: the
-- error's JSON text | NULL; p_started: when the attempt was leased. The same fields as the step's history row.
-- Concatenated text and STABLE (inlined), as started_event (p_error checked as JSON, kept as given).
CREATE OR REPLACE FUNCTION step_event(p_run text, p_item text, p_node text, p_attempt integer, p_worker text, p_started bigint,
  p_at bigint, p_outcome text, p_error text, p_delay bigint)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"type":' || CASE WHEN p_outcome = 'retry' THEN '"step.retry"' ELSE '"step.finished"' END || ',"runId":' || to_json(p_run)::text
    || ',"at":' || p_at::text || ',"node":' || to_json(p_node)::text || ',"itemId":' || to_json(p_item)::text
    || ',"attempt":' || p_attempt::text || ',"workerId":' || coalesce(to_json(p_worker)::text, 'null')
    || ',"startedAt":' || coalesce(p_started::text, 'null')
    || CASE WHEN p_outcome = 'retry' THEN ',"delayMs":' || coalesce(p_delay::text, 'null') ELSE ',"outcome":' || coalesce(to_json(p_outcome)::text, 'null') END
    || CASE WHEN p_error IS NULL THEN '' ELSE ',"error":' || p_error::json::text END || '}'
$$;

-- step_event: the JSON text of the event of an applied commit (runtime/engine/events.ts): step.retry when p_outcome
-- is 'retry' (with delayMs), else step.finished with p_outcome ('continue' | 'terminal' | 'failed'). p_error: the
-- error's JSON text | NULL; p_started: when the attempt was leased. The same fields as the step's history row.
CREATE OR REPLACE FUNCTION step_event(p_run text, p_item text, p_node text, p_attempt integer, p_worker text, p_started bigint,
  p_at bigint, p_outcome text, p_error text, p_delay bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT (jsonb_build_object('type', CASE WHEN p_outcome = 'retry' THEN 'step.retry' ELSE 'step.finished' END, 'runId', p_run,
    'at', p_at, 'node', p_node, 'itemId', p_item, 'attempt', p_attempt, 'workerId', p_worker, 'startedAt', p_started)
    || CASE WHEN p_outcome = 'retry' THEN jsonb_build_object('delayMs', p_delay) ELSE jsonb_build_object('outcome', p_outcome) END
    || CASE WHEN p_error IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', p_error::jsonb) END)::text
$$;

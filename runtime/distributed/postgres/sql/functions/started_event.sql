-- started_event: the JSON text of a step.started event (runtime/engine/events.ts StepStartedEvent): an attempt of an
-- item was leased to a worker. Used by claim_items and by commit_steps' successor hand-off.
CREATE OR REPLACE FUNCTION started_event(p_run text, p_item text, p_node text, p_attempt integer, p_worker text, p_at bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('type', 'step.started', 'runId', p_run, 'at', p_at, 'node', p_node, 'itemId', p_item,
    'attempt', p_attempt, 'workerId', p_worker)::text
$$;

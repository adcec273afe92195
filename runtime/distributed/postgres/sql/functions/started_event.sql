-- started_event: the JSON text of a step.started event (runtime/engine/events.ts StepStartedEvent): an attempt of an
-- item was leased to a worker. Used by claim_items and by commit_steps' successor hand-off.
-- The text is concatenated (compact, strings quoted by to_json): building a jsonb and printing it costs the hot path
-- more CPU and its text (", " and ": ") more WAL per event. STABLE, not IMMUTABLE: to_json is STABLE, and the planner
-- inlines a SQL function into its caller's expression only when the body is no more volatile than declared; not
-- inlined, every call started an executor of its own (~80k instructions per event in a claim).
CREATE OR REPLACE FUNCTION started_event(p_run text, p_item text, p_node text, p_attempt integer, p_worker text, p_at bigint)
RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"type":"step.started","runId":' || to_json(p_run)::text || ',"at":' || p_at::text || ',"node":' || to_json(p_node)::text
    || ',"itemId":' || to_json(p_item)::text || ',"attempt":' || p_attempt::text || ',"workerId":' || coalesce(to_json(p_worker)::text, 'null') || '}'
$$;

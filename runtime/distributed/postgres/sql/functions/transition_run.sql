-- transition_run: a guarded compare-and-set of a run's status.
-- Parameters: p_run run id, p_target 'paused' (from running) | 'running' (from paused) | 'cancelled' | 'failed'
--   (from running or paused; both drop outstanding work through finish_run), p_error error JSON text | NULL.
-- Returns (jsonb): {status: 'not_found'} | {applied: false, status} (already there) | {final: true, status} (a final
--   run never changes) | {applied: true, status, dropped}. Errors: FX001 for an unknown target.
-- Events: run.paused, run.resumed, run.cancelled or run.failed (record_events, last).
-- Locking: the runs row FOR UPDATE, then items and queue_runs.
CREATE OR REPLACE FUNCTION transition_run(p_run text, p_target text, p_error text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
  v_now bigint := now_ms();
  v_dropped jsonb := '[]';
  v_event text;
BEGIN
  SELECT status INTO v_status FROM runs WHERE run_id = p_run FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"status":"not_found"}'::jsonb;
  END IF;
  IF v_status = p_target THEN
    RETURN jsonb_build_object('applied', false, 'status', v_status, 'dropped', '[]'::jsonb);
  END IF;
  IF v_status IN ('completed', 'failed', 'cancelled') THEN
    RETURN jsonb_build_object('final', true, 'status', v_status);
  END IF;
  IF p_target = 'paused' OR p_target = 'running' THEN
    UPDATE runs SET status = p_target, updated_at = v_now WHERE run_id = p_run;
    UPDATE queue_runs SET paused = (p_target = 'paused') WHERE run_id = p_run;
  ELSIF p_target = 'cancelled' OR p_target = 'failed' THEN
    v_dropped := finish_run(p_run, p_target, p_target, p_error, NULL, NULL, v_now);
    v_event := final_event(p_run, p_target, v_now, NULL, p_error, v_dropped);
  ELSE
    RAISE EXCEPTION 'unknown run status %', p_target USING ERRCODE = 'FX001';
  END IF;
  PERFORM record_events(ARRAY[p_run], ARRAY[coalesce(v_event, jsonb_build_object('type', CASE p_target WHEN 'paused' THEN 'run.paused' ELSE 'run.resumed' END,
    'runId', p_run, 'at', v_now)::text)]);
  RETURN jsonb_build_object('applied', true, 'status', p_target, 'dropped', v_dropped);
END $$;

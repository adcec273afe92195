-- finish_run: makes a run final and drops its outstanding work.
-- Parameters: p_run run id, p_status final status ('completed' | 'failed' | 'cancelled'), p_reason drop reason
--   ('terminal' | 'failed' | 'cancelled'), p_error error JSON text | NULL, p_output output JSON text | NULL,
--   p_extra jsonb array of further dropped items (a terminal step's own, planned by the engine) | NULL, p_now epoch ms.
-- Returns: the jsonb array of dropped items: outstanding items in enqueue order, then p_extra.
-- Effects: outstanding items become 'dropped'; parked join arrivals and groups are discarded; the run leaves the claim
--   rotation; status, finished_at, error, output, dropped and dropped_count are written.
-- Locking: the caller holds the runs row lock and has checked that the run is not final.
CREATE OR REPLACE FUNCTION finish_run(p_run text, p_status text, p_reason text, p_error text, p_output text, p_extra jsonb, p_now bigint)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_dropped jsonb;
BEGIN
  WITH d AS (
    UPDATE items SET status = 'dropped', lease_token = NULL, lease_expires_at = NULL, not_before = NULL, due_at = NULL, updated_at = p_now
    WHERE run_id = p_run AND due_at IS NOT NULL
    RETURNING item_id, node, seq
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.item_id, 'node', d.node, 'reason', p_reason) ORDER BY d.seq), '[]'::jsonb)
  INTO v_dropped FROM d;
  v_dropped := v_dropped || coalesce(p_extra, '[]'::jsonb);
  DELETE FROM join_arrivals WHERE run_id = p_run;
  DELETE FROM join_groups WHERE run_id = p_run;
  DELETE FROM queue_runs WHERE run_id = p_run;
  UPDATE runs SET status = p_status, updated_at = p_now, finished_at = p_now,
    error = coalesce(p_error, error), output = coalesce(p_output, output),
    dropped = v_dropped, dropped_count = dropped_count + jsonb_array_length(v_dropped)
  WHERE run_id = p_run;
  RETURN v_dropped;
END $$;

-- signal_run: delivers signal p_name to run p_run, atomically: to its oldest parked wait of that name (now claimable,
-- the signal added to its item as `received`), else into the run's mailbox (signals), where the next such wait takes
-- it in the commit that parks it (commit_one). A repeated idempotency key delivers nothing. Decides nothing else.
-- Parameters: p_run run id, p_name signal name, p_payload canonical JSON text, p_key idempotency key | NULL.
-- Returns (jsonb): {status: 'not_found'} | {status: 'duplicate'} (also once the run is final) | {status: 'final', runStatus} |
--   {status: 'delivered', itemId (the wait that took it) | null}.
-- Events: signal.received (record_events, last).
-- Locking: the runs row FOR UPDATE (orders it with commits that park waits), then the wait's item row; a wait whose
--   row a claim holds is being taken for its timeout (SKIP LOCKED: no signal for it, the next wait of the name gets it).
CREATE OR REPLACE FUNCTION signal_run(p_run text, p_name text, p_payload text, p_key text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
  v_now bigint := now_ms();
  v_item text;
BEGIN
  SELECT r.status INTO v_status FROM runs r WHERE r.run_id = p_run FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"status":"not_found"}'::jsonb;
  END IF;
  -- a repeated key is a duplicate even after the run finished (a retried webhook is not an error)
  IF p_key IS NOT NULL AND EXISTS (SELECT 1 FROM signal_keys k WHERE k.run_id = p_run AND k.key = p_key) THEN
    RETURN '{"status":"duplicate"}'::jsonb;
  END IF;
  IF v_status IN ('completed', 'failed', 'cancelled') THEN
    RETURN jsonb_build_object('status', 'final', 'runStatus', v_status);
  END IF;
  IF p_key IS NOT NULL THEN
    INSERT INTO signal_keys (run_id, key) VALUES (p_run, p_key) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      RETURN '{"status":"duplicate"}'::jsonb;
    END IF;
  END IF;
  UPDATE items i SET status = 'pending', payload = left(i.payload, -1) || ',"received":{"payload":' || p_payload || '}}',
    not_before = NULL, due_at = 0, updated_at = v_now
  WHERE i.run_id = p_run AND i.item_id = (
    SELECT w.item_id FROM items w
    WHERE w.run_id = p_run AND w.status = 'parked' AND w.wait_name = p_name
    ORDER BY w.seq LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING i.item_id INTO v_item;
  IF v_item IS NULL THEN
    INSERT INTO signals (run_id, name, payload, key, at) VALUES (p_run, p_name, p_payload, p_key, v_now);
  END IF;
  -- last: the head row lock of record_events (see functions/record_events.sql)
  PERFORM record_events(ARRAY[p_run], ARRAY[jsonb_strip_nulls(jsonb_build_object('type', 'signal.received', 'runId', p_run, 'at', v_now,
    'name', p_name, 'itemId', v_item, 'key', p_key))::text]);
  RETURN jsonb_build_object('status', 'delivered', 'itemId', v_item);
END $$;

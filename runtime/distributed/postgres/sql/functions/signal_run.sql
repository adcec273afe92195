-- signal_run: delivers signals, each to its run, atomically in one transaction (one WAL flush and one NOTIFY for the
-- lot: concurrent signal calls are coalesced by the backend). Per signal: to its run's oldest parked wait of that
-- name (now claimable, the signal added to its item as `received`, its run back in the claim rotation if it was parked
-- whole: migration 0014), else into the run's mailbox (signals), where the next such wait takes it in the commit that
-- parks it (commit_one). A repeated idempotency key delivers nothing: with the name and payload digest it first came
-- with (or kept before migration 0015, without them, or sent without a digest by the previous release) it is a
-- duplicate, with another name or digest it is refused (key_conflict).
-- Decides nothing else.
-- Parameters: p_signals jsonb array of {run, name, payload (canonical JSON text), key | null, digest | null (the
--   payload's: hex SHA-256 of its canonical JSON, with a key), workflow | null (the workflow the run must be a run
--   of)}, every run at most once.
-- Returns (jsonb): an array, in the order of p_signals, of {status: 'not_found'} | {status: 'duplicate'} (also once
--   the run is final) | {status: 'key_conflict', name, digest (the key's first signal's; also once the run is final)} |
--   {status: 'final', runStatus} | {status: 'other_workflow', workflow (the run's)} |
--   {status: 'delivered', itemId (the wait that took it) | null}.
-- Events: signal.received per delivered signal (record_events, once, last).
-- Locking: the runs rows FOR UPDATE, in run id order (orders them with commits that park waits, and with each other),
--   then each wait's item row, then the run's rotation row (queue_runs); a wait whose row a claim holds is being
--   taken for its timeout (SKIP LOCKED: no signal for it, the next wait of the name gets it).
-- (one signal per call before 0.2: that signature goes, or it would stay beside this one as an overload)
DROP FUNCTION IF EXISTS signal_run(text, text, text, text);
CREATE OR REPLACE FUNCTION signal_run(p_signals jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := now_ms();
  v_status text;
  v_workflow text;
  v_item text;
  v_kept record;
  v_results jsonb[] := ARRAY[]::jsonb[];
  v_runs text[] := ARRAY[]::text[];
  v_events text[] := ARRAY[]::text[];
  s record;
BEGIN
  PERFORM 1 FROM runs r WHERE r.run_id IN (SELECT x.run FROM jsonb_to_recordset(p_signals) AS x(run text)) ORDER BY r.run_id FOR UPDATE;
  FOR s IN SELECT x.* FROM ROWS FROM (jsonb_to_recordset(p_signals) AS (run text, name text, payload text, key text, digest text, workflow text)) WITH ORDINALITY AS x(run, name, payload, key, digest, workflow, o) ORDER BY x.o LOOP
    SELECT r.status, r.workflow INTO v_status, v_workflow FROM runs r WHERE r.run_id = s.run;
    IF NOT FOUND THEN
      v_results := v_results || '{"status":"not_found"}'::jsonb;
      CONTINUE;
    END IF;
    IF s.workflow IS NOT NULL AND s.workflow <> v_workflow THEN
      v_results := v_results || jsonb_build_object('status', 'other_workflow', 'workflow', v_workflow);
      CONTINUE;
    END IF;
    -- a repeated key is a duplicate even after the run finished (a retried webhook is not an error), unless it came
    -- with another name or payload (refused; a key kept before digests matches any signal, and a signal sent without
    -- a digest, by a process of the previous release during a rolling upgrade, is answered as that release did)
    IF s.key IS NOT NULL THEN
      SELECT k.name, k.digest INTO v_kept FROM signal_keys k WHERE k.run_id = s.run AND k.key = s.key;
      IF FOUND THEN
        IF v_kept.digest IS NULL OR s.digest IS NULL OR (v_kept.name = s.name AND v_kept.digest = s.digest) THEN
          v_results := v_results || '{"status":"duplicate"}'::jsonb;
        ELSE
          v_results := v_results || jsonb_build_object('status', 'key_conflict', 'name', v_kept.name, 'digest', v_kept.digest);
        END IF;
        CONTINUE;
      END IF;
    END IF;
    IF v_status IN ('completed', 'failed', 'cancelled') THEN
      v_results := v_results || jsonb_build_object('status', 'final', 'runStatus', v_status);
      CONTINUE;
    END IF;
    IF s.key IS NOT NULL THEN
      INSERT INTO signal_keys (run_id, key, name, digest) VALUES (s.run, s.key, s.name, s.digest) ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        v_results := v_results || '{"status":"duplicate"}'::jsonb;
        CONTINUE;
      END IF;
    END IF;
    v_item := NULL;
    UPDATE items i SET status = 'pending', payload = left(i.payload, -1) || ',"received":{"payload":' || s.payload || '}}',
      not_before = NULL, due_at = 0, updated_at = v_now
    WHERE i.run_id = s.run AND i.item_id = (
      SELECT w.item_id FROM items w
      WHERE w.run_id = s.run AND w.status = 'parked' AND w.wait_name = s.name
      ORDER BY w.seq LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING i.item_id INTO v_item;
    IF v_item IS NULL THEN
      INSERT INTO signals (run_id, name, payload, key, at) VALUES (s.run, s.name, s.payload, s.key, v_now);
    ELSE
      -- a run parked whole (park_run) is back in the claim rotation with the wait it woke
      UPDATE queue_runs SET wake_at = NULL WHERE run_id = s.run AND wake_at IS NOT NULL;
    END IF;
    v_runs := v_runs || s.run;
    v_events := v_events || jsonb_strip_nulls(jsonb_build_object('type', 'signal.received', 'runId', s.run, 'at', v_now,
      'name', s.name, 'itemId', v_item, 'key', s.key))::text;
    v_results := v_results || jsonb_build_object('status', 'delivered', 'itemId', v_item);
  END LOOP;
  -- last: record_events, which may wait for another appender to the same run (see functions/record_events.sql)
  PERFORM record_events(v_runs, v_events);
  RETURN to_jsonb(v_results);
END $$;

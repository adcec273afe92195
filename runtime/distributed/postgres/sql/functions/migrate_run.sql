-- migrate_run: moves an open run to another graph version (RunMigrator.migrate): renames its pending items' nodes
-- (the rewritten payloads are computed by the TypeScript side: canonical JSON is its) and sets the run's
-- fingerprint and its rotation row's, so claims of workers serving p_to take it from then on; sets its updated_at and
-- migrated_at, its started_on when unset (the version it started on: this first move's p_from). Checks first, writing
-- nothing when one fails: the run is open (running or paused) and on p_from; its outstanding items are exactly
-- p_expect (unless NULL) and each rewritten item's payload is still the one it was rewritten from; no item is leased
-- (unless p_leases is 'keep').
-- Parameters: p_run run id, p_from / p_to fingerprints, p_leases 'keep' | 'block', p_expect the outstanding item ids
--   judged | NULL, p_rewrites jsonb array of [item id, payload as judged, new payload, new node], p_event the
--   run.migrated event without its "at" (the function adds its time).
-- Returns (jsonb): {code: 'ok'} | {code: 'not_found'} | {code: 'final', status} | {code: 'version', fingerprint}
--   | {code: 'changed', item} | {code: 'leased', leased: [{item, node, worker}]}.
-- Events: run.migrated (record_events, last).
-- Locking: the runs row FOR UPDATE (as every commit and transition takes it first), then the rotation row and the
--   outstanding item rows (claims skip locked rows: none claims an item of the run while it moves).
CREATE OR REPLACE FUNCTION migrate_run(p_run text, p_from text, p_to text, p_leases text, p_expect text[], p_rewrites jsonb, p_event jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
  v_fingerprint text;
  v_now bigint := now_ms();
  v_odd text;
  v_leased jsonb;
BEGIN
  SELECT status, fingerprint INTO v_status, v_fingerprint FROM runs WHERE run_id = p_run FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"code":"not_found"}'::jsonb;
  END IF;
  IF v_status NOT IN ('running', 'paused') THEN
    RETURN jsonb_build_object('code', 'final', 'status', v_status);
  END IF;
  IF v_fingerprint <> p_from THEN
    RETURN jsonb_build_object('code', 'version', 'fingerprint', v_fingerprint);
  END IF;
  PERFORM 1 FROM queue_runs WHERE run_id = p_run FOR UPDATE;
  PERFORM 1 FROM items WHERE run_id = p_run AND due_at IS NOT NULL ORDER BY item_id FOR UPDATE;
  IF p_expect IS NOT NULL THEN
    SELECT i.item_id INTO v_odd FROM items i WHERE i.run_id = p_run AND i.due_at IS NOT NULL AND i.item_id <> ALL (p_expect) LIMIT 1;
    IF v_odd IS NULL THEN
      SELECT e INTO v_odd FROM unnest(p_expect) AS e
      WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.run_id = p_run AND i.item_id = e AND i.due_at IS NOT NULL) LIMIT 1;
    END IF;
    IF v_odd IS NOT NULL THEN
      RETURN jsonb_build_object('code', 'changed', 'item', v_odd);
    END IF;
  END IF;
  SELECT r->>0 INTO v_odd FROM jsonb_array_elements(p_rewrites) AS r
  WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.run_id = p_run AND i.item_id = r->>0 AND i.due_at IS NOT NULL AND i.payload = r->>1) LIMIT 1;
  IF v_odd IS NOT NULL THEN
    RETURN jsonb_build_object('code', 'changed', 'item', v_odd);
  END IF;
  IF p_leases <> 'keep' THEN
    SELECT jsonb_agg(jsonb_build_object('item', i.item_id, 'node', i.node, 'worker', i.worker_id) ORDER BY i.seq) INTO v_leased
    FROM items i WHERE i.run_id = p_run AND i.status = 'in_progress' AND i.lease_expires_at > v_now;
    IF v_leased IS NOT NULL THEN
      RETURN jsonb_build_object('code', 'leased', 'leased', v_leased);
    END IF;
  END IF;
  UPDATE items i SET payload = r->>2, node = r->>3, updated_at = v_now
  FROM jsonb_array_elements(p_rewrites) AS r WHERE i.run_id = p_run AND i.item_id = r->>0;
  UPDATE runs SET fingerprint = p_to, updated_at = v_now, migrated_at = v_now, started_on = coalesce(started_on, p_from) WHERE run_id = p_run;
  UPDATE queue_runs SET fingerprint = p_to WHERE run_id = p_run;
  PERFORM record_events(ARRAY[p_run], ARRAY[(p_event || jsonb_build_object('at', v_now))::text]);
  RETURN '{"code":"ok"}'::jsonb;
END $$;

-- migrate_run, the previous release's six-parameter call (its sql/migrate_run.sql), kept so that a worker or CLI of
-- that release still moves runs while a rolling upgrade of floxide itself has both on one schema (docs/deploying.md
-- "Upgrading floxide itself"): the same move, its run.migrated event built here, renames read from the items it
-- renames, with no worker (that release does not pass one). Remove it once no supported release calls it.
CREATE OR REPLACE FUNCTION migrate_run(p_run text, p_from text, p_to text, p_leases text, p_expect text[], p_rewrites jsonb)
RETURNS jsonb LANGUAGE sql AS $$
  SELECT migrate_run(p_run, p_from, p_to, p_leases, p_expect, p_rewrites, jsonb_build_object(
    'type', 'run.migrated', 'runId', p_run, 'from', p_from, 'to', p_to,
    'renames', coalesce((SELECT jsonb_object_agg(i.node, r->>3) FROM jsonb_array_elements(p_rewrites) AS r
      JOIN items i ON i.run_id = p_run AND i.item_id = r->>0 WHERE i.node <> r->>3), '{}'::jsonb)))
$$;

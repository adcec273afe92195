-- Migration 0002: the server-side operations that must be atomic and take one round trip (claim, step commit,
-- guarded run transitions). Applied like 0001 (one transaction, migration advisory lock, search_path = schema).
-- Append-only: to change a function, add a later migration with CREATE OR REPLACE.
--
-- Lock order (deadlock freedom): commit_step and transition_run lock runs(run) FOR UPDATE first, then item rows,
-- and touch queue_runs(run) last (finish_run). claim_items never waits: it reads queue_runs without locking, takes
-- items with FOR UPDATE SKIP LOCKED and bumps queue_runs rows with SKIP LOCKED; it never touches runs.
-- Errors: SQLSTATE FX001 = invalid argument (the TypeScript side maps it to InvalidArgumentError).

-- finish_run(run, status, reason, error, output, extra) -> jsonb array of dropped items
-- Makes the run final: every outstanding item becomes 'dropped' (reported in enqueue order, then `extra`), parked
-- join arrivals are discarded, the run leaves the claim rotation, and status/finished_at/error/output/dropped and
-- the dropped metric are written. The caller holds the runs row lock and has checked that the run is not final.
CREATE FUNCTION finish_run(p_run text, p_status text, p_reason text, p_error text, p_output text, p_extra jsonb, p_now bigint)
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

-- claim_items(worker, max, lease_ms, workflow | NULL) -> rows (ord, run_id, item_id, payload, attempt, deliveries,
-- lease_token, lease_expires_at, context_version, workflow, fingerprint, deadline), ord = hand-out order. The run's
-- columns are read in the snapshot that found the item (so context_version includes the delta of the commit that
-- enqueued it, and a run created a moment ago is never missed).
-- Candidate runs: unpaused runs in the rotation (optionally of one workflow) that have a claimable item, least
-- recently served first. Items are taken one per run per round (round-robin), each run's oldest claimable first
-- (due_at, then enqueue order), with FOR UPDATE SKIP LOCKED so concurrent claims never lease an item twice and
-- never wait for each other. Claimable: due_at <= now (pending, retry due, lease expired). Taking an in_progress
-- item (expired lease) counts a redelivery. Served runs move to the back of the rotation in the order served.
-- Durability: the transaction commits with synchronous_commit off: a claim lost in a server crash only makes the
-- item claimable again (its commit then says lease_lost), which the lease protocol already handles.
CREATE FUNCTION claim_items(p_worker text, p_max integer, p_lease_ms bigint, p_workflow text)
RETURNS TABLE (ord integer, run_id text, item_id text, payload text, attempt integer, deliveries integer, lease_token text, lease_expires_at bigint, context_version integer,
  workflow text, fingerprint text, deadline double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_now bigint := now_ms();
  v_expires bigint := now_ms() + p_lease_ms;
  v_active text[];
  v_next text[];
  v_served text[] := '{}';
  v_run text;
  v_got integer := 0;
  v_rec record;
  v_base bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  -- More candidates than needed: runs whose items another claim holds right now are skipped without waiting.
  SELECT coalesce(array_agg(c.run_id ORDER BY c.served_seq), '{}') INTO v_active FROM (
    SELECT q.run_id, q.served_seq FROM queue_runs q
    WHERE NOT q.paused AND (p_workflow IS NULL OR q.workflow = p_workflow)
      AND EXISTS (SELECT 1 FROM items i WHERE i.run_id = q.run_id AND i.due_at <= v_now)
    ORDER BY q.served_seq
    LIMIT p_max * 2 + 8
  ) c;
  WHILE v_got < p_max AND cardinality(v_active) > 0 LOOP
    v_next := '{}';
    FOREACH v_run IN ARRAY v_active LOOP
      EXIT WHEN v_got >= p_max;
      UPDATE items i SET
        status = 'in_progress',
        deliveries = i.deliveries + 1,
        redeliveries = i.redeliveries + (i.status = 'in_progress')::integer,
        worker_id = p_worker,
        lease_token = p_worker || '#' || gen_random_uuid()::text,
        lease_expires_at = v_expires,
        due_at = v_expires,
        not_before = NULL,
        updated_at = v_now
      FROM runs r
      WHERE r.run_id = v_run AND i.run_id = v_run AND i.item_id = (
        SELECT j.item_id FROM items j
        WHERE j.run_id = v_run AND j.due_at <= v_now
        ORDER BY j.due_at, j.seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
      RETURNING i.run_id, i.item_id, i.payload, i.attempt, i.deliveries, i.lease_token, i.lease_expires_at,
        r.version, r.workflow, r.fingerprint, r.deadline INTO v_rec;
      IF FOUND THEN
        v_got := v_got + 1;
        v_next := v_next || v_run;
        v_served := array_remove(v_served, v_run) || v_run;
        ord := v_got; run_id := v_rec.run_id; item_id := v_rec.item_id; payload := v_rec.payload; attempt := v_rec.attempt;
        deliveries := v_rec.deliveries; lease_token := v_rec.lease_token; lease_expires_at := v_rec.lease_expires_at;
        context_version := v_rec.version; workflow := v_rec.workflow; fingerprint := v_rec.fingerprint; deadline := v_rec.deadline;
        RETURN NEXT;
      END IF;
    END LOOP;
    v_active := v_next;
  END LOOP;
  -- Rotation: served runs go to the back, in serving order (one sequence value per claim, the serving position in
  -- the low 16 bits). Rows another claim is bumping right now are left alone rather than waited for.
  IF cardinality(v_served) > 0 THEN
    v_base := nextval('serve_seq') * 65536;
    UPDATE queue_runs q SET served_seq = v_base + least(s.o, 65535)
    FROM unnest(v_served) WITH ORDINALITY AS s(run_id, o)
    WHERE q.run_id = s.run_id
      AND q.run_id IN (SELECT l.run_id FROM queue_runs l WHERE l.run_id = ANY (v_served) FOR UPDATE SKIP LOCKED);
  END IF;
END $$;

-- commit_step(c jsonb) -> jsonb
-- One step's effects, atomically, in one round trip. `c` (built and validated by the TypeScript side):
--   runId, itemId, token, type ('continue' | 'terminal' | 'retry' | 'failed'),
--   items: [{id, node, json}], arrivals: [{group, index, size, held, node, value (JSON text), outer (JSON text)}],
--   delta (JSON text | null), output (JSON text | null), delayMs, error (JSON text | null), deadLetter (boolean),
--   counters ({name: number} | null), extraDropped ([{id, node, reason}]), noTerminal (JSON text of the error).
-- Returns {status: 'not_found' | 'duplicate' | 'lease_lost'} | {status: 'run_finished', runStatus}
--       | {status: 'applied', runStatus, enqueued: [id], joined: [item JSON text], dropped, contextVersion}.
-- Checks, in order: arrival sizes vs parked groups (FX001), already committed, run final (ack only: its items were
-- already dropped and unleased), lease live (token and expiry vs server now, even if nobody reclaimed the item).
-- Idempotency markers: the item row (primary key) in a final status (completed, failed, dead_lettered) for every
-- outcome but retry; a retry keeps its item alive, so it records its lease token in `commits` (primary key).
-- Hot path: the item is acked by one guarded UPDATE (live lease) and only examined further when that matches nothing.
-- Locking: runs row FOR UPDATE first (serialises the run's commits: gapless context versions, join groups fire
-- exactly once), then the item row, then new rows; finish_run last.
CREATE FUNCTION commit_step(c jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_run text := c->>'runId';
  v_item text := c->>'itemId';
  v_token text := c->>'token';
  v_type text := c->>'type';
  v_now bigint := now_ms();
  v_status text;
  v_version integer;
  v_counters jsonb;
  v_item_status text;
  v_node text;
  v_attempt integer;
  v_item_payload text;
  v_enqueued jsonb := '[]';
  v_joined jsonb := '[]';
  v_dropped jsonb := '[]';
  v_new integer := 0;
  v_dead boolean := coalesce((c->>'deadLetter')::boolean, false);
  v_delay bigint := ceil(coalesce((c->>'delayMs')::numeric, 0))::bigint;
  v_bad record;
  x jsonb;
  a jsonb;
  v_group text;
  v_count integer;
  v_size integer;
  v_join_node text;
  v_outer text;
  v_input text;
  v_payload text;
BEGIN
  SELECT r.status, r.version, r.counters INTO v_status, v_version, v_counters FROM runs r WHERE r.run_id = v_run FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"status":"not_found"}'::jsonb;
  END IF;
  IF v_type = 'continue' AND jsonb_array_length(c->'arrivals') > 0 THEN
    SELECT g.group_id, g.size, (e->>'size')::integer AS given INTO v_bad
    FROM jsonb_array_elements(c->'arrivals') e
    JOIN join_groups g ON g.run_id = v_run AND g.group_id = e->>'group'
    WHERE g.size <> (e->>'size')::integer
    LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'join arrival for group % has size %, the group has %', v_bad.group_id, v_bad.given, v_bad.size USING ERRCODE = 'FX001';
    END IF;
  END IF;

  IF v_status NOT IN ('completed', 'failed', 'cancelled') THEN
    -- the common case: a live lease of a running or paused run; ack it with the outcome's item state at once
    UPDATE items SET
      status = CASE v_type WHEN 'retry' THEN 'waiting_retry' WHEN 'failed' THEN CASE WHEN v_dead THEN 'dead_lettered' ELSE 'failed' END ELSE 'completed' END,
      attempt = attempt + (v_type = 'retry')::integer,
      not_before = CASE WHEN v_type = 'retry' THEN v_now + v_delay END,
      due_at = CASE WHEN v_type = 'retry' THEN v_now + v_delay END,
      lease_token = NULL, lease_expires_at = NULL, updated_at = v_now
    WHERE run_id = v_run AND item_id = v_item AND status = 'in_progress' AND lease_token = v_token AND lease_expires_at > v_now
    RETURNING node, attempt - (v_type = 'retry')::integer, payload INTO v_node, v_attempt, v_item_payload;
  END IF;
  IF v_node IS NULL THEN
    SELECT i.status INTO v_item_status FROM items i WHERE i.run_id = v_run AND i.item_id = v_item;
    -- (1) already committed
    IF v_item_status IN ('completed', 'failed', 'dead_lettered')
        OR EXISTS (SELECT 1 FROM commits m WHERE m.run_id = v_run AND m.item_id = v_item AND m.lease_token = v_token) THEN
      RETURN '{"status":"duplicate"}'::jsonb;
    END IF;
    -- (2) the run is final: ack only
    IF v_status IN ('completed', 'failed', 'cancelled') THEN
      RETURN jsonb_build_object('status', 'run_finished', 'runStatus', v_status);
    END IF;
    -- (3) not this token's live lease
    RETURN '{"status":"lease_lost"}'::jsonb;
  END IF;

  -- (4) apply the rest
  IF jsonb_typeof(c->'counters') = 'object' THEN
    SELECT v_counters || coalesce(jsonb_object_agg(e.key, coalesce((v_counters->>e.key)::numeric, 0) + e.value::numeric), '{}'::jsonb)
    INTO v_counters FROM jsonb_each_text(c->'counters') e;
  END IF;

  IF v_type = 'retry' THEN
    INSERT INTO commits (run_id, item_id, lease_token) VALUES (v_run, v_item, v_token);
    INSERT INTO errors (run_id, item_id, node, attempt, kind, error, at) VALUES (v_run, v_item, v_node, v_attempt, 'retry', c->>'error', v_now);
    UPDATE runs SET retries = retries + 1, counters = v_counters WHERE run_id = v_run;

  ELSIF v_type = 'failed' THEN
    INSERT INTO errors (run_id, item_id, node, attempt, kind, error, at) VALUES (v_run, v_item, v_node, v_attempt, 'failure', c->>'error', v_now);
    IF v_dead THEN
      INSERT INTO dead_letters (run_id, item, attempts, error, at) VALUES (v_run, v_item_payload, v_attempt, c->>'error', v_now);
    END IF;
    UPDATE runs SET failed = failed + 1, dead_lettered = dead_lettered + v_dead::integer, counters = v_counters WHERE run_id = v_run;
    v_dropped := finish_run(v_run, 'failed', 'failed', c->>'error', NULL, NULL, v_now);
    v_status := 'failed';

  ELSE
    IF c->>'delta' IS NOT NULL THEN
      v_version := v_version + 1;
      INSERT INTO deltas (run_id, version, item_id, delta) VALUES (v_run, v_version, v_item, c->>'delta');
    END IF;

    IF v_type = 'terminal' THEN
      UPDATE runs SET completed = completed + 1, version = v_version, counters = v_counters WHERE run_id = v_run;
      v_dropped := finish_run(v_run, 'completed', 'terminal', NULL, c->>'output', c->'extraDropped', v_now);
      v_status := 'completed';
    ELSE
      FOR x IN SELECT e FROM jsonb_array_elements(c->'items') WITH ORDINALITY AS t(e, o) ORDER BY o LOOP
        INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at)
        VALUES (v_run, x->>'id', x->>'node', x->>'json', 'pending', 0, v_now)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
          v_new := v_new + 1;
          v_enqueued := v_enqueued || to_jsonb(x->>'id');
        END IF;
      END LOOP;

      FOR a IN SELECT e FROM jsonb_array_elements(c->'arrivals') WITH ORDINALITY AS t(e, o) ORDER BY o LOOP
        v_group := a->>'group';
        INSERT INTO join_groups (run_id, group_id, size) VALUES (v_run, v_group, (a->>'size')::integer) ON CONFLICT DO NOTHING;
        INSERT INTO join_arrivals (run_id, group_id, idx, held, node, value, outer_frames)
        VALUES (v_run, v_group, (a->>'index')::integer, (a->>'held')::boolean, a->>'node', a->>'value', a->>'outer')
        ON CONFLICT DO NOTHING;
        CONTINUE WHEN NOT FOUND;
        -- the group row lock (on top of the run lock) makes the last arrival the only one that fires the group
        UPDATE join_groups SET arrived = arrived + 1 WHERE run_id = v_run AND group_id = v_group RETURNING arrived, size INTO v_count, v_size;
        CONTINUE WHEN v_count < v_size;
        SELECT
          coalesce((SELECT j.node FROM join_arrivals j WHERE j.run_id = v_run AND j.group_id = v_group AND NOT j.held AND j.node IS NOT NULL ORDER BY j.idx LIMIT 1),
                   (SELECT j.node FROM join_arrivals j WHERE j.run_id = v_run AND j.group_id = v_group AND j.node IS NOT NULL ORDER BY j.idx LIMIT 1)),
          (SELECT j.outer_frames FROM join_arrivals j WHERE j.run_id = v_run AND j.group_id = v_group ORDER BY j.idx LIMIT 1),
          '[' || coalesce((SELECT string_agg(j.value, ',' ORDER BY j.idx) FROM join_arrivals j WHERE j.run_id = v_run AND j.group_id = v_group AND NOT j.held), '') || ']'
        INTO v_join_node, v_outer, v_input;
        DELETE FROM join_arrivals WHERE run_id = v_run AND group_id = v_group;
        DELETE FROM join_groups WHERE run_id = v_run AND group_id = v_group;
        CONTINUE WHEN v_join_node IS NULL;
        -- the join item as canonical JSON (keys sorted: id, input, join, node), like joinItemFor in engine/step.ts
        v_payload := '{"id":' || to_jsonb(v_group || ':join')::text || ',"input":' || v_input
          || CASE WHEN v_outer = '[]' THEN '' ELSE ',"join":' || v_outer END
          || ',"node":' || to_jsonb(v_join_node)::text || '}';
        INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at)
        VALUES (v_run, v_group || ':join', v_join_node, v_payload, 'pending', 0, v_now)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
          v_new := v_new + 1;
          v_enqueued := v_enqueued || to_jsonb(v_group || ':join');
          v_joined := v_joined || to_jsonb(v_payload);
        END IF;
      END LOOP;

      UPDATE runs SET completed = completed + 1, enqueued = enqueued + v_new, version = v_version, counters = v_counters WHERE run_id = v_run;
      -- no terminal reached and nothing left to do: fail instead of hanging (nothing new was enqueued, so look)
      IF v_new = 0 AND NOT EXISTS (SELECT 1 FROM items i WHERE i.run_id = v_run AND i.due_at IS NOT NULL) THEN
        v_dropped := finish_run(v_run, 'failed', 'failed', c->>'noTerminal', NULL, NULL, v_now);
        v_status := 'failed';
      END IF;
    END IF;
  END IF;

  RETURN jsonb_build_object('status', 'applied', 'runStatus', v_status,
    'enqueued', v_enqueued, 'joined', v_joined, 'dropped', v_dropped, 'contextVersion', v_version);
END $$;

-- transition_run(run, target, error JSON text | NULL) -> jsonb
-- Guarded compare-and-set of a run's status: target 'paused' (from running), 'running' (from paused), 'cancelled'
-- or 'failed' (from running or paused; both drop outstanding work through finish_run with reason 'cancelled' /
-- 'failed'). Returns {status: 'not_found'} | {applied: false, status} (already there) | {final: true, status}
-- (a final run never changes; the TypeScript side throws RunStateError) | {applied: true, status, dropped}.
-- Locking: the runs row FOR UPDATE, then items and queue_runs.
CREATE FUNCTION transition_run(p_run text, p_target text, p_error text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
  v_now bigint := now_ms();
  v_dropped jsonb := '[]';
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
  ELSE
    RAISE EXCEPTION 'unknown run status %', p_target USING ERRCODE = 'FX001';
  END IF;
  RETURN jsonb_build_object('applied', true, 'status', p_target, 'dropped', v_dropped);
END $$;

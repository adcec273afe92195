-- Migration 0003: throughput. Replaces claim_items (set-based, O(in-flight + max) per claim instead of O(runs)),
-- splits commit_step into commit_one (never raises for bad input: answers {status: 'invalid'}) and adds
-- commit_steps, many independent step commits in one transaction and one round trip.
-- Applied like 0001 (one transaction, migration advisory lock, search_path = schema). Append-only.
--
-- Lock order (deadlock freedom, extends 0002): commit_steps locks every runs row of its batch FOR UPDATE first, in
-- run_id order (so two batches never wait for each other in a cycle), then proceeds like commit_step for each
-- commit in array order (item rows, new rows, finish_run). claim_items still never waits (SKIP LOCKED everywhere).

-- claim_items(worker, max, lease_ms, workflow | NULL): same contract as in 0002.
-- Round 1 walks the rotation (queue_runs, least recently served first) through its ordered partial index and, per
-- run, takes the run's oldest claimable item with FOR UPDATE SKIP LOCKED in the same statement, stopping at `max`
-- items: runs with nothing claimable right now (all their items leased or waiting for a retry) cost one index probe
-- each and sit near the back of the rotation (they were served when their items were leased), so a claim reads
-- O(in-flight + max) rows however many runs exist. Later rounds (runs with several claimable items, e.g. a fan-out)
-- give each run served in the previous round one more item, until `max` or nothing more. Every round leases its
-- items with one UPDATE. enable_sort is off inside the function so the planner always walks the rotation index
-- (a sort would read every run) whatever the table statistics say.
CREATE OR REPLACE FUNCTION claim_items(p_worker text, p_max integer, p_lease_ms bigint, p_workflow text)
RETURNS TABLE (ord integer, run_id text, item_id text, payload text, attempt integer, deliveries integer, lease_token text, lease_expires_at bigint, context_version integer,
  workflow text, fingerprint text, deadline double precision)
LANGUAGE plpgsql SET enable_sort = off SET enable_seqscan = off SET jit = off AS $$
#variable_conflict use_column
DECLARE
  v_now bigint := now_ms();
  v_expires bigint := now_ms() + p_lease_ms;
  v_round text[];
  v_next text[];
  v_next_n bigint[];
  v_served text[] := '{}';
  v_got integer := 0;
  v_rec record;
  v_base bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  LOOP
    v_next := '{}';
    v_next_n := '{}';
    FOR v_rec IN
      WITH picked AS MATERIALIZED (
        SELECT p.o, p.run_id, p.item_id FROM (
          SELECT NULL::bigint AS o, q.run_id, j.item_id
          FROM queue_runs q
          CROSS JOIN LATERAL (
            SELECT j.item_id FROM items j
            WHERE j.run_id = q.run_id AND j.due_at <= v_now
            ORDER BY j.due_at, j.seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED) j
          WHERE v_round IS NULL AND p_workflow IS NULL AND NOT q.paused
          ORDER BY q.served_seq
          LIMIT p_max - v_got) p
        UNION ALL
        SELECT p.o, p.run_id, p.item_id FROM (
          SELECT NULL::bigint AS o, q.run_id, j.item_id
          FROM queue_runs q
          CROSS JOIN LATERAL (
            SELECT j.item_id FROM items j
            WHERE j.run_id = q.run_id AND j.due_at <= v_now
            ORDER BY j.due_at, j.seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED) j
          WHERE v_round IS NULL AND q.workflow = p_workflow AND NOT q.paused
          ORDER BY q.served_seq
          LIMIT p_max - v_got) p
        UNION ALL
        SELECT p.o, p.run_id, p.item_id FROM (
          SELECT s.o, s.run_id, j.item_id
          FROM unnest(v_round) WITH ORDINALITY AS s(run_id, o)
          CROSS JOIN LATERAL (
            SELECT j.item_id FROM items j
            WHERE j.run_id = s.run_id AND j.due_at <= v_now
            ORDER BY j.due_at, j.seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED) j
          WHERE v_round IS NOT NULL
          LIMIT p_max - v_got) p
      ), numbered AS (
        SELECT row_number() OVER () AS n, picked.* FROM picked
      ), leased AS (
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
        FROM numbered n
        WHERE i.run_id = n.run_id AND i.item_id = n.item_id
        RETURNING n.n, i.run_id, i.item_id, i.payload, i.attempt, i.deliveries, i.lease_token, i.lease_expires_at
      )
      SELECT l.*, r.version, r.workflow, r.fingerprint, r.deadline
      FROM leased l JOIN runs r ON r.run_id = l.run_id
    LOOP
      -- rows come back in any order; `n` is the hand-out position within this round
      v_next := v_next || v_rec.run_id;
      v_next_n := v_next_n || v_rec.n;
      ord := v_got + v_rec.n::integer; run_id := v_rec.run_id; item_id := v_rec.item_id; payload := v_rec.payload; attempt := v_rec.attempt;
      deliveries := v_rec.deliveries; lease_token := v_rec.lease_token; lease_expires_at := v_rec.lease_expires_at;
      context_version := v_rec.version; workflow := v_rec.workflow; fingerprint := v_rec.fingerprint; deadline := v_rec.deadline;
      RETURN NEXT;
    END LOOP;
    EXIT WHEN cardinality(v_next) = 0;
    v_got := v_got + cardinality(v_next);
    -- the runs served in this round (each at most once) in hand-out order
    SELECT array_agg(u.r ORDER BY u.n) INTO v_next FROM unnest(v_next, v_next_n) AS u(r, n);
    v_served := (SELECT coalesce(array_agg(s ORDER BY o), '{}') FROM unnest(v_served) WITH ORDINALITY AS t(s, o) WHERE s <> ALL (v_next)) || v_next;
    EXIT WHEN v_got >= p_max;
    v_round := v_next;
  END LOOP;
  IF cardinality(v_served) > 0 THEN
    v_base := nextval('serve_seq') * 65536;
    UPDATE queue_runs q SET served_seq = v_base + least(s.o, 65535)
    FROM unnest(v_served) WITH ORDINALITY AS s(run_id, o)
    WHERE q.run_id = s.run_id
      AND q.run_id IN (SELECT l.run_id FROM queue_runs l WHERE l.run_id = ANY (v_served) FOR UPDATE SKIP LOCKED);
  END IF;
END $$;

-- commit_one(c jsonb) -> jsonb: commit_step of 0002 (same payload, checks, locking and answers), except that an
-- invalid commit (arrival sizes that disagree with a parked group) answers {status: 'invalid', message} before
-- writing anything instead of raising, so commit_steps needs no subtransaction per commit.
CREATE FUNCTION commit_one(c jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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
      RETURN jsonb_build_object('status', 'invalid',
        'message', format('join arrival for group %s has size %s, the group has %s', v_bad.group_id, v_bad.given, v_bad.size));
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

-- commit_step(c jsonb) -> jsonb: one commit (see commit_one); an invalid one raises FX001 as in 0002.
CREATE OR REPLACE FUNCTION commit_step(c jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_res jsonb := commit_one(c);
BEGIN
  IF v_res->>'status' = 'invalid' THEN
    RAISE EXCEPTION '%', v_res->>'message' USING ERRCODE = 'FX001';
  END IF;
  RETURN v_res;
END $$;

-- commit_steps(cs jsonb array of commit_step payloads) -> jsonb array of answers at the same indexes.
-- Many independent commits in one transaction and one round trip: each is applied exactly as commit_step would,
-- in array order (commits of one run see the effects of the earlier ones), and answers like commit_one ('invalid'
-- and 'not_found' change nothing and do not affect the others). The batch takes every runs row lock it needs up
-- front in run_id order, so concurrent batches (and single commits, which lock one run) never deadlock; the locks
-- are held until the batch commits, which is why callers keep batches to the items they finished together.
CREATE FUNCTION commit_steps(cs jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_out jsonb := '[]';
  c jsonb;
BEGIN
  PERFORM 1 FROM runs r
  WHERE r.run_id IN (SELECT e->>'runId' FROM jsonb_array_elements(cs) e)
  ORDER BY r.run_id
  FOR UPDATE;
  FOR c IN SELECT e FROM jsonb_array_elements(cs) WITH ORDINALITY AS t(e, o) ORDER BY o LOOP
    v_out := v_out || jsonb_build_array(commit_one(c));
  END LOOP;
  RETURN v_out;
END $$;

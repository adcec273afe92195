-- claim_items: leases up to p_max claimable items to a worker, runs served round-robin.
-- Parameters: p_worker worker id, p_max positive integer, p_lease_ms lease length, p_workflow workflow | NULL (all),
--   p_fingerprints the graph versions of p_workflow to serve | NULL (all): round 1 then walks only their runs
--   (queue_runs_version_rotation), so runs of other versions cost the claim nothing.
-- Returns: rows (ord = hand-out order, run_id, item_id, node, payload, attempt, deliveries, lease_token, lease_expires_at,
--   context_version, workflow, fingerprint, deadline, traceparent); the run's columns as of the snapshot that found the item.
-- Claimable: due_at <= now (pending, retry due, lease expired; taking an expired lease counts a redelivery).
-- Fairness: round 1 walks the rotation (queue_runs, least recently served first) through its ordered partial index
--   and takes each run's oldest claimable item (due_at, then enqueue order), stopping at p_max; later rounds give each
--   run served in the previous round one more item, except that a round of one run gives it all the rest at once (the
--   same items, in the same order, in one statement instead of one per item: a wide run's claim of 32 items is two
--   rounds, not 32). Served runs move to the back of the rotation in serving order.
--   Runs in the rotation with nothing claimable cost one index probe each (runs whose items are all in flight or
--   waiting for a retry), so a claim reads O(such runs + max) index entries and rows. enable_sort is off so the
--   planner always walks the rotation index.
-- Parked runs (migration 0014): a run whose outstanding items are all parked is out of the rotation (queue_runs.wake_at,
--   set by park_run from the commit that left it so), so it costs a claim nothing however many there are. Each claim
--   first puts back the parked runs whose earliest parked item is due (wake_at <= now, one probe of queue_runs_wake,
--   SKIP LOCKED, at most 500 a claim, each through park_run), so that item is claimable from its due time as
--   before; a signal to one of its waits puts the run back at once (signal_run).
-- Events: timer.fired / wait.timedOut per leased parked item (its time came), step.started per leased item (record_events, last: its waits for a concurrent appender to the same run are the only waits of a claim).
-- Locking: FOR UPDATE SKIP LOCKED on items, on the rotation rows it bumps and on those it puts back: never waits for
--   another claim's items or rows.
-- Durability: synchronous_commit off (a lost claim only makes the item claimable again; its commit says lease_lost).
CREATE OR REPLACE FUNCTION claim_items(p_worker text, p_max integer, p_lease_ms bigint, p_workflow text, p_fingerprints text[])
RETURNS TABLE (ord integer, run_id text, item_id text, node text, payload text, attempt integer, deliveries integer, lease_token text, lease_expires_at bigint, context_version integer,
  workflow text, fingerprint text, deadline double precision, traceparent text)
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
  v_ev_runs text[] := '{}';
  v_events text[] := '{}';
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  -- the runs parked whole whose wake_at came: park_run puts each back into the rotation (its first item is due), at
  -- the place it kept (least recently served: first), or parks it again until its real due time (a run the migration
  -- judged early); the earliest due first, at most 500 per claim (thousands of sleeps ending at once are put back by
  -- the next claims, which could not lease them faster). The check alone when none is due (one probe of an index of
  -- parked runs only, cheaper than starting the statement that locks them).
  IF EXISTS (SELECT 1 FROM queue_runs w WHERE w.wake_at <= v_now) THEN
    PERFORM park_run(w.run_id, v_now)
    FROM (SELECT w.run_id FROM queue_runs w WHERE w.wake_at <= v_now ORDER BY w.wake_at LIMIT 500 FOR UPDATE SKIP LOCKED) w;
  END IF;
  LOOP
    v_next := '{}';
    v_next_n := '{}';
    FOR v_rec IN
      WITH picked AS MATERIALIZED (
        SELECT p.o, p.run_id, p.item_id, p.was, p.wait_name FROM (
          SELECT NULL::bigint AS o, q.run_id, j.item_id, j.was, j.wait_name
          FROM queue_runs q
          CROSS JOIN LATERAL (
            SELECT j.item_id, j.status AS was, j.wait_name FROM items j
            WHERE j.run_id = q.run_id AND j.due_at <= v_now
            ORDER BY j.due_at, j.seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED) j
          WHERE v_round IS NULL AND p_workflow IS NULL AND NOT q.paused AND q.wake_at IS NULL
          ORDER BY q.served_seq
          LIMIT p_max - v_got) p
        UNION ALL
        SELECT p.o, p.run_id, p.item_id, p.was, p.wait_name FROM (
          SELECT NULL::bigint AS o, q.run_id, j.item_id, j.was, j.wait_name
          FROM queue_runs q
          CROSS JOIN LATERAL (
            SELECT j.item_id, j.status AS was, j.wait_name FROM items j
            WHERE j.run_id = q.run_id AND j.due_at <= v_now
            ORDER BY j.due_at, j.seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED) j
          WHERE v_round IS NULL AND q.workflow = p_workflow AND p_fingerprints IS NULL AND NOT q.paused AND q.wake_at IS NULL
          ORDER BY q.served_seq
          LIMIT p_max - v_got) p
        UNION ALL
        SELECT p.o, p.run_id, p.item_id, p.was, p.wait_name FROM (
          SELECT NULL::bigint AS o, q.run_id, j.item_id, j.was, j.wait_name
          FROM queue_runs q
          CROSS JOIN LATERAL (
            SELECT j.item_id, j.status AS was, j.wait_name FROM items j
            WHERE j.run_id = q.run_id AND j.due_at <= v_now
            ORDER BY j.due_at, j.seq
            LIMIT 1
            FOR UPDATE SKIP LOCKED) j
          WHERE v_round IS NULL AND q.workflow = p_workflow AND q.fingerprint = ANY (p_fingerprints) AND NOT q.paused AND q.wake_at IS NULL
          ORDER BY q.served_seq
          LIMIT p_max - v_got) p
        UNION ALL
        SELECT p.o, p.run_id, p.item_id, p.was, p.wait_name FROM (
          SELECT s.o, s.run_id, j.item_id, j.was, j.wait_name
          FROM unnest(v_round) WITH ORDINALITY AS s(run_id, o)
          CROSS JOIN LATERAL (
            SELECT j.item_id, j.status AS was, j.wait_name FROM items j
            WHERE j.run_id = s.run_id AND j.due_at <= v_now
            ORDER BY j.due_at, j.seq
            LIMIT CASE WHEN cardinality(v_round) = 1 THEN p_max - v_got ELSE 1 END
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
          updated_at = v_now,
          leased_at = v_now
        FROM numbered n
        WHERE i.run_id = n.run_id AND i.item_id = n.item_id
        RETURNING n.n, i.run_id, i.item_id, i.payload, i.attempt, i.deliveries, i.lease_token, i.lease_expires_at, i.node, n.was, n.wait_name
      )
      SELECT l.*, r.version, r.workflow, r.fingerprint, r.deadline, r.traceparent
      FROM leased l JOIN runs r ON r.run_id = l.run_id
    LOOP
      -- rows come back in any order; `n` is the hand-out position within this round
      v_next := v_next || v_rec.run_id;
      v_next_n := v_next_n || v_rec.n;
      ord := v_got + v_rec.n::integer; run_id := v_rec.run_id; item_id := v_rec.item_id; node := v_rec.node; payload := v_rec.payload; attempt := v_rec.attempt;
      deliveries := v_rec.deliveries; lease_token := v_rec.lease_token; lease_expires_at := v_rec.lease_expires_at;
      context_version := v_rec.version; workflow := v_rec.workflow; fingerprint := v_rec.fingerprint; deadline := v_rec.deadline;
      traceparent := v_rec.traceparent;
      IF v_rec.was = 'parked' THEN
        -- a parked item whose time came: a sleep's timer fired, or a wait timed out (the engine fails it)
        v_ev_runs := v_ev_runs || v_rec.run_id;
        v_events := v_events || (CASE WHEN v_rec.wait_name IS NULL
          THEN jsonb_build_object('type', 'timer.fired', 'runId', v_rec.run_id, 'at', v_now, 'node', v_rec.node, 'itemId', v_rec.item_id)
          ELSE jsonb_build_object('type', 'wait.timedOut', 'runId', v_rec.run_id, 'at', v_now, 'node', v_rec.node, 'itemId', v_rec.item_id, 'signal', v_rec.wait_name) END)::text;
      END IF;
      v_ev_runs := v_ev_runs || v_rec.run_id;
      v_events := v_events || started_event(v_rec.run_id, v_rec.item_id, v_rec.node, v_rec.attempt, p_worker, v_now);
      RETURN NEXT;
    END LOOP;
    EXIT WHEN cardinality(v_next) = 0;
    v_got := v_got + cardinality(v_next);
    -- a round of one run took all it could (its items in order, as rounds of one item each would have): that run is
    -- already last in v_served (it was the whole previous round)
    EXIT WHEN cardinality(v_round) = 1;
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
  -- last: record_events may wait (for a commit appending to the same run), and nothing may wait after it
  PERFORM record_events(v_ev_runs, v_events);
END $$;

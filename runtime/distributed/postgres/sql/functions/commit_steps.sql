-- commit_steps: many independent step commits in one transaction and one round trip.
-- Parameters: cs jsonb array of commit_one payloads.
-- Returns: a jsonb array with each commit's answer (as commit_one's, a finished run's createdAt, finishedAt and error
--   included) at the same index. Each commit is applied as commit_one would, in array order; 'invalid' and
--   'not_found' change nothing and do not affect the others.
-- Fast path (one statement for the whole batch): the commits that are the only one of their run in the batch, of a
--   running or paused run, with no counters, and either 'terminal' or 'continue' without arrivals, parked items or a
--   fallback's error: their live leases
--   are acked, deltas and successors inserted, and terminal runs finished set-based (outstanding items dropped in
--   enqueue order, then extraDropped). Applying that set first and the rest in array order is the same as applying
--   everything in array order (a fast-path commit touches only its own run).
-- Successor hand-off (payload key handoff: {workerId, leaseMs, fingerprint?}): a fast-path 'continue' commit whose items hold
--   exactly one item new to the run, of a 'running' run with no other claimable item (and still on handoff.fingerprint,
--   when given: a run moved to another graph version meanwhile is not handed back), inserts it already leased to
--   workerId (in_progress, first delivery, attempt 1, a fresh token) and answers it as `next` in claim.sql's column
--   names. Any other commit declines (commit_one never hands off), which the contract allows.
-- Seeing runs: the fast path writes each acked attempt's history row, and collects its step.finished, a handed-off
--   successor's step.started and a terminal run's run.completed; with the events commit_one answers for the others,
--   they are recorded at the end, in one record_events call.
-- Locking: every runs row of the batch FOR UPDATE in run_id order first (so batches never deadlock), then item rows,
--   new rows, the finishing writes last.
CREATE OR REPLACE FUNCTION commit_steps(cs jsonb) RETURNS jsonb LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
DECLARE
  v_now bigint := now_ms();
  v_res jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(cs)]);
  v_rec record;
  v_cur integer;
  -- (a text array, made jsonb when its commit's rows end: appending to a jsonb array copies it, quadratic for a
  -- fan-out of 100,000 items; a plpgsql array grows in place)
  v_ids text[];
  v_runs text[] := '{}';
  v_new integer[] := '{}';
  v_versions integer[] := '{}';
  v_orders integer[] := '{}';
  v_statuses text[] := '{}';
  v_terminal boolean[] := '{}';
  v_nexts jsonb[] := '{}';
  v_run record;
  i integer;
  -- the fast path's history rows (per acked commit, in v_runs order) and events (run ids and JSON text, pairwise)
  h_items text[] := '{}';
  h_nodes text[] := '{}';
  h_attempts integer[] := '{}';
  h_workers text[] := '{}';
  h_started bigint[] := '{}';
  h_outcomes text[] := '{}';
  v_ev_runs text[] := '{}';
  v_events text[] := '{}';
BEGIN
  -- = ANY(array) probes the primary key per run (an IN over the jsonb elements may be planned as a scan of runs)
  PERFORM 1 FROM runs r
  WHERE r.run_id = ANY (ARRAY(SELECT e->>'runId' FROM jsonb_array_elements(cs) e))
  ORDER BY r.run_id
  FOR UPDATE;

  -- The fast path, one statement: ack the live leases, insert the deltas and the successors of 'continue' commits.
  -- Rows come back per run: the acked commit ('a') first, then the successors it actually inserted ('i') in
  -- insertion (= items array) order.
  FOR v_rec IN
    WITH batch AS MATERIALIZED (
      SELECT t.o::integer AS o, t.e, t.e->>'runId' AS run_id, count(*) OVER (PARTITION BY t.e->>'runId') AS per_run
      FROM jsonb_array_elements(cs) WITH ORDINALITY AS t(e, o)
    ), fast AS MATERIALIZED (
      SELECT b.o, b.run_id, b.e->>'itemId' AS item_id, b.e->>'token' AS token, b.e->>'delta' AS delta,
             b.e->'items' AS items, b.e->>'type' = 'terminal' AS terminal, b.e->'handoff' AS handoff,
             ru.status, ru.version, ru.workflow, ru.fingerprint, ru.deadline, ru.traceparent
      FROM batch b
      JOIN runs ru ON ru.run_id = b.run_id
      WHERE b.per_run = 1
        AND (b.e->>'type' = 'terminal'
             OR (b.e->>'type' = 'continue' AND jsonb_typeof(b.e->'arrivals') = 'array' AND jsonb_array_length(b.e->'arrivals') = 0))
        AND jsonb_typeof(b.e->'items') = 'array'
        AND b.e->'parked' IS NULL
        AND b.e->>'error' IS NULL
        AND coalesce(jsonb_typeof(b.e->'counters'), 'null') <> 'object'
        AND ru.status IN ('running', 'paused')
    ), acked AS (
      UPDATE items it SET
        status = 'completed', not_before = NULL, due_at = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = v_now
      FROM fast f
      WHERE it.run_id = f.run_id AND it.item_id = f.item_id AND it.status = 'in_progress' AND it.lease_token = f.token
        AND it.lease_expires_at > v_now
      RETURNING f.o, f.run_id, f.item_id, f.delta, f.items, f.terminal, f.handoff, f.status, f.version, f.workflow, f.fingerprint, f.deadline,
        f.traceparent, it.node, it.attempt, it.worker_id, coalesce(it.leased_at, v_now) AS started_at
    ), new_deltas AS (
      INSERT INTO deltas (run_id, version, item_id, delta)
      SELECT a.run_id, a.version + 1, a.item_id, a.delta FROM acked a WHERE a.delta IS NOT NULL
    ), wanted AS (
      -- each 'continue' commit's successors in order, the first of a repeated id only (commit_one inserts in order,
      -- DO NOTHING); a terminal commit enqueues nothing (its items are in its extraDropped)
      SELECT DISTINCT ON (a.run_id, x.e->>'id') a.run_id, x.o, x.e->>'id' AS item_id, x.e->>'node' AS node, x.e->>'json' AS payload,
             -- the hand-off lease (see the header): NULL worker = enqueue as pending
             CASE WHEN a.handoff IS NOT NULL AND jsonb_array_length(a.items) = 1 AND a.status = 'running'
                    AND (a.handoff->>'fingerprint' IS NULL OR a.handoff->>'fingerprint' = a.fingerprint)
                    AND NOT EXISTS (SELECT 1 FROM items c WHERE c.run_id = a.run_id AND c.due_at <= v_now)
                  THEN a.handoff->>'workerId' END AS worker,
             (a.handoff->>'leaseMs')::bigint AS lease_ms
      FROM acked a CROSS JOIN LATERAL jsonb_array_elements(a.items) WITH ORDINALITY AS x(e, o)
      WHERE NOT a.terminal
      ORDER BY a.run_id, x.e->>'id', x.o
    ), inserted AS (
      INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at, deliveries, worker_id, lease_token, lease_expires_at, leased_at)
      SELECT w.run_id, w.item_id, w.node, w.payload, CASE WHEN w.worker IS NULL THEN 'pending' ELSE 'in_progress' END,
             CASE WHEN w.worker IS NULL THEN 0 ELSE v_now + w.lease_ms END, v_now, (w.worker IS NOT NULL)::integer, w.worker,
             CASE WHEN w.worker IS NOT NULL THEN w.worker || '#' || gen_random_uuid()::text END,
             CASE WHEN w.worker IS NOT NULL THEN v_now + w.lease_ms END,
             CASE WHEN w.worker IS NOT NULL THEN v_now END
      FROM wanted w ORDER BY w.run_id, w.o
      ON CONFLICT DO NOTHING
      RETURNING run_id, item_id, seq, payload, lease_token, lease_expires_at, node, worker_id
    )
    SELECT 0 AS kind, a.o, a.run_id, a.status, a.version + (a.delta IS NOT NULL)::integer AS version, a.terminal,
           a.item_id, 0::bigint AS seq, a.workflow, a.fingerprint, a.deadline, a.traceparent,
           NULL::text AS payload, NULL::text AS lease_token, NULL::bigint AS lease_expires_at,
           a.node, a.attempt, a.worker_id, a.started_at
    FROM acked a
    UNION ALL
    SELECT 1, 0, n.run_id, NULL, 0, false, n.item_id, n.seq, NULL, NULL, NULL, NULL, n.payload, n.lease_token, n.lease_expires_at,
           n.node, 1, n.worker_id, v_now
    FROM inserted n
    ORDER BY run_id, kind, seq
  LOOP
    IF v_rec.kind = 0 THEN
      IF v_cur IS NOT NULL THEN
        v_res[v_cur] := to_jsonb(v_ids);
      END IF;
      v_cur := v_rec.o;
      v_ids := '{}';
      v_runs := v_runs || v_rec.run_id;
      v_versions := v_versions || v_rec.version;
      v_orders := v_orders || v_rec.o;
      v_statuses := v_statuses || v_rec.status;
      v_terminal := v_terminal || v_rec.terminal;
      v_new := v_new || 0;
      v_nexts := v_nexts || NULL::jsonb;
      v_run := v_rec;
      -- the acked attempt's history row and step.finished (each fast-path commit is its run's only one)
      h_items := h_items || v_rec.item_id;
      h_nodes := h_nodes || v_rec.node;
      h_attempts := h_attempts || v_rec.attempt;
      h_workers := h_workers || v_rec.worker_id;
      h_started := h_started || v_rec.started_at;
      h_outcomes := h_outcomes || CASE WHEN v_rec.terminal THEN 'terminal' ELSE 'continue' END;
      v_ev_runs := v_ev_runs || v_rec.run_id;
      v_events := v_events || step_event(v_rec.run_id, v_rec.item_id, v_rec.node, v_rec.attempt, v_rec.worker_id, v_rec.started_at,
        v_now, CASE WHEN v_rec.terminal THEN 'terminal' ELSE 'continue' END, NULL, NULL);
    ELSE
      v_ids := v_ids || v_rec.item_id;
      v_new[cardinality(v_new)] := v_new[cardinality(v_new)] + 1;
      IF v_rec.lease_token IS NOT NULL THEN
        -- the lease in the column names of claim.sql's rows (the backend reads both with one function)
        v_nexts[cardinality(v_nexts)] := jsonb_build_object('run_id', v_rec.run_id, 'workflow', v_run.workflow,
          'fingerprint', v_run.fingerprint, 'deadline', v_run.deadline, 'traceparent', v_run.traceparent, 'payload', v_rec.payload, 'attempt', 1,
          'lease_token', v_rec.lease_token, 'lease_expires_at', v_rec.lease_expires_at, 'deliveries', 1, 'context_version', v_run.version);
        v_ev_runs := v_ev_runs || v_rec.run_id;
        v_events := v_events || started_event(v_rec.run_id, v_rec.item_id, v_rec.node, 1, v_rec.worker_id, v_now);
      END IF;
    END IF;
  END LOOP;
  IF v_cur IS NOT NULL THEN
    v_res[v_cur] := to_jsonb(v_ids);
  END IF;

  IF cardinality(v_runs) > 0 THEN
    INSERT INTO steps (run_id, node, item_id, attempt, worker_id, started_at, finished_at, outcome)
    SELECT h.run_id, h.node, h.item_id, h.attempt, h.worker_id, h.started_at, v_now, h.outcome
    FROM unnest(v_runs, h_items, h_nodes, h_attempts, h_workers, h_started, h_outcomes) WITH ORDINALITY
      AS h(run_id, item_id, node, attempt, worker_id, started_at, outcome, o)
    ORDER BY h.o;
    UPDATE runs ru SET completed = ru.completed + 1, enqueued = ru.enqueued + u.n, version = u.v
    FROM unnest(v_runs, v_new, v_versions, v_terminal) AS u(run_id, n, v, t)
    WHERE ru.run_id = u.run_id AND NOT u.t;

    -- The terminal commits' runs: finish_run (functions/finish_run.sql) for all of them in one statement, and the commit's own metric
    -- and version in the same update of the run's row. Dropped: the run's outstanding items in enqueue order (reason
    -- 'terminal'), then the commit's extraDropped.
    IF true = ANY (v_terminal) THEN
      FOR v_rec IN
        WITH fin AS MATERIALIZED (
          SELECT u.run_id, u.o, u.v FROM unnest(v_runs, v_orders, v_versions, v_terminal) AS u(run_id, o, v, t) WHERE u.t
        ), d AS (
          UPDATE items it SET status = 'dropped', lease_token = NULL, lease_expires_at = NULL, not_before = NULL, due_at = NULL, updated_at = v_now
          FROM fin f
          WHERE it.run_id = f.run_id AND it.due_at IS NOT NULL
          RETURNING it.run_id, it.item_id, it.node, it.seq
        ), outcome AS MATERIALIZED (
          SELECT f.run_id, f.o, f.v, cs->(f.o - 1)->>'output' AS output,
                 coalesce(g.dropped, '[]'::jsonb) || coalesce(cs->(f.o - 1)->'extraDropped', '[]'::jsonb) AS dropped
          FROM fin f
          LEFT JOIN (
            SELECT d.run_id, jsonb_agg(jsonb_build_object('id', d.item_id, 'node', d.node, 'reason', 'terminal') ORDER BY d.seq) AS dropped
            FROM d GROUP BY d.run_id
          ) g ON g.run_id = f.run_id
        ), arrivals AS (
          DELETE FROM join_arrivals ja USING fin f WHERE ja.run_id = f.run_id
        ), groups AS (
          DELETE FROM join_groups g USING fin f WHERE g.run_id = f.run_id
        ), rotation AS (
          DELETE FROM queue_runs q USING fin f WHERE q.run_id = f.run_id
        ), finished AS (
          UPDATE runs ru SET completed = ru.completed + 1, version = o.v, status = 'completed', updated_at = v_now, finished_at = v_now,
            output = coalesce(o.output, ru.output), dropped = o.dropped, dropped_count = ru.dropped_count + jsonb_array_length(o.dropped)
          FROM outcome o
          WHERE ru.run_id = o.run_id
          RETURNING ru.run_id, ru.created_at
        )
        SELECT o.o, o.v, o.dropped, o.run_id, o.output, f.created_at FROM outcome o JOIN finished f ON f.run_id = o.run_id
      LOOP
        v_res[v_rec.o] := jsonb_build_object('status', 'applied', 'runStatus', 'completed',
          'enqueued', '[]'::jsonb, 'joined', '[]'::jsonb, 'dropped', v_rec.dropped, 'contextVersion', v_rec.v,
          'createdAt', v_rec.created_at, 'finishedAt', v_now, 'error', NULL);
        v_ev_runs := v_ev_runs || v_rec.run_id;
        v_events := v_events || final_event(v_rec.run_id, 'completed', v_now, v_rec.output, NULL, v_rec.dropped);
      END LOOP;
    END IF;

    FOR i IN 1 .. cardinality(v_runs) LOOP
      CONTINUE WHEN v_terminal[i];
      -- v_res holds the enqueued ids here; the run is running or paused (read under the lock)
      v_res[v_orders[i]] := jsonb_build_object('status', 'applied', 'runStatus', v_statuses[i],
        'enqueued', v_res[v_orders[i]], 'joined', '[]'::jsonb, 'dropped', '[]'::jsonb, 'contextVersion', v_versions[i]);
      IF v_nexts[i] IS NOT NULL THEN
        v_res[v_orders[i]] := v_res[v_orders[i]] || jsonb_build_object('next', v_nexts[i]);
      END IF;
      -- nothing enqueued: no terminal reached and nothing left to do fails the run instead of hanging, only parked
      -- items left parks it (park_run), as in commit_one. Two IFs: plpgsql runs a condition with a subquery as a
      -- whole query (executor start and end) even when its first operand is false.
      IF v_new[i] = 0 THEN
        IF NOT park_run(v_runs[i], v_now) THEN
          v_res[v_orders[i]] := jsonb_set(jsonb_set(v_res[v_orders[i]], '{dropped}',
            finish_run(v_runs[i], 'failed', 'failed', cs->(v_orders[i] - 1)->>'noTerminal', NULL, NULL, v_now)), '{runStatus}', '"failed"')
            || jsonb_build_object('createdAt', (SELECT ru.created_at FROM runs ru WHERE ru.run_id = v_runs[i]), 'finishedAt', v_now,
              'error', cs->(v_orders[i] - 1)->>'noTerminal');
          v_ev_runs := v_ev_runs || v_runs[i];
          v_events := v_events || final_event(v_runs[i], 'failed', v_now, NULL, cs->(v_orders[i] - 1)->>'noTerminal', v_res[v_orders[i]]->'dropped');
        END IF;
      END IF;
    END LOOP;
  END IF;

  -- every other commit, in array order, through commit_one
  FOR i IN 1 .. coalesce(array_length(v_res, 1), 0) LOOP
    CONTINUE WHEN v_res[i] IS NOT NULL;
    v_res[i] := commit_one(cs->(i - 1));
    IF v_res[i] ? 'events' THEN
      v_ev_runs := v_ev_runs || array_fill(cs->(i - 1)->>'runId', ARRAY[jsonb_array_length(v_res[i]->'events')]);
      v_events := v_events || ARRAY(SELECT jsonb_array_elements_text(v_res[i]->'events'));
      v_res[i] := v_res[i] - 'events';
    END IF;
  END LOOP;
  -- last: record_events (it may wait for another appender to the same run, see functions/record_events.sql), after every other write
  PERFORM record_events(v_ev_runs, v_events);
  RETURN to_jsonb(v_res);
END $$;

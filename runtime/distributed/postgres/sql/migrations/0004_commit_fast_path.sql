-- Migration 0004: a set-based fast path in commit_steps for the common commit (a 'continue' step with no join
-- arrivals and no counters, whose run has no other commit in the batch): the whole batch's common commits are
-- acked, their deltas and successors inserted and their runs updated by ONE statement instead of ~10 plpgsql
-- statements each. Every other commit (and any common one that is not a live lease of a running or paused run:
-- duplicate, lease lost, run finished, unknown run) goes through commit_one exactly as before, in array order.
-- Applied like 0001 (one transaction, migration advisory lock, search_path = schema). Append-only.
--
-- Same answers and effects as 0003's commit_steps: a fast-path commit touches only its own run (the only commit of
-- that run in the batch), so applying the fast-path set first and the rest in array order afterwards is the same as
-- applying everything in array order. Lock order unchanged: every runs row of the batch FOR UPDATE in run_id order
-- first, then item rows, then new rows, finish_run last.

CREATE OR REPLACE FUNCTION commit_steps(cs jsonb) RETURNS jsonb LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
DECLARE
  v_now bigint := now_ms();
  v_res jsonb[] := array_fill(NULL::jsonb, ARRAY[jsonb_array_length(cs)]);
  v_rec record;
  v_cur integer;
  v_ids jsonb;
  v_runs text[] := '{}';
  v_new integer[] := '{}';
  v_versions integer[] := '{}';
  v_orders integer[] := '{}';
  v_statuses text[] := '{}';
  i integer;
BEGIN
  -- = ANY(array) probes the primary key per run (an IN over the jsonb elements may be planned as a scan of runs)
  PERFORM 1 FROM runs r
  WHERE r.run_id = ANY (ARRAY(SELECT e->>'runId' FROM jsonb_array_elements(cs) e))
  ORDER BY r.run_id
  FOR UPDATE;

  -- The fast path, one statement: ack the live leases, insert the deltas and the successors. Rows come back per run:
  -- the acked commit ('a') first, then the successors it actually inserted ('i') in insertion (= items array) order.
  FOR v_rec IN
    WITH batch AS MATERIALIZED (
      SELECT t.o::integer AS o, t.e, t.e->>'runId' AS run_id, count(*) OVER (PARTITION BY t.e->>'runId') AS per_run
      FROM jsonb_array_elements(cs) WITH ORDINALITY AS t(e, o)
    ), fast AS MATERIALIZED (
      SELECT b.o, b.run_id, b.e->>'itemId' AS item_id, b.e->>'token' AS token, b.e->>'delta' AS delta,
             b.e->'items' AS items, ru.status, ru.version
      FROM batch b
      JOIN runs ru ON ru.run_id = b.run_id
      WHERE b.per_run = 1 AND b.e->>'type' = 'continue'
        AND jsonb_typeof(b.e->'arrivals') = 'array' AND jsonb_array_length(b.e->'arrivals') = 0
        AND jsonb_typeof(b.e->'items') = 'array'
        AND coalesce(jsonb_typeof(b.e->'counters'), 'null') <> 'object'
        AND ru.status IN ('running', 'paused')
    ), acked AS (
      UPDATE items it SET
        status = 'completed', not_before = NULL, due_at = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = v_now
      FROM fast f
      WHERE it.run_id = f.run_id AND it.item_id = f.item_id AND it.status = 'in_progress' AND it.lease_token = f.token
        AND it.lease_expires_at > v_now
      RETURNING f.o, f.run_id, f.item_id, f.delta, f.items, f.status, f.version
    ), new_deltas AS (
      INSERT INTO deltas (run_id, version, item_id, delta)
      SELECT a.run_id, a.version + 1, a.item_id, a.delta FROM acked a WHERE a.delta IS NOT NULL
    ), wanted AS (
      -- each commit's successors in order, the first of a repeated id only (commit_one inserts in order, DO NOTHING)
      SELECT DISTINCT ON (a.run_id, x.e->>'id') a.run_id, x.o, x.e->>'id' AS item_id, x.e->>'node' AS node, x.e->>'json' AS payload
      FROM acked a CROSS JOIN LATERAL jsonb_array_elements(a.items) WITH ORDINALITY AS x(e, o)
      ORDER BY a.run_id, x.e->>'id', x.o
    ), inserted AS (
      INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at)
      SELECT w.run_id, w.item_id, w.node, w.payload, 'pending', 0, v_now FROM wanted w ORDER BY w.run_id, w.o
      ON CONFLICT DO NOTHING
      RETURNING run_id, item_id, seq
    )
    SELECT 0 AS kind, a.o, a.run_id, a.status, a.version + (a.delta IS NOT NULL)::integer AS version, NULL::text AS item_id, 0::bigint AS seq FROM acked a
    UNION ALL
    SELECT 1, 0, n.run_id, NULL, 0, n.item_id, n.seq FROM inserted n
    ORDER BY run_id, kind, seq
  LOOP
    IF v_rec.kind = 0 THEN
      IF v_cur IS NOT NULL THEN
        v_res[v_cur] := v_ids;
      END IF;
      v_cur := v_rec.o;
      v_ids := '[]';
      v_runs := v_runs || v_rec.run_id;
      v_versions := v_versions || v_rec.version;
      v_orders := v_orders || v_rec.o;
      v_statuses := v_statuses || v_rec.status;
      v_new := v_new || 0;
    ELSE
      v_ids := v_ids || to_jsonb(v_rec.item_id);
      v_new[cardinality(v_new)] := v_new[cardinality(v_new)] + 1;
    END IF;
  END LOOP;
  IF v_cur IS NOT NULL THEN
    v_res[v_cur] := v_ids;
  END IF;

  IF cardinality(v_runs) > 0 THEN
    UPDATE runs ru SET completed = ru.completed + 1, enqueued = ru.enqueued + u.n, version = u.v
    FROM unnest(v_runs, v_new, v_versions) AS u(run_id, n, v)
    WHERE ru.run_id = u.run_id;
    FOR i IN 1 .. cardinality(v_runs) LOOP
      -- v_res holds the enqueued ids here; the run is running or paused (read under the lock)
      v_res[v_orders[i]] := jsonb_build_object('status', 'applied', 'runStatus', v_statuses[i],
        'enqueued', v_res[v_orders[i]], 'joined', '[]'::jsonb, 'dropped', '[]'::jsonb, 'contextVersion', v_versions[i]);
      -- no terminal reached and nothing left to do: fail instead of hanging (as commit_one)
      IF v_new[i] = 0 AND NOT EXISTS (SELECT 1 FROM items it WHERE it.run_id = v_runs[i] AND it.due_at IS NOT NULL) THEN
        v_res[v_orders[i]] := jsonb_set(jsonb_set(v_res[v_orders[i]], '{dropped}',
          finish_run(v_runs[i], 'failed', 'failed', cs->(v_orders[i] - 1)->>'noTerminal', NULL, NULL, v_now)), '{runStatus}', '"failed"');
      END IF;
    END LOOP;
  END IF;

  -- every other commit, in array order, exactly as 0003
  FOR i IN 1 .. coalesce(array_length(v_res, 1), 0) LOOP
    CONTINUE WHEN v_res[i] IS NOT NULL;
    v_res[i] := commit_one(cs->(i - 1));
  END LOOP;
  RETURN to_jsonb(v_res);
END $$;

-- Every step updates its run's row (metrics, version) and no updated column is indexed: room on each page lets
-- these be HOT updates (no index entries, no new page). Applies to pages written from now on.
ALTER TABLE runs SET (fillfactor = 70);

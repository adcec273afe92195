-- commit_one: one step's commit, atomically, as the engine planned it (runtime/engine/commit.ts); decides nothing.
-- Parameters: c jsonb, built by backend.ts from the plan:
--   runId, itemId, token, type ('continue' | 'terminal' | 'retry' | 'failed'),
--   items     [{id, node, json}]                      (continue: what to enqueue; ids the run knows are skipped)
--   arrivals  [{group, index, size, node, json}]      (continue: what to park; node NULL for a hold)
--   parked    [{id, node, json, notBefore?, wait?, attempt?}]  (continue: parked items, WaitFor waits, Sleep timers
--             and parked nested runs, see migration 0005: a wait takes the oldest signal of its name from the mailbox
--             at once if there is one; each is kept at the attempt it parked at, 1 when absent, with attempt - 1
--             deliveries)
--   delta (JSON text | NULL), output (JSON text | NULL), delayMs, error (JSON text | NULL: a retry's or a failure's
--   error, or the failure a continue's fallbacks took, or the signal its wait refused), errorKind (a continue's error's
--   kind: 'fallback' | 'signal', 'fallback' when absent), deadLetter (boolean),
--   deadLetterItem (JSON text | NULL: the dead letter keeps it instead of the stored payload, a corrupt one),
--   counters ({name: number} | NULL), extraDropped ([{id, node, reason}]), noTerminal (JSON text of the error).
-- Returns (jsonb), checked in this order:
--   {status: 'not_found'}                                unknown run
--   {status: 'invalid', reason: 'bad_group', group, size, groupSize}   an arrival's size disagrees with its group
--   {status: 'duplicate'}                                already committed (item final, or this token's retry)
--   {status: 'run_finished', runStatus}                  the run is final: nothing applied
--   {status: 'lease_lost'}                               not this token's live lease
--   {status: 'applied', runStatus, enqueued: [id], joined: [settlement item JSON text], dropped, contextVersion, events}
--     and, when the commit finished the run, createdAt, finishedAt and error (JSON text | null): the run's life, for its span
-- Join settlement: an arrival is parked under (group, index); the one that completes its group enqueues the group's
--   settlement item "<group>:join": {"id":..,"node":..,"settle":[the parked arrivals' JSON in index order]} (node: the
--   join node of the first valued arrival parked, or '#held'). The engine settles it (runtime/engine/joins.ts).
-- No terminal: a continue commit that leaves the run with no outstanding item fails it with noTerminal.
-- Parked runs: a continue commit that enqueues nothing claimable and leaves only parked items takes the run out of the
--   claim rotation (park_run).
-- Seeing runs: an applied commit writes the attempt's history row (steps) and answers its events (key `events`: the
--   JSON text of step.finished or step.retry, wait.started / timer.started per parked item, then the run's final
--   event when the commit finished it), which
--   commit_steps records (record_events) and removes from the answer.
-- Locking: the runs row FOR UPDATE first (gapless context versions; a group fires exactly once), then the item row,
--   then new rows; finish_run last.
CREATE OR REPLACE FUNCTION commit_one(c jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_run text := c->>'runId';
  v_item text := c->>'itemId';
  v_token text := c->>'token';
  v_type text := c->>'type';
  v_now bigint := now_ms();
  v_status text;
  v_created bigint;
  v_error text;
  v_version integer;
  v_counters jsonb;
  v_item_status text;
  v_node text;
  v_attempt integer;
  v_attempt_parked integer;
  v_item_payload text;
  v_worker text;
  v_started bigint;
  v_events text[];
  -- (text arrays, made jsonb once at the end: appending to a jsonb array copies it, so a fan-out of 100,000 items
  -- appended one by one was quadratic; a plpgsql array grows in place)
  v_enqueued text[] := '{}';
  v_joined text[] := '{}';
  v_dropped jsonb := '[]';
  v_new integer := 0;
  v_ready integer := 0;
  v_dead boolean := coalesce((c->>'deadLetter')::boolean, false);
  v_delay bigint := ceil(coalesce((c->>'delayMs')::numeric, 0))::bigint;
  v_bad record;
  x jsonb;
  a jsonb;
  v_group text;
  v_count integer;
  v_size integer;
  v_join_node text;
  v_payload text;
  v_taken text;
BEGIN
  SELECT r.status, r.version, r.counters, r.created_at INTO v_status, v_version, v_counters, v_created FROM runs r WHERE r.run_id = v_run FOR UPDATE;
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
      RETURN jsonb_build_object('status', 'invalid', 'reason', 'bad_group', 'group', v_bad.group_id, 'size', v_bad.given, 'groupSize', v_bad.size);
    END IF;
  END IF;

  IF v_status NOT IN ('completed', 'failed', 'cancelled') THEN
    -- the common case: a live lease of a running or paused run; ack it with the outcome's item state at once
    UPDATE items SET
      status = CASE v_type WHEN 'retry' THEN 'waiting_retry' WHEN 'failed' THEN CASE WHEN v_dead THEN 'dead_lettered' ELSE 'failed' END ELSE 'completed' END,
      attempt = attempt + (v_type = 'retry')::integer,
      not_before = CASE WHEN v_type = 'retry' THEN LEAST(v_now + v_delay, 8640000000000000) END,
      due_at = CASE WHEN v_type = 'retry' THEN LEAST(v_now + v_delay, 8640000000000000) END,
      lease_token = NULL, lease_expires_at = NULL, updated_at = v_now
    WHERE run_id = v_run AND item_id = v_item AND status = 'in_progress' AND lease_token = v_token AND lease_expires_at > v_now
    RETURNING node, attempt - (v_type = 'retry')::integer, payload, worker_id, coalesce(leased_at, v_now)
    INTO v_node, v_attempt, v_item_payload, v_worker, v_started;
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

  -- (4) apply the rest: first the attempt's history row and event (before the run's final event, if any)
  INSERT INTO steps (run_id, node, item_id, attempt, worker_id, started_at, finished_at, outcome, error)
  VALUES (v_run, v_node, v_item, v_attempt, v_worker, v_started, v_now, v_type, c->>'error');
  v_events := ARRAY[step_event(v_run, v_item, v_node, v_attempt, v_worker, v_started, v_now, v_type, c->>'error', v_delay)];
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
      INSERT INTO dead_letters (run_id, item, attempts, error, at) VALUES (v_run, coalesce(c->>'deadLetterItem', v_item_payload), v_attempt, c->>'error', v_now);
    END IF;
    UPDATE runs SET failed = failed + 1, dead_lettered = dead_lettered + v_dead::integer, counters = v_counters WHERE run_id = v_run;
    v_dropped := finish_run(v_run, 'failed', 'failed', c->>'error', NULL, NULL, v_now);
    v_status := 'failed';
    v_error := c->>'error';
    v_events := v_events || final_event(v_run, 'failed', v_now, NULL, c->>'error', v_dropped);

  ELSE
    IF c->>'error' IS NOT NULL THEN
      INSERT INTO errors (run_id, item_id, node, attempt, kind, error, at) VALUES (v_run, v_item, v_node, v_attempt, coalesce(c->>'errorKind', 'fallback'), c->>'error', v_now);
    END IF;
    IF c->>'delta' IS NOT NULL THEN
      v_version := v_version + 1;
      INSERT INTO deltas (run_id, version, item_id, delta) VALUES (v_run, v_version, v_item, c->>'delta');
    END IF;

    IF v_type = 'terminal' THEN
      UPDATE runs SET completed = completed + 1, version = v_version, counters = v_counters WHERE run_id = v_run;
      v_dropped := finish_run(v_run, 'completed', 'terminal', NULL, c->>'output', c->'extraDropped', v_now);
      v_status := 'completed';
      v_events := v_events || final_event(v_run, 'completed', v_now, c->>'output', NULL, v_dropped);
    ELSE
      FOR x IN SELECT e FROM jsonb_array_elements(c->'items') WITH ORDINALITY AS t(e, o) ORDER BY o LOOP
        INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at)
        VALUES (v_run, x->>'id', x->>'node', x->>'json', 'pending', 0, v_now)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
          v_new := v_new + 1;
          v_ready := v_ready + 1;
          v_enqueued := v_enqueued || (x->>'id');
        END IF;
      END LOOP;

      FOR x IN SELECT e FROM jsonb_array_elements(coalesce(c->'parked', '[]')) WITH ORDINALITY AS t(e, o) ORDER BY o LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM items i WHERE i.run_id = v_run AND i.item_id = x->>'id');
        v_taken := NULL;
        -- (1 when absent: the commit of a worker older than the attempt, during a rolling deploy)
        v_attempt_parked := coalesce((x->>'attempt')::integer, 1);
        IF x->>'wait' IS NOT NULL THEN
          DELETE FROM signals s WHERE s.run_id = v_run AND s.seq =
            (SELECT m.seq FROM signals m WHERE m.run_id = v_run AND m.name = x->>'wait' ORDER BY m.seq LIMIT 1)
          RETURNING s.payload INTO v_taken;
        END IF;
        IF v_taken IS NOT NULL THEN
          -- the signal is already here: the wait goes on at once, the payload as its `received`
          INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at, attempt, deliveries)
          VALUES (v_run, x->>'id', x->>'node', left(x->>'json', -1) || ',"received":{"payload":' || v_taken || '}}', 'pending', 0, v_now,
            v_attempt_parked, v_attempt_parked - 1);
          v_ready := v_ready + 1;
        ELSE
          INSERT INTO items (run_id, item_id, node, payload, status, not_before, due_at, wait_name, updated_at, attempt, deliveries)
          VALUES (v_run, x->>'id', x->>'node', x->>'json', 'parked', (x->>'notBefore')::bigint,
            coalesce((x->>'notBefore')::bigint, 9223372036854775807), x->>'wait', v_now, v_attempt_parked, v_attempt_parked - 1);
          v_events := v_events || (CASE WHEN x->>'wait' IS NULL
            THEN jsonb_build_object('type', 'timer.started', 'runId', v_run, 'at', v_now, 'node', x->>'node', 'itemId', x->>'id', 'until', (x->>'notBefore')::bigint)
            ELSE jsonb_strip_nulls(jsonb_build_object('type', 'wait.started', 'runId', v_run, 'at', v_now, 'node', x->>'node', 'itemId', x->>'id',
              'signal', x->>'wait', 'timeoutAt', (x->>'notBefore')::bigint)) END)::text;
        END IF;
        v_new := v_new + 1;
        v_enqueued := v_enqueued || (x->>'id');
      END LOOP;

      FOR a IN SELECT e FROM jsonb_array_elements(c->'arrivals') WITH ORDINALITY AS t(e, o) ORDER BY o LOOP
        v_group := a->>'group';
        INSERT INTO join_groups (run_id, group_id, size) VALUES (v_run, v_group, (a->>'size')::integer) ON CONFLICT DO NOTHING;
        INSERT INTO join_arrivals (run_id, group_id, idx, body) VALUES (v_run, v_group, (a->>'index')::integer, a->>'json')
        ON CONFLICT DO NOTHING;
        CONTINUE WHEN NOT FOUND;
        -- the group row lock (on top of the run lock) makes the last arrival the only one that fires the group
        UPDATE join_groups SET arrived = arrived + 1, node = coalesce(node, a->>'node')
        WHERE run_id = v_run AND group_id = v_group RETURNING arrived, size, node INTO v_count, v_size, v_join_node;
        CONTINUE WHEN v_count < v_size;
        -- the settlement item: the parked arrivals as stored, in index order (keys id, node, settle: canonical)
        SELECT '{"id":' || to_jsonb(v_group || ':join')::text || ',"node":' || to_jsonb(coalesce(v_join_node, '#held'))::text
          || ',"settle":[' || string_agg(j.body, ',' ORDER BY j.idx) || ']}'
        INTO v_payload FROM join_arrivals j WHERE j.run_id = v_run AND j.group_id = v_group;
        DELETE FROM join_arrivals WHERE run_id = v_run AND group_id = v_group;
        DELETE FROM join_groups WHERE run_id = v_run AND group_id = v_group;
        INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at)
        VALUES (v_run, v_group || ':join', coalesce(v_join_node, '#held'), v_payload, 'pending', 0, v_now)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
          v_new := v_new + 1;
          v_ready := v_ready + 1;
          v_enqueued := v_enqueued || (v_group || ':join');
          v_joined := v_joined || v_payload;
        END IF;
      END LOOP;

      UPDATE runs SET completed = completed + 1, enqueued = enqueued + v_new, version = v_version, counters = v_counters WHERE run_id = v_run;
      -- nothing claimable enqueued, so look: with no outstanding item left and no terminal reached, fail instead of
      -- hanging; with only parked ones, park_run takes the run out of the claim rotation until one is due or signalled
      IF v_ready = 0 THEN
        IF NOT park_run(v_run, v_now) THEN
          v_dropped := finish_run(v_run, 'failed', 'failed', c->>'noTerminal', NULL, NULL, v_now);
          v_status := 'failed';
          v_error := c->>'noTerminal';
          v_events := v_events || final_event(v_run, 'failed', v_now, NULL, c->>'noTerminal', v_dropped);
        END IF;
      END IF;
    END IF;
  END IF;

  IF v_status IN ('completed', 'failed') THEN
    RETURN jsonb_build_object('status', 'applied', 'runStatus', v_status,
      'enqueued', to_jsonb(v_enqueued), 'joined', to_jsonb(v_joined), 'dropped', v_dropped, 'contextVersion', v_version, 'events', to_jsonb(v_events),
      'createdAt', v_created, 'finishedAt', v_now, 'error', v_error);
  END IF;
  RETURN jsonb_build_object('status', 'applied', 'runStatus', v_status,
    'enqueued', to_jsonb(v_enqueued), 'joined', to_jsonb(v_joined), 'dropped', v_dropped, 'contextVersion', v_version, 'events', to_jsonb(v_events));
END $$;

-- createRun: inserts the run record (status running, version 0 context), its first item (pending, attempt 1) and its
-- rotation row in one statement, all or nothing; nothing is written when the run id exists.
-- Parameters: $1 run_id, $2 workflow, $3 fingerprint, $4 input (canonical JSON), $5 context (canonical JSON),
--   $6 first item id, $7 first item node, $8 first item (canonical JSON), $9 deadline (epoch ms | NULL),
--   $10 traceparent | NULL.
-- Returns: one row `created` + the run columns: created = true for the new run, false with the existing run.
--   No row when a concurrent createRun of the same id committed after this statement's snapshot: run it again.
-- Events: run.created per new run (record_events).
-- Locking: the primary key (ON CONFLICT DO NOTHING waits for a concurrent insert of the same id).
WITH ins AS (
  INSERT INTO runs (run_id, workflow, fingerprint, input, context, status, created_at, updated_at, deadline, enqueued, traceparent)
  VALUES ($1, $2, $3, $4, $5, 'running', now_ms(), now_ms(), $9, 1, $10)
  ON CONFLICT (run_id) DO NOTHING
  RETURNING *
), first_item AS (
  INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at)
  SELECT ins.run_id, $6::text, $7::text, $8::text, 'pending', 0, ins.created_at FROM ins
), rotation AS (
  INSERT INTO queue_runs (run_id, workflow, fingerprint, served_seq)
  SELECT ins.run_id, ins.workflow, ins.fingerprint, nextval('serve_seq') * 65536 FROM ins
), created_events AS (
  -- run.created per new run (record_events touches only events, new rows for a new run)
  SELECT record_events(array_agg(ins.run_id ORDER BY ins.seq),
    array_agg(jsonb_build_object('type', 'run.created', 'runId', ins.run_id, 'at', ins.created_at, 'workflow', ins.workflow)::text ORDER BY ins.seq))
  FROM ins
)
SELECT true AS created, ins.* FROM ins LEFT JOIN created_events ON true
UNION ALL
SELECT false AS created, r.* FROM runs r WHERE r.run_id = $1 AND NOT EXISTS (SELECT 1 FROM ins)

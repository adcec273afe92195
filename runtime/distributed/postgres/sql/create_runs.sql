-- createRun, coalesced: the runs of several concurrent createRun calls in one statement (one transaction, one WAL
-- flush). Per run exactly what create_run.sql does: the run record (status running, version 0 context), its first
-- item (pending, attempt 1) and its rotation row, all or nothing; nothing is written for a run id that exists.
-- Parameters: $1 a jsonb array of {o, run_id, workflow, fingerprint, input, context, item_id, node, item, deadline,
--   traceparent}
--   (o = position; every run_id at most once; input/context/item are canonical JSON text).
-- Returns: `created` + the run columns for each run: created = true for a new run, false with the existing run.
--   No row for a run when a concurrent createRun of the same id committed after this statement's snapshot: run it
--   again.
-- Events: run.created per new run (record_events).
-- Locking: the primary keys (ON CONFLICT DO NOTHING waits for a concurrent insert of the same id).
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(o integer, run_id text, workflow text, fingerprint text, input text, context text,
    item_id text, node text, item text, deadline double precision, traceparent text)
), ins AS (
  INSERT INTO runs (run_id, workflow, fingerprint, input, context, status, created_at, updated_at, deadline, enqueued, traceparent)
  SELECT i.run_id, i.workflow, i.fingerprint, i.input, i.context, 'running', now_ms(), now_ms(), i.deadline, 1, i.traceparent FROM input i ORDER BY i.o
  ON CONFLICT (run_id) DO NOTHING
  RETURNING *
), first_item AS (
  INSERT INTO items (run_id, item_id, node, payload, status, due_at, updated_at)
  SELECT ins.run_id, i.item_id, i.node, i.item, 'pending', 0, ins.created_at FROM ins JOIN input i ON i.run_id = ins.run_id ORDER BY i.o
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
SELECT false AS created, r.* FROM runs r JOIN input i ON i.run_id = r.run_id WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.run_id = r.run_id)

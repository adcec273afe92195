-- record_events: appends events to the events table (migrations/0005_events.sql) and wakes the subscribers.
-- Parameters: p_runs run ids, p_events the events' JSON text (WorkflowEvent), pairwise; a run's events in the order
--   they happened.
-- Effects: per run, run_seq continues event_heads.seq (gap-free; the head row is created by the run's first event)
--   and tx is max(this transaction, the head's tx), so the run's events stay in order in the global (tx, pos) order;
--   one NOTIFY floxide_events (payload: the schema), delivered when the transaction commits. Nothing when the session
--   has floxide.events = off (the backend's `events: false`): the step history is kept either way.
-- Locking: the head rows, in run id order. Call it ONCE per transaction, as its last write that can wait (see the
--   migration): a transaction holding a head row lock must not wait for any other row.
CREATE OR REPLACE FUNCTION record_events(p_runs text[], p_events text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(p_runs), 0) = 0 OR current_setting('floxide.events', true) = 'off' THEN
    RETURN;
  END IF;
  WITH e AS MATERIALIZED (
    SELECT u.run_id, u.event, u.o, row_number() OVER (PARTITION BY u.run_id ORDER BY u.o)::integer AS k
    FROM unnest(p_runs, p_events) WITH ORDINALITY AS u(run_id, event, o)
  ), n AS MATERIALIZED (
    SELECT e.run_id, count(*)::integer AS c FROM e GROUP BY e.run_id
  ), heads AS (
    INSERT INTO event_heads AS h (run_id, seq, tx)
    SELECT n.run_id, n.c, pg_current_xact_id() FROM n ORDER BY n.run_id
    ON CONFLICT (run_id) DO UPDATE SET seq = h.seq + excluded.seq, tx = greatest(h.tx, excluded.tx)
    RETURNING h.run_id, h.seq, h.tx
  )
  INSERT INTO events (tx, run_id, run_seq, event)
  SELECT h.tx, e.run_id, h.seq - n.c + e.k, e.event
  FROM e JOIN n ON n.run_id = e.run_id JOIN heads h ON h.run_id = e.run_id
  ORDER BY e.o;
  PERFORM pg_notify('floxide_events', current_schema());
END $$;

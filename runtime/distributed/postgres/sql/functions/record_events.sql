-- record_events: appends events to the events table (migrations/0005_events.sql, 0009_event_heads.sql) and wakes the
-- subscribers.
-- Parameters: p_runs run ids, p_events the events' JSON text (WorkflowEvent), pairwise; a run's events in the order
--   they happened.
-- Effects: one row per run, its events' JSON texts joined by newlines in order (JSON text never holds a raw newline;
--   a row and its two index entries cost about what one event's row did, and a commit reports two or three events
--   of its run: its step, the hand-off's start, the run's end); run_seq continues the run's last row (gap-free, 1
--   for its first) and tx is max(this transaction, the last row's tx), so the run's events stay in order in the
--   global (tx, pos) order; one NOTIFY floxide_events (payload: the schema), delivered when the transaction commits.
--   Nothing when the session has floxide.events = off (the backend's `events: false`): the step history is kept
--   either way.
-- Concurrency: the events primary key (run_id, run_seq) is the run's lock. Two transactions that append to one run
--   both read its last row and insert the same next run_seq: the second waits for the first (a unique index insert
--   waits for an uncommitted duplicate) and, when the first commits, fails with unique_violation; the insert then runs
--   again in a subtransaction of its own, from the run's new last row. Rows are inserted in run id order, so waits
--   cannot form a cycle. Call it ONCE per transaction, as its last write that can wait: a transaction that inserted a
--   run's events must not wait for any other row.
CREATE OR REPLACE FUNCTION record_events(p_runs text[], p_events text[]) RETURNS void LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
  IF coalesce(cardinality(p_runs), 0) = 0 OR current_setting('floxide.events', true) = 'off' THEN
    RETURN;
  END IF;
  LOOP
    BEGIN
      WITH e AS MATERIALIZED (
        SELECT u.run_id, string_agg(u.event, E'\n' ORDER BY u.o) AS events
        FROM unnest(p_runs, p_events) WITH ORDINALITY AS u(run_id, event, o)
        GROUP BY u.run_id
      )
      INSERT INTO events (tx, run_id, run_seq, event)
      SELECT greatest(pg_current_xact_id(), l.tx), e.run_id, coalesce(l.run_seq, 0) + 1, e.events
      FROM e LEFT JOIN LATERAL (SELECT p.run_seq, p.tx FROM events p WHERE p.run_id = e.run_id ORDER BY p.run_seq DESC LIMIT 1) l ON true
      ORDER BY e.run_id COLLATE "C";
      EXIT;
    EXCEPTION WHEN unique_violation THEN
      -- another transaction appended to one of these runs after this statement's snapshot: again, from its new last event
    END;
  END LOOP;
  PERFORM pg_notify('floxide_events', current_schema());
END $$;

-- Migration 0005: seeing runs (runtime/engine/events.ts): each run's step history and one event table for every run.
--
-- steps: one row per applied commit (a StepRecord), written by the commit functions in the commit's transaction.
-- items.leased_at: when the item's current attempt was leased (the history's startedAt).
--
-- events: every event (WorkflowEvent JSON text), written by record_events (functions/record_events.sql) at the end of
-- the transaction of the operation it reports, under the lock of the run's event_heads row: run_seq is the run's own
-- gap-free sequence (event_heads.seq, 1, 2, 3...). The head row, not the runs row, because claims write events too
-- and must neither wait for a commit's run row lock (which waits for the items a claim holds) nor skip a run a commit
-- holds (parallel claims of one run must all be served). Every transaction takes head row locks last, in run id
-- order, and waits for nothing after them, so they cannot deadlock. The table's global order, the subscription
-- cursor, is (tx, pos): pos comes from an identity, tx is the writing transaction's id raised to the run's previous
-- event's tx when that was larger (event_heads.tx), so a run's events are in run_seq order in the global order too. A reader only reads rows with
-- tx below its snapshot's xmin: every transaction that could still add a row below that point has ended, so the
-- global order never grows behind a reader's cursor (nothing skipped). xid keeps the writer's own transaction id
-- (a subscription from 'now' skips the events its start snapshot already sees).
-- events_purged: the largest (tx, pos) purge_finished deleted; a cursor before it may have lost events.
ALTER TABLE items ADD COLUMN leased_at bigint;

CREATE TABLE event_heads (
  run_id text COLLATE "C" PRIMARY KEY,
  seq    integer NOT NULL,
  tx     xid8 NOT NULL
);

CREATE TABLE steps (
  run_id      text COLLATE "C" NOT NULL,
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  node        text NOT NULL,
  item_id     text COLLATE "C" NOT NULL,
  attempt     integer NOT NULL,
  worker_id   text,
  started_at  bigint NOT NULL,
  finished_at bigint NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('continue', 'terminal', 'retry', 'failed')),
  error       text,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE events (
  pos     bigint GENERATED ALWAYS AS IDENTITY,
  tx      xid8 NOT NULL,
  xid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
  run_id  text COLLATE "C" NOT NULL,
  run_seq integer NOT NULL,
  event   text NOT NULL,
  PRIMARY KEY (run_id, run_seq)
);
CREATE INDEX events_order ON events (tx, pos);

CREATE TABLE events_purged (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  tx  xid8 NOT NULL,
  pos bigint NOT NULL
);

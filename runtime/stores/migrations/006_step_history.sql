-- Floxide SQLite checkpoint store, migration 006: the step history, and the indexes of the runs list.
--
-- The history of a step lives in the journal row its commit appends (same row, same statement: no second write per
-- step), so it is kept exactly as long as the run's journal:
--   node        the node that ran (NULL in rows written before this migration: those steps have no history)
--   attempt     the attempt that ended the step (1-based)
--   started_at  when that attempt started (epoch ms, on the run's clock); ms: how long it took
--   session     the process that committed it (floxide_sessions)
--   retries     JSON array of the attempts of this step that failed and were retried before it, oldest first:
--               [{ attempt, startedAt, finishedAt, error }], NULL when none
-- floxide_sessions  one row per store that wrote history: the process (<host>:<pid>) and when it first wrote.
-- floxide_failures  the step that failed a run (no journal row consumes it: the item stays pending, so a resumed run
--                   runs it again): written in the transaction that marks the run failed. after_seq: the run's
--                   committed steps at that moment (the history's order); columns as in the journal, plus the error.
-- floxide_runs_created / _status / _workflow: the runs list, newest first (created_at, run_id descending), filtered
--                   by status or workflow, read one page at a time through an index (keyset paging).

ALTER TABLE floxide_journal ADD COLUMN node TEXT;
ALTER TABLE floxide_journal ADD COLUMN attempt INTEGER;
ALTER TABLE floxide_journal ADD COLUMN started_at INTEGER;
ALTER TABLE floxide_journal ADD COLUMN ms INTEGER;
ALTER TABLE floxide_journal ADD COLUMN session INTEGER;
ALTER TABLE floxide_journal ADD COLUMN retries TEXT;

CREATE TABLE floxide_sessions (
  session   INTEGER PRIMARY KEY AUTOINCREMENT,
  process   TEXT    NOT NULL,
  opened_at INTEGER NOT NULL
);

CREATE TABLE floxide_failures (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  run_no     INTEGER NOT NULL,
  after_seq  INTEGER NOT NULL,
  item_id    TEXT    NOT NULL,
  node       TEXT    NOT NULL,
  attempt    INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  ms         INTEGER NOT NULL,
  session    INTEGER,
  retries    TEXT,
  error      TEXT    NOT NULL
);

CREATE INDEX floxide_failures_run ON floxide_failures (run_no, id);

CREATE INDEX floxide_runs_created ON floxide_runs (created_at DESC, run_id DESC);
CREATE INDEX floxide_runs_status ON floxide_runs (status, created_at DESC, run_id DESC);
CREATE INDEX floxide_runs_workflow ON floxide_runs (workflow, created_at DESC, run_id DESC);

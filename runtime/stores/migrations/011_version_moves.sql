-- Floxide SQLite checkpoint store, migration 011: a run's moves between graph versions (floxide runs migrate, a resume
-- by a build that accepts the run's version).
--
-- floxide_runs.started_on   the version the run started on, set by its first move (its from); NULL: never moved, or
--                           moved only by a floxide before this migration.
-- floxide_runs.migrated_at  when it was last moved (epoch ms).
-- floxide_moves             one row per move, written in the move's transaction: its time, versions, renames (JSON
--                           object, old node -> new) and who moved it (the process <host>:<pid> of a resume; NULL for
--                           floxide runs migrate). A file's event feed (runtime/stores/sqlite-feed.ts) reports each
--                           as run.migrated.
ALTER TABLE floxide_runs ADD COLUMN started_on TEXT;
ALTER TABLE floxide_runs ADD COLUMN migrated_at INTEGER;

CREATE TABLE floxide_moves (
  move         INTEGER PRIMARY KEY,
  run_no       INTEGER NOT NULL,
  at           INTEGER NOT NULL,
  from_version TEXT    NOT NULL,
  to_version   TEXT    NOT NULL,
  renames      TEXT    NOT NULL,
  worker       TEXT
);
CREATE INDEX floxide_moves_run ON floxide_moves (run_no, move);

-- Floxide SQLite checkpoint store, migration 010: runs by the time of their last run-level write.
--
-- floxide_runs_updated  updated_at changes only when a run is created, completes, fails, is cancelled, resumed
--                       (reopened) or moved to another version, never per step: a file's event feed
--                       (runtime/stores/sqlite-feed.ts) reads the runs written since its last look through it instead
--                       of re-reading every failed run each time the file changes.
CREATE INDEX floxide_runs_updated ON floxide_runs (updated_at);

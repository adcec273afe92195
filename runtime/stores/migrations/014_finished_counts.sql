-- Floxide SQLite checkpoint store, migration 014: a finished run's counts, kept.
--
-- floxide_runs.counts  JSON: what `floxide runs` and the dashboard count of a completed or cancelled run (its journal
--                      in numbers and its items per node: runtime/stores/sqlite-inspect.ts FinishedCounts), written by
--                      the first reader that counted them after the run finished (a finished run's journal never
--                      changes; a purge deletes the record with them). NULL: not counted yet, an open or failed run
--                      (a failed run can be resumed), or a run finished before this migration: counted from the
--                      journal, then kept.
ALTER TABLE floxide_runs ADD COLUMN counts TEXT;

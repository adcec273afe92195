-- Floxide SQLite checkpoint store, migration 008: the failure a step's fallbacks took.
--
-- floxide_journal.error  the error (JSON) of a step that failed for good and whose fallbacks took its input (the
--                        journal row enqueues their items); NULL for any other step. `floxide runs show` lists it
--                        among the run's errors (kind fallback).
ALTER TABLE floxide_journal ADD COLUMN error TEXT;

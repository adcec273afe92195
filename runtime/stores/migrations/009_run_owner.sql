-- Floxide SQLite checkpoint store, migration 009: who runs a run (runtime/stores/ownership.ts).
--
-- floxide_runs.owner       the call running the run: {"id","host","pid"} as JSON; NULL when none does. A second
--                          runWithCheckpoint or resume of the run is refused (RunBusyError) while that call lives.
-- floxide_runs.owner_seen  when the owner last claimed the run (epoch ms): its heartbeat, for owners on another host.
ALTER TABLE floxide_runs ADD COLUMN owner TEXT;
ALTER TABLE floxide_runs ADD COLUMN owner_seen INTEGER;

-- Migration 0012: what a run keeps of its moves between graph versions (functions/migrate_run.sql). runs.started_on is
-- the version the run started on, set by its first move (NULL: never moved, or moved only by a floxide before this
-- migration); runs.migrated_at the last move's time (epoch ms). migrate_run takes two more parameters (who moved the
-- run and the run.migrated event); its former six-parameter signature stays, its body replaced by functions/
-- migrate_run.sql with a call of the new one, so that the previous release's workers keep moving runs during a rolling
-- upgrade.
ALTER TABLE runs ADD COLUMN started_on text, ADD COLUMN migrated_at bigint;

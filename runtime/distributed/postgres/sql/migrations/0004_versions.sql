-- Migration 0004: claims filtered by graph version. The rotation row of a run carries its fingerprint, so a worker
-- serving some versions of a workflow walks only their runs (queue_runs_version_rotation); runs of other versions
-- cost its claims nothing. runs.misrouted counts items given back by a worker that could not run them.
ALTER TABLE queue_runs ADD COLUMN fingerprint text COLLATE "C";
UPDATE queue_runs q SET fingerprint = r.fingerprint FROM runs r WHERE r.run_id = q.run_id;
ALTER TABLE queue_runs ALTER COLUMN fingerprint SET NOT NULL;
CREATE INDEX queue_runs_version_rotation ON queue_runs (workflow, fingerprint, served_seq) WHERE NOT paused;
ALTER TABLE runs ADD COLUMN misrouted integer NOT NULL DEFAULT 0;

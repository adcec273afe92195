-- Migration 0003: indexes for listing runs a page at a time (keyset paging), newest first, with or without a status
-- or workflow filter. The listing order is (created_at DESC, run_id DESC), one total order, so a page starts strictly
-- after the last run of the previous one and reads only its own rows (a dashboard over 100,000 runs stays fast).
--
-- status is indexed, so the update that changes a run's status (start, pause, resume, finish: a few per run) is not
-- HOT; the per-step updates of the run row touch no indexed column and stay HOT.
DROP INDEX runs_newest;
CREATE INDEX runs_page ON runs (created_at DESC, run_id DESC);
CREATE INDEX runs_status_page ON runs (status, created_at DESC, run_id DESC);
CREATE INDEX runs_workflow_page ON runs (workflow, created_at DESC, run_id DESC);

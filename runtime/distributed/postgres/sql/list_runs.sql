-- listRuns: one page of runs matching every given filter, newest first: (created_at, run_id) descending, strictly
-- after the cursor ($4, $5).
-- Parameters: $1 status | NULL, $2 workflow | NULL, $3 limit | NULL (all), $4 cursor created_at, $5 cursor run_id
-- (no cursor: $4 = 9223372036854775807, $5 = '', which every run precedes). Returns: runs rows.
-- Locking: none (snapshot read).
-- One branch per filter shape, each gated by a one-time filter on its parameters, so that the statement, prepared
-- once, keeps an index read from the cursor on even in its generic plan (indexes of migration 0003): runs_page with
-- no filter, runs_status_page for a status; for a workflow, runs_workflow_page (or runs_page and a filter when the
-- planner expects the workflow to be common).
(SELECT * FROM runs
 WHERE $1::text IS NULL AND $2::text IS NULL AND (created_at, run_id) < ($4::bigint, $5::text)
 ORDER BY created_at DESC, run_id DESC LIMIT $3::bigint)
UNION ALL
(SELECT * FROM runs
 WHERE $1::text IS NOT NULL AND status = $1::text AND ($2::text IS NULL OR workflow = $2::text)
   AND (created_at, run_id) < ($4::bigint, $5::text)
 ORDER BY created_at DESC, run_id DESC LIMIT $3::bigint)
UNION ALL
(SELECT * FROM runs
 WHERE $1::text IS NULL AND $2::text IS NOT NULL AND workflow = $2::text AND (created_at, run_id) < ($4::bigint, $5::text)
 ORDER BY created_at DESC, run_id DESC LIMIT $3::bigint)
ORDER BY created_at DESC, run_id DESC

-- commitSteps: many independent step commits in one transaction and one round trip (functions/commit_steps.sql).
-- Parameters: $1 a jsonb array of commit payloads (each built by backend.ts from the engine's plan: see functions/commit_one.sql).
-- Returns: one row, `results`: a jsonb array with commit_one's answer for each commit, at the same index.
-- Locking: every runs row of the batch FOR UPDATE in run_id order first, then per commit like commit_one.
SELECT commit_steps($1::jsonb) AS results

-- listRuns: runs matching every given filter, newest first.
-- Parameters: $1 status | NULL, $2 workflow | NULL, $3 limit | NULL (all). Returns: runs rows.
-- Locking: none (snapshot read).
SELECT * FROM runs
WHERE ($1::text IS NULL OR status = $1::text) AND ($2::text IS NULL OR workflow = $2::text)
ORDER BY created_at DESC, seq DESC
LIMIT $3::bigint

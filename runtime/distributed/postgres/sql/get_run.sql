-- getRun: the run record.
-- Parameters: $1 run_id. Returns: the runs row, or no row for an unknown run. Locking: none (snapshot read).
SELECT * FROM runs WHERE run_id = $1

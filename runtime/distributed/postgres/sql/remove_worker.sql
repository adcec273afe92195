-- removeWorker: forgets a worker. Parameters: $1 worker_id. Returns: one row when it existed. Locking: its row.
DELETE FROM workers WHERE worker_id = $1 RETURNING worker_id

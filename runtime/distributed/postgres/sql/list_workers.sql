-- listWorkers: every known worker sorted by id (byte order, like JavaScript string comparison), with the server's
-- now for the liveness classification.
-- Parameters: none. Returns: rows (worker_id, last_seen, health, now). Locking: none (snapshot read).
SELECT worker_id, last_seen, health, now_ms() AS now FROM workers ORDER BY worker_id COLLATE "C"

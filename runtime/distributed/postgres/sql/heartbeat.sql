-- heartbeat: records that a worker is alive now (server clock) with its health, replacing the previous one.
-- Parameters: $1 worker_id, $2 health (canonical JSON). Returns: nothing.
-- Locking: the worker's row (upsert). Committed with synchronous_commit off: a lost heartbeat is repeated soon.
WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true))
INSERT INTO workers (worker_id, last_seen, health)
SELECT $1::text, now_ms(), $2::text FROM cfg
ON CONFLICT (worker_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, health = EXCLUDED.health

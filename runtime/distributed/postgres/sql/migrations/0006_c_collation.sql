-- Migration 0006: every id column compares bytes (COLLATE "C") instead of the database's default collation. Ids
-- are matched for equality and ordered only for lock order, never shown sorted, so no answer changes; but every
-- index probe on them (each claim, commit and read) compared with strcoll under a database collation such as
-- C.UTF-8 or en_US, which was ~8-13% of the server's instructions in a claim or a commit (callgrind). Changing a
-- column's collation keeps its data and rebuilds its indexes (under an exclusive lock, once).
-- Applied like 0001 (one transaction, migration advisory lock, search_path = schema). Append-only.
--
-- Lock order: commit_steps locks a batch's runs rows in run_id order; that order is now byte order, the same for
-- every locker (all of them read the same column), so the deadlock freedom argument of 0003 is unchanged.
ALTER TABLE runs ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN workflow TYPE text COLLATE "C";
ALTER TABLE queue_runs ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN workflow TYPE text COLLATE "C";
ALTER TABLE items ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN item_id TYPE text COLLATE "C";
ALTER TABLE commits ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN item_id TYPE text COLLATE "C",
  ALTER COLUMN lease_token TYPE text COLLATE "C";
ALTER TABLE deltas ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN item_id TYPE text COLLATE "C";
ALTER TABLE join_groups ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN group_id TYPE text COLLATE "C";
ALTER TABLE join_arrivals ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN group_id TYPE text COLLATE "C";
ALTER TABLE errors ALTER COLUMN run_id TYPE text COLLATE "C", ALTER COLUMN item_id TYPE text COLLATE "C";
ALTER TABLE dead_letters ALTER COLUMN run_id TYPE text COLLATE "C";
ALTER TABLE workers ALTER COLUMN worker_id TYPE text COLLATE "C";

-- Migration 0009: no event_heads table. A run's next run_seq and tx come from its last event (the events primary key
-- (run_id, run_seq), read backwards), and that key is also what serialises two transactions appending to one run
-- (functions/record_events.sql): the head row's upsert wrote a lock record and an update per run and transaction
-- (~140 B of WAL, a quarter of what the events cost per step).
DROP TABLE event_heads;

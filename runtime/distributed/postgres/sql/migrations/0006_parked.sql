-- Migration 0006: parked items (WaitFor waits, Sleep timers; runtime/engine/parked.ts) and a run's signals.
-- A parked item is outstanding (due_at IS NOT NULL, see 0001): due_at is its wake-up time (a sleep's end, a wait's
-- timeout; claim takes it then, like a due retry) or, for a wait without a timeout, the largest bigint (never due);
-- wait_name is the signal a parked wait waits for. signals is the run's mailbox (signals no wait took yet, oldest
-- first by seq); signal_keys the idempotency keys the run received.
ALTER TABLE items DROP CONSTRAINT items_status_check;
ALTER TABLE items ADD CONSTRAINT items_status_check
  CHECK (status IN ('pending', 'in_progress', 'waiting_retry', 'parked', 'completed', 'failed', 'dead_lettered', 'dropped'));
ALTER TABLE items ADD COLUMN wait_name text;
CREATE INDEX items_waits ON items (run_id, wait_name, seq) WHERE status = 'parked' AND wait_name IS NOT NULL;

CREATE TABLE signals (
  run_id  text COLLATE "C" NOT NULL,
  seq     bigint GENERATED ALWAYS AS IDENTITY,
  name    text NOT NULL,
  payload text NOT NULL,
  key     text,
  at      bigint NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX signals_by_name ON signals (run_id, name, seq);

CREATE TABLE signal_keys (
  run_id text COLLATE "C" NOT NULL,
  key    text COLLATE "C" NOT NULL,
  PRIMARY KEY (run_id, key)
);

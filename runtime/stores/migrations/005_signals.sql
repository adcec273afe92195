-- Floxide SQLite checkpoint store, migration 005: the signal mailbox.
--
-- floxide_signals  one row per signal a run received (floxide runs signal, Workflow.signal), oldest first (seq).
--                  item_id: the wait item it was given to (NULL while it waits in the mailbox); giving is durable,
--                  so a run resumed after a crash gives its wait the same signal. key: the sender's idempotency key,
--                  unique per run (a repeat is refused). Parked items themselves (waits, sleeps and their
--                  notBefore) are journal items like any other.
CREATE TABLE floxide_signals (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id     TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  payload    TEXT    NOT NULL,
  key        TEXT,
  item_id    TEXT,
  created_at INTEGER NOT NULL
);

CREATE UNIQUE INDEX floxide_signals_key ON floxide_signals (run_id, key) WHERE key IS NOT NULL;
CREATE INDEX floxide_signals_mailbox ON floxide_signals (run_id, name, item_id);

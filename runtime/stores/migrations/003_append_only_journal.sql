-- Floxide SQLite checkpoint store, migration 003: the journal becomes an append-only rowid table.
--
-- Why: in 001/002 the journal was a WITHOUT ROWID table keyed by (run_id, item_id TEXT). Item ids are counters
-- ("1", "2", ... "10", ...), which sort as text, so each step inserted into the middle of the tree and SQLite
-- rebalanced three sibling leaves every few commits: 1.68 pages (WAL frames) written per step. Here a step's row is
-- keyed by one integer that grows with the run's item counter, so a run's steps append at the right edge of the
-- tree (SQLite's quick balance for rowid tables): ~1.04 pages per step, and a commit is one INSERT statement.
--
-- floxide_runs      rebuilt with run_no, a stable integer per run (AUTOINCREMENT: never reused), as its rowid;
--                   run_id stays unique. Same columns as 002 otherwise, small hot ones first.
-- floxide_journal   one row per committed step. k = (run_no << 40) + n, where n is
--                     - the item id itself when it is a canonical decimal below 2^39 (the local engine's ids:
--                       "0", "1", ...); item_id is then NULL;
--                     - 2^39 + 1, 2^39 + 2, ... for any other id (join items "<group>:join", ids given by callers),
--                       stored in item_id and kept unique per run by floxide_journal_named.
--                   So the idempotency key (run, consumed item id) is the rowid for counter ids, the partial index
--                   otherwise. seq, delta, items, counter: as in 001 (commit order, context delta or NULL, enqueued
--                   items as JSON, child id counter after the step).
-- floxide_steps     a view with 001's columns (run_id, item_id, seq, delta, items, counter), for people and tools.
--
-- The canonical-decimal test below must match numberedItem() in runtime/stores/sqlite.ts.

CREATE TABLE floxide_runs_003 (
  run_no      INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id      TEXT    NOT NULL UNIQUE,
  status      TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  deadline    INTEGER,
  counter     INTEGER NOT NULL DEFAULT 0,
  steps       INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  workflow    TEXT    NOT NULL,
  fingerprint TEXT    NOT NULL,
  error       TEXT,
  output      TEXT,
  dropped     TEXT    NOT NULL DEFAULT '[]',
  start       TEXT    NOT NULL,
  input       TEXT    NOT NULL,
  context     TEXT    NOT NULL
);

INSERT INTO floxide_runs_003 (run_id, status, deadline, counter, steps, created_at, updated_at, workflow, fingerprint,
                              error, output, dropped, start, input, context)
SELECT run_id, status, deadline, counter, steps, created_at, updated_at, workflow, fingerprint,
       error, output, dropped, start, input, context
FROM floxide_runs
ORDER BY created_at, run_id;

CREATE TABLE floxide_journal (
  k       INTEGER PRIMARY KEY,
  run_no  INTEGER NOT NULL,
  item_id TEXT,
  seq     INTEGER NOT NULL,
  delta   TEXT,
  items   TEXT    NOT NULL,
  counter INTEGER NOT NULL
);

CREATE UNIQUE INDEX floxide_journal_named ON floxide_journal (run_no, item_id) WHERE item_id IS NOT NULL;

INSERT INTO floxide_journal (k, run_no, item_id, seq, delta, items, counter)
SELECT (r.run_no << 40) + CASE WHEN numbered THEN CAST(s.item_id AS INTEGER) ELSE 549755813888 + named_no END,
       r.run_no, CASE WHEN numbered THEN NULL ELSE s.item_id END, s.seq, s.delta, s.items, s.counter
FROM (
  SELECT *,
         (item_id = '0' OR (item_id GLOB '[1-9]*' AND item_id NOT GLOB '*[^0-9]*' AND length(item_id) <= 12
                            AND CAST(item_id AS INTEGER) < 549755813888)) AS numbered,
         row_number() OVER (PARTITION BY run_id ORDER BY seq, item_id) AS named_no
  FROM floxide_steps
) AS s
JOIN floxide_runs_003 AS r ON r.run_id = s.run_id;

DROP TABLE floxide_steps;
DROP TABLE floxide_runs;
ALTER TABLE floxide_runs_003 RENAME TO floxide_runs;

CREATE VIEW floxide_steps AS
SELECT r.run_id, coalesce(j.item_id, CAST(j.k - (j.run_no << 40) AS TEXT)) AS item_id, j.seq, j.delta, j.items, j.counter
FROM floxide_journal AS j
JOIN floxide_runs AS r ON r.run_no = j.run_no;

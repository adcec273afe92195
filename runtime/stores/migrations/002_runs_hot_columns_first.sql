-- Floxide SQLite checkpoint store, migration 002: floxide_runs rebuilt with its small, hot columns first.
--
-- Every step's commit checks `status` (the journal row is inserted only while the run is running). SQLite reads a
-- column by walking the record to its offset; in 001 `status` came after `input`, `context` and `start`, so with
-- a large initial context each commit walked that context's overflow pages (a 1 MB context: ~250 page visits per
-- step). Here the fixed-size columns come first and the large JSON ones last, so the check reads one cell.
-- Same columns, same meaning, same constraints as 001; rows are copied as they are.

CREATE TABLE floxide_runs_002 (
  run_id      TEXT    PRIMARY KEY,
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

INSERT INTO floxide_runs_002 (run_id, status, deadline, counter, steps, created_at, updated_at, workflow, fingerprint,
                              error, output, dropped, start, input, context)
SELECT run_id, status, deadline, counter, steps, created_at, updated_at, workflow, fingerprint,
       error, output, dropped, start, input, context
FROM floxide_runs;

DROP TABLE floxide_runs;
ALTER TABLE floxide_runs_002 RENAME TO floxide_runs;

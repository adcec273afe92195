-- Floxide SQLite checkpoint store, migration 001: the initial schema.
--
-- Migrations are an append-only list (MIGRATIONS in runtime/stores/sqlite.ts), applied in order, each in its own
-- transaction; PRAGMA user_version records how many ran. Never edit a migration that shipped: add the next file.
--
-- floxide_runs      one row per run: fingerprint, input, initial context, start item, deadline (epoch ms), status,
--                   output, error, dropped items; counter/steps are final once the run completes.
-- floxide_steps     the journal: one row per committed step, keyed by (run, consumed item id), the idempotency
--                   key. seq is the commit order; delta the step's context delta (NULL when it changed nothing);
--                   items the items it enqueued (produced, then join items it completed); counter the child id
--                   counter after it. Pending items = start + every enqueued item - every consumed item.
--                   One small row per step: bytes written per step never depend on the context's size.
-- floxide_arrivals  join arrivals parked per fan-out group; floxide_groups counts them per group.
-- All JSON columns hold JSON text written by the engine.

CREATE TABLE floxide_runs (
  run_id      TEXT    PRIMARY KEY,
  workflow    TEXT    NOT NULL,
  fingerprint TEXT    NOT NULL,
  input       TEXT    NOT NULL,
  context     TEXT    NOT NULL,
  start       TEXT    NOT NULL,
  status      TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  deadline    INTEGER,
  output      TEXT,
  error       TEXT,
  dropped     TEXT    NOT NULL DEFAULT '[]',
  counter     INTEGER NOT NULL DEFAULT 0,
  steps       INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE floxide_steps (
  run_id  TEXT    NOT NULL,
  item_id TEXT    NOT NULL,
  seq     INTEGER NOT NULL,
  delta   TEXT,
  items   TEXT    NOT NULL,
  counter INTEGER NOT NULL,
  PRIMARY KEY (run_id, item_id)
) WITHOUT ROWID;

CREATE TABLE floxide_arrivals (
  run_id TEXT    NOT NULL,
  grp    TEXT    NOT NULL,
  idx    INTEGER NOT NULL,
  body   TEXT    NOT NULL,
  PRIMARY KEY (run_id, grp, idx)
) WITHOUT ROWID;

CREATE TABLE floxide_groups (
  run_id  TEXT    NOT NULL,
  grp     TEXT    NOT NULL,
  size    INTEGER NOT NULL,
  arrived INTEGER NOT NULL,
  PRIMARY KEY (run_id, grp)
) WITHOUT ROWID;

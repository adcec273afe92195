-- Migration 0001: the tables and indexes of the Postgres distributed backend. Its functions live in ../functions/,
-- one per file, applied by migrate.ts with CREATE OR REPLACE and tracked by content hash.
--
-- Applied by migrate.ts inside one transaction, under the per-schema migration advisory lock, on a connection whose
-- search_path is the backend's schema (so no name below is schema-qualified). Append-only from the first release on:
-- a schema change is a new file 0002_<name>.sql; never edit an applied migration.
--
-- Conventions:
-- - Every time is epoch milliseconds (bigint) from the server's clock (now_ms()), never the workers'.
-- - Values (inputs, contexts, items, deltas, outputs, errors, parked arrivals) are canonical JSON text written by the
--   TypeScript side (runtime/core/json.ts canonicalJson) and parsed there without __proto__ keys; the server only
--   concatenates them.
-- - An item is outstanding (pending, in_progress, waiting_retry) exactly when due_at IS NOT NULL; due_at is when it
--   becomes claimable: 0 for pending, the lease expiry while in_progress, not_before while waiting_retry.
-- - Id columns compare bytes (COLLATE "C"): ids are only matched for equality and ordered for lock order, and a
--   database collation (strcoll) is needless work in every index probe of a claim or a commit.

-- One row per run: the record, the initial context, the context version and the metrics (updated in place by the
-- operations that cause them, under the row lock: never read-modify-write from a client). Every step updates its
-- run's row and no updated column is indexed: free room on each page (fillfactor) keeps those updates HOT.
CREATE TABLE runs (
  run_id        text COLLATE "C" PRIMARY KEY,
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  workflow      text COLLATE "C" NOT NULL,
  fingerprint   text NOT NULL,
  input         text NOT NULL,
  context       text NOT NULL,
  status        text NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'failed', 'cancelled')),
  created_at    bigint NOT NULL,
  updated_at    bigint NOT NULL,
  finished_at   bigint,
  deadline      double precision,
  output        text,
  error         text,
  dropped       jsonb NOT NULL DEFAULT '[]',
  version       integer NOT NULL DEFAULT 0,
  enqueued      integer NOT NULL DEFAULT 0,
  completed     integer NOT NULL DEFAULT 0,
  retries       integer NOT NULL DEFAULT 0,
  failed        integer NOT NULL DEFAULT 0,
  dead_lettered integer NOT NULL DEFAULT 0,
  dropped_count integer NOT NULL DEFAULT 0,
  counters      jsonb NOT NULL DEFAULT '{}'
) WITH (fillfactor = 70);
CREATE INDEX runs_newest ON runs (created_at DESC, seq DESC);
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

-- The claim rotation: one narrow row per unfinished run (deleted when the run finishes). served_seq orders runs by
-- when they were last served (a serve_seq value times 65536 plus the position within the claim that served it), so
-- claims take the least recently served runs first (round-robin across calls).
CREATE SEQUENCE serve_seq;
CREATE TABLE queue_runs (
  run_id     text COLLATE "C" PRIMARY KEY,
  workflow   text COLLATE "C" NOT NULL,
  paused     boolean NOT NULL DEFAULT false,
  served_seq bigint NOT NULL
);
CREATE INDEX queue_runs_rotation ON queue_runs (served_seq) WHERE NOT paused;
CREATE INDEX queue_runs_workflow_rotation ON queue_runs (workflow, served_seq) WHERE NOT paused;

-- Every item ever enqueued (kept after completion for itemStates), in enqueue order (seq).
CREATE TABLE items (
  run_id           text COLLATE "C" NOT NULL,
  item_id          text COLLATE "C" NOT NULL,
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  node             text NOT NULL,
  payload          text NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'in_progress', 'waiting_retry', 'completed', 'failed', 'dead_lettered', 'dropped')),
  attempt          integer NOT NULL DEFAULT 1,
  deliveries       integer NOT NULL DEFAULT 0,
  redeliveries     integer NOT NULL DEFAULT 0,
  worker_id        text COLLATE "C",
  lease_token      text COLLATE "C",
  lease_expires_at bigint,
  not_before       bigint,
  due_at           bigint,
  updated_at       bigint NOT NULL,
  PRIMARY KEY (run_id, item_id)
);
CREATE INDEX items_claimable ON items (run_id, due_at, seq) WHERE due_at IS NOT NULL;

-- Idempotency markers: one row per applied commit (run, item, lease token). A retry keeps its item alive, so the
-- token is what recognises a replayed retry commit.
CREATE TABLE commits (
  run_id      text COLLATE "C" NOT NULL,
  item_id     text COLLATE "C" NOT NULL,
  lease_token text COLLATE "C" NOT NULL,
  PRIMARY KEY (run_id, item_id, lease_token)
);

-- The append-only context deltas; version 1, 2, ... per run (version 0 is runs.context).
CREATE TABLE deltas (
  run_id  text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  item_id text COLLATE "C" NOT NULL,
  delta   text NOT NULL,
  PRIMARY KEY (run_id, version)
);

-- Join groups being filled (node: the join node of the first valued arrival parked) and their parked arrivals (body:
-- the arrival's canonical JSON, what the group's settlement item carries). Both are deleted when the group completes
-- or the run finishes.
CREATE TABLE join_groups (
  run_id   text COLLATE "C" NOT NULL,
  group_id text COLLATE "C" NOT NULL,
  size     integer NOT NULL,
  arrived  integer NOT NULL DEFAULT 0,
  node     text,
  PRIMARY KEY (run_id, group_id)
);
CREATE TABLE join_arrivals (
  run_id   text COLLATE "C" NOT NULL,
  group_id text COLLATE "C" NOT NULL,
  idx      integer NOT NULL,
  body     text NOT NULL,
  PRIMARY KEY (run_id, group_id, idx)
);

CREATE TABLE errors (
  run_id  text COLLATE "C" NOT NULL,
  seq     bigint GENERATED ALWAYS AS IDENTITY,
  item_id text COLLATE "C" NOT NULL,
  node    text NOT NULL,
  attempt integer NOT NULL,
  kind    text NOT NULL CHECK (kind IN ('retry', 'failure', 'worker')),
  error   text NOT NULL,
  at      bigint NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE dead_letters (
  run_id   text COLLATE "C" NOT NULL,
  seq      bigint GENERATED ALWAYS AS IDENTITY,
  item     text NOT NULL,
  attempts integer NOT NULL,
  error    text NOT NULL,
  at       bigint NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE workers (
  worker_id text COLLATE "C" PRIMARY KEY,
  last_seen bigint NOT NULL,
  health    text NOT NULL
);

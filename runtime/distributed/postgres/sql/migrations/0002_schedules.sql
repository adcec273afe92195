-- 0002_schedules: schedules (docs/schedules.md). One row per schedule. The workers' schedulers decide which ticks fire
-- (runtime/distributed/schedule-rules.ts); the SQL only stores the rows and moves a cursor by compare-and-set.
-- Times are epoch milliseconds from now_ms(); input is canonical JSON text written by the TypeScript side.

CREATE TABLE schedules (
  schedule_id    text COLLATE "C" PRIMARY KEY,
  workflow       text NOT NULL,
  cron           text NOT NULL,
  timezone       text,                      -- NULL: UTC
  input          text NOT NULL,
  catch_up       text NOT NULL CHECK (catch_up IN ('none', 'latest', 'all')),
  catch_up_limit integer NOT NULL,
  grace_ms       bigint NOT NULL,
  paused         boolean NOT NULL,
  cursor_ms      bigint NOT NULL,           -- every tick at or before it is handled
  resumed_at     bigint,
  last_tick_at   bigint,
  last_run_id    text,
  skipped        bigint NOT NULL DEFAULT 0,
  created_at     bigint NOT NULL,
  updated_at     bigint NOT NULL
);

CREATE INDEX schedules_by_workflow ON schedules (workflow);

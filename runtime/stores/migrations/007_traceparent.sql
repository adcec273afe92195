-- Floxide SQLite checkpoint store, migration 007: the run's trace context.
--
-- floxide_runs.traceparent  the W3C traceparent of the run's span when the run was started with tracing on
--                           (runtime/core/trace-context.ts); NULL otherwise. A resume continues that trace.
ALTER TABLE floxide_runs ADD COLUMN traceparent TEXT;

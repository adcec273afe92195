-- Migration 0007: the run's trace context. runs.traceparent is the W3C traceparent of the run's span when the run was
-- started with tracing on (NULL otherwise); claims and hand-offs give it to workers, whose step spans join the trace.
ALTER TABLE runs ADD COLUMN traceparent text;

-- Migration 0013: the expression and time zone a schedule's timing was computed from (cron, a newline, timezone or ''),
-- so that a timing counts only while they are the stored ones (sql/schedule_put.sql): a floxide before timings
-- (migration 0010) defines a schedule again, during a rolling upgrade, without touching its timing.
ALTER TABLE schedules ADD COLUMN timing_of text;

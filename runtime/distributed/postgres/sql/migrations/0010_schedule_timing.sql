-- Migration 0010: a schedule's timing (schedule-rules.ts scheduleTiming: what its ticks are, whatever the expression's
-- spelling), so that defining it again with an equivalent expression keeps its cursor. NULL for a schedule stored
-- before: its next definition compares the expression's text, as before, and stores the timing.
ALTER TABLE schedules ADD COLUMN timing text;

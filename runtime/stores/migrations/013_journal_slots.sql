-- Floxide SQLite checkpoint store, migration 013: journal keys by slot, so that a purged file never fills up.
--
-- Why: the journal's key was (run_no << 40) + n (migration 003), and run_no is never reused, so a file refused its
-- 8,388,608th run over its whole life (FLOXIDE_STORE_FULL), however few runs it still held after purges.
--
-- floxide_runs.slot       the run's journal slot: its rows are keyed by (slot << 40) + n (runtime/stores/sqlite-keys.ts).
--                         Held while the run's record exists; the purge deletes the record and the rows together, and
--                         the slot is free again. A new run takes the slot after the highest one held (its steps then
--                         append at the journal's right edge), or, when that is past 2^23 - 1, the lowest free one.
--                         Existing runs keep their keys: slot = run_no. run_no stays the run's lasting number (the
--                         runs' order, event feed cursors, floxide_failures and floxide_moves).
-- floxide_runs.gap_after  1 when no run holds slot + 1: the lowest free slot is found through floxide_runs_gaps. Kept by
--                         createRun (the new run's, and its lower neighbour's) and the purge (the lower neighbour's).
-- floxide_runs_slot_given a run inserted without a slot is refused, saying why: a process of an older floxide that had
--                         the file open before this migration would key the new run's journal by run_no.
-- floxide_steps           the view: an item number is the key's low 40 bits.

ALTER TABLE floxide_runs ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE floxide_runs ADD COLUMN gap_after INTEGER NOT NULL DEFAULT 0;

UPDATE floxide_runs SET slot = run_no;
CREATE UNIQUE INDEX floxide_runs_slot ON floxide_runs (slot);
UPDATE floxide_runs SET gap_after = NOT EXISTS (SELECT 1 FROM floxide_runs AS next WHERE next.slot = floxide_runs.slot + 1);
CREATE INDEX floxide_runs_gaps ON floxide_runs (slot) WHERE gap_after = 1;

CREATE TRIGGER floxide_runs_slot_given BEFORE INSERT ON floxide_runs WHEN NEW.slot < 1
BEGIN
  SELECT RAISE(ABORT, 'this checkpoint file was upgraded by a newer floxide (journal slots, schema 13): run this process on that version');
END;

DROP VIEW floxide_steps;
CREATE VIEW floxide_steps AS
SELECT r.run_id, coalesce(j.item_id, CAST(j.k & 1099511627775 AS TEXT)) AS item_id, j.seq, j.delta, j.items, j.counter
FROM floxide_journal AS j
JOIN floxide_runs AS r ON r.run_no = j.run_no;

/**
 * SQLite checkpoint files as an older floxide left them, for the upgrade tests: a file of this version with its later
 * migrations undone.
 */
import type Database from 'better-sqlite3';

/** Undoes migration 014 (a finished run's kept counts), leaving the schema of 013. */
export function undoKeptCounts(db: Database.Database): void {
  db.exec('ALTER TABLE floxide_runs DROP COLUMN counts; PRAGMA user_version = 13');
}

/**
 * Undoes migrations 014 and 013 (journal slots), leaving the schema of 012, whose journal keys are (run_no << 40) + n:
 * the file must be one whose every run's slot is its number (no run created after a purge of the highest one).
 */
export function undoJournalSlots(db: Database.Database): void {
  undoKeptCounts(db);
  const moved = db.prepare('SELECT count(*) FROM floxide_runs WHERE slot <> run_no').pluck().get() as number;
  if (moved > 0) throw new Error(`${moved} run(s) of this file have a journal slot other than their number: schema 12 cannot key their steps`);
  db.exec(`DROP TRIGGER floxide_runs_slot_given; DROP INDEX floxide_runs_gaps; DROP INDEX floxide_runs_slot; DROP VIEW floxide_steps;
    ALTER TABLE floxide_runs DROP COLUMN gap_after; ALTER TABLE floxide_runs DROP COLUMN slot;
    CREATE VIEW floxide_steps AS
    SELECT r.run_id, coalesce(j.item_id, CAST(j.k - (j.run_no << 40) AS TEXT)) AS item_id, j.seq, j.delta, j.items, j.counter
    FROM floxide_journal AS j JOIN floxide_runs AS r ON r.run_no = j.run_no;
    PRAGMA user_version = 12`);
}

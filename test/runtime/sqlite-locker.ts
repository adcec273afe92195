// A child process of the multi-process SQLite tests: another connection (a sqlite3 shell, a long write) holding the
// write lock of the SQLite file argv[2]. Takes it (BEGIN IMMEDIATE and a write), prints `locked`, and commits and
// exits when its standard input ends (the test closes it, or dies).
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]!);
db.exec('BEGIN IMMEDIATE');
db.prepare('UPDATE floxide_runs SET updated_at = updated_at WHERE 0').run();
process.stdout.write('locked\n');
process.stdin.resume();
process.stdin.on('end', () => {
  db.exec('COMMIT');
  db.close();
});

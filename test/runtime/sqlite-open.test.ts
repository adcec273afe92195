/**
 * Opening a SQLite checkpoint file that is the wrong one or cannot be written: a file of a newer floxide, another
 * application's database, a read-only file or folder (as a user without the right to write, in a real process), a
 * file another store holds exclusively. Each is a `StoreError` that says what is wrong, and nothing is written to a
 * file that is not ours to write.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError } from 'floxide';
import { SQLITE_MIGRATIONS, SqliteCheckpointStore } from 'floxide/sqlite';
import { cliCaptured } from '../cli/run-cli.js';
import { builtModule } from '../built-module.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-open-'));
afterAll(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});
const child = fileURLToPath(new URL('./sqlite-open-child.ts', import.meta.url));
const newRun = (runId: string) => ({ runId, workflow: 'W', fingerprint: '0123456789abcdef', input: 1, context: null, deadline: undefined, start: { node: 'a', id: '0', input: 1 } });

function opened(file: string): Error {
  try {
    new SqliteCheckpointStore(file).db.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${file} opened`);
}

/** What the child makes of each of `files`, run as a user that may not write what is read-only (not root, who may). */
function openAsOther(...files: string[]): Promise<Array<{ ok?: true; error?: string; message?: string }>> {
  const other = process.getuid?.() === 0 ? { uid: 65_534, gid: 65_534, env: { ...process.env, HOME: tmpdir() } } : {};
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [builtModule(child), ...files], other, (err, out) => (err && !out ? reject(err) : resolve(JSON.parse(out) as Array<{ ok?: true }>))),
  );
}

describe('a SQLite checkpoint file that is not one this store may write', () => {
  it('of a newer floxide (a schema version past this one): refused, by the CLI too, and left as it was', async () => {
    const file = join(dir, 'newer.db');
    await new SqliteCheckpointStore(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SQLITE_MIGRATIONS.length + 1}`);
    db.close();
    const err = opened(file);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.message).toBe(`${file} was written by a newer floxide (checkpoint schema version ${SQLITE_MIGRATIONS.length + 1}; this one knows versions up to ${SQLITE_MIGRATIONS.length}): upgrade floxide to use it; nothing was written to it`);
    const listed = await cliCaptured(['runs', 'list', '--store', `sqlite:${file}`]);
    expect([listed.code, listed.err]).toEqual([1, expect.stringContaining(`${file} was written by a newer floxide`)]);
    const after = new Database(file, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length + 1);
    after.close();
  });

  it("another application's database: refused by the store, which writes nothing to it (not even WAL mode)", () => {
    const file = join(dir, 'app.db');
    const app = new Database(file);
    app.exec('CREATE TABLE users (id INTEGER)');
    app.close();
    // whatever schema version of its own the application keeps (SQLite's user_version, which floxide uses too)
    for (const version of [0, 3, SQLITE_MIGRATIONS.length + 1]) {
      const db = new Database(file);
      db.pragma(`user_version = ${version}`);
      db.close();
      const err = opened(file);
      expect(err).toBeInstanceOf(StoreError);
      expect(err.message).toBe(`${file} is not a floxide checkpoint file: it holds other tables (users) and no floxide_runs; nothing was written to it (a checkpoint store needs a file of its own: it keeps its schema version in the file's user_version)`);
      const after = new Database(file, { readonly: true });
      expect([after.pragma('journal_mode', { simple: true }), after.pragma('user_version', { simple: true }), after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()]).toEqual(['delete', version, ['users']]);
      after.close();
    }
  });

  it('a file that is not a SQLite database, or a path in a folder that does not exist: says which, naming the file, and writes nothing', async () => {
    const text = join(dir, 'notes.db');
    writeFileSync(text, 'these are my notes, not a database: '.repeat(20));
    const err = opened(text);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.message).toBe(`cannot open the SQLite checkpoint store ${text}: ${text} is not a floxide checkpoint file: SQLite says "file is not a database" (another kind of file, or an encrypted database); nothing was written to it`);
    const listed = await cliCaptured(['runs', 'list', '--store', `sqlite:${text}`]);
    expect([listed.code, listed.err]).toEqual([1, `floxide runs: ${err.message}\n`]);
    expect(readFileSync(text, 'utf8')).toBe('these are my notes, not a database: '.repeat(20));
    const nowhere = join(dir, 'no-such-folder', 'runs.db');
    const missing = opened(nowhere);
    expect(missing).toBeInstanceOf(StoreError);
    expect(missing.message).toBe(`cannot open the SQLite checkpoint store ${nowhere}: cannot create ${nowhere}: the folder ${join(dir, 'no-such-folder')} does not exist`);
    expect(existsSync(join(dir, 'no-such-folder'))).toBe(false);
  });

  it('a read-only folder or file, for a process that may not write it: says which, and why a folder must be writable', async () => {
    chmodSync(dir, 0o755);
    const folder = join(dir, 'read-only folder');
    const files = join(dir, 'writable folder');
    mkdirSync(folder);
    mkdirSync(files);
    for (const f of [join(folder, 'runs.db'), join(files, 'runs.db')]) {
      const store = new SqliteCheckpointStore(f);
      await store.createRun(newRun('r1'));
      await store.close();
    }
    chmodSync(join(folder, 'runs.db'), 0o666);
    chmodSync(folder, 0o555);
    chmodSync(files, 0o777);
    chmodSync(join(files, 'runs.db'), 0o444);
    expect(await openAsOther(join(folder, 'runs.db'), join(folder, 'new.db'), join(files, 'runs.db'), folder)).toEqual([
      {
        error: 'StoreError',
        message: `cannot open the SQLite checkpoint store ${join(folder, 'runs.db')}: the folder ${folder} is read-only for this process, and SQLite keeps the file's -wal and -shm files beside it (WAL mode): make the folder writable, or move the file`,
      },
      {
        error: 'StoreError',
        message: `cannot open the SQLite checkpoint store ${join(folder, 'new.db')}: cannot create ${join(folder, 'new.db')}: the folder ${folder} is not writable by this process`,
      },
      // opened (a read-only file can be read), refused at its first write
      {
        error: 'StoreError',
        message: `SQLite checkpoint store: ${join(files, 'runs.db')} is read-only for this process (its permissions, or a read-only file system); nothing was written`,
      },
      { error: 'StoreError', message: `cannot open the SQLite checkpoint store ${folder}: ${folder} is a folder, not a file` },
    ]);
  }, 30_000);

  it('a file another store holds (exclusive: true), past the busy timeout: says it is locked and by what', async () => {
    const file = join(dir, 'held.db');
    const holder = new SqliteCheckpointStore(file, { exclusive: true });
    try {
      await holder.createRun(newRun('r1'));
      let err: Error | undefined;
      try {
        new SqliteCheckpointStore(file, { busyTimeoutMs: 10 }).db.close();
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(StoreError);
      expect(err?.message).toBe(`cannot open the SQLite checkpoint store ${file}: ${file} is locked by another connection for longer than the busy timeout (busyTimeoutMs): a store opened with \`exclusive: true\` holds it until it is closed, or another connection (a sqlite3 shell...) keeps a write transaction open`);
    } finally {
      await holder.close();
    }
  });

  it('a store opened with exclusive: true while another connection has the file open (a dashboard, a runs command): says the file must be its own', async () => {
    const file = join(dir, 'shared.db');
    const other = new SqliteCheckpointStore(file);
    try {
      await other.createRun(newRun('r1'));
      let err: Error | undefined;
      try {
        new SqliteCheckpointStore(file, { exclusive: true, busyTimeoutMs: 10 }).db.close();
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(StoreError);
      expect(err?.message).toBe(`cannot open the SQLite checkpoint store ${file}: a store opened with \`exclusive: true\` needs ${file} to itself, and another connection has it open (another store or process, floxide ui or floxide runs, a sqlite3 shell): close it, or open this store without \`exclusive\``);
    } finally {
      await other.close();
    }
  });

  it('a path with spaces and non-ASCII letters, through the CLI; sqlite:<relative path> is relative to the command\'s folder', async () => {
    const name = 'ünïcödé runs – 1.db';
    const store = new SqliteCheckpointStore(join(dir, name));
    await store.createRun(newRun('r-u'));
    await store.close();
    for (const [url, io] of [[`sqlite:${join(dir, name)}`, {}], [`sqlite:${name}`, { cwd: dir }], [`sqlite:./${name}`, { cwd: dir }]] as const) {
      const listed = await cliCaptured(['runs', 'list', '--store', url, '--json'], io);
      expect([listed.code, listed.err], url).toEqual([0, '']);
      expect((JSON.parse(listed.out) as { runId: string }[]).map((r) => r.runId)).toEqual(['r-u']);
    }
    // URL forms that name no file here: bad usage (exit 2), nothing created
    for (const [url, says] of [
      ['sqlite://runs.db', 'the store "sqlite://runs.db" names a host, not a file: use sqlite:runs.db (relative to the current folder) or sqlite:///absolute/path'],
      ['sqlite::memory:', 'the store "sqlite::memory:" is not a file path: use sqlite:<file>, e.g. sqlite:runs.db'],
    ]) {
      const r = await cliCaptured(['runs', 'list', '--store', url], { cwd: dir });
      expect([r.code, r.err], url).toEqual([2, expect.stringContaining(says)]);
    }
    // a missing file is named by its full path, and not created
    const missing = await cliCaptured(['runs', 'list', '--store', 'sqlite:missing.db'], { cwd: dir });
    expect([missing.code, missing.err]).toEqual([1, `floxide runs: no SQLite checkpoint file at ${JSON.stringify(join(dir, 'missing.db'))}\n`]);
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);
  });
});

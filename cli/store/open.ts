/**
 * {@link openRunsStore}: the {@link RunsStore} of a `--store` URL: `redis://`, `postgres://` (the distributed backend
 * itself, `connectBackend`) or `sqlite:<file>` (a checkpoint file through `SqliteRunsStore`). Drivers load lazily.
 */
import path from 'node:path';
import { InvalidArgumentError } from '../../runtime/core/errors.js';
import { connectBackend, DISTRIBUTED_SCHEMES, redactUrl } from '../../runtime/distributed/connect.js';
import type { RunsStore } from './runs-store.js';

/**
 * The file a `sqlite:<file>` store URL names, resolved against `cwd` (the command's folder); undefined for another URL.
 * `InvalidArgumentError` for one that names no file here: `sqlite:`, `sqlite://host...` (`sqlite://runs.db` would be
 * `/runs.db`; `sqlite:///abs/runs.db` is an absolute path), `sqlite::memory:` and URI forms.
 */
export function sqliteFileOf(url: string, cwd: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const file = url.slice('sqlite:'.length);
  if (file === '') throw new InvalidArgumentError('the store "sqlite:" names no file: use sqlite:<file>, e.g. sqlite:runs.db');
  if (/^\/\/[^/]/.test(file)) {
    throw new InvalidArgumentError(`the store "${url}" names a host, not a file: use sqlite:${file.slice(2)} (relative to the current folder) or sqlite:///absolute/path`);
  }
  if (file === ':memory:' || file.startsWith('file:')) {
    throw new InvalidArgumentError(`the store "${url}" is not a file path: use sqlite:<file>, e.g. sqlite:runs.db (a database in another process's memory cannot be opened from here)`);
  }
  return path.resolve(cwd, file);
}

/**
 * Opens the store at `url`: `sqlite:<file>` (the file must exist; see {@link sqliteFileOf}) or what `connectBackend`
 * accepts (a Postgres schema must exist, unless `createSchema`: workers and `schedule add` create theirs). Throws `InvalidArgumentError` for a bad URL,
 * `StoreError` when the store cannot be opened or reached.
 */
export async function openRunsStore(url: string, cwd = process.cwd(), options: { createSchema?: boolean } = {}): Promise<RunsStore> {
  const file = sqliteFileOf(url, cwd);
  if (file !== undefined) {
    const { SqliteRunsStore } = await import('./sqlite-runs.js');
    return SqliteRunsStore.open(file);
  }
  // Here a SQLite file is a store too: the messages of connectBackend (distributed stores only) would not say so.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    // A bare path is shown as the sqlite: URL it may have meant; anything with a colon is a mistyped URL (`sqlit:x`,
    // `redis//app:secret@db`), whose text, password included, is no file name to offer.
    const example = url.trim() === '' || url.includes(':') ? 'runs.db' : url;
    throw new InvalidArgumentError(`invalid store URL ${JSON.stringify(redactUrl(url))}: expected sqlite:<file> (a checkpoint file, e.g. sqlite:${example}), redis://host:port or postgres://user@host:port/db`);
  }
  if (!DISTRIBUTED_SCHEMES.includes(scheme)) {
    throw new InvalidArgumentError(`unsupported store URL scheme "${scheme}:" in ${redactUrl(url)}: use sqlite:<file> (a checkpoint file), redis://, rediss://, postgres:// or postgresql://`);
  }
  // (inspecting or controlling runs creates nothing: a misspelt Postgres schema is an error, not an empty store; a
  // command that stores what workers will read, `schedule add`, creates its schema as a worker does)
  return connectBackend(url, { createSchema: options.createSchema === true });
}

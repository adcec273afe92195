/**
 * {@link openRunsStore}: the {@link RunsStore} of a `--store` URL: `redis://`, `postgres://` (the distributed backend
 * itself, `connectBackend`) or `sqlite:<file>` (a checkpoint file through `SqliteRunsStore`). Drivers load lazily.
 */
import type { RunsStore } from './runs-store.js';

/**
 * Opens the store at `url`: `sqlite:<file>` (the file must exist) or what `connectBackend` accepts. Throws
 * `InvalidArgumentError` for a bad URL, `StoreError` when the store cannot be opened or reached.
 */
export async function openRunsStore(url: string): Promise<RunsStore> {
  if (url.startsWith('sqlite:')) {
    const { SqliteRunsStore } = await import('./sqlite-runs.js');
    return SqliteRunsStore.open(url.slice('sqlite:'.length));
  }
  const { connectBackend } = await import('../../runtime/distributed/connect.js');
  return connectBackend(url);
}

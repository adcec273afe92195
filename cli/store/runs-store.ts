/**
 * What `floxide runs` and `floxide ui` read and control: {@link RunsStore}, the part of a distributed backend they
 * use, which a SQLite checkpoint file also offers (cli/store/sqlite-runs.ts). Every command has one code path over
 * this interface; `open.ts` opens one from a `--store` URL.
 */
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';

/** The runs of a store as the CLI and the dashboard see them (observation and signals: see the `supports*` checks). */
export type RunsStore = Pick<
  DistributedBackend,
  'kind' | 'getRun' | 'listRuns' | 'cancelRun' | 'pauseRun' | 'resumeRun' | 'metrics' | 'errors' | 'deadLetters' | 'readContext' | 'listWorkers' | 'itemStates' | 'pendingWork' | 'close'
>;

/** True when `store` is a distributed backend (workers claim from it), not a checkpoint file. */
export function isDistributed(store: RunsStore): store is DistributedBackend {
  return typeof (store as Partial<DistributedBackend>).claim === 'function';
}

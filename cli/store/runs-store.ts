/**
 * What `floxide runs` and `floxide ui` read and control: {@link RunsStore}, the part of a distributed backend they
 * use, which a SQLite checkpoint file also offers (cli/store/sqlite-runs.ts). Every command has one code path over
 * this interface; `open.ts` opens one from a `--store` URL.
 */
import { cursorAfter, isFinalRunStatus, type DistributedBackend, type ListRunsFilter, type RunRecord, type RunStatus } from '../../runtime/distributed/contracts.js';

/** The runs of a store as the CLI and the dashboard see them (observation and signals: see the `supports*` checks). */
export type RunsStore = Pick<
  DistributedBackend,
  'kind' | 'getRun' | 'listRuns' | 'cancelRun' | 'pauseRun' | 'resumeRun' | 'metrics' | 'errors' | 'deadLetters' | 'readContext' | 'listWorkers' | 'itemStates' | 'itemCounts' | 'pendingWork' | 'close'
>;

/** True when `store` is a distributed backend (workers claim from it), not a checkpoint file. */
export function isDistributed(store: RunsStore): store is DistributedBackend {
  return typeof (store as Partial<DistributedBackend>).claim === 'function';
}

/** Which of `cancelRun`, `pauseRun` and `resumeRun` would change a run (the others refuse it or change nothing). */
export interface RunActions {
  readonly cancel: boolean;
  readonly pause: boolean;
  readonly resume: boolean;
}

/**
 * The actions `store` applies to a run in `status`, as its `cancelRun`, `pauseRun` and `resumeRun` decide them: a
 * distributed run is cancelled until it finishes, paused while running, resumed while paused; a checkpoint file's run is
 * cancelled unless completed or cancelled (a failed one could still be resumed by its code: cancel makes it final),
 * and never paused or resumed here (its process is stopped instead).
 */
export function runActions(store: RunsStore, status: RunStatus): RunActions {
  if (!isDistributed(store)) return { cancel: status !== 'completed' && status !== 'cancelled', pause: false, resume: false };
  return { cancel: !isFinalRunStatus(status), pause: status === 'running', resume: status === 'paused' };
}

/** How many run records {@link eachRun} reads at a time. */
export const RUN_PAGE = 500;

/**
 * Every run of `store` that `filter` selects (no `limit`, no `after`), in the listing order, read a page of
 * {@link RUN_PAGE} at a time: a command that counts or scans the open runs of a store holding 100,000 of them holds
 * one page, not all, and one that needs the first few stops reading there.
 */
export async function* eachRun(store: Pick<RunsStore, 'listRuns'>, filter: Omit<ListRunsFilter, 'limit' | 'after'> = {}): AsyncGenerator<RunRecord> {
  let after: ListRunsFilter['after'];
  for (;;) {
    const page = await store.listRuns({ ...filter, limit: RUN_PAGE, ...(after ? { after } : {}) });
    yield* page;
    if (page.length < RUN_PAGE) return;
    after = cursorAfter(page[page.length - 1]!);
  }
}

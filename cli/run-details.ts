/**
 * One run's details as `floxide runs show` and the dashboard's run page both show them: the run record, its
 * metrics, errors, dead letters, context, step history (when the store keeps one) and the workers holding its items.
 * The holders rule lives here once: a finished run has no items out, whatever a worker's last heartbeat still names.
 */
import { RunNotFoundError } from '../runtime/core/errors.js';
import {
  isFinalRunStatus,
  supportsObservation,
  type ContextSnapshot,
  type DeadLetter,
  type ErrorRecord,
  type RunMetrics,
  type RunRecord,
  type WorkerRecord,
} from '../runtime/distributed/contracts.js';
import type { StepRecord } from '../runtime/engine/events.js';
import type { RunsStore } from './store/runs-store.js';

/** A worker holding some of the run's items, with those items' ids. */
export interface RunHolder {
  readonly worker: WorkerRecord;
  readonly items: readonly string[];
}

export interface RunDetails {
  readonly run: RunRecord;
  readonly metrics: RunMetrics;
  readonly errors: readonly ErrorRecord[];
  readonly deadLetters: readonly DeadLetter[];
  readonly context: ContextSnapshot;
  /** Every executed attempt, oldest first; undefined when the store keeps no history. */
  readonly history: readonly StepRecord[] | undefined;
  /** Workers holding the run's items now (none once the run is final). */
  readonly holders: readonly RunHolder[];
}

/** Reads one run's details. Throws `RunNotFoundError` for an unknown run. */
export async function readRunDetails(backend: RunsStore, runId: string): Promise<RunDetails> {
  const run = await backend.getRun(runId);
  if (!run) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
  const [metrics, errors, deadLetters, context, workers, history] = await Promise.all([
    backend.metrics(runId),
    backend.errors(runId),
    backend.deadLetters(runId),
    backend.readContext(runId),
    isFinalRunStatus(run.status) ? Promise.resolve([]) : backend.listWorkers(),
    supportsObservation(backend) ? backend.stepHistory(runId) : Promise.resolve(undefined),
  ]);
  const holders = workers
    .map((worker) => ({ worker, items: worker.health.current.filter((c) => c.runId === runId).map((c) => c.itemId) }))
    .filter((h) => h.items.length > 0);
  return { run, metrics, errors, deadLetters, context, history, holders };
}

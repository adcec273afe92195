/**
 * Sending a signal to a run of a {@link RunsStore}: what `floxide runs signal` and the dashboard's signal action both
 * do. A distributed backend takes it through `Orchestrator.signal` (the oldest wait of that name, or the run's
 * mailbox); a checkpoint file through its own mailbox; a store without signals refuses it.
 */
import { InvalidArgumentError } from '../../runtime/core/errors.js';
import { supportsSignals } from '../../runtime/distributed/contracts.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import type { SignalDelivery } from '../../runtime/engine/parked.js';
import { isDistributed, type RunsStore } from './runs-store.js';

/**
 * Sends signal `name` with `payload` to run `runId`; `duplicate` for a repeated `key`. `kept`: whether it went to the
 * run's mailbox, as a distributed backend's delivering operation says (`Orchestrator.signalWithReceipt`); undefined on
 * a checkpoint file, whose mailbox every signal goes to until the process running the run reads it.
 */
export async function sendSignal(store: RunsStore, runId: string, name: string, payload: unknown, key?: string): Promise<{ readonly delivery: SignalDelivery; readonly kept?: boolean }> {
  if (isDistributed(store)) return new Orchestrator(store).signalWithReceipt(runId, name, payload, key === undefined ? {} : { key });
  // (a checkpoint file keeps every signal in its mailbox for the process running the run: where it goes is for that
  // process to say)
  if (supportsSignals(store)) return { delivery: (await store.signal(runId, name, payload, key)).delivery };
  throw new InvalidArgumentError(`the ${store.kind} store does not take signals`);
}

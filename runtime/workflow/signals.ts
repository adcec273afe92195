/**
 * The mailbox of a checkpointed run: its store, plus in-process wake-ups so that a run waiting in this process sees
 * a signal sent from it at once (signals from other processes are read every `signalPollMs`), and the runs this
 * process is creating, so that a signal sent right after `runWithCheckpoint` was called (before its first write)
 * waits for the run instead of finding no run.
 */
import type { Mailbox } from '../engine/parked.js';
import { cancelledRunError, type CheckpointStore } from '../stores/contract.js';
import { whenArrivalMarkMoves, type ArrivalMarked } from './arrival-poll.js';

const listeners = new WeakMap<CheckpointStore, Map<string, Set<() => void>>>();

/** Wakes the runs of `store` waiting in this process for a signal to `runId`. */
export function notifyArrival(store: CheckpointStore, runId: string): void {
  const set = listeners.get(store)?.get(runId);
  if (set) for (const fn of [...set]) fn();
}

/** The mailbox of checkpointed run `runId`: the store's, with wake-ups from {@link notifyArrival}. */
export function storeMailbox(store: CheckpointStore, runId: string): Mailbox {
  // the store's arrival mark when this run last read its mailbox (runtime/workflow/arrival-poll.ts)
  let seen: string | undefined;
  const marked = store.arrivalMark ? (store as CheckpointStore & ArrivalMarked) : undefined;
  return {
    take: (name, itemId) => store.takeSignal(runId, name, itemId),
    async check() {
      seen = marked?.arrivalMark();
      const run = await store.getRun(runId);
      if (run?.status === 'cancelled') throw cancelledRunError(run);
    },
    ...(marked ? { poll: (fn: () => void, pollMs: number) => whenArrivalMarkMoves(marked, seen, pollMs, fn) } : {}),
    onArrival(fn) {
      let byRun = listeners.get(store);
      if (!byRun) listeners.set(store, (byRun = new Map()));
      let set = byRun.get(runId);
      if (!set) byRun.set(runId, (set = new Set()));
      set.add(fn);
      return () => {
        set!.delete(fn);
        if (set!.size === 0) byRun!.delete(runId);
      };
    },
  };
}

const creating = new WeakMap<CheckpointStore, Map<string, Promise<unknown>>>();

/**
 * Registers that this process is creating run `runId` in `store` until `created` settles (call it before the first
 * await of the creating call, so that a signal sent right after that call finds it).
 */
export function creatingRun(store: CheckpointStore, runId: string, created: Promise<unknown>): void {
  let byRun = creating.get(store);
  if (!byRun) creating.set(store, (byRun = new Map()));
  byRun.set(runId, created);
  const done = () => {
    if (byRun.get(runId) === created) byRun.delete(runId);
  };
  created.then(done, done);
}

/** Settles once run `runId` of `store`, if this process is creating it, is written (or its creation failed). */
export async function runCreated(store: CheckpointStore, runId: string): Promise<void> {
  await creating.get(store)?.get(runId)?.catch(() => undefined);
}

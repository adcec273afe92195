/**
 * The poll of the runs waiting in this process for signals from other processes: one look per store and period
 * (`CheckpointStore.arrivalMark`, on SQLite an in-memory `data_version` read), and a run reads its mailbox only when the
 * mark moved since its last read. Before, each waiting run read the store (its run row, then each wait's signal) every
 * `signalPollMs`: 10,000 runs waiting in one process made 20,000 reads a second.
 */
import { systemClock } from '../core/time.js';

/** A store whose mark says whether a signal or a cancel may have come. */
export interface ArrivalMarked {
  arrivalMark(): string;
}

interface Waiter {
  /** The mark when the run last read its mailbox; undefined: it never did (it reads on the first look). */
  readonly seen: string | undefined;
  readonly fn: () => void;
}

interface Poller {
  readonly waiters: Set<Waiter>;
  stop: () => void;
}

const pollers = new WeakMap<ArrivalMarked, Map<number, Poller>>();

/**
 * Calls `fn` at the first look of `store`'s poller of period `pollMs` that finds its mark other than `seen` (or at the
 * first look when `seen` is undefined). Returns a function that cancels it.
 */
export function whenArrivalMarkMoves(store: ArrivalMarked, seen: string | undefined, pollMs: number, fn: () => void): () => void {
  let byPeriod = pollers.get(store);
  if (!byPeriod) pollers.set(store, (byPeriod = new Map()));
  let poller = byPeriod.get(pollMs);
  if (!poller) {
    const p: Poller = { waiters: new Set(), stop: () => undefined };
    const look = () => {
      let mark: string | undefined;
      try {
        mark = store.arrivalMark();
      } catch {
        // (a store that cannot answer: every run looks for itself, as it did before)
      }
      for (const w of [...p.waiters]) {
        if (mark !== undefined && w.seen === mark) continue;
        p.waiters.delete(w);
        w.fn();
      }
      if (p.waiters.size > 0) p.stop = systemClock.setTimer(look, pollMs);
      else byPeriod!.delete(pollMs);
    };
    p.stop = systemClock.setTimer(look, pollMs);
    byPeriod.set(pollMs, (poller = p));
  }
  const w: Waiter = { seen, fn };
  poller.waiters.add(w);
  const mine = poller;
  return () => {
    mine.waiters.delete(w);
    if (mine.waiters.size > 0 || byPeriod!.get(pollMs) !== mine) return;
    mine.stop();
    byPeriod!.delete(pollMs);
  };
}

/**
 * The heartbeat of this process's claims (runtime/stores/ownership.ts): one timer per store, whatever the number of
 * runs this process holds on it. Every {@link OWNER_HEARTBEAT_MS} it refreshes all of them in one call
 * (`CheckpointStore.refreshClaims`: one transaction on SQLite), or one `claim(..., refresh)` each on a store without it.
 * A process holding 10,000 waiting runs wrote 10,000 transactions and armed 10,000 timers every 10 s before.
 */
import { OWNER_HEARTBEAT_MS, type RunOwner } from './ownership.js';

/** What a heartbeat needs of a store. */
export interface ClaimRefresher {
  claim?(runId: string, owner: RunOwner, refresh?: boolean): Promise<void>;
  /** One call for many: per claim, in order, undefined (refreshed) or the refusal `claim(..., true)` would throw. */
  refreshClaims?(claims: ReadonlyArray<{ runId: string; owner: RunOwner }>): Promise<ReadonlyArray<Error | undefined>>;
}

interface Held {
  readonly runId: string;
  readonly owner: RunOwner;
  /** Called with the refusal of a refresh (the claim is no longer this call's, or the run was cancelled). */
  readonly refused: (err: Error) => void;
}

interface Beat {
  readonly held: Set<Held>;
  readonly timer: ReturnType<typeof setInterval>;
}

const beats = new WeakMap<ClaimRefresher, Beat>();

/**
 * Keeps `owner`'s claim on `runId` fresh with the other claims of this process on `store`, until the function returned
 * is called; `refused` gets a refresh's refusal (the refresh of the others goes on). Needs `store.claim`.
 */
export function keepClaimFresh(store: ClaimRefresher, runId: string, owner: RunOwner, refused: (err: Error) => void): () => void {
  let beat = beats.get(store);
  if (!beat) {
    const held = new Set<Held>();
    const timer = setInterval(() => void refresh(store, [...held]), OWNER_HEARTBEAT_MS);
    timer.unref?.();
    beats.set(store, (beat = { held, timer }));
  }
  const mine: Held = { runId, owner, refused };
  beat.held.add(mine);
  return () => {
    const b = beats.get(store);
    if (!b) return;
    b.held.delete(mine);
    if (b.held.size > 0) return;
    clearInterval(b.timer);
    beats.delete(store);
  };
}

async function refresh(store: ClaimRefresher, held: Held[]): Promise<void> {
  if (held.length === 0) return;
  if (store.refreshClaims) {
    let refusals: ReadonlyArray<Error | undefined>;
    try {
      refusals = await store.refreshClaims(held.map((h) => ({ runId: h.runId, owner: h.owner })));
    } catch {
      // the store failed (the file locked past its busy timeout): the next beat tries again, as a failed claim() did
      return;
    }
    held.forEach((h, i) => {
      const err = refusals[i];
      if (err) h.refused(err);
    });
    return;
  }
  await Promise.all(held.map((h) => store.claim!(h.runId, h.owner, true).catch((err: unknown) => void (err instanceof Error && h.refused(err)))));
}

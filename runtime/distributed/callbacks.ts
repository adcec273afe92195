/**
 * The hooks a worker calls around each step it runs ({@link StepCallbacks}): what `floxide worker` prints and what a
 * traced worker records (tracing.ts) are made from them. Types only.
 */
import type { StepOutcome } from '../engine/types.js';
import type { CommitResult, LeasedItem } from './contracts.js';

/** Hooks called around each distributed step (all optional; errors they throw are ignored). */
export interface StepCallbacks {
  /** An item was claimed and is about to run. */
  onStarted?(lease: LeasedItem): void;
  /** The outcome was committed (or the store answered `duplicate` / `run_finished` / `lease_lost`). */
  onCommitted?(lease: LeasedItem, outcome: StepOutcome, result: CommitResult): void;
  /**
   * This worker moved the run of `lease` from the older version it leased it on (`lease.fingerprint`, one its
   * definition `accepts`) to its own version `to`, before running the item (docs/deploying.md "A safe change").
   */
  onMigrated?(lease: LeasedItem, to: string): void;
  /** The item was given back without a commit (worker stopping, lease lost, run finished, store unreachable). */
  onReleased?(lease: LeasedItem, reason: ReleaseReason, error?: unknown): void;
}

/** Why an item ended without a commit of this worker. */
export type ReleaseReason = 'stopping' | 'lease_lost' | 'run_finished' | 'fingerprint' | 'store_error';

/**
 * A worker's cache of each run's folded context, keyed by run id, with the context version it reflects: a lookup
 * reads only the deltas committed since (usually none: claims and commits carry the version and latest delta).
 */
import type { ContextCodec } from '../context/codec.js';
import { CorruptStateError } from '../core/errors.js';
import type { ContextDeltaRecord, ContextStore } from './contracts.js';
import { deltaName } from './stored-lease.js';

/** Runs whose folded context a worker keeps by default (a worker serving more runs than this re-reads contexts). */
export const DEFAULT_CONTEXT_CACHE_RUNS = 4096;

/**
 * The folded context of each run a worker serves, keyed by run id, with the version it reflects. A lookup reads
 * only the deltas committed since (one small read per step); least recently used runs are forgotten.
 */
export class ContextCache {
  private readonly entries = new Map<string, { version: number; ctx: unknown }>();

  constructor(
    private readonly codec: ContextCodec<unknown>,
    private readonly maxRuns = DEFAULT_CONTEXT_CACHE_RUNS,
  ) {}

  /**
   * The run's context as of the latest committed delta. The returned object is never mutated afterwards (newer
   * deltas are folded into a copy that replaces it), so a step may keep it as its base while other steps of the
   * same run refresh the cache; callers must not mutate it. `knownVersion` (the claim's `contextVersion`) skips
   * the read when the cache is already that current.
   */
  async current(store: ContextStore, runId: string, knownVersion?: number, lastDelta?: ContextDeltaRecord, initial?: unknown): Promise<unknown> {
    const hit = this.entries.get(runId);
    // A young run the claim brought whole (its initial context and, at version 1, its only delta): no read.
    if (!hit && initial !== undefined && (knownVersion === 0 || (knownVersion === 1 && lastDelta?.version === 1))) {
      const ctx = this.codec.revive(initial);
      if (knownVersion === 1) this.applyStored(ctx, lastDelta!);
      this.remember(runId, { version: knownVersion, ctx });
      return ctx;
    }
    // The claim told us the run's version: a cache at least that new has every delta committed before the claim.
    if (hit && knownVersion !== undefined && hit.version >= knownVersion) return hit.ctx;
    // One delta behind and the claim brought that delta: fold it, no read.
    if (hit && lastDelta !== undefined && lastDelta.version === knownVersion && hit.version === lastDelta.version - 1) {
      const ctx = this.codec.clone(hit.ctx);
      this.applyStored(ctx, lastDelta);
      hit.ctx = ctx;
      hit.version = lastDelta.version;
      this.entries.delete(runId);
      this.entries.set(runId, hit);
      return ctx;
    }
    if (hit) {
      const snap = await store.readContext(runId, hit.version);
      // Concurrent lookups of one run may finish out of order; each snapshot is contiguous from a version <= the
      // cached one, so applying only newer deltas keeps the fold exact.
      const fresh = snap.deltas.filter((d) => d.version > hit.version);
      if (fresh.length > 0) {
        const ctx = this.codec.clone(hit.ctx);
        let version = hit.version;
        for (const d of fresh) {
          if (d.version !== version + 1) break;
          this.applyStored(ctx, d);
          version = d.version;
        }
        hit.ctx = ctx;
        hit.version = version;
      }
      this.entries.delete(runId);
      this.entries.set(runId, hit);
      return hit.ctx;
    }
    const snap = await store.readContext(runId);
    const raced = this.entries.get(runId);
    if (raced && raced.version >= snap.version) return raced.ctx;
    const ctx = this.codec.revive(snap.initial);
    let version = 0;
    for (const d of snap.deltas) {
      this.applyStored(ctx, d);
      version = d.version;
    }
    this.remember(runId, { version, ctx });
    return ctx;
  }

  /** Folds a stored delta; one of the wrong shape for its merge strategies is a CorruptStateError naming it. */
  private applyStored(ctx: unknown, d: ContextDeltaRecord): void {
    try {
      this.codec.apply(ctx, d.delta);
    } catch (err) {
      if (!(err instanceof CorruptStateError)) throw err;
      throw new CorruptStateError(`${deltaName(d)}: ${err.message}`, { cause: err });
    }
  }

  private remember(runId: string, entry: { version: number; ctx: unknown }): void {
    this.entries.set(runId, entry);
    if (this.entries.size > this.maxRuns) this.entries.delete(this.entries.keys().next().value!);
  }

  /**
   * Folds a step's own committed delta when it is the only one since the cached version (the commit answered
   * `contextVersion` = cached + 1), so the next step of the run on this worker needs no read.
   */
  noteCommit(runId: string, delta: Record<string, unknown> | undefined, contextVersion: number): void {
    const hit = this.entries.get(runId);
    if (!hit || delta === undefined || hit.version !== contextVersion - 1) return;
    const ctx = this.codec.clone(hit.ctx);
    this.codec.apply(ctx, delta);
    hit.ctx = ctx;
    hit.version = contextVersion;
  }

  /** Drops a run (it finished). */
  forget(runId: string): void {
    this.entries.delete(runId);
  }
}


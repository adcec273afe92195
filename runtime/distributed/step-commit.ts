/**
 * A distributed step commit made ready for a backend: the engine's {@link planCommit} (validation, encoding and
 * every decision of the step's commit) plus what only the distributed contract has, the lease token and the
 * successor hand-off request. Every backend (memory, Redis, Postgres) calls {@link planStepCommit} and applies the
 * result atomically; none validates or encodes a commit on its own.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { assertWorkerId, storedJson } from '../core/ids.js';
import { assertPositiveMs, assertString } from '../core/validate.js';
import { canonicalJson } from '../core/json.js';
import { assertEngineItem } from '../engine/validate.js';
import { planCommit, type CommitPlan } from '../engine/commit.js';
import type { StepCommit } from './contracts.js';

export interface StepCommitPlan {
  readonly runId: string;
  readonly itemId: string;
  readonly leaseToken: string;
  readonly plan: CommitPlan;
  /** The hand-off request, its lease rounded up to whole ms ({@link StepCommit.handoff}). */
  readonly handoff: { readonly workerId: string; readonly leaseMs: number; readonly fingerprint: string | undefined } | undefined;
  /** Canonical JSON of {@link StepCommit.deadLetterItem}: what the dead letter keeps instead of the stored item. */
  readonly deadLetterItem: string | undefined;
}

/** Validates and encodes one commit. Throws `InvalidArgumentError` (nothing sent, nothing changed) for bad input. */
export function planStepCommit(commit: StepCommit): StepCommitPlan {
  if (typeof commit !== 'object' || commit === null) throw new InvalidArgumentError('a commit must be an object');
  const plan = planCommit(commit);
  assertString(commit.leaseToken, 'leaseToken');
  const h = commit.handoff;
  if (h !== undefined) {
    if (typeof h !== 'object' || h === null) throw new InvalidArgumentError('handoff must be { workerId, leaseMs }');
    assertWorkerId(h.workerId);
    assertPositiveMs(h.leaseMs, 'handoff.leaseMs');
    if (h.fingerprint !== undefined) assertString(h.fingerprint, 'handoff.fingerprint');
  }
  const dead = commit.deadLetterItem;
  if (dead !== undefined) {
    if (plan.type !== 'failed') throw new InvalidArgumentError('deadLetterItem goes with a failed outcome only');
    assertEngineItem(dead, 'deadLetterItem');
    if (dead.id !== commit.itemId) throw new InvalidArgumentError(`deadLetterItem has id ${JSON.stringify(dead.id)}, the commit is of item ${JSON.stringify(commit.itemId)}`);
  }
  return {
    runId: commit.runId,
    itemId: commit.itemId,
    leaseToken: commit.leaseToken,
    plan,
    handoff: h === undefined ? undefined : { workerId: h.workerId, leaseMs: Math.ceil(h.leaseMs), fingerprint: h.fingerprint },
    deadLetterItem: dead === undefined ? undefined : storedJson(dead),
  };
}

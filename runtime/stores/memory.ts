/**
 * In-memory {@link CheckpointStore} for tests and short-lived processes. It stores JSON text, never live objects,
 * so it behaves like the durable stores: nothing read back shares state with the running workflow.
 */
import { arrivalJson } from '../engine/commit.js';
import { ParkedGroups } from '../engine/joins.js';
import type { EngineItem, JoinArrival } from '../engine/types.js';
import type { StepRecord } from '../engine/events.js';
import { FingerprintMismatchError, RunInputMismatchError, RunNotFoundError, RunStateError, type SerializedError } from '../core/errors.js';
import {
  renamedItem,
  movedRunError,
  stepRecordsOf,
  type Checkpoint,
  type CheckpointFailedStep,
  type CheckpointMigration,
  type CheckpointStore,
  type CheckpointCommitResult,
  type NewCheckpointRun,
  type CheckpointRun,
  type CheckpointStatus,
  type CheckpointStepCommit,
  type CheckpointTerminalCommit,
  type PendingSignal,
  type SignalDelivery,
} from './contract.js';
import { assertRunId } from '../core/ids.js';
import { assertClaimable, assertHeld, assertRefreshable, type RunOwner } from './ownership.js';
import { assertTraceparent } from '../core/trace-context.js';
import { canonicalJson, runInputJson, safeJsonParse, toJson } from '../core/json.js';
import { tailLimit, tailOf, type TailOptions } from '../core/validate.js';
import { planSignal, repeatedSignal } from '../core/signal-plan.js';
import { versionMovesOf } from '../engine/migration.js';

interface MemRun {
  runId: string;
  workflow: string;
  fingerprint: string;
  input: string;
  context: string;
  status: CheckpointStatus;
  deadline: number | undefined;
  traceparent: string | undefined;
  output: string | undefined;
  error: string | undefined;
  dropped: string;
  counter: number;
  steps: number;
  createdAt: number;
  updatedAt: number;
  /** Set by version moves (`VersionMoves`). */
  startedOn?: string;
  migratedAt?: number;
  committed: Set<string>;
  deltas: string[];
  /** Pending items by id, in queue order (Map insertion order). */
  items: Map<string, string>;
  /** Parked join arrivals (their stored JSON) by group. */
  groups: ParkedGroups;
  /** The mailbox: every signal kept, oldest first, with the wait item it was given to. */
  /** `digest`: the payload's, for a signal with a key (core/signal-plan.ts `signalDigest`). */
  signals: Array<{ name: string; payload: string; key: string | undefined; digest: string | undefined; at: number; itemId: string | undefined }>;
  /** The step history: each record's JSON, oldest first. */
  history: string[];
  /** The call running the run (ownership.ts), and when it last claimed it. */
  owner?: RunOwner;
  ownerSeen?: number;
}

/** Checkpoints kept in process memory (lost on exit). */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly runs = new Map<string, MemRun>();
  /** Signals and cancels asked of this store ({@link arrivalMark}). */
  private arrivals = 0;

  async createRun(run: NewCheckpointRun): Promise<boolean> {
    assertRunId(run.runId);
    assertTraceparent(run.traceparent);
    const input = runInputJson(run.input);
    const existing = this.runs.get(run.runId);
    if (existing) {
      if (existing.input !== input) throw new RunInputMismatchError(`run ${run.runId} already exists with a different input`);
      return false;
    }
    const now = Date.now();
    this.runs.set(run.runId, {
      runId: run.runId,
      workflow: run.workflow,
      fingerprint: run.fingerprint,
      input,
      context: toJson(run.context, 'the initial context'),
      status: 'running',
      deadline: run.deadline,
      traceparent: run.traceparent,
      output: undefined,
      error: undefined,
      dropped: '[]',
      counter: 0,
      steps: 0,
      createdAt: now,
      updatedAt: now,
      committed: new Set(),
      deltas: [],
      items: new Map([[run.start.id, toJson(run.start, 'the start item')]]),
      groups: new ParkedGroups(),
      signals: [],
      history: [],
    });
    return true;
  }

  async load(runId: string): Promise<Checkpoint | undefined> {
    assertRunId(runId);
    const r = this.runs.get(runId);
    if (!r) return undefined;
    return {
      run: this.record(r),
      context: safeJsonParse(r.context, `run ${runId} context`),
      deltas: r.deltas.map((d, i) => safeJsonParse(d, `run ${runId} delta ${i}`) as Record<string, unknown>),
      items: [...r.items.values()].map((t) => safeJsonParse(t, `run ${runId} item`) as EngineItem),
      arrivals: r.groups.parkedJson().map((t) => safeJsonParse(t, `run ${runId} join arrival`) as JoinArrival),
    };
  }

  async getRun(runId: string): Promise<CheckpointRun | undefined> {
    assertRunId(runId);
    const r = this.runs.get(runId);
    return r ? this.record(r) : undefined;
  }

  async commitStep(runId: string, commit: CheckpointStepCommit): Promise<CheckpointCommitResult> {
    const r = this.running(runId, commit.fingerprint, commit.owner);
    if (r.committed.has(commit.itemId)) return { applied: false, created: [] };
    // Serialise everything first: a failure must leave the run untouched (all or nothing).
    const items = commit.items.map((it) => [it.id, toJson(it, 'a work item')] as const);
    const delta = commit.delta === undefined ? undefined : toJson(commit.delta, 'the context delta');
    const arrivals = commit.arrivals.map((a) => ({ group: a.group, index: a.index, size: a.size, node: a.held ? undefined : a.node, json: arrivalJson(a) }));
    r.committed.add(commit.itemId);
    r.items.delete(commit.itemId);
    for (const [id, text] of items) r.items.set(id, text);
    if (delta !== undefined) r.deltas.push(delta);
    const created: EngineItem[] = [];
    for (const a of arrivals) {
      const settlement = r.groups.park(a);
      if (settlement !== undefined) {
        const item = safeJsonParse(settlement, 'a settlement item') as EngineItem;
        r.items.set(item.id, settlement);
        created.push(item);
      }
    }
    r.counter = commit.counter;
    r.steps++;
    r.updatedAt = Date.now();
    if (commit.history) this.remember(r, stepRecordsOf(runId, commit.itemId, commit.history, 'continue', commit.history.error, undefined));
    return { applied: true, created };
  }

  async complete(runId: string, commit: CheckpointTerminalCommit): Promise<{ dropped: readonly EngineItem[] }> {
    const r = this.running(runId, commit.fingerprint, commit.owner);
    if (r.committed.has(commit.itemId)) throw new RunStateError(`run ${runId}: item ${commit.itemId} was already committed`);
    const output = toJson(commit.output, 'the run output');
    const delta = commit.delta === undefined ? undefined : toJson(commit.delta, 'the context delta');
    r.committed.add(commit.itemId);
    r.items.delete(commit.itemId);
    if (delta !== undefined) r.deltas.push(delta);
    const dropped = [...r.items.values()];
    r.items.clear();
    r.groups.clear();
    r.dropped = `[${dropped.join(',')}]`;
    r.output = output;
    r.status = 'completed';
    r.counter = commit.counter;
    r.steps++;
    r.updatedAt = Date.now();
    if (commit.history) this.remember(r, stepRecordsOf(runId, commit.itemId, commit.history, 'terminal', undefined, undefined));
    return { dropped: dropped.map((t) => safeJsonParse(t, 'a dropped item') as EngineItem) };
  }

  async fail(runId: string, error: SerializedError, step?: CheckpointFailedStep): Promise<void> {
    const r = this.existing(runId);
    if (r.status !== 'running') return;
    if (step?.owner) assertHeld(runId, r.owner, step.owner);
    r.status = 'failed';
    r.error = toJson(error, 'the error');
    r.updatedAt = Date.now();
    if (step) this.remember(r, stepRecordsOf(runId, step.itemId, step, 'failed', error, undefined));
  }

  async stepHistory(runId: string, options?: TailOptions): Promise<StepRecord[]> {
    const limit = tailLimit(options);
    const r = this.existing(runId);
    return tailOf(r.history, limit).map((t) => safeJsonParse(t, `run ${runId} step history`) as StepRecord);
  }

  async cancel(runId: string, reason?: SerializedError): Promise<boolean> {
    this.arrivals++;
    const r = this.existing(runId);
    if (r.status === 'completed' || r.status === 'cancelled') return false;
    r.status = 'cancelled';
    r.error = toJson(reason ?? { name: 'CancelledError', message: 'the run was cancelled', code: 'FLOXIDE_CANCELLED' }, 'the reason');
    r.updatedAt = Date.now();
    return true;
  }

  async reopen(runId: string): Promise<void> {
    const r = this.existing(runId);
    if (r.status === 'running') return;
    if (r.status !== 'failed') throw new RunStateError(`run ${runId} is ${r.status}; only a failed run can be reopened`);
    r.status = 'running';
    r.error = undefined;
    r.updatedAt = Date.now();
  }

  async claim(runId: string, owner: RunOwner, refresh?: boolean): Promise<void> {
    this.claimNow(runId, owner, refresh, Date.now());
  }

  async refreshClaims(claims: ReadonlyArray<{ runId: string; owner: RunOwner }>): Promise<ReadonlyArray<Error | undefined>> {
    const now = Date.now();
    return claims.map(({ runId, owner }) => {
      try {
        this.claimNow(runId, owner, true, now);
        return undefined;
      } catch (err) {
        return err as Error;
      }
    });
  }

  /**
   * Changes whenever a signal or a cancel was asked of this store since it was read (a run waiting in this process
   * reads its mailbox only then: runtime/workflow/arrival-poll.ts).
   */
  arrivalMark(): string {
    return String(this.arrivals);
  }

  async release(runId: string, owner: RunOwner): Promise<void> {
    const r = this.runs.get(runId);
    if (r?.owner?.id !== owner.id) return;
    r.owner = undefined;
    r.ownerSeen = undefined;
  }

  async migrate(runId: string, m: CheckpointMigration): Promise<void> {
    const r = this.existing(runId);
    if (r.status !== 'running' && r.status !== 'failed') throw new RunStateError(`run ${runId} is ${r.status}; only an open run can be migrated`);
    if (r.fingerprint !== m.from) throw new FingerprintMismatchError(`run ${runId} is on graph ${r.fingerprint}, not ${m.from}`);
    const items = [...r.items].map(([id, t]) => [id, toJson(renamedItem(safeJsonParse(t, `run ${runId} item`) as EngineItem, m.renames), 'a work item')] as const);
    r.items = new Map(items);
    r.startedOn ??= m.from;
    r.fingerprint = m.to;
    r.updatedAt = r.migratedAt = Date.now();
  }

  async signal(runId: string, name: string, payload: unknown, key?: string): Promise<SignalDelivery> {
    const plan = planSignal(runId, name, payload, key);
    this.arrivals++;
    const r = this.existing(runId);
    // a repeated key is a duplicate even after the run finished (a retried webhook is not an error), unless it came
    // with another name or payload (refused)
    const kept = key === undefined ? undefined : r.signals.find((x) => x.key === key);
    if (kept) return repeatedSignal(plan, kept);
    if (r.status === 'completed' || r.status === 'cancelled') throw new RunStateError(`run ${runId} is ${r.status}: it takes no more signals`);
    r.signals.push({ name, payload: plan.payload, key, digest: plan.digest, at: Date.now(), itemId: undefined });
    return 'delivered';
  }

  async takeSignal(runId: string, name: string, itemId: string): Promise<{ payload: unknown } | undefined> {
    const r = this.existing(runId);
    const x = r.signals.find((x) => x.itemId === itemId) ?? r.signals.find((x) => x.itemId === undefined && x.name === name);
    if (!x) return undefined;
    x.itemId = itemId;
    return { payload: safeJsonParse(x.payload, `run ${runId} signal ${name}`) };
  }

  async pendingSignals(runId: string): Promise<PendingSignal[]> {
    const r = this.existing(runId);
    return r.signals.filter((x) => x.itemId === undefined).map((x) => ({ name: x.name, payload: safeJsonParse(x.payload, `run ${runId} signal ${x.name}`), key: x.key, at: x.at }));
  }

  async close(): Promise<void> {
    // Nothing to release.
  }

  private remember(r: MemRun, records: readonly StepRecord[]): void {
    for (const rec of records) r.history.push(toJson(rec, 'a step history record'));
  }

  private claimNow(runId: string, owner: RunOwner, refresh: boolean | undefined, now: number): void {
    const r = this.existing(runId);
    if (refresh) assertRefreshable(runId, r.owner, owner, r.status);
    else assertClaimable(runId, r.owner, r.ownerSeen, owner, now);
    r.owner = owner;
    r.ownerSeen = now;
  }

  private existing(runId: string): MemRun {
    assertRunId(runId);
    const r = this.runs.get(runId);
    if (!r) throw new RunNotFoundError(`no run ${runId}`);
    return r;
  }

  /**
   * The running run `runId`, held by `owner` (ownership.ts `assertHeld`) and on graph `fingerprint` ({@link movedRunError})
   * when they are given.
   */
  private running(runId: string, fingerprint?: string, owner?: RunOwner): MemRun {
    const r = this.existing(runId);
    if (r.status !== 'running') throw new RunStateError(`run ${runId} is ${r.status}, not running`);
    if (owner) assertHeld(runId, r.owner, owner);
    if (fingerprint !== undefined && r.fingerprint !== fingerprint) throw movedRunError(runId, r.fingerprint, fingerprint);
    return r;
  }

  private record(r: MemRun): CheckpointRun {
    return {
      runId: r.runId,
      workflow: r.workflow,
      fingerprint: r.fingerprint,
      input: safeJsonParse(r.input, `run ${r.runId} input`),
      status: r.status,
      deadline: r.deadline,
      output: r.output === undefined ? undefined : safeJsonParse(r.output, `run ${r.runId} output`),
      error: r.error === undefined ? undefined : (safeJsonParse(r.error, `run ${r.runId} error`) as SerializedError),
      dropped: safeJsonParse(r.dropped, `run ${r.runId} dropped items`) as EngineItem[],
      counter: r.counter,
      steps: r.steps,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      ...(r.traceparent === undefined ? {} : { traceparent: r.traceparent }),
      ...versionMovesOf(r),
    };
  }
}

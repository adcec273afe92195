/**
 * Running one equivalence case in one mode and observing it (see observe.ts for what is observed and why).
 * Imported by the suite and by the crash child; no vitest here.
 */
import { contextCodecOf, InvalidSignalError, Orchestrator, WorkerPool, type AnyWorkflowDef, type CheckpointStore, type DistributedBackend, type RunRecord, type WorkflowEvent } from 'floxide';
import type { CaseSignal, EquivalenceCase, ModeName, Observed } from './cases.js';
import {
  DistributedStepRecorder,
  LocalStepRecorder,
  ObservedCheckpointStore,
  chainOf,
  eventLogFieldsOf,
  failureOfStored,
  failureOfThrown,
  normalize,
  normalizeOutput,
  type Brief,
  type FreezePoint,
  type RunOutcome,
  type StepRecord,
} from './observe.js';

/** Everything a mode observed of one run. */
export interface Observation extends Observed {
  readonly mode: ModeName;
  readonly steps: readonly StepRecord[];
  /** Nodes of the items still queued when the first terminal completed the run. */
  readonly dropped: readonly string[];
  /** Commits the store applied (local durable modes). */
  readonly commits?: number;
  /** How to reproduce the observation (the crash mode's seed and kill point), for failure messages. */
  readonly note?: string;
  /** What the senders got for the case's signals that say their `answer` (not kept by the crash mode). */
  readonly answers?: readonly string[];
}

/** The run id of a case (in every store). */
export const runIdOf = (c: EquivalenceCase): string => `eq-${c.name}`;

const runOptions = (c: EquivalenceCase) => (c.timeoutMs === undefined ? {} : { timeoutMs: c.timeoutMs });

/**
 * Calls `run` with the case's run options (and a signal, aborted right after the call for a case that is cancelled
 * at start) and settles it into an outcome.
 */
function settle(
  c: EquivalenceCase,
  run: (options: { signal?: AbortSignal; timeoutMs?: number }) => Promise<unknown>,
): Promise<{ result: RunOutcome; errorChain: Brief[] }> {
  const ac = c.cancelAtStart ? new AbortController() : undefined;
  const running = run({ ...runOptions(c), ...(ac ? { signal: ac.signal } : {}) });
  ac?.abort();
  return running.then(
    (output) => ({ result: { status: 'completed', output: normalizeOutput(output) }, errorChain: [] }),
    (err: unknown) => ({ result: { status: 'failed', failure: failureOfThrown(err) }, errorChain: chainOf(err) }),
  );
}

/** Sends one of a case's signals: `unchecked`, without the workflow's code (see `EquivalenceCase.signals`). */
type CaseSend = (name: string, payload: unknown, unchecked: boolean, key: string | undefined) => unknown;

/**
 * Sends `s` through `send` and answers what the sender got (see `EquivalenceCase.signals`' `answer`): a refusal the
 * case expects is an answer (its name and what differs); any other failure rejects.
 */
export async function answerOf(s: CaseSignal, send: CaseSend): Promise<string> {
  try {
    return String(await send(s.name, s.payload, s.unchecked === true, s.key));
  } catch (err) {
    if (s.answer === undefined || !s.answer.startsWith((err as Error).name)) throw err;
    return `${(err as Error).name} ${((err as { differs?: string[] }).differs ?? []).join(',')}`;
  }
}

/**
 * Sends a case's signals (see `EquivalenceCase.signals`) through `send`: `before()` the `before` ones, the `waiting`
 * ones after the first `wait.started` event (`onEvent`) or `waiting()`. A failed send fails the observation.
 */
class CaseSignals {
  private waitingSent = false;
  private sending: Promise<unknown> = Promise.resolve();
  /** The answers of the signals that say theirs, in the order sent. */
  readonly answers: string[] = [];

  constructor(
    private readonly c: EquivalenceCase,
    private readonly send: CaseSend,
  ) {}

  get any(): boolean {
    return (this.c.signals?.length ?? 0) > 0;
  }

  private async sendAll(when: CaseSignal['when']): Promise<void> {
    for (const s of this.c.signals ?? []) {
      if (s.when !== when) continue;
      const answer = await answerOf(s, this.send);
      if (s.answer !== undefined) this.answers.push(answer);
    }
  }

  async before(): Promise<void> {
    await this.sendAll('before');
  }

  waiting(): Promise<unknown> {
    if (this.waitingSent) return this.sending;
    this.waitingSent = true;
    this.sending = this.sendAll('waiting');
    return this.sending;
  }

  /** The run's `onEvent`, with `inner` called first. */
  onEvent(inner: (e: WorkflowEvent) => void): (e: WorkflowEvent) => void {
    return (e) => {
      inner(e);
      if (e.type === 'wait.started' && !this.waitingSent) setImmediate(() => void this.waiting());
    };
  }

  /** Every send settled (rejects with the first that failed). */
  done(): Promise<unknown> {
    return this.sending;
  }
}

/**
 * Sends through a typed sender what a case sends unchecked, where no unchecked sender exists (`run`'s handle): it
 * must refuse it with `InvalidSignalError` (nothing sent).
 */
function refusedByTypedSender(send: () => unknown): 'refused' {
  try {
    send();
  } catch (err) {
    if (err instanceof InvalidSignalError) return 'refused';
    throw err;
  }
  throw new Error('the typed handle sent a payload that fails the wait\'s check');
}

/** Resolves once `cond` holds (checked every macrotask turn). */
async function whenTrue(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setImmediate(r));
}

/** `run`: in memory; the context is the object the run mutated. A case with signals runs through `start`'s handle. */
export async function observeRun(c: EquivalenceCase): Promise<Observation> {
  const p = c.make();
  const recorder = new LocalStepRecorder(eventLogFieldsOf(p.wf.def), false);
  let dropped: string[] = [];
  let signals: CaseSignals | undefined;
  const { result, errorChain } = await settle(c, async (options) => {
    if (c.signals) {
      let send: CaseSend = () => undefined;
      signals = new CaseSignals(c, (name, payload, unchecked, key) => send(name, payload, unchecked, key));
      const onEvent = signals.onEvent((e) => {
        recorder.onEvent(e);
        if (e.type === 'run.completed') dropped = e.dropped.map((d) => d.node);
      });
      const h = p.wf.start(p.ctx, p.input, { onEvent, ...options });
      const keyed = (key: string | undefined) => (key === undefined ? {} : { key });
      send = (name, payload, unchecked, key) =>
        unchecked ? refusedByTypedSender(() => h.signal(name as never, payload as never, keyed(key))) : h.signal(name as never, payload as never, keyed(key));
      await signals.before();
      return h.result;
    }
    const r = await p.wf.runDetailed(p.ctx, p.input, { onEvent: recorder.onEvent, ...options });
    dropped = r.dropped.map((i) => i.node);
    return r.output;
  });
  await signals?.done();
  return { mode: 'run', result, errorChain, context: normalize(p.ctx), steps: recorder.records, dropped: dropped.sort(), answers: signals?.answers ?? [] };
}

/** The context a checkpoint store folds for a run (its initial context plus every committed delta). */
async function storedContext(def: AnyWorkflowDef, store: CheckpointStore, runId: string) {
  const cp = await store.load(runId);
  if (!cp) return { context: { $noCheckpoint: runId }, dropped: [] };
  const codec = contextCodecOf(def);
  const ctx = codec.revive(cp.context);
  for (const d of cp.deltas) codec.apply(ctx, d);
  return { context: normalize(ctx), dropped: cp.run.dropped.map((i) => i.node).sort() };
}

/** `runWithCheckpoint` on `store`: the context is the one the store folds. */
export async function observeCheckpoint(c: EquivalenceCase, mode: ModeName, store: CheckpointStore): Promise<Observation> {
  const p = c.make();
  const recorder = new LocalStepRecorder(eventLogFieldsOf(p.wf.def), true);
  const observed = new ObservedCheckpointStore(store, recorder);
  const runId = runIdOf(c);
  const signals = new CaseSignals(c, (name, payload, unchecked, key) =>
    unchecked ? store.signal(runId, name, payload, key) : p.wf.signal(store, runId, name as never, payload as never, key === undefined ? {} : { key }),
  );
  const { result, errorChain } = await settle(c, (options) => {
    const running = p.wf.runWithCheckpoint(p.ctx, p.input, observed, runId, { onEvent: signals.onEvent(recorder.onEvent), signalPollMs: 20, ...options });
    if (signals.any) void whenTrue(async () => (await store.getRun(runId)) !== undefined).then(() => signals.before());
    return running;
  });
  await signals.done();
  return { mode, result, errorChain, ...(await storedContext(p.wf.def, store, runId)), steps: recorder.records, commits: observed.commits, answers: signals.answers };
}

/**
 * The crash child's half: `runWithCheckpoint` on `store` until the run reaches `freeze`, where it stops for good
 * (the parent then kills the process). Each committed step's record goes to `onRecord` as it commits.
 */
export async function runUntilFrozen(c: EquivalenceCase, store: CheckpointStore, freeze: FreezePoint, onRecord: (r: StepRecord) => void): Promise<void> {
  const p = c.make();
  const recorder = new LocalStepRecorder(eventLogFieldsOf(p.wf.def), true, onRecord);
  const observed = new ObservedCheckpointStore(store, recorder, freeze);
  const runId = runIdOf(c);
  const running = p.wf.runWithCheckpoint(p.ctx, p.input, observed, runId, { onEvent: recorder.onEvent, signalPollMs: 20, ...runOptions(c) });
  if (c.signals) {
    // all of them as soon as the run exists: the mailbox keeps each for its wait
    await whenTrue(async () => (await store.getRun(runId)) !== undefined);
    for (const s of c.signals) {
      await answerOf(s, (name, payload, unchecked, key) =>
        unchecked ? store.signal(runId, name, payload, key) : p.wf.signal(store, runId, name as never, payload as never, key === undefined ? {} : { key }),
      );
    }
  }
  await running;
}

/** The parent's half: `resume` of a run the killed child left in `store`; `before` are the child's committed steps. */
export async function observeResume(c: EquivalenceCase, store: CheckpointStore, before: readonly StepRecord[], note: string): Promise<Observation> {
  const p = c.make();
  const recorder = new LocalStepRecorder(eventLogFieldsOf(p.wf.def), true);
  const observed = new ObservedCheckpointStore(store, recorder);
  const runId = runIdOf(c);
  const { result, errorChain } = await settle(c, () => p.wf.resume(observed, runId, { onEvent: recorder.onEvent, signalPollMs: 20 }));
  return { mode: 'resume-after-kill', result, errorChain, ...(await storedContext(p.wf.def, store, runId)), steps: [...before, ...recorder.records], note };
}

/** Runs `fn` once no other call holding `key` is running (one run per workflow and backend at a time). */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = new Promise<void>((r) => (release = r));
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/**
 * Distributed: a `WorkerPool` on `backend` serves the run (two workers with two items each in flight, or one worker
 * taking one item at a time for cases whose result depends on the order items run in). Step records come from the
 * workers' applied commits; the context is the one the backend folds. A pool serves every run of its workflow on
 * the backend, so runs of one workflow on one backend take turns (`lock`): each must be served by its own instance.
 */
export async function observeDistributed(c: EquivalenceCase, mode: ModeName, backend: DistributedBackend, lock: KeyedLock): Promise<Observation> {
  const p = c.make();
  const recorder = new DistributedStepRecorder(eventLogFieldsOf(p.wf.def));
  const runId = runIdOf(c);
  const orch = new Orchestrator(backend, p.wf);
  let answers: readonly string[] = [];
  const run = await lock.with(p.wf.def.name, async (): Promise<RunRecord> => {
    const pool = new WorkerPool(backend, p.wf.def, p.wf.instance, {
      size: c.serial ? 1 : 2,
      concurrency: c.serial ? 1 : 2,
      idPrefix: `eq-${c.name}`,
      idleMinMs: 1,
      idleMaxMs: 20,
      // A cancel reaches a running node through the heartbeat that learns of it.
      ...(c.cancelAtStart ? { heartbeatMs: 20 } : {}),
      callbacks: {
        onCommitted(lease, outcome, result) {
          if (lease.runId === runId && result.status === 'applied') recorder.committed(lease.item, lease.attempt, outcome);
        },
      },
    });
    const unchecked = new Orchestrator(backend);
    const signals = new CaseSignals(c, (name, payload, raw, key) => {
      const options = key === undefined ? {} : { key };
      return raw ? unchecked.signal(runId, name, payload, options) : orch.signal(runId, name as never, payload as never, options);
    });
    answers = signals.answers;
    if (!signals.any) await pool.start();
    try {
      await orch.startRun(p.ctx, p.input, { runId, ...runOptions(c) });
      if (c.cancelAtStart) await orch.cancel(runId, 'cancelled at start');
      if (signals.any) {
        await signals.before();
        await pool.start();
        if (c.signals!.some((s) => s.when === 'waiting')) {
          await whenTrue(async () => (await backend.itemStates(runId)).some((s) => s.status === 'parked') || (await backend.getRun(runId))?.status !== 'running');
          await signals.waiting();
        }
      }
      return await orch.waitForCompletion(runId, { timeoutMs: 30_000, pollMs: 5 });
    } finally {
      // Stopping drains the workers, so every commit callback has run before the records are read.
      await pool.stop();
    }
  });
  let result: RunOutcome;
  if (run.status === 'completed') result = { status: 'completed', output: normalizeOutput(run.output) };
  else if (run.status === 'failed') result = { status: 'failed', failure: failureOfStored(run.error, await backend.deadLetters(runId)) };
  else result = { status: 'failed', failure: { error: run.error?.name ?? `a ${run.status} run without an error` } };
  return {
    mode,
    result,
    errorChain: chainOf(run.error),
    context: normalize(await orch.context(runId)),
    steps: recorder.records,
    dropped: run.dropped.map((d) => d.node).sort(),
    answers,
  };
}

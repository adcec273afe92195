/**
 * Crash testing: runs a workflow once uninterrupted, then once per step boundary with the store's writer crashing
 * there, resumes each crashed run as a new process would (a fresh workflow instance over the same store), and checks
 * that every resumed run gives the same output and the same committed context as the uninterrupted one, plus a
 * check of your own for the side effects outside the workflow (emails, payments: the at-least-once part).
 *
 * A crash "before commit k" means step k ran (its node's side effects happened) and its commit never reached the
 * store; "after commit k" means the commit is stored and the process died before the next step. A run with n commits
 * has 2n - 1 crash points (after the last commit the run is complete: nothing is left to crash).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../core/json.js';
import { FloxideError, InvalidArgumentError, RunStateError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/time.js';
import { contextCodecOf } from '../context/codec.js';
import type { CheckpointStore } from '../stores/contract.js';
import { MemoryCheckpointStore } from '../stores/memory.js';
import type { ResumeOptions, Workflow } from '../workflow/bind.js';
import { VirtualClock } from './clock.js';
import { watchForStall } from './stall.js';
import type { Commit, CrashFailure, CrashOptions, CrashOutcome, CrashPoint, CrashRunResult, CrashScenario, CrashSignal, CrashTest, CrashTestReport, FinishedRun, ReferenceRun } from './crash-test.js';

/** The simulated death of the process that writes to the store. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** A run the kit stopped because it could no longer end (a signal of the test failed, or it waits for good). */
class StoppedRun extends FloxideError {
  override readonly name = 'StoppedRun';
  constructor(message: string, options?: ErrorOptions) {
    super('FLOXIDE_CRASH_TEST', message, options);
  }
}

/** A crash test found resumed runs that differ from the uninterrupted one, or fail; `failures` lists each. */
export class CrashTestError extends FloxideError {
  override readonly name = 'CrashTestError';
  constructor(readonly failures: readonly CrashFailure[]) {
    super('FLOXIDE_CRASH_TEST', `${failures.length} crash point(s) break the run:\n${failures.map((f) => `  ${describeCrash(f.crash)}: ${f.problem}`).join('\n')}`);
  }
}

/**
 * A failure of the uninterrupted run (or of your check on it): nothing to compare the crashed runs with. A
 * `FLOXIDE_CRASH_TEST` error saying so, the failure as its cause.
 */
function referenceError(what: string, err: unknown): FloxideError {
  if (err instanceof FloxideError && err.code === 'FLOXIDE_CRASH_TEST') return err;
  return new FloxideError('FLOXIDE_CRASH_TEST', `${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`, { cause: err });
}

/**
 * The scenario's store from the test's `store` (default a new `MemoryCheckpointStore`), checked to be new: one that
 * already holds the run, or cannot be read (closed after an earlier scenario), is a mistake of the test, said as such.
 */
async function freshStore(make: (() => CheckpointStore | Promise<CheckpointStore>) | undefined, runId: string): Promise<CheckpointStore> {
  if (!make) return new MemoryCheckpointStore();
  const store = await make();
  const advice = 'the crash test\'s store() must return a new, empty store for every scenario (the kit closes each one after its scenario)';
  let held: boolean;
  try {
    held = (await store.getRun(runId)) !== undefined;
  } catch (err) {
    throw new FloxideError('FLOXIDE_CRASH_TEST', `${advice}; the one it returned cannot be read: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (held) throw new FloxideError('FLOXIDE_CRASH_TEST', `${advice}; the one it returned already holds run ${runId}`);
  return store;
}

/** `crash before commit 3 (item 2, node charge)`. */
export function describeCrash(c: CrashPoint): string {
  return `crash ${c.phase} commit ${c.commit} (item ${c.itemId}, node ${c.node})`;
}

/** A store as one crashable process sees it: calls go through `store` until its writer dies at the crash point. */
interface CrashingStore {
  readonly store: CheckpointStore;
  readonly dead: () => boolean;
  /** Moves whenever the run writes (creates, commits, ends) or a wait takes a signal: see stall.ts. */
  readonly activity: () => number;
}

/**
 * A store whose writer dies at one crash point: from then on every call fails with {@link SimulatedCrash}, so the
 * crashed run writes nothing more (a dead process does not mark its run failed). Without a crash point it records
 * the commits it passes on. `onCreated` is called once the run's record is stored.
 */
function crashingStore(store: CheckpointStore, at: { commit: number; phase: 'before' | 'after' } | undefined, seen: Commit[], onCreated: () => void, die?: Die): CrashingStore {
  let dead = false;
  let activity = 0;
  const commitMethod = (name: 'commitStep' | 'complete') =>
    async (runId: string, commit: { itemId: string }) => {
      if (dead) throw new SimulatedCrash('the process is dead');
      activity += 1;
      seen.push({ itemId: commit.itemId });
      const n = seen.length;
      if (at?.commit === n && at.phase === 'before') {
        dead = true;
        die?.(seen);
        throw new SimulatedCrash(`crash before commit ${n}`);
      }
      const result = await (store[name] as (runId: string, commit: unknown) => Promise<unknown>).call(store, runId, commit);
      if (at?.commit === n && at.phase === 'after') {
        dead = true;
        die?.(seen);
        throw new SimulatedCrash(`crash after commit ${n}`);
      }
      return result;
    };
  const commitStep = commitMethod('commitStep');
  const complete = commitMethod('complete');
  const createRun: CheckpointStore['createRun'] = async (run) => {
    if (dead) throw new SimulatedCrash('the process is dead');
    activity += 1;
    const created = await store.createRun(run);
    onCreated();
    return created;
  };
  const takeSignal: CheckpointStore['takeSignal'] = async (...args) => {
    if (dead) throw new SimulatedCrash('the process is dead');
    const taken = await store.takeSignal(...args);
    if (taken) activity += 1;
    return taken;
  };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'commitStep') return commitStep;
      if (prop === 'complete') return complete;
      if (prop === 'createRun') return createRun;
      if (prop === 'takeSignal') return takeSignal;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (dead) return Promise.reject(new SimulatedCrash('the process is dead'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, dead: () => dead, activity: () => activity };
}

/**
 * The outside world's signals in one scenario: armed on the run's clock when the run is created, each sent through
 * the store of the process that is alive at that moment (the crashed one's until it dies, so that it wakes at once;
 * then the store itself, where the resumed run finds it).
 */
class SignalSender<S> {
  private armed = false;
  /** Timers of the signals not sent yet, with their names. */
  private readonly unsent = new Map<() => void, string>();
  private readonly sending = new Set<Promise<void>>();
  /** Names of the signals that arrived (or were due) after the run completed. */
  readonly late: string[] = [];
  /** Signals that could not be delivered, with why. */
  readonly errors: string[] = [];

  constructor(
    private readonly signals: readonly CrashSignal<S>[],
    private readonly clock: Clock,
    private readonly send: (signal: CrashSignal<S>, store: CheckpointStore) => Promise<unknown>,
    private readonly stores: { crashing: CrashingStore | undefined; raw: CheckpointStore },
    /** Stops the run being driven with a signal's failure (false when no run is: the failure is kept in {@link errors}). */
    private readonly stopRun: (reason: FloxideError) => boolean,
  ) {}

  /** Every signal of the test is sent (or cancelled as late): none is left to wake the run. */
  get settled(): boolean {
    return this.armed && this.unsent.size === 0 && this.sending.size === 0;
  }

  arm(): void {
    if (this.armed) return;
    this.armed = true;
    for (const signal of this.signals) {
      const cancel = this.clock.setTimer(() => {
        this.unsent.delete(cancel);
        this.track(this.deliver(signal));
      }, signal.afterMs ?? 0);
      this.unsent.set(cancel, signal.name);
    }
  }

  private track(p: Promise<void>): void {
    this.sending.add(p);
    void p.finally(() => this.sending.delete(p));
  }

  private async deliver(signal: CrashSignal<S>): Promise<void> {
    const { crashing, raw } = this.stores;
    try {
      try {
        await this.send(signal, crashing && !crashing.dead() ? crashing.store : raw);
      } catch (err) {
        if (!(err instanceof SimulatedCrash)) throw err;
        await this.send(signal, raw);
      }
    } catch (err) {
      if (err instanceof RunStateError) {
        this.late.push(signal.name);
        return;
      }
      // a run that waits for this signal would wait for good: the failure stops it (it is the scenario's failure)
      const problem = `signal ${signal.name}: ${err instanceof Error ? err.message : String(err)}`;
      if (!this.stopRun(new FloxideError('FLOXIDE_CRASH_TEST', problem, { cause: err }))) this.errors.push(problem);
    }
  }

  /** Once the run is over: cancels the signals not sent yet (they are late) and waits for those on their way. */
  async dispose(): Promise<void> {
    for (const [cancel, name] of this.unsent) {
      cancel();
      this.late.push(name);
    }
    this.unsent.clear();
    await Promise.all([...this.sending]);
  }
}

/** The runs of one scenario, wherever they execute (this process, or fresh ones). */
interface ScenarioRuns<O, C, W> {
  complete(): Promise<ReferenceRun<O, C>>;
  crash(at: { commit: number; phase: 'before' | 'after' }): Promise<CrashOutcome>;
  resume(): Promise<FinishedRun<O, C>>;
  /** The world, for your check once the scenario's runs are over. */
  world(): W;
  close(): Promise<void>;
}

/** How a crash at a point ends the process's writer: in this process, every later store call throws {@link SimulatedCrash}. */
export type Die = (seen: readonly Commit[]) => void;

/**
 * One scenario's runs in this process, over one store: the crashed run and its resume share the store and the
 * world, and each run gets a new workflow instance (node instances do not survive a crash).
 */
export class LocalScenario<I, O, C, W, S> implements ScenarioRuns<O, C, W> {
  private readonly stores: { crashing: CrashingStore | undefined; raw: CheckpointStore };
  private readonly signals: SignalSender<S>;
  /** Stops the run being driven (see {@link drive}); undefined between runs. */
  private stop: ((reason: FloxideError) => void) | undefined;

  constructor(
    private readonly test: CrashTest<I, O, C, W, S>,
    private readonly theWorld: W,
    store: CheckpointStore,
    private readonly runId: string,
    private readonly die?: Die,
  ) {
    this.stores = { crashing: undefined, raw: store };
    // Any instance of the workflow checks a payload the same way.
    const wf = test.workflow(theWorld);
    const stopRun = (reason: FloxideError) => {
      if (!this.stop) return false;
      this.stop(reason);
      return true;
    };
    this.signals = new SignalSender<S>(test.signals ?? [], test.options?.clock ?? systemClock, (sig, to) => wf.signal(to, runId, sig.name, sig.payload, { key: sig.key }), this.stores, stopRun);
  }

  world(): W {
    return this.theWorld;
  }

  async complete(): Promise<ReferenceRun<O, C>> {
    const commits: Commit[] = [];
    const nodes: Record<string, string> = {};
    const wf = this.test.workflow(this.theWorld);
    this.stores.crashing = crashingStore(this.stores.raw, undefined, commits, () => this.signals.arm(), this.die);
    const store = this.stores.crashing.store;
    let output: O;
    try {
      output = await this.drive((options) => wf.runWithCheckpoint(this.test.context(), this.test.input, store, this.runId, options), (e) => {
        if (e.type === 'step.started') nodes[e.itemId] = e.node;
      });
    } catch (err) {
      if (err instanceof StoppedRun) throw new FloxideError('FLOXIDE_CRASH_TEST', `the uninterrupted run: ${err.message}`, { cause: err.cause });
      throw err;
    }
    const run = await this.finish(wf, output);
    if (this.signals.errors.length > 0) throw new FloxideError('FLOXIDE_CRASH_TEST', `the uninterrupted run: ${this.signals.errors.join('; ')}`);
    return { ...run, commits, nodes };
  }

  async crash(at: { commit: number; phase: 'before' | 'after' }): Promise<CrashOutcome> {
    const seen: Commit[] = [];
    this.stores.crashing = crashingStore(this.stores.raw, at, seen, () => this.signals.arm(), this.die);
    const store = this.stores.crashing.store;
    try {
      const wf = this.test.workflow(this.theWorld);
      await this.drive((options) => wf.runWithCheckpoint(this.test.context(), this.test.input, store, this.runId, options));
      return { type: 'completed' };
    } catch (err) {
      if (err instanceof SimulatedCrash) return { type: 'crashed', seen };
      return { type: 'failed', message: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Resumes the crashed run as a new process would. `resend`: this process sends the test's signals again. */
  async resume(resend = false): Promise<FinishedRun<O, C>> {
    if (resend) this.signals.arm();
    // (a store of its own, never crashing: it counts what the run does, for the stall watch)
    this.stores.crashing = crashingStore(this.stores.raw, undefined, [], () => {});
    const store = this.stores.crashing.store;
    const wf = this.test.workflow(this.theWorld);
    return this.finish(wf, await this.drive((options) => wf.resume(store, this.runId, options)));
  }

  /**
   * Runs `start` with the test's options, on its virtual clock if it has one, until it settles. The kit stops the run
   * (through its abort signal: the run is cancelled) when it can no longer end: a signal of the test failed, or the
   * run waits for signals with none left to send (stall.ts); it then rejects with {@link StoppedRun}.
   */
  private async drive<T>(start: (options: ResumeOptions) => Promise<T>, onStep?: NonNullable<ResumeOptions['onEvent']>): Promise<T> {
    const options = this.test.options;
    const clock = options?.clock;
    const stopper = new AbortController();
    this.stop = (reason) => stopper.abort(reason);
    let stepping = false;
    let events = 0;
    const onEvent: NonNullable<ResumeOptions['onEvent']> = (e) => {
      events += 1;
      if (e.runId === this.runId && e.type === 'step.started') stepping = true;
      if (e.runId === this.runId && e.type === 'step.finished') stepping = false;
      onStep?.(e);
      options?.onEvent?.(e);
    };
    const crashing = this.stores.crashing!;
    // (a timer on a virtual clock may yet wake something: one the test's own code set to send a signal itself)
    const timersLeft = () => clock instanceof VirtualClock && clock.pending > 0;
    const probe = { quiet: () => this.signals.settled && !stepping && !timersLeft(), activity: () => events + crashing.activity() };
    const unwatch = watchForStall(this.stores.raw, this.runId, probe, (reason) => stopper.abort(reason));
    const signal = options?.signal ? AbortSignal.any([options.signal, stopper.signal]) : stopper.signal;
    try {
      const work = start({ ...options, signal, onEvent });
      return await (clock instanceof VirtualClock ? clock.until(work) : work);
    } catch (err) {
      if (stopper.signal.aborted) {
        const reason = stopper.signal.reason as FloxideError;
        throw new StoppedRun(reason.message, { cause: reason.cause });
      }
      throw err;
    } finally {
      unwatch();
      this.stop = undefined;
    }
  }

  /** What the signals could not do (an invalid payload, a store error). */
  signalErrors(): readonly string[] {
    return this.signals.errors;
  }

  private async finish(wf: Workflow<I, O, C, S>, output: O): Promise<FinishedRun<O, C>> {
    await this.signals.dispose();
    return { output, context: await wf.storedContext(this.stores.raw, this.runId), lateSignals: [...this.signals.late] };
  }

  async close(): Promise<void> {
    await this.signals.dispose();
    await this.stores.raw.close();
  }
}

/**
 * Runs `test` uninterrupted, then crashed at every step boundary in turn and resumed; throws a
 * {@link CrashTestError} naming every crash point whose resumed run failed, gave another output or committed
 * context, or failed your `check`. Resolves with what it ran. With `options.process`, every run is a fresh Node.js
 * process killed with SIGKILL at its crash point (see {@link CrashOptions}).
 */
export async function crashAtEveryStep<I, O, C, W = undefined, S = Record<never, never>>(
  test: CrashTest<I, O, C, W, S>,
  options?: CrashOptions,
): Promise<CrashTestReport<O, C>> {
  const runId = test.runId ?? 'crash-test';
  for (const s of test.signals ?? []) {
    if (s.afterMs !== undefined && !(typeof s.afterMs === 'number' && s.afterMs >= 0 && Number.isFinite(s.afterMs))) {
      throw new InvalidArgumentError(`crashAtEveryStep: signal ${s.name}: afterMs must be a finite number >= 0, not ${String(s.afterMs)}`);
    }
  }
  const clock = test.options?.clock;
  const open: (scenario: CrashScenario) => Promise<ScenarioRuns<O, C, W> & { signalErrors?(): readonly string[] }> = options?.process
    ? (await import('./crash-process.js')).processScenarios(test, options.process, runId)
    : async (scenario) => {
        // every scenario starts at the same time, as each process of one with `process` does
        if (clock instanceof VirtualClock) clock.reset();
        const world = (test.world ?? (() => undefined as W))(scenario);
        return new LocalScenario(test, world, await freshStore(test.store, runId), runId);
      };
  const inScenario = async <T>(fn: (runs: ScenarioRuns<O, C, W>) => Promise<T>): Promise<{ value: T; signalErrors: readonly string[] }> => {
    const dir = await mkdtemp(join(tmpdir(), 'floxide-crash-'));
    try {
      const runs = await open({ dir });
      try {
        const value = await fn(runs);
        return { value, signalErrors: runs.signalErrors?.() ?? [] };
      } finally {
        await runs.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  // The uninterrupted run: the reference, and how many commits there are to crash at.
  const { value: ref } = await inScenario(async (runs) => {
    let run: ReferenceRun<O, C>;
    try {
      run = await runs.complete();
    } catch (err) {
      throw referenceError('the uninterrupted run failed', err);
    }
    const reference: CrashRunResult<O, C> = { crash: undefined, output: run.output, context: run.context, lateSignals: run.lateSignals };
    try {
      await test.check?.(reference, runs.world());
    } catch (err) {
      throw referenceError('your check failed on the uninterrupted run', err);
    }
    return { run, reference, codec: contextCodecOf<C>(test.workflow(runs.world()).def) };
  });
  const { run, reference, codec } = ref;
  const expected = { output: canonicalJson(reference.output), context: canonicalJson(codec.serialize(reference.context)) };
  const nodeOf = (itemId: string) => run.nodes[itemId] ?? '?';

  const points: Array<{ commit: number; phase: 'before' | 'after' }> = [];
  for (let k = 1; k <= run.commits.length; k++) {
    points.push({ commit: k, phase: 'before' });
    if (k < run.commits.length) points.push({ commit: k, phase: 'after' });
  }
  const crashes: CrashPoint[] = [];
  const failures: CrashFailure[] = [];
  for (const at of points) {
    const planned = run.commits[at.commit - 1]!.itemId;
    let crash: CrashPoint = { ...at, itemId: planned, node: nodeOf(planned) };
    const { signalErrors } = await inScenario(async (runs) => {
      const outcome = await runs.crash(at);
      if (outcome.type === 'completed') {
        failures.push({ crash, problem: 'the run completed without reaching this commit (the run is not deterministic: its steps differ from one run to the next)' });
        return;
      }
      if (outcome.type === 'failed') {
        failures.push({ crash, problem: `the run failed before the crash: ${outcome.message}` });
        return;
      }
      const itemId = outcome.seen[at.commit - 1]?.itemId ?? planned;
      crash = { ...crash, itemId, node: nodeOf(itemId) };
      crashes.push(crash);
      let result: CrashRunResult<O, C>;
      try {
        const resumed = await runs.resume();
        result = { crash, ...resumed };
      } catch (err) {
        failures.push({ crash, problem: `the resumed run failed: ${err instanceof Error ? err.message : String(err)}` });
        return;
      }
      const got = { output: canonicalJson(result.output), context: canonicalJson(codec.serialize(result.context)) };
      if (got.output !== expected.output) failures.push({ crash, problem: `output ${got.output}, uninterrupted ${expected.output}` });
      if (got.context !== expected.context) failures.push({ crash, problem: `committed context ${got.context}, uninterrupted ${expected.context}` });
      try {
        await test.check?.(result, runs.world());
      } catch (err) {
        failures.push({ crash, problem: `your check failed: ${err instanceof Error ? err.message : String(err)}` });
      }
    });
    for (const problem of signalErrors) failures.push({ crash, problem });
  }
  if (failures.length > 0) throw new CrashTestError(failures);
  return { reference, commits: run.commits.length, crashes };
}

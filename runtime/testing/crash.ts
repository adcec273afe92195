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
import { canonicalJson } from '../core/json.js';
import { FloxideError, RunStateError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/time.js';
import { contextCodecOf } from '../context/codec.js';
import type { CheckpointStore } from '../stores/contract.js';
import { MemoryCheckpointStore } from '../stores/memory.js';
import type { ResumeOptions, Workflow } from '../workflow/bind.js';
import { VirtualClock } from './clock.js';

/** Where a run was crashed. */
export interface CrashPoint {
  /** The commit (1-based, in the run's commit order) the crash is placed at... */
  readonly commit: number;
  /** ...before the store applied it (the step ran, its commit is lost) or right after it. */
  readonly phase: 'before' | 'after';
  /** The id of the item whose step that commit is (the idempotency key `ctx.itemId` its node saw). */
  readonly itemId: string;
  /** The node that ran that step. */
  readonly node: string;
}

/** A completed run as the crash test saw it. */
export interface CrashRunResult<O, C> {
  /** Where this run was crashed and resumed; undefined for the uninterrupted run. */
  readonly crash: CrashPoint | undefined;
  readonly output: O;
  /** The run's committed context (initial context plus every committed delta). */
  readonly context: C;
  /** Names of the test's signals that arrived after the run had completed (they changed nothing). */
  readonly lateSignals: readonly string[];
}

/**
 * A signal the outside world sends to the run (a person approving, a webhook calling back): `afterMs` after the run
 * is created, on the run's clock, through `Workflow.signal`. Like the world, it survives the crash: a signal due
 * while the writer is dead is stored for the resumed run to find, as a real one would be.
 */
export type CrashSignal<S> = {
  [N in keyof S & string]: {
    readonly name: N;
    readonly payload: S[N];
    /** Idempotency key (the second signal with a key already used is `duplicate`). */
    readonly key?: string;
    /** Delay after the run is created, in ms on the run's clock (default 0: at once). */
    readonly afterMs?: number;
  };
}[keyof S & string];

/** What {@link crashAtEveryStep} needs to run one scenario. */
export interface CrashTest<I, O, C, W = undefined, S = Record<never, never>> {
  /**
   * The world outside the workflow for one scenario (a fake mailbox, a payment ledger): made once per scenario, before
   * its first run, and kept across the crash, as a real outside world is. Default: none.
   */
  readonly world?: () => W;
  /** A new bound workflow, as a freshly started process builds it: called for each run and again for each resume. */
  readonly workflow: (world: W) => Workflow<I, O, C, S>;
  /** The run's initial context (a fresh one is asked for each scenario). */
  readonly context: () => C;
  readonly input: I;
  /**
   * Your check after each completed run, the uninterrupted one included: inspect `world` for side effects that
   * happened twice. Throw (or fail an `expect`) to report a problem.
   */
  readonly check?: (run: CrashRunResult<O, C>, world: W) => void | Promise<void>;
  /** A new, empty store per scenario (default: a `MemoryCheckpointStore`). It is closed after its scenario. */
  readonly store?: () => CheckpointStore | Promise<CheckpointStore>;
  /** Options of every run and resume. With a {@link VirtualClock} as `clock`, each run is driven by `clock.until`. */
  readonly options?: ResumeOptions;
  /** The run id used in every scenario (default `"crash-test"`). */
  readonly runId?: string;
  /**
   * Signals sent to the run of every scenario, for workflows with `WaitFor` nodes (without them such a run waits
   * until its timeout). A signal that arrives after the run completed is ignored (`late` in the report).
   */
  readonly signals?: readonly CrashSignal<S>[];
}

/** One crash point whose resumed run did not match, or failed. */
export interface CrashFailure {
  readonly crash: CrashPoint;
  readonly problem: string;
}

/** What {@link crashAtEveryStep} ran. */
export interface CrashTestReport<O, C> {
  /** The uninterrupted run. */
  readonly reference: CrashRunResult<O, C>;
  /** Commits of the uninterrupted run (steps plus the terminal one). */
  readonly commits: number;
  /** Every crash point tried, in order. */
  readonly crashes: readonly CrashPoint[];
}

/** The simulated death of the process that writes to the store. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** A crash test found resumed runs that differ from the uninterrupted one, or fail; `failures` lists each. */
export class CrashTestError extends FloxideError {
  override readonly name = 'CrashTestError';
  constructor(readonly failures: readonly CrashFailure[]) {
    super('FLOXIDE_CRASH_TEST', `${failures.length} crash point(s) break the run:\n${failures.map((f) => `  ${describeCrash(f.crash)}: ${f.problem}`).join('\n')}`);
  }
}

/** `crash before commit 3 (item 2, node charge)`. */
export function describeCrash(c: CrashPoint): string {
  return `crash ${c.phase} commit ${c.commit} (item ${c.itemId}, node ${c.node})`;
}

interface Commit {
  readonly itemId: string;
}

/** A store as one crashable process sees it: calls go through `store` until its writer dies at the crash point. */
interface CrashingStore {
  readonly store: CheckpointStore;
  readonly dead: () => boolean;
}

/**
 * A store whose writer dies at one crash point: from then on every call fails with {@link SimulatedCrash}, so the
 * crashed run writes nothing more (a dead process does not mark its run failed). Without a crash point it records
 * the commits it passes on. `onCreated` is called once the run's record is stored.
 */
function crashingStore(store: CheckpointStore, at: { commit: number; phase: 'before' | 'after' } | undefined, seen: Commit[], onCreated: () => void): CrashingStore {
  let dead = false;
  const commitMethod = (name: 'commitStep' | 'complete') =>
    async (runId: string, commit: { itemId: string }) => {
      if (dead) throw new SimulatedCrash('the process is dead');
      seen.push({ itemId: commit.itemId });
      const n = seen.length;
      if (at?.commit === n && at.phase === 'before') {
        dead = true;
        throw new SimulatedCrash(`crash before commit ${n}`);
      }
      const result = await (store[name] as (runId: string, commit: unknown) => Promise<unknown>).call(store, runId, commit);
      if (at?.commit === n && at.phase === 'after') {
        dead = true;
        throw new SimulatedCrash(`crash after commit ${n}`);
      }
      return result;
    };
  const commitStep = commitMethod('commitStep');
  const complete = commitMethod('complete');
  const createRun: CheckpointStore['createRun'] = async (run) => {
    if (dead) throw new SimulatedCrash('the process is dead');
    const created = await store.createRun(run);
    onCreated();
    return created;
  };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'commitStep') return commitStep;
      if (prop === 'complete') return complete;
      if (prop === 'createRun') return createRun;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (dead) return Promise.reject(new SimulatedCrash('the process is dead'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, dead: () => dead };
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
  ) {}

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
      if (err instanceof RunStateError) this.late.push(signal.name);
      else this.errors.push(`signal ${signal.name}: ${err instanceof Error ? err.message : String(err)}`);
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

/**
 * Runs `test` uninterrupted, then crashed at every step boundary in turn and resumed; throws a
 * {@link CrashTestError} naming every crash point whose resumed run failed, gave another output or committed
 * context, or failed your `check`. Resolves with what it ran.
 */
export async function crashAtEveryStep<I, O, C, W = undefined, S = Record<never, never>>(test: CrashTest<I, O, C, W, S>): Promise<CrashTestReport<O, C>> {
  const runId = test.runId ?? 'crash-test';
  const newStore = test.store ?? (() => new MemoryCheckpointStore());
  const makeWorld = test.world ?? (() => undefined as W);
  const clock = test.options?.clock;
  const drive = <T>(work: Promise<T>): Promise<T> => (clock instanceof VirtualClock ? clock.until(work) : work);
  /** The scenario's signals, sent by `wf` (any instance of the workflow checks a payload the same way). */
  const sender = (wf: Workflow<I, O, C, S>, stores: { crashing: CrashingStore | undefined; raw: CheckpointStore }) =>
    new SignalSender<S>(test.signals ?? [], clock ?? systemClock, (sig, store) => wf.signal(store, runId, sig.name, sig.payload, { key: sig.key }), stores);

  // The uninterrupted run: the reference, and how many commits there are to crash at.
  const world0 = makeWorld();
  const store0 = await newStore();
  const commits: Commit[] = [];
  // Item ids are deterministic (a resumed run numbers its items as the first did): the node of each, from the reference run.
  const nodes = new Map<string, string>();
  let reference: CrashRunResult<O, C>;
  try {
    const wf = test.workflow(world0);
    const userOnEvent = test.options?.onEvent;
    const onEvent: NonNullable<ResumeOptions['onEvent']> = (e) => {
      if (e.type === 'step.started') nodes.set(e.itemId, e.node);
      userOnEvent?.(e);
    };
    const stores = { crashing: undefined as CrashingStore | undefined, raw: store0 };
    const signals = sender(wf, stores);
    stores.crashing = crashingStore(store0, undefined, commits, () => signals.arm());
    try {
      const output = await drive(wf.runWithCheckpoint(test.context(), test.input, stores.crashing.store, runId, { ...test.options, onEvent }));
      await signals.dispose();
      reference = { crash: undefined, output, context: await wf.storedContext(store0, runId), lateSignals: [...signals.late] };
    } finally {
      await signals.dispose();
    }
    if (signals.errors.length > 0) throw new FloxideError('FLOXIDE_CRASH_TEST', `the uninterrupted run: ${signals.errors.join('; ')}`);
  } finally {
    await store0.close();
  }
  await test.check?.(reference, world0);
  const codec = contextCodecOf<C>(test.workflow(makeWorld()).def);
  const expected = { output: canonicalJson(reference.output), context: canonicalJson(codec.serialize(reference.context)) };

  const points: Array<{ commit: number; phase: 'before' | 'after' }> = [];
  for (let k = 1; k <= commits.length; k++) {
    points.push({ commit: k, phase: 'before' });
    if (k < commits.length) points.push({ commit: k, phase: 'after' });
  }
  const crashes: CrashPoint[] = [];
  const failures: CrashFailure[] = [];
  for (const at of points) {
    const world = makeWorld();
    const store = await newStore();
    const seen: Commit[] = [];
    const itemOf = (commits: readonly Commit[]) => commits[at.commit - 1]!.itemId;
    let crash: CrashPoint = { ...at, itemId: itemOf(commits), node: nodes.get(itemOf(commits)) ?? '?' };
    const crashed = test.workflow(world);
    const stores = { crashing: undefined as CrashingStore | undefined, raw: store };
    const signals = sender(crashed, stores);
    stores.crashing = crashingStore(store, at, seen, () => signals.arm());
    try {
      try {
        await drive(crashed.runWithCheckpoint(test.context(), test.input, stores.crashing.store, runId, test.options));
        failures.push({ crash, problem: 'the run completed without reaching this commit (the run is not deterministic: its steps differ from one run to the next)' });
        continue;
      } catch (err) {
        if (!(err instanceof SimulatedCrash)) {
          failures.push({ crash, problem: `the run failed before the crash: ${err instanceof Error ? err.message : String(err)}` });
          continue;
        }
      }
      crash = { ...crash, itemId: itemOf(seen), node: nodes.get(itemOf(seen)) ?? '?' };
      crashes.push(crash);
      const wf = test.workflow(world);
      let result: CrashRunResult<O, C>;
      try {
        const output = await drive(wf.resume(store, runId, test.options));
        await signals.dispose();
        result = { crash, output, context: await wf.storedContext(store, runId), lateSignals: [...signals.late] };
      } catch (err) {
        failures.push({ crash, problem: `the resumed run failed: ${err instanceof Error ? err.message : String(err)}` });
        continue;
      }
      const got = { output: canonicalJson(result.output), context: canonicalJson(codec.serialize(result.context)) };
      if (got.output !== expected.output) failures.push({ crash, problem: `output ${got.output}, uninterrupted ${expected.output}` });
      if (got.context !== expected.context) failures.push({ crash, problem: `committed context ${got.context}, uninterrupted ${expected.context}` });
      try {
        await test.check?.(result, world);
      } catch (err) {
        failures.push({ crash, problem: `your check failed: ${err instanceof Error ? err.message : String(err)}` });
      }
    } finally {
      await signals.dispose();
      for (const problem of signals.errors) failures.push({ crash, problem });
      await store.close();
    }
  }
  if (failures.length > 0) throw new CrashTestError(failures);
  return { reference, commits: commits.length, crashes };
}

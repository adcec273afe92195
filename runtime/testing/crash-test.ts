/**
 * The shapes of a crash test (runtime/testing/crash.ts runs one; crash-process.ts runs its scenarios in fresh
 * processes): what you give it, what it reports.
 */
import type { CheckpointStore } from '../stores/contract.js';
import type { RunOptions, Workflow } from '../workflow/bind.js';

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
   * its first run, and kept across the crash, as a real outside world is. Default: none. `scenario.dir` is an empty
   * folder of the scenario's own: with {@link CrashOptions.process}, every process makes the world again, so keep it
   * there (a ledger file) for it to survive the crash and reach your `check`.
   */
  readonly world?: (scenario: CrashScenario) => W;
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
  /**
   * Options of every run and resume (a `deadline` or `timeoutMs` is the run's: stored when it starts, kept by its
   * resume). With a {@link VirtualClock} as `clock`, each run is driven by `clock.until`, and the clock is reset to
   * its start before each scenario.
   */
  readonly options?: Omit<RunOptions, 'runId'>;
  /** The run id used in every scenario (default `"crash-test"`). */
  readonly runId?: string;
  /**
   * Signals sent to the run of every scenario, for workflows with `WaitFor` nodes (without them such a run waits
   * until its timeout; a run left waiting with no timeout and no signal to come is stopped, and the test fails naming
   * the wait). A signal that arrives after the run completed is ignored (`late` in the report); one that fails its
   * wait's check stops the run and fails the test with its message.
   */
  readonly signals?: readonly CrashSignal<S>[];
}

/** One scenario of a crash test: the uninterrupted run, or one crash point. */
export interface CrashScenario {
  /** A new empty folder of the scenario's own, removed after it. */
  readonly dir: string;
}

/** How {@link crashAtEveryStep} runs the scenarios. */
export interface CrashOptions {
  /**
   * Run each scenario's runs in fresh Node.js processes instead of this one: the run on a SQLite file in the
   * scenario's folder, killed with SIGKILL at the crash point, then resumed by a new process. `module` exports the
   * same {@link CrashTest} as `export` (default `default`); each process imports it. A TypeScript module is loaded
   * with `--import tsx` unless `execArgv` says otherwise. The test's `store` is not used (the file is the store), and
   * every process sends the test's signals again: give each one a `key` so that it is delivered once.
   */
  readonly process?: {
    readonly module: string | URL;
    readonly export?: string;
    readonly execArgv?: readonly string[];
  };
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

/** A commit the crashing store passed on (or was about to, at a crash before it). */
export interface Commit {
  readonly itemId: string;
}

/** A run as a scenario finished it: output, committed context, late signals. */
export interface FinishedRun<O, C> {
  readonly output: O;
  readonly context: C;
  readonly lateSignals: readonly string[];
}

/** The uninterrupted run, with its commits and the node of each item (item ids are the same in every run). */
export interface ReferenceRun<O, C> extends FinishedRun<O, C> {
  readonly commits: readonly Commit[];
  readonly nodes: Readonly<Record<string, string>>;
}

/** What became of a run meant to crash at a point. */
export type CrashOutcome = { readonly type: 'crashed'; readonly seen: readonly Commit[] } | { readonly type: 'completed' } | { readonly type: 'failed'; readonly message: string };

/**
 * Crash tests in fresh processes: each run of a scenario is a new Node.js process over a SQLite file in the
 * scenario's folder (runtime/testing/crash-child.ts), killed with SIGKILL at its crash point and resumed by the next.
 * The parent compares what the processes report and runs your check.
 */
import { safeJsonParse } from '../core/json.js';
import { FloxideError, reviveError, type SerializedError } from '../core/errors.js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { contextCodecOf, type ContextCodec } from '../context/codec.js';
import type { CrashOptions, CrashOutcome, CrashScenario, CrashTest, FinishedRun, ReferenceRun } from './crash-test.js';

/** What the parent asks of a crash-test child process (its one argument, as JSON). */
export interface CrashChildArgs {
  readonly module: string;
  readonly export: string;
  readonly dir: string;
  readonly runId: string;
  readonly mode: 'complete' | 'crash' | 'resume';
  readonly at?: { commit: number; phase: 'before' | 'after' };
}

/** What a child writes to `result.json` in the scenario folder when its run ends (the context serialised). */
export interface CrashChildResult {
  readonly completed: boolean;
  readonly output?: unknown;
  readonly context?: unknown;
  readonly lateSignals?: readonly string[];
  readonly commits?: readonly { itemId: string }[];
  readonly nodes?: Readonly<Record<string, string>>;
  readonly signalErrors: readonly string[];
}

/** Files of the child protocol, in the scenario folder. */
export const CHILD_FILES = { result: 'result.json', crash: 'crash.json', error: 'error.json', store: 'run.sqlite' } as const;

/** The code of the kit's own errors (`FLOXIDE_CRASH_TEST`), passed on from a child as it is. */
const CRASH_TEST_CODE = 'FLOXIDE_CRASH_TEST';

/** A child gets this long to finish its run before it is killed and the scenario fails. */
const CHILD_TIMEOUT_MS = 120_000;

/** Opens the scenarios of `test` in fresh processes. */
export function processScenarios<I, O, C, W, S>(test: CrashTest<I, O, C, W, S>, proc: NonNullable<CrashOptions['process']>, runId: string) {
  const module = proc.module instanceof URL ? proc.module.href : pathToFileURL(resolve(proc.module)).href;
  const here = import.meta.url;
  const child = fileURLToPath(new URL(here.endsWith('.ts') ? './crash-child.ts' : './crash-child.js', here));
  const typescript = (path: string) => /\.[cm]?tsx?$/.test(path);
  const execArgv = proc.execArgv ?? (typescript(child) || typescript(module) ? ['--import', 'tsx'] : []);
  return async (scenario: CrashScenario) => new ProcessScenario(test, { module, export: proc.export ?? 'default', runId, child, execArgv }, scenario);
}

interface ChildSetup {
  readonly module: string;
  readonly export: string;
  readonly runId: string;
  readonly child: string;
  readonly execArgv: readonly string[];
}

class ProcessScenario<I, O, C, W, S> {
  private readonly errors: string[] = [];
  private codecOf: ContextCodec<C> | undefined;
  /** The error the last failed child wrote (undefined when it died without writing one). */
  private childError: SerializedError | undefined;

  constructor(
    private readonly test: CrashTest<I, O, C, W, S>,
    private readonly setup: ChildSetup,
    private readonly scenario: CrashScenario,
  ) {}

  /** A new world over the scenario's folder (every process makes its own: what survives is what it keeps there). */
  world(): W {
    return (this.test.world ?? (() => undefined as W))(this.scenario);
  }

  private get codec(): ContextCodec<C> {
    return (this.codecOf ??= contextCodecOf<C>(this.test.workflow(this.world()).def));
  }

  async complete(): Promise<ReferenceRun<O, C>> {
    const r = await this.finished('complete');
    return { ...this.run(r), commits: r.commits ?? [], nodes: r.nodes ?? {} };
  }

  async crash(at: { commit: number; phase: 'before' | 'after' }): Promise<CrashOutcome> {
    const exit = await this.spawn('crash', at);
    const crashFile = join(this.scenario.dir, CHILD_FILES.crash);
    if (exit.signal === 'SIGKILL' && existsSync(crashFile)) return { type: 'crashed', seen: JSON.parse(await readFile(crashFile, 'utf8')) as { itemId: string }[] };
    if (exit.code === 0) {
      this.collect(await this.result());
      return { type: 'completed' };
    }
    return { type: 'failed', message: await this.failure(exit) };
  }

  async resume(): Promise<FinishedRun<O, C>> {
    return this.run(await this.finished('resume'));
  }

  signalErrors(): readonly string[] {
    return this.errors;
  }

  async close(): Promise<void> {}

  private run(r: CrashChildResult): FinishedRun<O, C> {
    return { output: r.output as O, context: this.codec.revive(r.context), lateSignals: r.lateSignals ?? [] };
  }

  private collect(r: CrashChildResult): void {
    this.errors.push(...r.signalErrors);
  }

  /** Runs a child that must finish its run; its result, or an error with what went wrong. */
  private async finished(mode: 'complete' | 'resume'): Promise<CrashChildResult> {
    const exit = await this.spawn(mode);
    if (exit.code !== 0) {
      const message = await this.failure(exit);
      // the kit's own finding in the child (a signal that failed, a run that never ends) is said as the child said it;
      // any other error of the child comes back as the class it was (a MissingDependencyError, not a bare Error)
      if (this.childError === undefined) throw new Error(message);
      throw this.childError.code === CRASH_TEST_CODE ? new FloxideError(CRASH_TEST_CODE, message) : reviveError(this.childError);
    }
    const r = await this.result();
    this.collect(r);
    return r;
  }

  private async result(): Promise<CrashChildResult> {
    return safeJsonParse<CrashChildResult>(await readFile(join(this.scenario.dir, CHILD_FILES.result), 'utf8'), "a crash test child's result");
  }

  private async failure(exit: ChildExit): Promise<string> {
    const errorFile = join(this.scenario.dir, CHILD_FILES.error);
    if (existsSync(errorFile)) {
      this.childError = safeJsonParse<SerializedError>(await readFile(errorFile, 'utf8'), "a crash test child's error");
      return this.childError.message;
    }
    this.childError = undefined;
    const how = exit.timedOut ? `did not finish within ${CHILD_TIMEOUT_MS} ms` : exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    return `the process ${how}${exit.stderr ? `: ${exit.stderr.trim().split('\n').slice(-5).join('\n')}` : ''}`;
  }

  private spawn(mode: CrashChildArgs['mode'], at?: CrashChildArgs['at']): Promise<ChildExit> {
    const args: CrashChildArgs = { module: this.setup.module, export: this.setup.export, dir: this.scenario.dir, runId: this.setup.runId, mode, at };
    return new Promise((done, fail) => {
      const p = spawn(process.execPath, [...this.setup.execArgv, this.setup.child, JSON.stringify(args)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4_000)));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        p.kill('SIGKILL');
      }, CHILD_TIMEOUT_MS);
      p.on('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
      p.on('close', (code, signal) => {
        clearTimeout(timer);
        done({ code, signal: timedOut ? null : signal, stderr, timedOut });
      });
    });
  }
}

interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly timedOut: boolean;
}

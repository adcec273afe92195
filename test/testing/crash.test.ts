/**
 * floxide/testing's crash runner: it finds a planted bug (a charge keyed by a fresh random id instead of the step's
 * item id, so the step that a crash repeats charges twice), and it passes on every example workflow that completes.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bindWorkflow, DeadlineExceededError, InvalidSignalError, MemoryCheckpointStore, MissingDependencyError } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { crashAtEveryStep, CrashTestError, VirtualClock, type CrashSignal } from 'floxide/testing';
import { PaymentsCtx, PaymentService, PaymentsWorkflow, type Order } from '../../examples/payments.js';
import { PaymentsWorkflowDef } from '../../examples/payments.floxide.js';
import { EXAMPLES } from '../equivalence/cases.js';
import { keyedPayments, randomlyKeyedPayments } from './payments-crash.js';
import { missingDriver, oneVote } from './vote-crash.js';
import { ApprovalFlow, SleepFlow, VoteFlow, type Decision } from '../fixtures/signals/flows.js';
import { ApprovalFlowDef, SleepFlowDef, VoteFlowDef } from '../fixtures/signals/flows.floxide.js';

const orders: Order[] = [
  { id: 'A-1', cents: 1200 },
  { id: 'B-2', cents: 450 },
];

const payments = (keyOf?: (ctx: unknown, order: Order) => string) => ({
  world: () => new PaymentService(),
  workflow: (service: PaymentService) => bindWorkflow(PaymentsWorkflowDef, new PaymentsWorkflow(service, keyOf)),
  context: () => new PaymentsCtx(),
  input: orders,
  check: (_run: unknown, service: PaymentService) => expect(service.chargedOrders()).toEqual(['A-1', 'B-2']),
});

/** Split, two charges, summary: 4 commits, 7 crash points. */
const PAYMENTS_CRASH_POINTS = ['before 1 split', 'after 1 split', 'before 2 charge', 'after 2 charge', 'before 3 charge', 'after 3 charge', 'before 4 summary'];

describe('crashAtEveryStep', () => {
  it('passes when the side effect is keyed by the step (split, two charges, summary: 4 commits, 7 crash points)', async () => {
    const report = await crashAtEveryStep(payments());
    expect(report.commits).toBe(4);
    expect(report.crashes.map((c) => `${c.phase} ${c.commit} ${c.node}`)).toEqual(PAYMENTS_CRASH_POINTS);
  });

  it('says what is wrong with the test itself: a store reused across scenarios, a failing uninterrupted run, a signal time that is no time', async () => {
    const shared = new SqliteCheckpointStore(':memory:');
    // the second scenario gets the store the first one closed
    await expect(crashAtEveryStep({ ...payments(), store: () => shared })).rejects.toThrow(
      /^the crash test's store\(\) must return a new, empty store for every scenario \(the kit closes each one after its scenario\); the one it returned cannot be read: /,
    );
    // one that survives its closing: the second scenario would find the first one's run in it
    const kept = new (class extends MemoryCheckpointStore {
      override async close(): Promise<void> {}
    })();
    await expect(crashAtEveryStep({ ...payments(), store: () => kept })).rejects.toThrow(/; the one it returned already holds run crash-test$/);
    const failing = crashAtEveryStep({ ...payments(), check: () => expect('charged').toBe('not charged') });
    await expect(failing).rejects.toThrow(/^your check failed on the uninterrupted run: AssertionError: expected 'charged' to be 'not charged'/);
    await expect(failing).rejects.toMatchObject({ code: 'FLOXIDE_CRASH_TEST' });
    const clock = new VirtualClock();
    const approval = { workflow: () => bindWorkflow(ApprovalFlowDef, new ApprovalFlow()), context: () => undefined, input: 'order', options: { clock } };
    await expect(crashAtEveryStep({ ...approval, signals: [{ name: 'approval', payload: { approved: true, by: 'ann' }, afterMs: Number.NaN }] })).rejects.toThrow(
      /^crashAtEveryStep: signal approval: afterMs must be a finite number >= 0, not NaN/,
    );
    // the run's deadline passes before the approval: the uninterrupted run fails, with its own error as the cause
    const late = crashAtEveryStep({ ...approval, options: { clock, deadline: Date.UTC(2026, 0, 1) + 500 }, signals: [{ name: 'approval', payload: { approved: true, by: 'ann' }, afterMs: 900 }] });
    await expect(late).rejects.toThrow(/^the uninterrupted run failed: DeadlineExceededError: /);
    await expect(late.catch((e: Error) => e.cause)).resolves.toBeInstanceOf(DeadlineExceededError);
  });

  it('finds the planted bug: a charge keyed by a random id is repeated by the crash before its commit', async () => {
    const err = await crashAtEveryStep(payments(() => randomUUID())).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CrashTestError);
    const failures = (err as CrashTestError).failures;
    // Exactly the crashes between a charge and its commit repeat it; output and context stay right (the delta commits once).
    expect(failures.map((f) => `${f.crash.phase} ${f.crash.commit} ${f.crash.node}`)).toEqual(['before 2 charge', 'before 3 charge']);
    expect(failures.every((f) => f.problem.startsWith('your check failed'))).toBe(true);
    expect((err as Error).message).toContain('crash before commit 2 (item 1, node charge)');
  });

  it('runs on a SQLite store and on virtual time (a declined charge retried an hour later)', async () => {
    const clock = new VirtualClock();
    const report = await crashAtEveryStep({
      ...payments(),
      world: () => new PaymentService(['B-2']),
      store: () => new SqliteCheckpointStore(':memory:'),
      options: { clock },
    });
    expect(report.reference.output).toBe('charged A-1, B-2: 1650 cents');
  });

  // Every example that completes (a run whose void input runWithCheckpoint refuses today is a known bug of issue 8).
  const examples = EXAMPLES.filter((c) => 'output' in c.expect && !c.cancelAtStart && !c.randomFailures && !c.knownBugs?.['checkpoint-memory']);
  it.each(examples.map((c) => [c.name, c] as const))('passes on the example %s', async (_name, c) => {
    const report = await crashAtEveryStep({ workflow: () => c.make().wf, context: () => c.make().ctx, input: c.make().input });
    expect(report.crashes.length).toBe(2 * report.commits - 1);
  });

  // Each scenario spawns 2 processes (tsx loads the sources): slow on a loaded machine.
  describe('in fresh processes killed with SIGKILL', { timeout: 300_000 }, () => {
    const module = new URL('./payments-crash.ts', import.meta.url);

    it('passes when the charge is keyed by the step: every crash point, each run a new process over a SQLite file', async () => {
      const report = await crashAtEveryStep(keyedPayments, { process: { module, export: 'keyedPayments' } });
      expect(report.reference.output).toBe('charged A-1, B-2: 1650 cents');
      expect(report.reference.context.chargedCents).toBe(1650);
      expect(report.crashes.map((c) => `${c.phase} ${c.commit} ${c.node}`)).toEqual(PAYMENTS_CRASH_POINTS);
    });

    it('finds the planted bug: the killed process charged, its resumed successor charges again', async () => {
      const err = await crashAtEveryStep(randomlyKeyedPayments, { process: { module, export: 'randomlyKeyedPayments' } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CrashTestError);
      expect((err as CrashTestError).failures.map((f) => `${f.crash.phase} ${f.crash.commit} ${f.crash.node}: ${f.problem}`)).toEqual([
        'before 2 charge: your check failed: charged A-1,A-1,B-2, expected A-1,B-2 once each',
        'before 3 charge: your check failed: charged A-1,B-2,B-2, expected A-1,B-2 once each',
      ]);
    });

    it('a run that never ends is named as in this process (the child\'s finding, not a failure of the child)', async () => {
      const err = await crashAtEveryStep(oneVote, { process: { module: new URL('./vote-crash.ts', import.meta.url), export: 'oneVote' } }).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err?.message).toMatch(/^the uninterrupted run: never ends: it waits for signal "vote" \(item \d+, node vote\), with no timeout/);
      expect(err?.code).toBe('FLOXIDE_CRASH_TEST');
    });

    it("a child's failure keeps its error class, as in this process (not a bare Error)", async () => {
      const err = await crashAtEveryStep(missingDriver, { process: { module: new URL('./vote-crash.ts', import.meta.url), export: 'missingDriver' } }).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err?.message).toBe('the uninterrupted run failed: MissingDependencyError: the ledger needs the package left-pad, which is not installed: run `npm install left-pad`');
      expect(err?.code).toBe('FLOXIDE_CRASH_TEST');
      expect(err?.cause).toBeInstanceOf(MissingDependencyError);
    });

    it('names a module without the export, and one that does not load (no run started: not a failure of the run)', async () => {
      await expect(crashAtEveryStep(keyedPayments, { process: { module, export: 'nope' } })).rejects.toThrow(/^crashAtEveryStep: file:\S+\/payments-crash\.ts has no export "nope" that is a crash test/);
      const missing = new URL('./no-such-crash-test.ts', import.meta.url);
      await expect(crashAtEveryStep(keyedPayments, { process: { module: missing } })).rejects.toThrow(/^crashAtEveryStep: cannot import the crash test's module file:\S+\/no-such-crash-test\.ts: /);
    });
  });

  describe('signals and durable sleeps', () => {
    const approval = (signals: readonly CrashSignal<{ approval: Decision }>[], store?: () => SqliteCheckpointStore) => {
      const clock = new VirtualClock();
      return crashAtEveryStep({
        workflow: () => bindWorkflow(ApprovalFlowDef, new ApprovalFlow()),
        context: () => undefined,
        input: 'order',
        options: { clock },
        signals,
        ...(store ? { store } : {}),
      });
    };

    it('sends the test\'s signal to every scenario: it survives the crash and the resumed run takes it', async () => {
      const report = await approval([{ name: 'approval', payload: { approved: true, by: 'ann' }, afterMs: 100 }]);
      expect(report.reference.output).toBe('approved by ann');
      expect(report.reference.lateSignals).toEqual([]);
      // ask, approval (the wait parks: a commit), approval (the signal taken), decide.
      expect(report.crashes.map((c) => `${c.phase} ${c.commit} ${c.node}`)).toEqual([
        'before 1 ask',
        'after 1 ask',
        'before 2 approval',
        'after 2 approval',
        'before 3 approval',
        'after 3 approval',
        'before 4 decide',
      ]);
    });

    it('a signal sent before the run waits is kept for it (SQLite store)', async () => {
      const report = await approval([{ name: 'approval', payload: { approved: false, by: 'bob' } }], () => new SqliteCheckpointStore(':memory:'));
      expect(report.reference.output).toBe('rejected by bob');
    });

    it('a signal after the timeout is late: the run took its fallback in every scenario', async () => {
      const report = await approval([{ name: 'approval', payload: { approved: true, by: 'ann' }, afterMs: 5_000 }]);
      expect(report.reference.output).toBe('escalated order after SignalTimeoutError x1');
      expect(report.reference.lateSignals).toEqual(['approval']);
    });

    it('a payload that fails the wait\'s check is reported, not swallowed', async () => {
      const err = await approval([{ name: 'approval', payload: { approved: 'yes' } as unknown as Decision }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).message).toMatch(/the uninterrupted run: signal approval: .*approval/);
    });

    // A wait with no timeout: a run whose signal fails its check, or that waits for one the test never sends, could
    // never end. The kit stops it and says why (it hung until the runner's own timeout, saying nothing).
    const votes = (signals: readonly CrashSignal<{ vote: { vote: string } }>[], options: { clock?: VirtualClock; store?: () => SqliteCheckpointStore } = {}) =>
      crashAtEveryStep({
        workflow: () => bindWorkflow(VoteFlowDef, new VoteFlow()),
        context: () => undefined,
        input: 1,
        signals,
        ...(options.clock ? { options: { clock: options.clock } } : {}),
        ...(options.store ? { store: options.store } : {}),
      });
    const rejection = (p: Promise<unknown>) =>
      p.then(
        (): Error & { code?: string } => new Error('the crash test passed'),
        (e: unknown) => e as Error & { code?: string },
      );

    it('a payload that fails the check of a wait with no timeout fails the test with its message (it waited for good)', async () => {
      const err = await rejection(votes([{ name: 'vote', payload: { vote: 'yes' } }, { name: 'vote', payload: { vote: 1 } as unknown as { vote: string } }], { clock: new VirtualClock() }));
      expect(err.message).toMatch(/^the uninterrupted run: signal vote: .*vote/);
      expect(err.code).toBe('FLOXIDE_CRASH_TEST');
      expect(err.cause).toBeInstanceOf(InvalidSignalError);
    });

    it('a run that waits for a signal the test never sends fails the test naming the wait, on virtual time and on real time', async () => {
      const message = /^the uninterrupted run: never ends: it waits for signal "vote" \(item \d+, node vote\), with no timeout, and the test has no signal left to send \(send "vote" in the test's `signals`, or give the wait a `timeoutMs`\)$/;
      // one vote for two waits: the other branch waits for good
      await expect(votes([{ name: 'vote', payload: { vote: 'yes' }, afterMs: 10 }], { clock: new VirtualClock() })).rejects.toThrow(message);
      await expect(votes([{ name: 'vote', payload: { vote: 'yes' } }], { store: () => new SqliteCheckpointStore(':memory:') })).rejects.toThrow(message);
      // no signal at all: both wait
      await expect(votes([])).rejects.toThrow(/^the uninterrupted run: never ends: it waits for signal "vote" \(item \d+, node vote\), signal "vote" \(item \d+, node vote\), with no timeout/);
    });

    it('two waits in parallel branches each take one of two signals, once (keys), across every crash', async () => {
      const clock = new VirtualClock();
      const report = await crashAtEveryStep({
        workflow: () => bindWorkflow(VoteFlowDef, new VoteFlow()),
        context: () => undefined,
        input: 1,
        options: { clock },
        signals: [
          { name: 'vote', payload: { vote: 'yes' }, key: 'v1', afterMs: 10 },
          { name: 'vote', payload: { vote: 'yes' }, key: 'v1', afterMs: 20 },
          { name: 'vote', payload: { vote: 'no' }, key: 'v2', afterMs: 30 },
        ],
      });
      expect(report.reference.output).toBe('no,yes');
    });

    it('a durable sleep is resumed after every crash on virtual time', async () => {
      const clock = new VirtualClock();
      const start = clock.now();
      // when each completed run (the reference, each resumed one) ended, after the scenario's start
      const ended: number[] = [];
      const report = await crashAtEveryStep({
        workflow: () => bindWorkflow(SleepFlowDef, new SleepFlow()),
        context: () => undefined,
        input: { ms: 86_400_000 },
        options: { clock },
        store: () => new SqliteCheckpointStore(':memory:'),
        check: () => void ended.push(clock.now() - start),
      });
      expect(report.reference.output).toBe('woke after 86400000 ms');
      // Every scenario starts at the clock's start (the kit resets it) and sleeps its day once: the resumed runs
      // honour the remaining time instead of starting over.
      expect(ended).toEqual(Array.from({ length: report.crashes.length + 1 }, () => 86_400_000));
    });
  });
});

// The signals are typed by the workflow: type-checked by `npm test`'s tsc, never called.
export function typedSignals(): void {
  const base = { workflow: () => bindWorkflow(ApprovalFlowDef, new ApprovalFlow()), context: () => undefined, input: 'order' };
  // @ts-expect-error: ApprovalFlow has no signal "aproval"
  void crashAtEveryStep({ ...base, signals: [{ name: 'aproval', payload: { approved: true, by: 'ann' } }] });
  // @ts-expect-error: the approval payload's `approved` is a boolean
  void crashAtEveryStep({ ...base, signals: [{ name: 'approval', payload: { approved: 'yes', by: 'ann' } }] });
}

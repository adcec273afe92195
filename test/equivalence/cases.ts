/**
 * The workflows the cross-mode equivalence suite runs in every mode: every workflow under `examples/`, the runnable
 * test and bench fixtures, and the fixtures of `test/fixtures/equivalence/` that stress the step rules. Imported by
 * the suite and by its crash child process, so it must not import vitest.
 */
import { Fixed, Transition, bindWorkflow, type AnyWorkflowDef, type Workflow } from 'floxide';
import { ArticleCtx, ArticleWorkflow, StubLlm, type Llm } from '../../examples/article.js';
import { ArticleWorkflowDef } from '../../examples/article.floxide.js';
import { BatchWorkflow } from '../../examples/batch.js';
import { BatchWorkflowDef } from '../../examples/batch.floxide.js';
import { ThresholdWorkflow } from '../../examples/branching.js';
import { ThresholdWorkflowDef } from '../../examples/branching.floxide.js';
import { CancellableWorkflow } from '../../examples/cancellation.js';
import { CancellableWorkflowDef } from '../../examples/cancellation.floxide.js';
import { CounterCtx, CounterWorkflow } from '../../examples/checkpoint.js';
import { CounterWorkflowDef } from '../../examples/checkpoint.floxide.js';
import { FallbackWorkflow } from '../../examples/fallback.js';
import { FallbackWorkflowDef } from '../../examples/fallback.floxide.js';
import { GenericsWorkflow } from '../../examples/generics.js';
import { GenericsWorkflowDef } from '../../examples/generics.floxide.js';
import { MergeWorkflow } from '../../examples/merge.js';
import { MergeWorkflowDef } from '../../examples/merge.floxide.js';
import { OuterWorkflow } from '../../examples/nested.js';
import { OuterWorkflowDef } from '../../examples/nested.floxide.js';
import { MultiplyWorkflow } from '../../examples/node_macro.js';
import { MultiplyWorkflowDef } from '../../examples/node_macro.floxide.js';
import { OrderCtx, OrderWorkflow } from '../../examples/order.js';
import { OrderWorkflowDef } from '../../examples/order.floxide.js';
import { ExponentialRetryWorkflow, RetryWorkflow } from '../../examples/retry.js';
import { ExponentialRetryWorkflowDef, RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { SplitWorkflow } from '../../examples/split.js';
import { SplitWorkflowDef } from '../../examples/split.floxide.js';
import { TerminalWorkflow } from '../../examples/terminal_node.js';
import { TerminalWorkflowDef } from '../../examples/terminal_node.floxide.js';
import { DeadlineWorkflow } from '../../examples/timeout.js';
import { DeadlineWorkflowDef } from '../../examples/timeout.floxide.js';
import { TimerWorkflow } from '../../examples/timer.js';
import { TimerWorkflowDef } from '../../examples/timer.floxide.js';
import { DotWorkflow } from '../../examples/workflow_dot.js';
import { DotWorkflowDef } from '../../examples/workflow_dot.floxide.js';
import { EventCtx, EventLogWorkflow } from '../../examples/distributed/event_log.js';
import { EventLogWorkflowDef } from '../../examples/distributed/event_log.floxide.js';
import { MergeCtx as OrchestratedCtx, OrchestratedMergeWorkflow } from '../../examples/distributed/orchestrated_merge.js';
import { OrchestratedMergeWorkflowDef } from '../../examples/distributed/orchestrated_merge.floxide.js';
import { ChainWorkflow, CountCtx, FanWorkflow, SlowWorkflow } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef, FanWorkflowDef, SlowWorkflowDef } from '../fixtures/distributed/flows.floxide.js';
import { HoldWorkflow, JoinWorkflow, LoopCtx, LoopWorkflow, TimeoutWorkflow } from '../runtime/flows/loop.js';
import { HoldWorkflowDef, JoinWorkflowDef, LoopWorkflowDef, TimeoutWorkflowDef } from '../runtime/flows/loop.floxide.js';
import { MalformedFallbackWorkflow, MalformedWorkflow, NestedHoldsWorkflow, StepsCtx } from '../fixtures/rules/flows.js';
import { MalformedFallbackWorkflowDef, MalformedWorkflowDef, NestedHoldsWorkflowDef } from '../fixtures/rules/flows.floxide.js';
import { CrashCtx, CrashWorkflow } from '../fixtures/crash/flow.js';
import { CrashWorkflowDef } from '../fixtures/crash/flow.floxide.js';
import { BenchCtx, FanInBench, LoopBench } from '../../bench/flows/local.js';
import { FanInBenchDef, LoopBenchDef } from '../../bench/flows/local.floxide.js';
import { MergeCtx, MergeStrategiesWorkflow, type MergeInput } from '../fixtures/equivalence/merges.js';
import { MergeStrategiesWorkflowDef } from '../fixtures/equivalence/merges.floxide.js';
import { FanCtx, FanFallbackWorkflow, FanRetryWorkflow, NestedHoldWorkflow, RouteFanWorkflow, type Leaf } from '../fixtures/equivalence/fanouts.js';
import { FanFallbackWorkflowDef, FanRetryWorkflowDef, NestedHoldWorkflowDef, RouteFanWorkflowDef } from '../fixtures/equivalence/fanouts.floxide.js';
import { KeysCtx, ProtoKeysWorkflow } from '../fixtures/equivalence/keys.js';
import { ProtoKeysWorkflowDef } from '../fixtures/equivalence/keys.floxide.js';
import { NestCtx, NestedFanWorkflow } from '../fixtures/equivalence/nested.js';
import { NestedFanWorkflowDef } from '../fixtures/equivalence/nested.floxide.js';
import { BogusTransitionWorkflow } from '../fixtures/equivalence/malformed.js';
import { BogusTransitionWorkflowDef } from '../fixtures/equivalence/malformed.floxide.js';
import { TimeoutRetryWorkflow } from '../fixtures/equivalence/timeouts.js';
import { TimeoutRetryWorkflowDef } from '../fixtures/equivalence/timeouts.floxide.js';
import { AliasContextWorkflow, Gathered, InferredClassWorkflow, InterfaceContextWorkflow, type Notes, type Tally } from '../fixtures/equivalence/contexts.js';
import { AliasContextWorkflowDef, InferredClassWorkflowDef, InterfaceContextWorkflowDef } from '../fixtures/equivalence/contexts.floxide.js';
import { ValuesCtx, ValuesWorkflow } from '../fixtures/equivalence/values.js';
import { DataCtx, DataWorkflow, type Make, type View } from '../fixtures/equivalence/data.js';
import { DataWorkflowDef } from '../fixtures/equivalence/data.floxide.js';
import { ValuesWorkflowDef } from '../fixtures/equivalence/values.floxide.js';
import { ApprovalWorkflow } from '../../examples/approval.js';
import { ApprovalWorkflowDef } from '../../examples/approval.floxide.js';
import { ReminderWorkflow } from '../../examples/reminder.js';
import { ReminderWorkflowDef } from '../../examples/reminder.floxide.js';
import { ApprovalFlow, BallotFlow, PatientApprovalFlow, FanReviewFlow, NestedNapFlow, RetriedReviewFlow, RetryCtx, ReviewFlow, SleepFlow, SteadyApprovalFlow, SteadyAuditFlow, SteadyReviewFlow, VoteFlow } from '../fixtures/signals/flows.js';
import { ApprovalFlowDef, BallotFlowDef, PatientApprovalFlowDef, FanReviewFlowDef, NestedNapFlowDef, RetriedReviewFlowDef, ReviewFlowDef, SleepFlowDef, SteadyApprovalFlowDef, SteadyAuditFlowDef, SteadyReviewFlowDef, VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { normalize, type Brief, type Failure, type Normalized, type RunOutcome } from './observe.js';

/** The modes every case runs in. */
export const MODES = [
  'run',
  'checkpoint-memory',
  'checkpoint-sqlite',
  'resume-after-kill',
  'distributed-memory',
  'distributed-redis',
  'distributed-postgres',
] as const;
export type ModeName = (typeof MODES)[number];
export const LOCAL_MODES = MODES.filter((m) => !m.startsWith('distributed-'));
export const DISTRIBUTED_MODES = MODES.filter((m) => m.startsWith('distributed-'));

/** A fresh run of a case: its bound workflow (a new instance: nodes may keep state), context and input. */
export interface Prepared {
  readonly wf: Workflow<any, any, any>;
  readonly ctx: unknown;
  readonly input: unknown;
}

/** What a mode observed, as the case's own checks see it. */
export interface Observed {
  readonly result: RunOutcome;
  /** The normalised final context (see observe.ts). */
  readonly context: Normalized;
  /** The failure's error and its causes, as thrown (local) or stored on the run (distributed). */
  readonly errorChain: readonly Brief[];
}

/** A signal a case sends (see {@link EquivalenceCase.signals}). */
export interface CaseSignal {
  readonly name: string;
  readonly payload: unknown;
  readonly when: 'before' | 'waiting';
  readonly unchecked?: true;
  readonly key?: string;
  readonly answer?: string;
}

export interface EquivalenceCase {
  /** Unique; also the run id. */
  readonly name: string;
  readonly make: () => Prepared;
  /**
   * The correct result, checked in every mode (normalised: see observe.ts). A failure whose `cause` is `'any'`
   * leaves the node's error unspecified.
   */
  readonly expect: { readonly output: unknown } | { readonly failure: Failure | (Omit<Failure, 'cause'> & { readonly cause: 'any' }) };
  /** Further checks of the correct behaviour, in every mode (throw to fail). */
  readonly check?: (o: Observed) => void;
  /** Options of the run (and of `startRun`): a workflow deadline. */
  readonly timeoutMs?: number;
  /**
   * Cancel the run as soon as it is started: local modes abort the run's `signal` right after calling it (the first
   * node may already be running), distributed mode cancels it through the orchestrator right after `startRun`.
   */
  readonly cancelAtStart?: boolean;
  /**
   * Why distributed workers must take this run's items one at a time: the result depends on the order items run in
   * (which branch reaches a terminal first, which branches run before a failure). One worker claiming one item at a
   * time runs them in the local FIFO order.
   */
  readonly serial?: string;
  /**
   * Context fields that parallel branches write in commit order (append, event log, union members): in distributed
   * mode with parallel workers they are compared as multisets.
   */
  readonly unordered?: readonly string[];
  /**
   * lastWrite fields that parallel branches race for: not compared with the reference in parallel distributed runs
   * (the `check` must say which values are allowed).
   */
  readonly racy?: readonly string[];
  /** Parallel branches write max/min/union/lastWrite fields, so each step's delta depends on the context it started from. */
  readonly schedulingDeltas?: boolean;
  /** Failures are random (retries compared only by their final outcome). */
  readonly randomFailures?: string;
  /**
   * Signals sent to the run (issue 11), in order: `before`, as soon as the run exists and before it waits (distributed:
   * before any worker serves it); `waiting`, once one of its waits has parked. The crash mode's child sends them all
   * as soon as its run exists (the mailbox keeps them), so the run can reach a kill point past its waits.
   * `unchecked`: sent as `floxide runs signal` and the dashboard send it, without the workflow's code (the checkpoint
   * store's own `signal`, an `Orchestrator` given no workflow), so the wait's check first runs when the wait takes it;
   * `run`, which has no such sender, sends it through its typed handle, which must refuse it (`InvalidSignalError`).
   * `key`: its idempotency key. `answer`: what the sender must get, the same in every mode: `delivered`, `duplicate`,
   * or a refusal's name and what differs (`SignalKeyConflictError payload`); `refused` is what `run` answers for an
   * `unchecked` one. A refusal the case expects is no failed send.
   */
  readonly signals?: ReadonlyArray<CaseSignal>;
  /** Why the crash mode skips the case (it cannot be interrupted at a step boundary). */
  readonly noCrash?: string;
  /** The mode whose observation the others are compared with (default `checkpoint-memory`). */
  readonly reference?: ModeName;
  /**
   * Modes that break a documented promise today, each with the issue item that fixes it: the test is `it.fails`,
   * and flips when the fix lands.
   */
  readonly knownBugs?: Partial<Record<ModeName, string>>;
}

const bind = (def: AnyWorkflowDef, instance: object) => bindWorkflow(def, instance) as unknown as Workflow<any, any, any>;
const prepared = (def: AnyWorkflowDef, instance: object, ctx: unknown, input: unknown): Prepared => ({ wf: bind(def, instance), ctx, input });

/** Fails with `message` unless `cond`. */
function ensure(cond: boolean, message: string): void {
  if (!cond) throw new Error(message);
}

/** The context field `name` of a normalised context. */
const field = (o: Observed, name: string): Normalized => (o.context as Record<string, Normalized> | null)?.[name] ?? null;

// ---------------------------------------------------------------------------------------------------------------
// Examples

const brokenLlm: Llm = {
  async complete(prompt) {
    if (prompt.startsWith('draft')) throw new Error('model overloaded');
    return new StubLlm().complete(prompt);
  },
};

export const EXAMPLES: EquivalenceCase[] = [
  {
    name: 'article',
    make: () => prepared(ArticleWorkflowDef, new ArticleWorkflow(new StubLlm()), new ArticleCtx(), 'TypeScript'),
    expect: {
      output:
        'Reviewed (112 chars): What TypeScript is: a paragraph. Why TypeScript matters: a paragraph. How to start with TypeScript: a paragraph.',
    },
  },
  {
    name: 'article-apology',
    make: () => prepared(ArticleWorkflowDef, new ArticleWorkflow(brokenLlm), new ArticleCtx(), 'Rust'),
    expect: { output: 'Sorry, no article today. The outline was:\n1. What Rust is\n2. Why Rust matters\n3. How to start with Rust' },
    check: (o) => ensure(textOf(field(o, 'log')) === textOf(['outline(Rust)', 'apology(model overloaded)']), 'failed draft attempts must leave no log line'),
  },
  { name: 'batch-large', make: () => prepared(BatchWorkflowDef, new BatchWorkflow(), undefined, [1, 2, 3, 4, 5]), expect: { output: 'large batch: 30' } },
  { name: 'batch-small', make: () => prepared(BatchWorkflowDef, new BatchWorkflow(), undefined, [1, 2]), expect: { output: 'small batch: 6' } },
  { name: 'branching-small', make: () => prepared(ThresholdWorkflowDef, new ThresholdWorkflow(), undefined, 5), expect: { output: 'SmallNode: 5 <= 10' } },
  { name: 'branching-big', make: () => prepared(ThresholdWorkflowDef, new ThresholdWorkflow(), undefined, 42), expect: { output: 'BigNode: 84' } },
  { name: 'cancellation-not-cancelled', make: () => prepared(CancellableWorkflowDef, new CancellableWorkflow(5), undefined, 1), expect: { output: 1 } },
  {
    name: 'cancellation',
    make: () => prepared(CancellableWorkflowDef, new CancellableWorkflow(2000), undefined, 1),
    cancelAtStart: true,
    expect: { failure: { error: 'CancelledError' } },
    noCrash: 'the run is cancelled before its only step can commit',
  },
  { name: 'checkpoint-counter', make: () => prepared(CounterWorkflowDef, new CounterWorkflow(5), new CounterCtx(), 0), expect: { output: 5 } },
  { name: 'fallback', make: () => prepared(FallbackWorkflowDef, new FallbackWorkflow(), undefined, 'job'), expect: { output: 'recovered' } },
  { name: 'generics', make: () => prepared(GenericsWorkflowDef, new GenericsWorkflow(), undefined, 123), expect: { output: 6 } },
  { name: 'merge', make: () => prepared(MergeWorkflowDef, new MergeWorkflow(), undefined, 10), expect: { output: [9, 10, 11] } },
  { name: 'nested', make: () => prepared(OuterWorkflowDef, new OuterWorkflow(), undefined, 5), expect: { output: 20 } },
  { name: 'node-macro', make: () => prepared(MultiplyWorkflowDef, new MultiplyWorkflow(), undefined, 3), expect: { output: 12 } },
  {
    name: 'order-ok',
    make: () => prepared(OrderWorkflowDef, new OrderWorkflow(1000, 10), new OrderCtx(), { id: 'A', amount: 100, quantity: 2 }),
    expect: { output: 'CustomerNotified' },
  },
  {
    name: 'order-declined',
    make: () => prepared(OrderWorkflowDef, new OrderWorkflow(1000, 10), new OrderCtx(), { id: 'B', amount: 5000, quantity: 2 }),
    expect: { output: 'CustomerNotified' },
  },
  {
    name: 'order-no-stock',
    make: () => prepared(OrderWorkflowDef, new OrderWorkflow(1000, 1), new OrderCtx(), { id: 'C', amount: 10, quantity: 5 }),
    expect: { output: 'CustomerNotified' },
    check: (o) =>
      ensure(
        textOf(field(o, 'history')) === textOf(['Validated', 'PaymentProcessed', 'StockAllocationFailed', 'CustomerNotified']),
        `history ${textOf(field(o, 'history'))}: failed stock attempts must leave nothing`,
      ),
  },
  {
    name: 'retry-linear',
    make: () => prepared(RetryWorkflowDef, new RetryWorkflow(1), undefined, undefined),
    expect: { output: 'success' },
    reference: 'run',
  },
  {
    name: 'retry-exponential',
    make: () => prepared(ExponentialRetryWorkflowDef, new ExponentialRetryWorkflow(), undefined, undefined),
    expect: { output: 'success' },
    reference: 'run',
  },
  {
    name: 'split',
    make: () => prepared(SplitWorkflowDef, new SplitWorkflow(), undefined, 10),
    expect: { output: 9 },
    serial: 'the first of three parallel branches to reach the terminal gives the output',
  },
  { name: 'terminal-node', make: () => prepared(TerminalWorkflowDef, new TerminalWorkflow(), undefined, 7), expect: { output: 21 } },
  {
    name: 'deadline',
    make: () => prepared(DeadlineWorkflowDef, new DeadlineWorkflow(2000), undefined, 'job'),
    timeoutMs: 150,
    expect: { failure: { error: 'DeadlineExceededError' } },
    noCrash: 'its only step never finishes before the deadline, so there is no step boundary to kill it at',
  },
  { name: 'timer', make: () => prepared(TimerWorkflowDef, new TimerWorkflow(), undefined, 4), expect: { output: 8 } },
  { name: 'workflow-dot-even', make: () => prepared(DotWorkflowDef, new DotWorkflow(), undefined, 3), expect: { output: 4 } },
  { name: 'workflow-dot-odd', make: () => prepared(DotWorkflowDef, new DotWorkflow(), undefined, 4), expect: { output: 5 } },
  {
    name: 'event-log',
    make: () => prepared(EventLogWorkflowDef, new EventLogWorkflow(), new EventCtx(), 10),
    expect: { output: ['branch_a_success', 'branch_b_success'] },
    unordered: ['log'],
  },
  {
    name: 'orchestrated-merge',
    make: () => prepared(OrchestratedMergeWorkflowDef, new OrchestratedMergeWorkflow(), new OrchestratedCtx(), 10),
    expect: { output: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90] },
    randomFailures: '30% of merge and sortValues attempts fail at random (Math.random)',
    check: (o) => ensure(textOf(field(o, 'steps')) === '13' && textOf(field(o, 'failureRate')) === '0.3', `context ${textOf(o.context)}`),
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Test and bench fixtures

const FIXTURES: EquivalenceCase[] = [
  {
    name: 'fixture-fan',
    make: () => prepared(FanWorkflowDef, new FanWorkflow(), new CountCtx(), 5),
    expect: { output: [0, 2, 4, 6, 8] },
    check: (o) => ensure(textOf(field(o, 'count')) === '8', `count ${textOf(field(o, 'count'))}: one per step (5 work + split, collect, done)`),
  },
  { name: 'fixture-chain', make: () => prepared(ChainWorkflowDef, new ChainWorkflow(), new CountCtx(), 1), expect: { output: 6 } },
  {
    name: 'fixture-slow',
    make: () => prepared(SlowWorkflowDef, new SlowWorkflow(), new CountCtx(), 1),
    expect: { output: 'waited 1' },
    serial: 'three waits each lead to the terminal: the first to get there completes the run',
  },
  {
    name: 'runtime-loop',
    make: () => prepared(LoopWorkflowDef, new LoopWorkflow(), Object.assign(new LoopCtx(), { config: new Fixed({ blob: 'set at start' }) }), { i: 0, limit: 12 }),
    expect: { output: 120 },
  },
  { name: 'runtime-join', make: () => prepared(JoinWorkflowDef, new JoinWorkflow(0), undefined, 5), expect: { output: [0, 1, 2, 3, 4] } },
  { name: 'runtime-join-holds', make: () => prepared(JoinWorkflowDef, new JoinWorkflow(3), undefined, 7), expect: { output: [1, 2, 4, 5] } },
  // A fan-out of one value opens no group: the join gets [value] at once.
  { name: 'runtime-join-single', make: () => prepared(JoinWorkflowDef, new JoinWorkflow(0), undefined, 1), expect: { output: [0] } },
  // A fan-out of no value ends the run's only branch.
  { name: 'runtime-join-empty', make: () => prepared(JoinWorkflowDef, new JoinWorkflow(0), undefined, 0), expect: { failure: { error: 'NoTerminalReachedError' } } },
  { name: 'runtime-hold', make: () => prepared(HoldWorkflowDef, new HoldWorkflow(), undefined, 1), expect: { failure: { error: 'NoTerminalReachedError' } } },
  // TimeoutWorkflow([10_000, 0]) (a timed-out attempt, then one that sleeps 0 ms) is left out: its second attempt
  // races a 30 ms timeout, which a loaded machine sometimes loses; the timeout-retry case covers that path without the race.
  {
    name: 'runtime-timeout-fallback',
    make: () => prepared(TimeoutWorkflowDef, new TimeoutWorkflow([10_000]), undefined, 'job'),
    expect: { output: 'rescued job: NodeTimeoutError x2' },
  },
  {
    name: 'crash-flow',
    make: () => prepared(CrashWorkflowDef, new CrashWorkflow(), new CrashCtx(), { round: 0, limit: 30, acc: 1 }),
    expect: { output: { rounds: 30, acc: 952846, count: 65, fans: [40] } },
  },
  {
    name: 'rules-nested-holds',
    make: () => prepared(NestedHoldsWorkflowDef, new NestedHoldsWorkflow(), new StepsCtx(), [[1, 2], [-3, -4], [5, 6]]),
    expect: { output: '3,11' },
  },
  {
    name: 'rules-malformed-then-retried',
    make: () => prepared(MalformedWorkflowDef, new MalformedWorkflow([{ type: 'bogus' }, Transition.next('ok')]), new StepsCtx(), 1),
    expect: { output: 'done ok' },
  },
  {
    name: 'rules-malformed-fallback',
    make: () => prepared(MalformedFallbackWorkflowDef, new MalformedFallbackWorkflow([42]), new StepsCtx(), 1),
    expect: { output: 'rescued 1: NodeFailedError' },
  },
  { name: 'bench-loop', make: () => prepared(LoopBenchDef, new LoopBench(20), new BenchCtx(), { n: 0 }), expect: { output: 20 } },
  { name: 'bench-fan-in', make: () => prepared(FanInBenchDef, new FanInBench(), undefined, 10), expect: { output: 45 } },
];

// ---------------------------------------------------------------------------------------------------------------
// The rules under stress (test/fixtures/equivalence)

const merges = (input: MergeInput) => prepared(MergeStrategiesWorkflowDef, new MergeStrategiesWorkflow(), new MergeCtx(), input);
const MERGE_PARALLEL = { unordered: ['trail', 'tags', 'log'], racy: ['last'], schedulingDeltas: true } as const;
const lastIsABranch = (values: readonly number[]) => (o: Observed) => {
  const last = field(o, 'last');
  ensure(values.some((v) => last === `w${v}`), `last = ${textOf(last)}: it must be one branch's write`);
};

/** The report of the values [1, 2, 3] (see merges.ts): every branch's write once, the fixed field untouched. */
const THREE_BRANCHES = {
  total: 1007,
  peak: 6,
  low: 2,
  trail: ['gathered', 'w1', 'w2', 'w3'],
  tags: ['t0', 't1'],
  limit: 8,
  events: ['gathered', 'spread', 'w1', 'w2', 'w3'],
  hist: { k0: 1, k1: 1, k2: 1 },
  gathered: [10, 20, 30],
};

const leaf = (v: number, hold = false): Leaf => ({ v, hold });

const RULES: EquivalenceCase[] = [
  {
    name: 'timeout-retry',
    make: () => prepared(TimeoutRetryWorkflowDef, new TimeoutRetryWorkflow(), undefined, 'job'),
    expect: { output: 'job after attempt 2' },
  },
  {
    name: 'context-interface',
    make: () => prepared(InterfaceContextWorkflowDef, new InterfaceContextWorkflow(), { count: 0, last: 'none' } satisfies Tally, 1),
    expect: { output: '8: count 5, add 4' },
    check: (o) => ensure(textOf(o.context) === textOf({ count: 5, last: 'add 4' }), `context ${textOf(o.context)}: an interface context's fields merge by last write`),
  },
  {
    name: 'context-type-alias',
    make: () => prepared(AliasContextWorkflowDef, new AliasContextWorkflow(), { notes: [], steps: 0 } satisfies Notes, 'a'),
    expect: { output: 'A' },
    check: (o) => ensure(textOf(o.context) === textOf({ notes: ['a', 'A'], steps: 2 }), `context ${textOf(o.context)}: a type-alias context's fields merge by last write`),
  },
  {
    name: 'context-class-inferred',
    make: () => prepared(InferredClassWorkflowDef, new InferredClassWorkflow(), new Gathered(), 1),
    expect: { output: 109 },
    // The class's @merge.sum() and @merge.append() hold across parallel branches although no `context:` names it.
    check: (o) => ensure(field(o, 'total') === 106 && textOf([...(field(o, 'seen') as number[])].sort()) === textOf([1, 2, 3]), `context ${textOf(o.context)}`),
    unordered: ['seen'],
  },
  {
    name: 'merge-strategies',
    make: () => merges({ values: [1, 2, 3, 4, 5] }),
    expect: {
      output: {
        total: 1016,
        peak: 6,
        low: 2,
        trail: ['gathered', 'w1', 'w2', 'w3', 'w4', 'w5'],
        tags: ['t0', 't1'],
        limit: 8,
        events: ['gathered', 'spread', 'w1', 'w2', 'w3', 'w4', 'w5'],
        hist: { k0: 1, k1: 2, k2: 2 },
        gathered: [10, 20, 30, 40, 50],
      },
    },
    check: lastIsABranch([1, 2, 3, 4, 5]),
    ...MERGE_PARALLEL,
  },
  {
    name: 'merge-union-duplicates',
    make: () => merges({ values: [1, 2, 3], duplicateUnion: true }),
    expect: { output: { ...THREE_BRANCHES, tags: ['shared', 't0', 't1'] } },
    check: lastIsABranch([1, 2, 3]),
    ...MERGE_PARALLEL,
  },
  {
    name: 'merge-fixed-overwritten',
    make: () => merges({ values: [1, 2, 3], overwriteFixed: true }),
    expect: { output: THREE_BRANCHES },
    check: (o) => {
      lastIsABranch([1, 2, 3])(o);
      ensure(field(o, 'limit') === 8, `limit = ${textOf(field(o, 'limit'))}: a @merge.fixed() field keeps its initial value`);
    },
    ...MERGE_PARALLEL,
  },
  {
    name: 'merge-failed-step-writes',
    make: () => merges({ values: [1, 2, 3], failOn: 2 }),
    expect: { failure: { error: 'NodeFailedError', node: 'write', cause: { name: 'Error', message: 'branch 2 failed after writing' } } },
    // The spread and branch 1 committed; branch 2's writes went with its failure.
    check: (o) =>
      ensure(
        textOf(o.context) ===
          textOf({ hist: { k1: 1 }, last: 'w1', limit: 8, log: { $eventLog: ['spread', 'w1'] }, low: 6, peak: 3, tags: ['t1'], total: 2, trail: ['w1'] }),
        `context ${textOf(o.context)}: the failed step's writes must be discarded`,
      ),
    serial: 'which branches commit before the failing one depends on the order they run in',
  },
  {
    name: 'nested-holds-partial',
    make: () => prepared(NestedHoldWorkflowDef, new NestedHoldWorkflow(), new FanCtx(), [[leaf(1, true), leaf(2)], [leaf(3), leaf(4, true)], [leaf(5), leaf(6)]]),
    expect: { output: [2, 3, 11] },
  },
  {
    name: 'nested-holds-inner-group-all-held',
    make: () => prepared(NestedHoldWorkflowDef, new NestedHoldWorkflow(), new FanCtx(), [[leaf(1), leaf(2)], [leaf(3, true), leaf(4, true)], [leaf(5), leaf(6)]]),
    // The all-held inner group arrives empty at the outer join (issue 8 item 3), which fires with the other sums.
    expect: { output: [3, 11] },
  },
  {
    name: 'nested-holds-inner-group-empty',
    make: () => prepared(NestedHoldWorkflowDef, new NestedHoldWorkflow(), new FanCtx(), [[leaf(1), leaf(2)], [], [leaf(5), leaf(6)]]),
    expect: { output: [3, 11] },
  },
  {
    name: 'nested-holds-everything-held',
    make: () => prepared(NestedHoldWorkflowDef, new NestedHoldWorkflow(), new FanCtx(), [[leaf(1, true)], [leaf(2, true), leaf(3, true)]]),
    expect: { failure: { error: 'NoTerminalReachedError' } },
  },
  {
    name: 'fan-fallbacks',
    make: () => prepared(FanFallbackWorkflowDef, new FanFallbackWorkflow(), new FanCtx(), [1, 2, 3, 4]),
    expect: { output: ['rescued 1', 'direct 1', 'ok 2', 'direct 2', 'rescued 3', 3, 'ok 4', 'direct 4'] },
    check: (o) => ensure(field(o, 'steps') === 9, `steps = ${textOf(field(o, 'steps'))}: failed attempts must add nothing`),
    unordered: ['notes'],
  },
  {
    name: 'fan-retries',
    make: () => prepared(FanRetryWorkflowDef, new FanRetryWorkflow(), new FanCtx(), [0, 1, 2, 9]),
    expect: { output: [1, 102, 203, -9] },
    check: (o) => ensure(field(o, 'steps') === 6, `steps = ${textOf(field(o, 'steps'))}: failed attempts must add nothing`),
    unordered: ['notes'],
  },
  {
    name: 'fan-branches-and-terminal-fan-out',
    make: () => prepared(RouteFanWorkflowDef, new RouteFanWorkflow(), new FanCtx(), [0, 1, 2, 3]),
    expect: { output: 'other 0,echo 0,other 1,echo 1,even 2,echo 2,other 3,echo 3' },
  },
  {
    name: 'nested-workflows-in-fan-out',
    make: () => prepared(NestedFanWorkflowDef, new NestedFanWorkflow(), new NestCtx(), [4, 7, 5]),
    expect: { output: [8, -7, 13] },
    check: (o) => ensure(field(o, 'steps') === 13, `steps = ${textOf(field(o, 'steps'))}: the failed nested run's writes must be discarded`),
    unordered: ['trail'],
  },
  {
    name: 'malformed-transition',
    make: () => prepared(BogusTransitionWorkflowDef, new BogusTransitionWorkflow(), undefined, 1),
    expect: { failure: { error: 'NodeFailedError', node: 'bogus', cause: 'any' } },
    // Issue 8 item 4: a typed NodeFailedError naming the node in every mode, not a raw TypeError.
    check: (o) =>
      ensure(
        o.errorChain.some((e) => e.name === 'NodeFailedError' && e.message.includes('bogus')),
        `error ${textOf(o.errorChain)}: a malformed return must be a NodeFailedError naming the node`,
      ),
  },
  {
    name: 'prototype-keys-are-data',
    make: () =>
      prepared(ProtoKeysWorkflowDef, new ProtoKeysWorkflow(), new KeysCtx(), {
        doc: JSON.parse('{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}, "prototype": 2, "name": "n"}') as Record<string, unknown>,
      }),
    // Issue 8 item 5: every copy of the document (context clones, stores, a worker's context cache) keeps the keys
    // as its own data; none replaces its prototype.
    expect: {
      output: {
        keys: ['__proto__', 'constructor', 'name', 'prototype'],
        proto: { admin: true },
        inherited: null,
        plainPrototype: true,
        nestedKeys: ['prototype'],
        inputKeys: ['__proto__', 'constructor', 'name', 'prototype'],
      },
    },
  },
  {
    name: 'values-json-cannot-carry',
    make: () => prepared(ValuesWorkflowDef, new ValuesWorkflow(), new ValuesCtx(), { at: new Date(Date.UTC(2021, 5, 1)) }),
    expect: {
      output: {
        input: 'Date',
        when: 'Date',
        index: 'Map',
        whenIso: '2024-02-29T12:00:00.000Z',
        indexA: 1,
        tags: ['x'],
        big: 'bigint 1180591620717411303424',
        n: 'bigint -36893488147419103232',
        seen: 'Date',
        lookalike: 'Object {"$date":"not a date"}',
        numbers: 'Infinity NaN -Infinity -0',
      },
    },
    check: (o) =>
      ensure(
        textOf(o.context) ===
          textOf({
            big: { $bigint: '1180591620717411303424' },
            index: { $map: [['a', 1]] },
            lookalike: { $date: 'not a date' },
            mean: { $number: 'NaN' },
            ratio: { $number: 'Infinity' },
            sign: { $number: '-0' },
            tags: { $set: ['x'] },
            when: { $date: '2024-02-29T12:00:00.000Z' },
          }),
        `context ${textOf(o.context)}: a Date stays a Date, a Map a Map, a Set a Set, a bigint a bigint, NaN NaN, plain data plain data`,
      ),
    // Issue 8 item 8: Date, Map, Set, bigint and non-finite numbers are stored tagged and read back as such in every mode.
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Data at the edges (test/fixtures/equivalence/data.ts): values a node writes to the context and passes on, and
// what it throws. Every mode must read a value back as it was, or refuse it at the write with the same error.

/**
 * A run whose first node writes (and passes on) what `make` makes; with `throws`, throws it instead; the last node
 * outputs what `view` sees of the value it received.
 */
const data = (make: Make, throws = false, view?: View) => prepared(DataWorkflowDef, new DataWorkflow(make, throws, view), new DataCtx(), 0);

/** The keys of every object in `v`, in their own order (what `Object.keys`, `for...in` and `JSON.stringify` see). */
function keyOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keyOrder);
  if (v === null || typeof v !== 'object' || v instanceof Date) return null;
  return Object.keys(v).map((k) => [k, keyOrder((v as Record<string, unknown>)[k])]);
}

/** An Error whose `message` getter throws (a proxy-wrapped or badly subclassed error). */
function unreadableError(): Error {
  const err = new Error('never shown');
  Object.defineProperty(err, 'message', {
    get() {
      throw new Error('the getter threw');
    },
  });
  return err;
}

/** An object that contains itself. */
function cyclic(): object {
  const o: Record<string, unknown> = { name: 'loop' };
  o.self = o;
  return o;
}

/** `{ a: { a: ... 1 } }`, `levels` deep. */
function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

/** A node failure whose cause is the InvalidArgumentError of a value no store can keep. */
const unstorable = (message: string) => ({ failure: { error: 'NodeFailedError', node: 'write', cause: { name: 'InvalidArgumentError', message } } });

const NO_BOUNDARY = 'it fails at its first step: there is no step boundary to kill it at';

const DATA: EquivalenceCase[] = [
  {
    name: 'data-error-message-getter-throws',
    make: () => data(unreadableError, true),
    noCrash: NO_BOUNDARY,
    // The node's failure, reported with what can be read of its error, in every mode (local modes threw the getter's
    // own error, raw, instead of NodeFailedError).
    expect: { failure: { error: 'NodeFailedError', node: 'write', cause: { name: 'Error', message: "(the error's message could not be read: its getter threw)" } } },
  },
  {
    name: 'data-aggregate-error',
    make: () => data(() => new AggregateError([new TypeError('card declined'), new RangeError('stock too low')], 'both checks failed'), true),
    noCrash: NO_BOUNDARY,
    // The errors an AggregateError gathers are part of the failure in every mode (only its message was kept).
    expect: {
      failure: {
        error: 'NodeFailedError',
        node: 'write',
        cause: { name: 'AggregateError', message: 'both checks failed', errors: [{ name: 'TypeError', message: 'card declined' }, { name: 'RangeError', message: 'stock too low' }] },
      },
    },
  },
  // A value no store can keep is refused where the node writes it, as the node's failure, in every mode: `run`
  // (which stores nothing) overflowed its stack on a cycle or a deep value, or kept what the stores refused, and the
  // local durable modes threw the store's error raw, leaving the run open.
  {
    name: 'data-cyclic-value',
    make: () => data(cyclic),
    noCrash: NO_BOUNDARY,
    expect: unstorable('the output cannot be stored: cannot store a cyclic value (at $.self)'),
  },
  {
    name: 'data-nested-10000-levels',
    make: () => data(() => nested(10_000)),
    noCrash: NO_BOUNDARY,
    expect: unstorable(`the output cannot be stored: value nests too deeply to store (at $${'.a'.repeat(201)})`),
  },
  {
    name: 'data-function-value',
    make: () => data(() => [1, () => 2]),
    noCrash: NO_BOUNDARY,
    expect: unstorable('the output cannot be stored: cannot store a function at $[1]'),
  },
  // `undefined` where JSON has no place for it reads back as `undefined`, not `null` (an absent property stays absent).
  {
    name: 'data-undefined-members',
    make: () => data(() => ({ list: [1, undefined, 3], set: new Set([undefined, 1]), map: new Map<unknown, unknown>([[undefined, 1], ['k', undefined]]) })),
    expect: { output: { list: [1, undefined, 3], set: new Set([undefined, 1]), map: new Map<unknown, unknown>([[undefined, 1], ['k', undefined]]) } },
    check: (o) => ensure(textOf(field(o, 'value')) === textOf(normalize({ list: [1, undefined, 3], set: new Set([undefined, 1]), map: new Map<unknown, unknown>([[undefined, 1], ['k', undefined]]) })), `context ${textOf(o.context)}`),
  },
  {
    name: 'data-undefined-output',
    make: () => data(() => undefined),
    expect: { output: undefined },
  },
  // A class instance (a Buffer, a typed array, a URL, a user's class) would read back as a plain object, or as its
  // toJSON, in every durable mode and stay itself in `run`: it is refused where it is written, like a cycle.
  {
    name: 'data-class-instance',
    make: () => data(() => ({ bytes: Buffer.from('hi') })),
    noCrash: NO_BOUNDARY,
    expect: unstorable('the output cannot be stored: cannot store an instance of Buffer at $.bytes: a class instance reads back as a plain object (store its data, a plain object, array, Date, Map or Set)'),
  },
  {
    name: 'data-typed-array',
    make: () => data(() => [new Uint8Array([1, 2])]),
    noCrash: NO_BOUNDARY,
    expect: unstorable('the output cannot be stored: cannot store an instance of Uint8Array at $[0]: a class instance reads back as a plain object (store its data, a plain object, array, Date, Map or Set)'),
  },
  {
    // a hole read back as an undefined element (which `map` visits and `in` finds) where `run` kept the hole
    name: 'data-sparse-array',
    // eslint-disable-next-line no-sparse-arrays
    make: () => data(() => ({ list: [1, , 3] })),
    noCrash: NO_BOUNDARY,
    expect: unstorable('the output cannot be stored: cannot store a sparse array (a hole at $.list[1]): fill it (undefined is kept)'),
  },
  {
    // a function-valued property: the stores left it out, `run` kept it
    name: 'data-function-property',
    make: () => data(() => ({ n: 1, f: () => 2 })),
    noCrash: NO_BOUNDARY,
    expect: unstorable('the output cannot be stored: cannot store a function at $.f'),
  },
  // An object's keys read back in the order the node wrote them (integer-like keys first, as JavaScript orders
  // them), in every mode: the distributed stores sorted them (canonical JSON), and so did every store for a value
  // holding a Date, Map, Set or bigint.
  {
    name: 'data-key-order',
    make: () => data(() => ({ z: 1, a: { y: 2, '': [{ d: 1, c: 2 }], b: 3 }, '01': 4, '1': 5, 'a.b': 6, when: new Date(0), m: new Map([['k', { q: 1, p: 2 }]]) }), false, keyOrder),
    expect: { output: [['1', null], ['z', null], ['a', [['y', null], ['', [[['d', null], ['c', null]]]], ['b', null]]], ['01', null], ['a.b', null], ['when', null], ['m', []]] },
  },
  {
    name: 'data-nested-200-levels',
    make: () => data(() => nested(200)),
    expect: { output: nested(200) },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// Waits and sleeps (issue 11): signals before and while the wait waits, a timeout to the fallback, parallel waits,
// sleeps, and the same inside nested workflows.

const decision = (by: string) => ({ approved: true, by });

/**
 * The wait (node `node`: the wait, or the nested workflow holding it) refused one signal and went on at its attempt:
 * one step records the refusal (none in `run`, whose typed handle refused it before sending), and no step of the wait
 * used a second attempt or retried.
 */
const refusedOnce = (node: string) => (o: Observed): void => {
  const { mode, steps } = o as Observed & { readonly mode: ModeName; readonly steps: readonly { readonly node: string; readonly attempt: number; readonly retries: readonly string[]; readonly refused?: string }[] };
  const waits = steps.filter((s) => s.node === node);
  ensure(waits.every((s) => s.attempt === 1 && s.retries.length === 0), `steps of the wait ${textOf(waits)}: a refused signal uses no attempt and is no retry`);
  const refused = waits.filter((s) => s.refused === 'SignalRefusedError').length;
  ensure(refused === (mode === 'run' ? 0 : 1), `${refused} steps of the wait record a refused signal in ${mode}`);
};

// The cases that send a signal wait with a 1 h timeout (SteadyApprovalFlow): on a loaded machine a 1 s one could end
// the wait first; the timeout cases use ApprovalFlow's 1 s.

export const WAITS: EquivalenceCase[] = [
  {
    name: 'approval',
    make: () => prepared(ApprovalWorkflowDef, new ApprovalWorkflow(), undefined, { id: 'exp-1', amount: 120 }),
    signals: [{ name: 'approval', payload: decision('ana'), when: 'before' }],
    expect: { output: 'approved by ana' },
  },
  {
    name: 'reminder-past-time',
    make: () => prepared(ReminderWorkflowDef, new ReminderWorkflow(), undefined, { to: 'ana', text: 'call', at: Date.UTC(2020, 0, 1) }),
    expect: { output: 'to ana: call' },
  },
  {
    name: 'wait-signal-before',
    make: () => prepared(SteadyApprovalFlowDef, new SteadyApprovalFlow(), undefined, 'o'),
    signals: [{ name: 'approval', payload: decision('bo'), when: 'before' }],
    expect: { output: 'approved by bo' },
  },
  {
    // an idempotency key names one signal in every mode: the same signal again (its payload's keys in another order)
    // is a duplicate; with another payload or name it is refused, and nothing of it reaches the run
    name: 'wait-signal-key-reused',
    make: () => prepared(SteadyApprovalFlowDef, new SteadyApprovalFlow(), undefined, 'o'),
    signals: [
      { name: 'approval', payload: decision('ana'), when: 'before', key: 'mail-1', answer: 'delivered' },
      { name: 'approval', payload: { by: 'ana', approved: true }, when: 'before', key: 'mail-1', answer: 'duplicate' },
      { name: 'approval', payload: decision('bo'), when: 'before', key: 'mail-1', answer: 'SignalKeyConflictError payload' },
      { name: 'approvals', payload: decision('ana'), when: 'before', key: 'mail-1', unchecked: true, answer: 'SignalKeyConflictError name' },
    ],
    expect: { output: 'approved by ana' },
  },
  {
    // the same, sent once the wait waits (the repeats may reach a run that already ended: the same answers)
    name: 'wait-signal-key-reused-while-waiting',
    make: () => prepared(SteadyApprovalFlowDef, new SteadyApprovalFlow(), undefined, 'o'),
    signals: [
      { name: 'approval', payload: decision('cy'), when: 'waiting', key: 'mail-2', answer: 'delivered' },
      { name: 'approval', payload: decision('di'), when: 'waiting', key: 'mail-2', answer: 'SignalKeyConflictError payload' },
      { name: 'approval', payload: decision('cy'), when: 'waiting', key: 'mail-2', answer: 'duplicate' },
    ],
    expect: { output: 'approved by cy' },
  },
  {
    name: 'wait-signal-while-waiting',
    make: () => prepared(SteadyApprovalFlowDef, new SteadyApprovalFlow(), undefined, 'o'),
    signals: [{ name: 'approval', payload: decision('cy'), when: 'waiting' }],
    expect: { output: 'approved by cy' },
  },
  {
    // a payload that fails the wait's check, sent unchecked, is refused when the wait takes it: the signal is consumed,
    // the step records the refusal and parks the same wait again (same attempt, no retry, no fallback: ApprovalFlow's
    // fallback would take a failure), and the next, valid signal continues it
    name: 'wait-refuses-unchecked-payload',
    make: () => prepared(SteadyApprovalFlowDef, new SteadyApprovalFlow(), undefined, 'o'),
    signals: [
      { name: 'approval', payload: { approved: 'yes' }, when: 'waiting', unchecked: true },
      { name: 'approval', payload: decision('ed'), when: 'waiting' },
    ],
    expect: { output: 'approved by ed' },
    check: refusedOnce('approval'),
  },
  {
    // the same, the refused signal sent before the wait began (the mailbox keeps both, the wait takes the oldest first)
    name: 'wait-refuses-unchecked-payload-sent-first',
    make: () => prepared(SteadyApprovalFlowDef, new SteadyApprovalFlow(), undefined, 'o'),
    signals: [
      { name: 'approval', payload: { by: 'nobody' }, when: 'before', unchecked: true },
      { name: 'approval', payload: decision('flo'), when: 'before' },
    ],
    expect: { output: 'approved by flo' },
    check: refusedOnce('approval'),
  },
  {
    name: 'wait-timeout-fallback',
    make: () => prepared(ApprovalFlowDef, new ApprovalFlow(), undefined, 'late'),
    expect: { output: 'escalated late after SignalTimeoutError x1' },
  },
  {
    // the wait times out, its @retry waits again (attempt 2), which times out too: the fallback takes the item. A
    // worker retried the timed-out wait inline, within the step of attempt 1 (no step.retry, the new park committed as
    // attempt 1)
    name: 'wait-retried-after-timeout',
    make: () => prepared(PatientApprovalFlowDef, new PatientApprovalFlow(), undefined, 'late'),
    expect: { output: 'escalated late after SignalTimeoutError x2' },
  },
  {
    // A string with a lone surrogate (JSON writes it as \ud800, which Redis's Lua cjson refuses to read) in a wait's
    // input: the wait times out in every store.
    name: 'data-wait-timeout-lone-surrogate',
    make: () => prepared(ApprovalFlowDef, new ApprovalFlow(), undefined, 'late\ud800'),
    expect: { output: 'escalated late\ud800 after SignalTimeoutError x1' },
  },
  {
    // the same payload twice: which branch takes which is not an order the modes must share
    name: 'wait-parallel-branches',
    make: () => prepared(VoteFlowDef, new VoteFlow(), undefined, 1),
    signals: [
      { name: 'vote', payload: { vote: 'yes' }, when: 'before' },
      { name: 'vote', payload: { vote: 'yes' }, when: 'waiting' },
    ],
    expect: { output: 'yes,yes' },
  },
  { name: 'sleep', make: () => prepared(SleepFlowDef, new SleepFlow(), undefined, { ms: 30 }), expect: { output: 'woke after 30 ms' } },
  {
    name: 'wait-nested',
    make: () => prepared(SteadyReviewFlowDef, new SteadyReviewFlow(), undefined, 'o'),
    signals: [{ name: 'review.approval', payload: decision('di'), when: 'waiting' }],
    expect: { output: 'report: approved by di' },
  },
  {
    // a nested wait refuses a payload sent unchecked: the outer item parks again at its attempt, its step records the
    // refusal, and the next valid signal continues the nested run
    name: 'wait-nested-refuses-unchecked-payload',
    make: () => prepared(SteadyReviewFlowDef, new SteadyReviewFlow(), undefined, 'o'),
    signals: [
      { name: 'review.approval', payload: { approved: 1, by: 'x' }, when: 'waiting', unchecked: true },
      { name: 'review.approval', payload: decision('gus'), when: 'waiting' },
    ],
    expect: { output: 'report: approved by gus' },
    check: refusedOnce('review'),
  },
  {
    name: 'wait-nested-timeout-fallback',
    make: () => prepared(ReviewFlowDef, new ReviewFlow(), undefined, 'late'),
    expect: { output: 'report: escalated late after SignalTimeoutError x1' },
  },
  {
    name: 'wait-nested-parallel',
    make: () => prepared(BallotFlowDef, new BallotFlow(), undefined, 1),
    signals: [
      { name: 'ballot.vote', payload: { vote: 'no' }, when: 'before' },
      { name: 'ballot.vote', payload: { vote: 'no' }, when: 'waiting' },
    ],
    expect: { output: 'report: no,no' },
  },
  {
    // three nested runs in a fan-out, parked at once: each signal "review.approval" reaches one of them (the same
    // payload each time: which branch takes which is not an order the modes must share)
    name: 'wait-nested-in-fan-out',
    make: () => prepared(FanReviewFlowDef, new FanReviewFlow(), undefined, 'o'),
    signals: [
      { name: 'review.approval', payload: decision('ana'), when: 'before' },
      { name: 'review.approval', payload: decision('ana'), when: 'waiting' },
      { name: 'review.approval', payload: decision('ana'), when: 'waiting' },
    ],
    expect: { output: 'approved by ana; approved by ana; approved by ana' },
  },
  {
    // the nested run fails after its wait took a signal: the outer @retry runs it again from its start (begin counts
    // two starts), and its wait takes the next signal
    name: 'wait-nested-retried',
    make: () => prepared(RetriedReviewFlowDef, new RetriedReviewFlow(), new RetryCtx(), 'o'),
    signals: [
      { name: 'review.approval', payload: { approved: false, by: 'ana' }, when: 'waiting' },
      { name: 'review.approval', payload: decision('bo'), when: 'waiting' },
    ],
    expect: { output: 'report: approved by bo' },
    // (the step that continues the nested run parked at attempt 2 is attempt 2 in every mode: the distributed stores
    // keep a parked item at the attempt it parked at)
    check: (o) => ensure(field(o, 'starts') === 2, `starts = ${textOf(field(o, 'starts'))}: a retry runs the nested workflow again from its start`),
  },
  {
    // the nested run parked at attempt 2 fails again: attempt 3 runs it from its start. The distributed stores kept the
    // parked item at attempt 1, so its retry was attempt 2 again, which continued the nested run (its wait took the
    // rejection once more) instead of starting it
    name: 'wait-nested-retried-twice',
    make: () => prepared(RetriedReviewFlowDef, new RetriedReviewFlow(), new RetryCtx(), 'o'),
    signals: [
      { name: 'review.approval', payload: { approved: false, by: 'ana' }, when: 'waiting' },
      { name: 'review.approval', payload: { approved: false, by: 'bo' }, when: 'waiting' },
      { name: 'review.approval', payload: decision('cy'), when: 'waiting' },
    ],
    expect: { output: 'report: approved by cy' },
    check: (o) => ensure(field(o, 'starts') === 3, `starts = ${textOf(field(o, 'starts'))}: each retry runs the nested workflow again from its start`),
  },
  {
    // the run's deadline reaches a wait two levels down (its own timeout is an hour): the parked outer item fails
    name: 'wait-nested-deadline',
    make: () => prepared(SteadyAuditFlowDef, new SteadyAuditFlow(), undefined, 'o'),
    timeoutMs: 300,
    expect: { failure: { error: 'DeadlineExceededError' } },
    noCrash: 'the deadline passes while the killed run waits to be resumed, so the resumed run fails before its first step',
  },
  { name: 'sleep-nested', make: () => prepared(NestedNapFlowDef, new NestedNapFlow(), undefined, { ms: 30 }), expect: { output: 'report: woke after 30 ms' } },
];

export const CASES: readonly EquivalenceCase[] = [...EXAMPLES, ...FIXTURES, ...RULES, ...DATA, ...WAITS];

function textOf(v: unknown): string {
  return JSON.stringify(v);
}

/** The case named `name`. */
export function caseNamed(name: string): EquivalenceCase {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no equivalence case ${name}`);
  return c;
}


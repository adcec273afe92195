/**
 * floxide/testing's crash runner: it finds a planted bug (a charge keyed by a fresh random id instead of the step's
 * item id, so the step that a crash repeats charges twice), and it passes on every example workflow that completes.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { crashAtEveryStep, CrashTestError, VirtualClock } from 'floxide/testing';
import { PaymentsCtx, PaymentService, PaymentsWorkflow, type Order } from '../../examples/payments.js';
import { PaymentsWorkflowDef } from '../../examples/payments.floxide.js';
import { EXAMPLES } from '../equivalence/cases.js';

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

describe('crashAtEveryStep', () => {
  it('passes when the side effect is keyed by the step (split, two charges, summary: 4 commits, 7 crash points)', async () => {
    const report = await crashAtEveryStep(payments());
    expect(report.commits).toBe(4);
    expect(report.crashes.map((c) => `${c.phase} ${c.commit} ${c.node}`)).toEqual([
      'before 1 split',
      'after 1 split',
      'before 2 charge',
      'after 2 charge',
      'before 3 charge',
      'after 3 charge',
      'before 4 summary',
    ]);
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
});

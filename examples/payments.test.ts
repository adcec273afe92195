// How to test your own workflow with floxide/testing (docs/testing.md), on examples/payments.ts.
import { describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { crashAtEveryStep, VirtualClock } from 'floxide/testing';
import { PaymentsCtx, PaymentService, PaymentsWorkflow, type Order } from './payments.js';
import { PaymentsWorkflowDef } from './payments.floxide.js';

const orders: Order[] = [
  { id: 'A-1', cents: 1200 },
  { id: 'B-2', cents: 450 },
  { id: 'C-3', cents: 3000 },
];

describe('payments', () => {
  it('charges each order once, whichever step boundary a crash interrupts', async () => {
    const report = await crashAtEveryStep({
      world: () => new PaymentService(),
      workflow: (payments) => bindWorkflow(PaymentsWorkflowDef, new PaymentsWorkflow(payments)),
      context: () => new PaymentsCtx(),
      input: orders,
      check: (_run, payments) => expect(payments.chargedOrders()).toEqual(['A-1', 'B-2', 'C-3']),
    });
    expect(report.reference.output).toBe('charged A-1, B-2, C-3: 4650 cents');
    expect(report.reference.context.chargedCents).toBe(4650);
    expect(report.crashes).toHaveLength(2 * report.commits - 1);
  });

  it('waits out an hour-long retry backoff in virtual time', async () => {
    const clock = new VirtualClock();
    const payments = new PaymentService(['B-2']);
    const wf = bindWorkflow(PaymentsWorkflowDef, new PaymentsWorkflow(payments));
    const started = clock.now();
    const output = await clock.until(wf.run(new PaymentsCtx(), orders, { clock }));
    expect(output).toBe('charged A-1, B-2, C-3: 4650 cents');
    expect(clock.now() - started).toBe(3_600_000); // the declined charge was retried an hour later, on the virtual clock
    expect(payments.chargedOrders()).toEqual(['A-1', 'B-2', 'C-3']);
  });
});

/**
 * Payments, and how to test what a crash does to them (docs/testing.md): a list of orders is split, each order is
 * charged on an outside payment service, and a join writes the summary. A crash can interrupt the run between any
 * two steps; resuming it runs the interrupted step again, so the charge must be idempotent: it is keyed by
 * `ctx.runId` and `ctx.itemId`, which are the same when the step runs again. `examples/payments.test.ts` proves it
 * with `floxide/testing` (a crash at every step boundary) and shows the retry's hour-long backoff pass in virtual
 * time.
 */
import { edge, join, merge, node, retry, SplitNode, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export interface Order {
  readonly id: string;
  readonly cents: number;
}

/** A stand-in for the payment service: it charges each idempotency key once. `declineOnce` orders fail their first attempt. */
export class PaymentService {
  readonly charges = new Map<string, { order: string; cents: number }>();
  private readonly declined = new Set<string>();
  constructor(private readonly declineOnce: readonly string[] = []) {}

  charge(key: string, order: Order): void {
    if (this.declineOnce.includes(order.id) && !this.declined.has(order.id)) {
      this.declined.add(order.id);
      throw new Error(`card of order ${order.id} declined, try again later`);
    }
    if (!this.charges.has(key)) this.charges.set(key, { order: order.id, cents: order.cents });
  }

  /** The order ids charged, one entry per charge (a duplicate charge shows twice). */
  chargedOrders(): string[] {
    return [...this.charges.values()].map((c) => c.order).sort();
  }
}

export class PaymentsCtx {
  @merge.sum() chargedCents = 0;
}

/** How a charge's idempotency key is made; the default is the one to use. */
export type KeyOf = (ctx: WorkflowCtx<PaymentsCtx>, order: Order) => string;
export const stepKey: KeyOf = (ctx) => `${ctx.runId}/${ctx.itemId}`;

@node()
export class Charge implements Node<Order, string, PaymentsCtx> {
  constructor(
    private readonly payments: PaymentService,
    private readonly keyOf: KeyOf = stepKey,
  ) {}
  process(ctx: WorkflowCtx<PaymentsCtx>, order: Order): Transition<string> {
    this.payments.charge(this.keyOf(ctx, order), order);
    ctx.store.chargedCents += order.cents;
    return Transition.next(order.id);
  }
}

@node()
export class Summary implements Node<string[], string, PaymentsCtx> {
  process(ctx: WorkflowCtx<PaymentsCtx>, ids: string[]): Transition<string> {
    return Transition.next(`charged ${ids.join(', ')}: ${ctx.store.chargedCents} cents`);
  }
}

@workflow({ start: 'split', context: PaymentsCtx })
export class PaymentsWorkflow {
  @edge('charge') split = new SplitNode((orders: Order[]) => orders);
  @retry({ maxAttempts: 3, backoff: 'exponential', initialDelayMs: 3_600_000, maxDelayMs: 86_400_000 })
  @edge('summary')
  charge: Charge;
  @join() summary = new Summary();
  constructor(payments: PaymentService, keyOf?: KeyOf) {
    this.charge = new Charge(payments, keyOf);
  }
}

// Crash tests of examples/payments.ts for floxide/testing's fresh-process mode (test/testing/crash.test.ts): each
// process imports this module, so it holds no vitest import; the world is a ledger file in the scenario's folder,
// the one thing that survives a SIGKILL besides the store.
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindWorkflow } from 'floxide';
import type { CrashScenario, CrashTest } from 'floxide/testing';
import { PaymentsCtx, PaymentService, PaymentsWorkflow, type KeyOf, type Order } from '../../examples/payments.js';
import { PaymentsWorkflowDef } from '../../examples/payments.floxide.js';

/** The payment service's charges, one JSON line each in `ledger.jsonl`, read back by every process. */
export class LedgerPaymentService extends PaymentService {
  private readonly file: string;
  constructor(scenario: CrashScenario) {
    super();
    this.file = join(scenario.dir, 'ledger.jsonl');
    if (existsSync(this.file)) {
      for (const line of readFileSync(this.file, 'utf8').split('\n').filter(Boolean)) {
        const { key, order, cents } = JSON.parse(line) as { key: string; order: string; cents: number };
        this.charges.set(key, { order, cents });
      }
    }
  }
  override charge(key: string, order: Order): void {
    const known = this.charges.has(key);
    super.charge(key, order);
    if (!known) appendFileSync(this.file, `${JSON.stringify({ key, order: order.id, cents: order.cents })}\n`);
  }
}

export const orders: Order[] = [
  { id: 'A-1', cents: 1200 },
  { id: 'B-2', cents: 450 },
];

const payments = (keyOf?: KeyOf): CrashTest<Order[], string, PaymentsCtx, LedgerPaymentService> => ({
  world: (scenario) => new LedgerPaymentService(scenario),
  workflow: (service) => bindWorkflow(PaymentsWorkflowDef, new PaymentsWorkflow(service, keyOf)),
  context: () => new PaymentsCtx(),
  input: orders,
  check: (_run, service) => {
    const charged = service.chargedOrders().join(',');
    if (charged !== 'A-1,B-2') throw new Error(`charged ${charged}, expected A-1,B-2 once each`);
  },
});

/** Charges keyed by the step (`ctx.runId`/`ctx.itemId`): a repeated step does not charge twice. */
export const keyedPayments = payments();
/** The planted bug: a charge keyed by a fresh random id, so the step a crash repeats charges again. */
export const randomlyKeyedPayments = payments(() => randomUUID());

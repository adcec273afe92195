/**
 * Order processing (reference: order_example.rs): validate -> payment -> stock -> ship -> notify, with fallbacks
 * for a declined payment and for stock that stays unavailable after 3 linear retries of 50 ms. Every path ends at
 * `notify`, so all three demo orders return "CustomerNotified"; the context's history tells them apart.
 */
import { edge, merge, node, retry, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export type OrderStatus =
  | 'Received'
  | 'Validated'
  | 'PaymentProcessed'
  | 'PaymentFailed'
  | 'StockAllocated'
  | 'StockAllocationFailed'
  | 'Shipped'
  | 'CustomerNotified';

export interface Order {
  id: string;
  amount: number;
  quantity: number;
}

export class OrderCtx {
  @merge.lastWrite() status: OrderStatus = 'Received';
  @merge.append() history: OrderStatus[] = [];
}

function mark(ctx: WorkflowCtx<OrderCtx>, status: OrderStatus): void {
  ctx.store.status = status;
  ctx.store.history.push(status);
}

@node()
export class ValidateOrder implements Node<Order, Order, OrderCtx> {
  process(ctx: WorkflowCtx<OrderCtx>, order: Order): Transition<Order> {
    if (order.quantity <= 0) return Transition.abort(`order ${order.id} has no items`);
    mark(ctx, 'Validated');
    return Transition.next(order);
  }
}

@node()
export class ProcessPayment implements Node<Order, Order, OrderCtx> {
  constructor(readonly creditLimit: number) {}
  process(ctx: WorkflowCtx<OrderCtx>, order: Order): Transition<Order> {
    if (order.amount > this.creditLimit) throw new Error(`payment of ${order.amount} declined`);
    mark(ctx, 'PaymentProcessed');
    return Transition.next(order);
  }
}

@node()
export class AllocateStock implements Node<Order, Order, OrderCtx> {
  attempts = 0;
  constructor(readonly inStock: number) {}
  process(ctx: WorkflowCtx<OrderCtx>, order: Order): Transition<Order> {
    this.attempts++;
    if (order.quantity > this.inStock) throw new Error(`only ${this.inStock} in stock (attempt ${ctx.attempt})`);
    mark(ctx, 'StockAllocated');
    return Transition.next(order);
  }
}

@node()
export class MarkFailed implements Node<Order, Order, OrderCtx> {
  constructor(readonly status: 'PaymentFailed' | 'StockAllocationFailed') {}
  process(ctx: WorkflowCtx<OrderCtx>, order: Order): Transition<Order> {
    mark(ctx, this.status);
    return Transition.next(order);
  }
}

@node()
export class ShipOrder implements Node<Order, Order, OrderCtx> {
  process(ctx: WorkflowCtx<OrderCtx>, order: Order): Transition<Order> {
    mark(ctx, 'Shipped');
    return Transition.next(order);
  }
}

@node()
export class NotifyCustomer implements Node<Order, OrderStatus, OrderCtx> {
  process(ctx: WorkflowCtx<OrderCtx>, _order: Order): Transition<OrderStatus> {
    mark(ctx, 'CustomerNotified');
    return Transition.next(ctx.store.status);
  }
}

@workflow({ start: 'validate', context: OrderCtx })
export class OrderWorkflow {
  @edge('payment') validate = new ValidateOrder();
  @edge('stock') @edge.onFailure('paymentFailed') payment: ProcessPayment;
  @retry({ maxAttempts: 3, backoff: 'linear', initialDelayMs: 50 })
  @edge('ship')
  @edge.onFailure('stockFailed')
  stock: AllocateStock;
  @edge('notify') ship = new ShipOrder();
  @edge('notify') paymentFailed = new MarkFailed('PaymentFailed');
  @edge('notify') stockFailed = new MarkFailed('StockAllocationFailed');
  notify = new NotifyCustomer();
  constructor(creditLimit = 1000, inStock = 10) {
    this.payment = new ProcessPayment(creditLimit);
    this.stock = new AllocateStock(inStock);
  }
}

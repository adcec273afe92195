/**
 * Parked items in the local modes (`run`, `runWithCheckpoint`, `resume`): sleeps until their time, waits until their
 * signal or their timeout. The distributed backends keep the same items in their delayed queues; this is the
 * in-process equivalent, shared by the in-memory loop and the durable loop. A run's signals come from a
 * {@link Mailbox}: in memory for `run`, the checkpoint store for the durable modes.
 */
import { atTime, systemClock, type Clock } from '../core/time.js';
import { abortReason } from '../core/errors.js';
import { assertSignalKey } from '../core/ids.js';
import { repeatedSignal, signalDigest, type KeptSignalKey } from '../core/signal-plan.js';
import type { AbortSource } from './abort.js';
import type { WorkflowEvent } from './events.js';
import type { EngineItem } from './types.js';

/** Whether an item is parked: a sleep (or a wait's timeout) with a `notBefore`, or a wait without its signal. */
export function isParked(item: EngineItem): boolean {
  return item.received === undefined && (item.notBefore !== undefined || item.wait !== undefined);
}

/**
 * The attempt a parked item parked at: its nested run's (`nested.attempt`) or its wait's (`wait.attempt`), 1 for a
 * sleep. The step that continues it is that attempt in every mode: the local loops start it there, and the
 * distributed stores keep the item at it (`PlannedItem.attempt`), so its history, events and spans, and its retries,
 * count on from the attempt that parked.
 */
export function parkedAttempt(item: EngineItem): number {
  return item.nested?.attempt ?? item.wait?.attempt ?? 1;
}

/** The earliest `notBefore` of `items` (undefined when none has one). */
export function earliestWakeUp(items: readonly EngineItem[]): number | undefined {
  let at: number | undefined;
  for (const it of items) if (it.notBefore !== undefined && (at === undefined || it.notBefore < at)) at = it.notBefore;
  return at;
}

/** What became of a signal: kept for the run, or a repeat of the signal first sent with its idempotency key (nothing kept). */
export type SignalDelivery = 'delivered' | 'duplicate';

/**
 * What a distributed store says became of a signal, from the operation that delivered it (atomic: not read before or
 * after): its {@link SignalDelivery}, and where a delivered one went: to the oldest parked wait of its name (`itemId`,
 * now claimable), or, when none was parked, into the run's mailbox (`kept`), where the next wait on the name takes it.
 */
export interface SignalReceipt {
  readonly delivery: SignalDelivery;
  /** The item of the parked wait that took it; undefined when it was kept, or a duplicate. */
  readonly itemId: string | undefined;
  /** True when it went to the run's mailbox (delivered, and no wait of its name was parked); false otherwise. */
  readonly kept: boolean;
}

/** The receipt of a signal that went to wait `itemId`, or (undefined) into the mailbox. */
export function deliveredTo(itemId: string | undefined): SignalReceipt {
  return { delivery: 'delivered', itemId, kept: itemId === undefined };
}

/** The receipt of a repeated idempotency key (the same signal again): nothing changed. */
export const DUPLICATE_SIGNAL: SignalReceipt = Object.freeze({ delivery: 'duplicate', itemId: undefined, kept: false });

/** A signal waiting in a run's mailbox (no wait took it yet). */
export interface PendingSignal {
  readonly name: string;
  readonly payload: unknown;
  readonly key: string | undefined;
  /** When it was received (epoch ms, the store's clock). */
  readonly at: number;
}

/** Where a run's signals wait for the items that wait for them. */
export interface Mailbox {
  /**
   * The signal for wait item `itemId`: the one already given to it, else the oldest signal `name` not yet taken
   * (now given to it), else undefined. Giving is durable in a store: asked again after a crash, it answers the same.
   */
  take(name: string, itemId: string): Promise<{ payload: unknown } | undefined> | { payload: unknown } | undefined;
  /** Calls `fn` when a signal may have arrived (in this process). Returns a function that unsubscribes. */
  onArrival(fn: () => void): () => void;
  /**
   * Throws the run's cancellation when another process cancelled it while its items were parked (`floxide runs
   * cancel` on a shared store): asked each time the parked items are looked at, so a waiting run ends within its
   * poll period instead of waiting for a signal that can no longer come.
   */
  check?(): Promise<void>;
  /**
   * Calls `fn` after `pollMs` of wall-clock time, or later, when a signal or cancel from another process may have come
   * since the last {@link check} (a store that can tell: one look per process and period, not one read per run); a
   * mailbox without it is polled with a plain timer. Returns a function that cancels it.
   */
  poll?(fn: () => void, pollMs: number): () => void;
}

/**
 * The parked items of one run, in the order they were parked, and the one rule for when they run in a local loop
 * (in memory or durable): {@link due}.
 */
export class ParkedItems {
  private items: EngineItem[] = [];
  /** A signal may be in the mailbox for a parked wait: look before waiting. */
  private arrived = false;
  private runId = '';
  private onEvent: ((e: WorkflowEvent) => void) | undefined;
  private clock: Clock | undefined;

  get size(): number {
    return this.items.length;
  }

  /**
   * Reports what happens to the items parked from now on as events (`wait.started`, `timer.started`,
   * `signal.received` when a wait takes its signal, `wait.timedOut`, `timer.fired`), as the distributed stores do. Items added before (a resumed
   * run's, already reported when they parked) are not reported as started again.
   */
  observe(runId: string, onEvent: ((e: WorkflowEvent) => void) | undefined, clock: Clock): this {
    this.runId = runId;
    this.onEvent = onEvent;
    this.clock = clock;
    return this;
  }

  /** Parks `item`. A wait looks into the mailbox first: a signal sent before the wait began is there already. */
  add(item: EngineItem): void {
    this.items.push(item);
    if (item.wait !== undefined) this.arrived = true;
    const emit = this.onEvent;
    if (!emit) return;
    const base = { runId: this.runId, at: this.clock!.now(), node: item.node, itemId: item.id };
    if (item.wait !== undefined) emit({ ...base, type: 'wait.started', signal: item.wait.name, ...(item.notBefore === undefined ? {} : { timeoutAt: item.notBefore }) });
    else emit({ ...base, type: 'timer.started', until: item.notBefore! });
  }

  private released(it: EngineItem, now: number, signal: boolean): void {
    const emit = this.onEvent;
    if (!emit) return;
    const base = { runId: this.runId, at: now };
    if (signal) emit({ ...base, type: 'signal.received', name: it.wait!.name, itemId: it.id });
    else if (it.wait !== undefined) emit({ ...base, type: 'wait.timedOut', node: it.node, itemId: it.id, signal: it.wait.name });
    else emit({ ...base, type: 'timer.fired', node: it.node, itemId: it.id });
  }

  /** The earliest `notBefore` among parked items (undefined when none has one). */
  nextAt(): number | undefined {
    return earliestWakeUp(this.items);
  }

  /** The parked waits, for listings: name, item id and timeout. */
  get waits(): ReadonlyArray<EngineItem> {
    return this.items;
  }

  /** A signal may have arrived (the mailbox's {@link Mailbox.onArrival}): the next {@link due} looks for it. */
  signalled(): void {
    this.arrived = true;
  }

  /**
   * What runs now, in a local loop that has parked items, as `idle` (nothing else to run) says: when idle and no
   * signal arrived, it first waits until an item may be due ({@link untilParkedMayRun}); it releases ({@link release})
   * when idle, when a signal arrived or when an item is due; otherwise it answers undefined at once (the loop runs its
   * queue first).
   */
  due(idle: boolean, clock: Clock, abort: AbortSource, mailbox: Mailbox | undefined, pollMs: number | undefined): Promise<EngineItem[]> | undefined {
    if (idle && !this.arrived) return untilParkedMayRun(this, clock, abort, mailbox, pollMs).then(() => this.releaseNow(clock, mailbox));
    if (idle || this.arrived || (this.nextAt() ?? Infinity) <= clock.now()) return this.releaseNow(clock, mailbox);
    return undefined;
  }

  /** {@link release} at `clock`'s now; a signal arriving meanwhile is looked for by the next {@link due}. */
  private releaseNow(clock: Clock, mailbox: Mailbox | undefined): Promise<EngineItem[]> {
    this.arrived = false;
    return this.release(clock.now(), mailbox);
  }

  /**
   * Takes out the items that can run now, in parking order: a wait whose signal the mailbox has (with the signal
   * set as `received`), a wait past its timeout (without one: the engine fails it with `SignalTimeoutError`), a
   * sleep that is due.
   */
  async release(now: number, mailbox: Mailbox | undefined): Promise<EngineItem[]> {
    await mailbox?.check?.();
    const out: EngineItem[] = [];
    const kept: EngineItem[] = [];
    for (const it of this.items) {
      if (it.wait !== undefined && mailbox) {
        const got = await mailbox.take(it.wait.name, it.id);
        if (got) {
          out.push({ ...it, received: { payload: got.payload } });
          this.released(it, now, true);
          continue;
        }
      }
      if (it.notBefore !== undefined && it.notBefore <= now) {
        out.push(it);
        this.released(it, now, false);
      } else kept.push(it);
    }
    this.items = kept;
    return out;
  }
}

/**
 * Waits until a parked item may be due: the earliest `notBefore` on `clock`, a signal arriving in this process, or
 * `pollMs` of wall-clock time (signals sent by another process to a shared store; `Infinity`: never). Rejects with the run's
 * cancellation or deadline error when `abort` aborts.
 */
export function untilParkedMayRun(parked: ParkedItems, clock: Clock, abort: AbortSource, mailbox: Mailbox | undefined, pollMs: number | undefined): Promise<void> {
  if (abort.aborted) return Promise.reject(abortReason(abort));
  return new Promise<void>((resolve, reject) => {
    const offs: Array<() => void> = [];
    const done = (err?: unknown) => {
      for (const off of offs) off();
      if (err === undefined) resolve();
      else reject(err);
    };
    offs.push(abort.onAbort(() => done(abortReason(abort))));
    const at = parked.nextAt();
    if (at !== undefined) offs.push(atTime(clock, at, () => done()));
    if (mailbox) offs.push(mailbox.onArrival(() => done()));
    // (systemClock's timer, not setTimeout: Node fires a timeout longer than 2^31-1 ms at once)
    if (pollMs !== undefined && Number.isFinite(pollMs)) offs.push(mailbox?.poll ? mailbox.poll(() => done(), pollMs) : systemClock.setTimer(() => done(), pollMs));
  });
}

/** The mailbox of a plain `run`: signals sent through its handle, kept in memory. */
export class MemoryMailbox implements Mailbox {
  private readonly queues = new Map<string, unknown[]>();
  /** The name and payload digest of the first signal of each key (core/signal-plan.ts). */
  private readonly keys = new Map<string, KeptSignalKey>();
  private readonly listeners = new Set<() => void>();

  /** The mailbox of run `runId` (named in a {@link SignalKeyConflictError}). */
  constructor(private readonly runId: string) {}

  /**
   * Keeps a signal for the next wait on `name`, as every store does: `duplicate` (nothing kept) for an idempotency key
   * the run received before with the same name and payload; `SignalKeyConflictError` (nothing kept) when either differs.
   */
  send(name: string, payload: unknown, key?: string): SignalDelivery {
    if (key !== undefined) {
      assertSignalKey(key);
      const signal = { runId: this.runId, name, key, digest: signalDigest(payload) };
      const kept = this.keys.get(key);
      if (kept) return repeatedSignal(signal, kept);
      this.keys.set(key, signal);
    }
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = []));
    q.push(payload);
    for (const fn of [...this.listeners]) fn();
    return 'delivered';
  }

  take(name: string): { payload: unknown } | undefined {
    const q = this.queues.get(name);
    if (!q || q.length === 0) return undefined;
    return { payload: q.shift() };
  }

  onArrival(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

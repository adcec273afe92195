/**
 * Acting later (issue 11): a reminder is scheduled, the run sleeps until its time (a durable timer: in the
 * SQLite journal or the distributed backend's delayed queue, so a restart keeps it and it fires once), then sends it.
 *
 * ```ts
 * const wf = bindWorkflow(ReminderWorkflowDef, new ReminderWorkflow());
 * await wf.runWithCheckpoint(undefined, { to: 'ana', text: 'renew the passport', at: Date.UTC(2026, 5, 1) }, store, 'r-1');
 * ```
 */
import { edge, node, Sleep, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export interface Reminder {
  to: string;
  text: string;
  /** When to send it, epoch ms. */
  at: number;
}

/** Checks the reminder before the run sleeps on it. */
@node()
export class Schedule implements Node<Reminder, Reminder> {
  process(_ctx: WorkflowCtx, r: Reminder): Transition<Reminder> {
    if (!Number.isFinite(r.at)) throw new Error(`reminder for ${r.to} has no valid time`);
    return Transition.next(r);
  }
}

/** Sends the reminder (here: says what it sends and when, read from the run's clock). */
@node()
export class Send implements Node<Reminder, string> {
  readonly sent: string[] = [];
  process(_ctx: WorkflowCtx, r: Reminder): Transition<string> {
    const line = `to ${r.to}: ${r.text}`;
    this.sent.push(line);
    return Transition.next(line);
  }
}

@workflow({ start: 'schedule' })
export class ReminderWorkflow {
  @edge('wait') schedule = new Schedule();
  @edge('send') wait = new Sleep<Reminder>((r) => ({ until: r.at }));
  send = new Send();
}

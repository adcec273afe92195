/**
 * Waiting for a person (issue 11): an expense is submitted, then the run waits for signal `approval` (a
 * `Decision`) for at most 24 hours. The decision is recorded; without one by then the wait times out and its
 * fallback escalates the expense to a manager. `floxide build` generates `ApprovalWorkflowSignals`
 * (`{ approval: Decision }`) into approval.floxide.ts, so `signal('approval', ...)` is checked by the compiler.
 *
 * ```ts
 * const run = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow()).start(undefined, { id: 'exp-7', amount: 420 });
 * run.signal('approval', { approved: true, by: 'ana' });
 * await run.result; // 'approved by ana'
 * ```
 */
import { edge, node, Transition, WaitFor, workflow, type Node, type WorkflowCtx } from 'floxide';

export interface Expense {
  id: string;
  amount: number;
}

/** What an approver sends. */
export interface Decision {
  approved: boolean;
  by: string;
}

/** Checks a payload at the door: a signal whose payload is not a Decision is refused (`InvalidSignalError`). */
export function isDecision(p: unknown): p is Decision {
  return typeof p === 'object' && p !== null && typeof (p as Decision).approved === 'boolean' && typeof (p as Decision).by === 'string';
}

/** How long an approver has. */
export const APPROVAL_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** Submits the expense for approval (here: passes it on; a real one would notify the approver). */
@node()
export class Submit implements Node<Expense, Expense> {
  process(_ctx: WorkflowCtx, expense: Expense): Transition<Expense> {
    return Transition.next(expense);
  }
}

/** Records the decision. */
@node()
export class RecordDecision implements Node<Decision, string> {
  process(_ctx: WorkflowCtx, d: Decision): Transition<string> {
    return Transition.next(`${d.approved ? 'approved' : 'rejected'} by ${d.by}`);
  }
}

/** The wait's fallback: nobody decided in time (it gets the wait's input, the expense). */
@node()
export class Escalate implements Node<Expense, string> {
  process(ctx: WorkflowCtx, expense: Expense): Transition<string> {
    return Transition.next(`${expense.id} (${expense.amount}): escalated to a manager after ${ctx.failure?.name}`);
  }
}

@workflow({ start: 'submit' })
export class ApprovalWorkflow {
  @edge('approval') submit = new Submit();
  @edge('record')
  @edge.onFailure('escalate')
  approval = new WaitFor<'approval', Decision, Expense>('approval', { payload: isDecision, timeoutMs: APPROVAL_TIMEOUT_MS });
  record = new RecordDecision();
  escalate = new Escalate();
}

/**
 * A workflow with an INTERFACE context, as a user writes it against the installed package: no `context:` option
 * (every node declares `Journal`, so it is the workflow's context), fields merge by last write and the caller
 * supplies the value. `started` is a Date: it must still be a Date in every mode. "x" gives "x+x! since 2024-01-02".
 */
import { edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export interface Journal {
  entries: string[];
  started: Date;
}

/** Adds its input to the journal and passes it on with a "!". */
@node()
export class Note implements Node<string, string, Journal> {
  process(ctx: WorkflowCtx<Journal>, entry: string): Transition<string> {
    ctx.store.entries = [...ctx.store.entries, entry];
    return Transition.next(`${entry}!`);
  }
}

/** The journal as one line. */
@node()
export class Summary implements Node<string, string, Journal> {
  process(ctx: WorkflowCtx<Journal>, _last: string): Transition<string> {
    const started = ctx.store.started;
    const since = started instanceof Date ? started.toISOString().slice(0, 10) : `a ${typeof started}`;
    return Transition.next(`${ctx.store.entries.join('+')} since ${since}`);
  }
}

@workflow({ start: 'first' })
export class JournalWorkflow {
  @edge('second') first = new Note();
  @edge('summary') second = new Note();
  summary = new Summary();
}

/** A fresh journal: what the caller supplies. */
export const newJournal = (): Journal => ({ entries: [], started: new Date(Date.UTC(2024, 0, 2)) });

/**
 * A workflow as a user writes it against the installed package: a class context with merge strategies, the helper
 * nodes (SplitNode, BatchNode), a fan-out and a join. "a bb ccc" is split into three words, each is upper-cased
 * (counting it in the context), the join puts them back in order, a BatchNode measures each word two at a time and
 * the report gives "A BB CCC: 1 2 3", with words = 3 and seen = the three words.
 */
import { BatchNode, edge, join, merge, node, SplitNode, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export class Tally {
  @merge.sum() words = 0;
  @merge.union() seen: string[] = [];
}

@node()
export class Upper implements Node<string, string, Tally> {
  async process(ctx: WorkflowCtx<Tally>, word: string): Promise<Transition<string>> {
    ctx.store.words += 1;
    ctx.store.seen.push(word);
    return Transition.next(word.toUpperCase());
  }
}

@node()
export class Length implements Node<string, number> {
  process(_ctx: WorkflowCtx, word: string): Transition<number> {
    return Transition.next(word.length);
  }
}

@node()
export class Report implements Node<number[], string, Tally> {
  process(ctx: WorkflowCtx<Tally>, lengths: number[]): Transition<string> {
    return Transition.next(`${ctx.store.seen.map((w) => w.toUpperCase()).sort().join(' ')}: ${lengths.join(' ')}`);
  }
}

@workflow({ start: 'split', context: Tally })
export class WordsWorkflow {
  @edge('upper') split = new SplitNode((text: string) => text.split(' '));
  @edge('lengths') upper = new Upper();
  @join() @edge('report') lengths = new BatchNode(new Length(), 2);
  report = new Report();
}

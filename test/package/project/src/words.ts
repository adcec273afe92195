/**
 * A workflow as a user writes it against the installed package: a class context with merge strategies, a fan-out
 * and a join. "a b c" fans out into three words, each is upper-cased (counting it in the context), and the join
 * puts them back together: "A B C", with words = 3 and seen = the three words.
 */
import { edge, join, merge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export class Tally {
  @merge.sum() words = 0;
  @merge.union() seen: string[] = [];
}

@node()
export class SplitWords implements Node<string, string, Tally> {
  process(_ctx: WorkflowCtx<Tally>, text: string): Transition<string> {
    return Transition.nextAll(text.split(' '));
  }
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
export class Collect implements Node<string[], string, Tally> {
  process(_ctx: WorkflowCtx<Tally>, words: string[]): Transition<string> {
    return Transition.next(words.join(' '));
  }
}

@workflow({ start: 'split', context: Tally })
export class WordsWorkflow {
  @edge('upper') split = new SplitWords();
  @edge('collect') upper = new Upper();
  @join() collect = new Collect();
}

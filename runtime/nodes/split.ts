/** The {@link SplitNode} helper node (Floxide's `SplitNode`). */
import { node } from '../graph/decorators.js';
import type { Node, WorkflowCtx } from '../core/node.js';
import { Transition } from '../core/transition.js';

/**
 * Fans an input out into several values: `nextAll(split(input))` (Floxide's `SplitNode`).
 *
 * @floxideNode (stands for `@node()` in the published .d.ts, which keeps no decorators)
 */
@node()
export class SplitNode<I, O> implements Node<I, O> {
  constructor(readonly split: (input: I) => readonly O[]) {}
  process(_ctx: WorkflowCtx, input: I): Transition<O> {
    return Transition.nextAll(this.split(input));
  }
}

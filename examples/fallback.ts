/**
 * Failure fallback (reference: error_fallback_macro.rs): `fail` always throws, its `@edge.onFailure` target
 * receives the same input and recovers. The result is "recovered".
 */
import { edge, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class AlwaysFail implements Node<string, string> {
  process(_ctx: WorkflowCtx, input: string): Transition<string> {
    throw new Error(`cannot handle ${input}`);
  }
}

@node()
export class Recovery implements Node<string, string> {
  process(ctx: WorkflowCtx, input: string): Transition<string> {
    if (!ctx.failure) throw new Error('Recovery runs only as a fallback');
    return Transition.next(input === 'job' ? 'recovered' : `recovered from ${input}`);
  }
}

@workflow({ start: 'fail' })
export class FallbackWorkflow {
  @edge.onFailure('recovery') fail = new AlwaysFail();
  recovery = new Recovery();
}

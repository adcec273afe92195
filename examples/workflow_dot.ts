/**
 * The static graph (reference: workflow_dot.rs): a linear path, two fallbacks (one pointing back upstream), branch
 * arms, and a join point. `toDot()` returns the DOT that `floxide build` generated from these decorators, so the
 * committed diagram (docs/DotWorkflow.svg) is exactly what runs. Nothing needs to run to print it.
 */
import { edge, join, node, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

export type Routed = { kind: 'branch'; value: number } | { kind: 'branch2'; value: number };

@node()
export class Start implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n);
  }
}

@node()
export class TaskA implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n + 1);
  }
}

@node()
export class TaskB implements Node<number, Routed> {
  process(_ctx: WorkflowCtx, n: number): Transition<Routed> {
    return Transition.next(n % 2 === 0 ? { kind: 'branch', value: n } : { kind: 'branch2', value: n });
  }
}

@node()
export class Arm implements Node<Routed, number> {
  process(_ctx: WorkflowCtx, r: Routed): Transition<number> {
    return Transition.next(r.value);
  }
}

@node()
export class FallbackA implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(-n);
  }
}

@node()
export class JoinPoint implements Node<number[], number> {
  process(_ctx: WorkflowCtx, values: number[]): Transition<number> {
    return Transition.next(values.reduce((a, b) => a + b, 0));
  }
}

@workflow({ start: 'start' })
export class DotWorkflow {
  @edge('taskA') start = new Start();
  @edge('taskB') @edge.onFailure('fallbackA') taskA = new TaskA();
  @edge.when('branch', 'branchOne') @edge.when('branch2', 'branchTwo') @edge.onFailure('taskA') taskB = new TaskB();
  @edge('joinPoint') branchOne = new Arm();
  @edge('joinPoint') branchTwo = new Arm();
  @edge('joinPoint') fallbackA = new FallbackA();
  @join() joinPoint = new JoinPoint();
}

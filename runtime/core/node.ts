import type { Transition } from './transition.js';

/** A failure handed to an `@edge.onFailure` fallback (serialisable: it may cross a process boundary). */
export interface FailureInfo {
  /** The node whose failure routed here. */
  readonly node: string;
  /** `Error.name` of the failure. */
  readonly name: string;
  readonly message: string;
  /** `FloxideError.code` when the failure was one, else undefined. */
  readonly code?: string;
  /** Attempts made before giving up (1 without `@retry`). */
  readonly attempts: number;
}

/**
 * What a node sees while it runs. One per step (retries get a fresh one with the next `attempt`).
 */
export interface WorkflowCtx<C = unknown> {
  /** The run's context object (the workflow's context class). Writes are merged per the `@merge.*` strategies. */
  readonly store: C;
  /** Aborts on cancel, on the workflow deadline and on this node's `@timeout`. Pass it to I/O. */
  readonly signal: AbortSignal;
  /** The run this step belongs to. */
  readonly runId: string;
  /** The work item being processed (stable across retries and redeliveries). */
  readonly itemId: string;
  /** 1 on the first attempt, then 2, 3... under `@retry`. */
  readonly attempt: number;
  /** In a fallback node: the failure that routed the item here. */
  readonly failure: FailureInfo | undefined;
}

/**
 * A workflow step. Implement it on a class decorated with `@node()`.
 *
 * `I` is the input, `O` the output carried by the returned {@link Transition}, `C` the context type the node
 * needs (the workflow's context must be assignable to it).
 */
export interface Node<I, O, C = unknown> {
  process(ctx: WorkflowCtx<C>, input: I): Promise<Transition<O>> | Transition<O>;
}

/** The input type of a node class instance type. */
export type InputOf<N> = N extends { process(ctx: any, input: infer I): any } ? I : never;

/** The output type of a node class instance type (unwraps `Promise` and `Transition`). */
export type OutputOf<N> = N extends { process(...args: any[]): infer R }
  ? Awaited<R> extends Transition<infer O>
    ? O
    : never
  : never;

/**
 * What the engine reports while a run progresses (`onEvent`) and what a finished local run returns.
 */
import type { SerializedError } from '../core/errors.js';
import type { EngineItem } from './types.js';

export type WorkflowEvent =
  | {
      readonly type: 'step';
      readonly runId: string;
      readonly node: string;
      readonly itemId: string;
      readonly attempt: number;
      readonly input: unknown;
      /**
       * How the step ended. `fallback`: it failed and its fallbacks got the input. `wait` / `sleep`: the item parked
       * (`produced` holds the parked item, with its `wait` or `sleep` and its `notBefore`).
       */
      readonly transition: 'next' | 'nextAll' | 'hold' | 'terminal' | 'fallback' | 'wait' | 'sleep';
      /** The value (`next`, `terminal`) or values (`nextAll`) the node produced. */
      readonly output: unknown;
      /** The items the step enqueued (join arrivals excluded). */
      readonly produced: readonly EngineItem[];
    }
  | { readonly type: 'retry'; readonly runId: string; readonly node: string; readonly itemId: string; readonly attempt: number; readonly delayMs: number; readonly error: SerializedError }
  | { readonly type: 'joined'; readonly runId: string; readonly item: EngineItem }
  | { readonly type: 'completed'; readonly runId: string; readonly output: unknown; readonly dropped: readonly EngineItem[] }
  | { readonly type: 'failed'; readonly runId: string; readonly error: SerializedError };

/** The result of a run with its bookkeeping (`runDetailed`). */
export interface RunResult<O = unknown, C = unknown> {
  readonly runId: string;
  /** The first terminal output. */
  readonly output: O;
  /** Items still queued (or produced alongside) when the first terminal completed the run: they never ran. */
  readonly dropped: readonly EngineItem[];
  /** Join arrivals still parked when the run completed (their join never ran). */
  readonly pendingArrivals: number;
  /** Steps executed (retries of one item count once). */
  readonly steps: number;
  readonly context: C;
}

/** Id of the `index`-th child of `parent`. */

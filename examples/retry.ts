/**
 * Retries (reference: retry_macro_example.rs and retry_example.rs): a node that fails its first `failures`
 * attempts. With 3 linear attempts of 50 ms, FlakyNode(1) answers "success" on attempt 2.
 */
import { node, retry, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

@node()
export class FlakyNode implements Node<void, string> {
  attempts = 0;
  constructor(private readonly failures: number) {}
  process(ctx: WorkflowCtx, _input: void): Transition<string> {
    this.attempts++;
    if (ctx.attempt <= this.failures) throw new Error(`flaky failure on attempt ${ctx.attempt}`);
    return Transition.next('success');
  }
}

@workflow({ start: 'flaky' })
export class RetryWorkflow {
  @retry({ maxAttempts: 3, backoff: 'linear', initialDelayMs: 50 })
  flaky: FlakyNode;
  constructor(failures = 1) {
    this.flaky = new FlakyNode(failures);
  }
}

/** retry_example.rs: FlakyNode(2) under 5 exponential attempts from 100 ms: fails twice (100 ms, 200 ms), then succeeds. */
@workflow({ start: 'flaky' })
export class ExponentialRetryWorkflow {
  @retry({ maxAttempts: 5, backoff: 'exponential', initialDelayMs: 100 })
  flaky = new FlakyNode(2);
}

// Each local example of the reference (section 4) with its observable result.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bindWorkflow,
  CancelledError,
  DeadlineExceededError,
  MemoryCheckpointStore,
  NodeFailedError,
  RunNotFoundError,
  runSource,
  type WorkflowEvent,
} from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { ArticleCtx, ArticleWorkflow, StubLlm, type Llm } from '../../examples/article.js';
import { ArticleWorkflowDef } from '../../examples/article.floxide.js';
import { BatchWorkflow } from '../../examples/batch.js';
import { BatchWorkflowDef } from '../../examples/batch.floxide.js';
import { ThresholdWorkflow } from '../../examples/branching.js';
import { ThresholdWorkflowDef } from '../../examples/branching.floxide.js';
import { CancellableWorkflow } from '../../examples/cancellation.js';
import { CancellableWorkflowDef } from '../../examples/cancellation.floxide.js';
import { CounterCtx, CounterWorkflow } from '../../examples/checkpoint.js';
import { CounterWorkflowDef } from '../../examples/checkpoint.floxide.js';
import { FallbackWorkflow } from '../../examples/fallback.js';
import { FallbackWorkflowDef } from '../../examples/fallback.floxide.js';
import { GenericsWorkflow } from '../../examples/generics.js';
import { GenericsWorkflowDef } from '../../examples/generics.floxide.js';
import { MergeWorkflow } from '../../examples/merge.js';
import { MergeWorkflowDef } from '../../examples/merge.floxide.js';
import { OuterWorkflow } from '../../examples/nested.js';
import { OuterWorkflowDef } from '../../examples/nested.floxide.js';
import { MultiplyWorkflow } from '../../examples/node_macro.js';
import { MultiplyWorkflowDef } from '../../examples/node_macro.floxide.js';
import { OrderCtx, OrderWorkflow } from '../../examples/order.js';
import { OrderWorkflowDef } from '../../examples/order.floxide.js';
import { ExponentialRetryWorkflow, RetryWorkflow } from '../../examples/retry.js';
import { ExponentialRetryWorkflowDef, RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { SplitWorkflow } from '../../examples/split.js';
import { SplitWorkflowDef } from '../../examples/split.floxide.js';
import { TerminalWorkflow } from '../../examples/terminal_node.js';
import { TerminalWorkflowDef } from '../../examples/terminal_node.floxide.js';
import { DeadlineWorkflow } from '../../examples/timeout.js';
import { DeadlineWorkflowDef } from '../../examples/timeout.floxide.js';
import { ticks, TimerWorkflow } from '../../examples/timer.js';
import { TimerWorkflowDef } from '../../examples/timer.floxide.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples (local modes)', () => {
  it('batch: [1..5] doubles two at a time, sum 30 routes to LargeNode', async () => {
    const wf = bindWorkflow(BatchWorkflowDef, new BatchWorkflow());
    const events: WorkflowEvent[] = [];
    expect(await wf.run(undefined, [1, 2, 3, 4, 5], { onEvent: (e) => events.push(e) })).toBe('large batch: 30');
    const multiplied = events.find((e) => e.type === 'step.finished' && e.node === 'multiply');
    expect(multiplied && multiplied.type === 'step.finished' && multiplied.local?.output).toEqual([2, 4, 6, 8, 10]);
    expect(await wf.run(undefined, [1, 2])).toBe('small batch: 6');
  });

  it('branching: 5 is small, 42 is big', async () => {
    const wf = bindWorkflow(ThresholdWorkflowDef, new ThresholdWorkflow());
    expect(await wf.run(undefined, 5)).toBe('SmallNode: 5 <= 10');
    expect(await wf.run(undefined, 42)).toBe('BigNode: 84');
  });

  it('cancellation: aborting the signal stops a 2 s node with CancelledError', async () => {
    const wf = bindWorkflow(CancellableWorkflowDef, new CancellableWorkflow(2000));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const started = Date.now();
    await expect(wf.run(undefined, 1, { signal: ac.signal })).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('checkpoint: fail at 2, resume to 5, fresh store/ctx give 5, a completed run is not re-executed by runWithCheckpoint or resume', async () => {
    const instance = new CounterWorkflow(5);
    const wf = bindWorkflow(CounterWorkflowDef, instance);
    const store = new SqliteCheckpointStore(join(dir, 'checkpoint.db'));
    instance.counter.failAt = 2;
    await expect(wf.runWithCheckpoint(new CounterCtx(), 0, store, 'job-1')).rejects.toSatisfy(
      (e: unknown) => e instanceof NodeFailedError && (e.cause as Error).message === 'test error',
    );
    expect(await wf.resume(store, 'job-1')).toBe(5);
    const cp = await store.load('job-1');
    expect(cp?.run.status).toBe('completed');
    // Each counter step committed once: the failed attempt left no trace in the context.
    const ctx = await wf.storedContext(store, 'job-1');
    expect(ctx).toBeInstanceOf(CounterCtx);
    expect(ctx.steps).toBe(5);
    expect(ctx.visits).toEqual([0, 1, 2, 3, 4]);
    expect(cp!.deltas.flatMap((d) => (d.visits as number[] | undefined) ?? [])).toEqual([0, 1, 2, 3, 4]);

    expect(await wf.runWithCheckpoint(new CounterCtx(), 0, new MemoryCheckpointStore(), 'job-1')).toBe(5);
    expect(await wf.runWithCheckpoint(new CounterCtx(), 0, new SqliteCheckpointStore(':memory:'), 'job-2')).toBe(5);

    const before = { counter: instance.counter.executions, finish: instance.finish.executions };
    expect(await wf.runWithCheckpoint(new CounterCtx(), 0, store, 'job-1')).toBe(5);
    expect({ counter: instance.counter.executions, finish: instance.finish.executions }).toEqual(before);
    // resume of a completed run follows the same rule: its stored output, nothing executed.
    expect(await wf.resume(store, 'job-1')).toBe(5);
    expect({ counter: instance.counter.executions, finish: instance.finish.executions }).toEqual(before);
    await expect(wf.storedContext(store, 'job-9')).rejects.toBeInstanceOf(RunNotFoundError);
    await store.close();
  });

  it('error_fallback: the fallback recovers', async () => {
    const wf = bindWorkflow(FallbackWorkflowDef, new FallbackWorkflow());
    expect(await wf.run(undefined, 'job')).toBe('recovered');
  });

  it('generics: 123 gives "foo-42", which gives 6', async () => {
    const wf = bindWorkflow(GenericsWorkflowDef, new GenericsWorkflow());
    const events: WorkflowEvent[] = [];
    expect(await wf.run(undefined, 123, { onEvent: (e) => events.push(e) })).toBe(6);
    expect(events.some((e) => e.type === 'step.finished' && e.node === 'foo' && e.local?.output === 'foo-42')).toBe(true);
  });

  it('llm_article: outline -> draft -> review on the deterministic stub', async () => {
    const llm = new StubLlm();
    const wf = bindWorkflow(ArticleWorkflowDef, new ArticleWorkflow(llm));
    const ctx = new ArticleCtx();
    const article = await wf.run(ctx, 'TypeScript');
    expect(article).toBe(
      'Reviewed (112 chars): What TypeScript is: a paragraph. Why TypeScript matters: a paragraph. How to start with TypeScript: a paragraph.',
    );
    expect(ctx.log).toEqual(['outline(TypeScript)', 'draft(attempt 1)', 'review']);
    expect(ctx.llmCalls).toBe(3);
    expect(llm.calls).toBe(3);
  });

  it('llm_article: a failing draft is retried 3 times then apologises, and failed attempts leave no context writes', async () => {
    const broken: Llm = {
      async complete(prompt) {
        if (prompt.startsWith('draft')) throw new Error('model overloaded');
        return new StubLlm().complete(prompt);
      },
    };
    const wf = bindWorkflow(ArticleWorkflowDef, new ArticleWorkflow(broken));
    const ctx = new ArticleCtx();
    const retries: number[] = [];
    const out = await wf.run(ctx, 'Rust', { onEvent: (e) => e.type === 'step.retry' && retries.push(e.delayMs) });
    expect(out).toMatch(/^Sorry, no article today/);
    expect(retries).toEqual([10, 20]);
    expect(ctx.log).toEqual(['outline(Rust)', 'apology(model overloaded)']);
    expect(ctx.llmCalls).toBe(1);
  });

  it('merge: split + @join gives [9, 10, 11]', async () => {
    const wf = bindWorkflow(MergeWorkflowDef, new MergeWorkflow());
    expect(await wf.run(undefined, 10)).toEqual([9, 10, 11]);
    const store = new SqliteCheckpointStore(':memory:');
    expect(await wf.runWithCheckpoint(undefined, 10, store, 'merge-1')).toEqual([9, 10, 11]);
  });

  it('nested: 5 gives 20 and PrintNode prints it', async () => {
    const outer = new OuterWorkflow();
    const wf = bindWorkflow(OuterWorkflowDef, outer);
    expect(await wf.run(undefined, 5)).toBe(20);
    expect(outer.print.printed).toEqual(['final output = 20']);
  });

  it('node_macro: 3 gives 12, printed', async () => {
    const instance = new MultiplyWorkflow();
    expect(await bindWorkflow(MultiplyWorkflowDef, instance).run(undefined, 3)).toBe(12);
    expect(instance.print.printed).toEqual([12]);
  });

  it('order: three orders all end CustomerNotified', async () => {
    const wf = bindWorkflow(OrderWorkflowDef, new OrderWorkflow(1000, 10));
    const ok = new OrderCtx();
    expect(await wf.run(ok, { id: 'A', amount: 100, quantity: 2 })).toBe('CustomerNotified');
    expect(ok.history).toEqual(['Validated', 'PaymentProcessed', 'StockAllocated', 'Shipped', 'CustomerNotified']);
    const declined = new OrderCtx();
    expect(await wf.run(declined, { id: 'B', amount: 5000, quantity: 2 })).toBe('CustomerNotified');
    expect(declined.history).toEqual(['Validated', 'PaymentFailed', 'CustomerNotified']);
    const instance = new OrderWorkflow(1000, 1);
    const noStock = new OrderCtx();
    expect(await bindWorkflow(OrderWorkflowDef, instance).run(noStock, { id: 'C', amount: 10, quantity: 5 })).toBe('CustomerNotified');
    expect(instance.stock.attempts).toBe(3);
    expect(noStock.history).toEqual(['Validated', 'PaymentProcessed', 'StockAllocationFailed', 'CustomerNotified']);
  });

  it('retry: FlakyNode(2) fails twice with 100 ms then 200 ms backoff and succeeds on attempt 3', async () => {
    const instance = new ExponentialRetryWorkflow();
    const delays: number[] = [];
    const started = Date.now();
    const out = await bindWorkflow(ExponentialRetryWorkflowDef, instance).run(undefined, undefined, {
      onEvent: (e) => e.type === 'step.retry' && delays.push(e.delayMs),
    });
    expect(out).toBe('success');
    expect(delays).toEqual([100, 200]);
    expect(instance.flaky.attempts).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('retry_macro: FlakyNode(1) under 3 linear attempts gives "success" on attempt 2', async () => {
    const instance = new RetryWorkflow(1);
    expect(await bindWorkflow(RetryWorkflowDef, instance).run(undefined, undefined)).toBe('success');
    expect(instance.flaky.attempts).toBe(2);
  });

  it('split: prints 9, 10, 11; the first terminal (9) wins; the rest are reported dropped', async () => {
    const instance = new SplitWorkflow();
    const r = await bindWorkflow(SplitWorkflowDef, instance).runDetailed(undefined, 10);
    expect(r.output).toBe(9);
    expect(instance.print.printed).toEqual([9, 10, 11]);
    expect(r.dropped.map((i) => [i.node, i.input])).toEqual([
      ['done', 10],
      ['done', 11],
    ]);
  });

  it('split (checkpointed): the dropped items are stored with the output', async () => {
    const store = new SqliteCheckpointStore(':memory:');
    expect(await bindWorkflow(SplitWorkflowDef, new SplitWorkflow()).runWithCheckpoint(undefined, 10, store, 'split-1')).toBe(9);
    const run = await store.getRun('split-1');
    expect(run?.output).toBe(9);
    expect(run?.dropped.map((i) => i.input)).toEqual([10, 11]);
  });

  it('terminal_node: 7 gives 21', async () => {
    expect(await bindWorkflow(TerminalWorkflowDef, new TerminalWorkflow()).run(undefined, 7)).toBe(21);
  });

  it('timeout: a 500 ms deadline cuts a 2 s node with DeadlineExceededError', async () => {
    const wf = bindWorkflow(DeadlineWorkflowDef, new DeadlineWorkflow(2000));
    const started = Date.now();
    await expect(wf.run(undefined, 'job', { timeoutMs: 500 })).rejects.toBeInstanceOf(DeadlineExceededError);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(490);
    expect(took).toBeLessThan(1950); // the node alone would take 2000 ms
  });

  it('timer: one run per tick gives 0, 2, ..., 18', async () => {
    const instance = new TimerWorkflow();
    const wf = bindWorkflow(TimerWorkflowDef, instance);
    const outputs: number[] = [];
    for await (const out of runSource(wf, ticks(10, 5), () => undefined)) outputs.push(out);
    expect(outputs).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(instance.print.printed).toEqual(outputs);
  });

  it('main: prints each step then the result, and a second run returns the stored article', () => {
    const runId = `test-main-${process.pid}-${Date.now()}`;
    const run = () => execFileSync(process.execPath, ['--import', 'tsx', 'examples/main.ts', 'Go', runId], { encoding: 'utf8' });
    const first = run();
    expect(first).toMatch(/step {2}outline {2}item 0 {3}in: Go/);
    expect(first).toMatch(/terminal out: Reviewed/);
    expect(first).toMatch(/result \(3 model call\(s\)\):\nReviewed \(88 chars\)/);
    const second = run();
    expect(second).not.toMatch(/step /);
    expect(second).toMatch(/result \(0 model call\(s\)\):\nReviewed \(88 chars\)/);
  });
});

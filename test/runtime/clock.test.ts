// The clock seam (runtime/core/time.ts): node timeouts, retry backoff and run deadlines wait on the clock a run is
// given, so virtual time drives them. Nothing here depends on how fast the machine is: the virtual clock only moves
// when the test advances it.
import { describe, expect, it } from 'vitest';
import { bindWorkflow, DeadlineExceededError, MemoryCheckpointStore } from 'floxide';
import { VirtualClock } from 'floxide/testing';
import { TimeoutRetryWorkflow } from '../fixtures/equivalence/timeouts.js';
import { TimeoutRetryWorkflowDef } from '../fixtures/equivalence/timeouts.floxide.js';

/** Lets pending promise callbacks run (a few macrotask turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function track<T>(p: Promise<T>): { done: () => boolean; p: Promise<T> } {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  return { done: () => done, p };
}

describe('the clock seam', () => {
  it('a node timeout and the retry backoff wait on the run clock (run)', async () => {
    const clock = new VirtualClock();
    const wf = bindWorkflow(TimeoutRetryWorkflowDef, new TimeoutRetryWorkflow());
    const run = track(wf.run(undefined, 'job', { clock }));
    await clock.advance(29);
    expect(run.done()).toBe(false); // the @timeout(30) has not fired: the first attempt still waits
    await clock.advance(1); // timeout -> retry after a 1 ms backoff, on the same clock
    expect(run.done()).toBe(false);
    await clock.advance(1);
    await expect(run.p).resolves.toBe('job after attempt 2');
    expect(clock.pending).toBe(0);
  });

  it('the run deadline is read and waited for on the run clock (runWithCheckpoint)', async () => {
    const clock = new VirtualClock();
    const store = new MemoryCheckpointStore();
    const wf = bindWorkflow(TimeoutRetryWorkflowDef, new TimeoutRetryWorkflow());
    const run = track(wf.runWithCheckpoint(undefined, 'job', store, 'd-1', { clock, timeoutMs: 10 }));
    await settle();
    expect((await store.load('d-1'))?.run.deadline).toBe(clock.now() + 10);
    await clock.advance(9);
    expect(run.done()).toBe(false);
    await clock.advance(1);
    await expect(run.p).rejects.toBeInstanceOf(DeadlineExceededError);
  });
});

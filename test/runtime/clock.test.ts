// The clock seam (runtime/core/time.ts): node timeouts, retry backoff and run deadlines wait on the clock a run is
// given, so virtual time drives them. Nothing here depends on how fast the machine is: the virtual clock only moves
// when the test advances it.
import { describe, expect, it, vi } from 'vitest';
import { bindWorkflow, DeadlineExceededError, InvalidArgumentError, MemoryCheckpointStore } from 'floxide';
import { VirtualClock } from 'floxide/testing';
import { TimeoutWorkflow } from './flows/loop.js';
import { TimeoutWorkflowDef } from './flows/loop.floxide.js';
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

describe('VirtualClock', () => {
  it('refuses a start or a duration that would stop it (NaN, a string), and fires a timer of NaN ms at once, as setTimeout does', async () => {
    expect(() => new VirtualClock({ start: 'tomorrow' as unknown as number })).toThrow(InvalidArgumentError);
    expect(() => new VirtualClock({ start: new Date('nope') })).toThrow(/start must be epoch ms a Date can hold \(\|ms\| <= 8\.64e15\) or a valid Date, not Invalid Date/);
    expect(() => new VirtualClock({ idleMs: -1 })).toThrow(InvalidArgumentError);
    const clock = new VirtualClock();
    await expect(clock.advance(Number.NaN)).rejects.toThrow(/^VirtualClock.advance: ms must be a finite number >= 0, not NaN/);
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1));
    let fired = 0;
    clock.setTimer(() => fired++, Number.NaN);
    await clock.advance(0);
    expect([fired, clock.pending]).toEqual([1, 0]);
  });

  it('refuses an infinite duration and a start no Date holds (advance(Infinity) set the time to Infinity, or never returned with a timer that sets another)', async () => {
    const clock = new VirtualClock();
    const again = () => clock.setTimer(again, 1_000);
    again();
    await expect(clock.advance(Infinity)).rejects.toThrow('VirtualClock.advance: ms must be a finite number >= 0, not Infinity');
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1));
    expect(() => new VirtualClock({ idleMs: Infinity })).toThrow('VirtualClock.idleMs: ms must be a finite number >= 0, not Infinity');
    expect(() => new VirtualClock({ start: 1e300 })).toThrow('VirtualClock: start must be epoch ms a Date can hold (|ms| <= 8.64e15) or a valid Date, not 1e+300');
  });

  it('runAll fires until no timer is left, and says so when a timer sets another forever', async () => {
    const clock = new VirtualClock();
    const order: number[] = [];
    clock.setTimer(() => order.push(2), 20);
    clock.setTimer(() => clock.setTimer(() => order.push(3), 5), 10);
    clock.setTimer(() => order.push(1), 1);
    await clock.runAll();
    expect(order).toEqual([1, 3, 2]);
    const forever = () => void clock.setTimer(forever, 1);
    forever();
    await expect(clock.runAll(50)).rejects.toThrow(/^VirtualClock.runAll fired 50 timers and 1 are still pending/);
  });

  it('reset: back to its start with no timer', async () => {
    const clock = new VirtualClock({ start: 1_000 });
    clock.setTimer(() => undefined, 10);
    await clock.advance(5);
    clock.reset();
    expect([clock.now(), clock.pending]).toEqual([1_000, 0]);
  });

  it('until with idleMs lets real I/O finish before a timer (a @timeout) fires; without, the timeout fires while it runs', async () => {
    // the node waits 20 ms of real time (its I/O) under a @timeout(30) on the virtual clock, retried once, rescued
    const run = (clock: VirtualClock) => clock.until(bindWorkflow(TimeoutWorkflowDef, new TimeoutWorkflow([20, 20])).run(undefined, 'job', { clock }));
    await expect(run(new VirtualClock())).resolves.toBe('rescued job: NodeTimeoutError x2');
    await expect(run(new VirtualClock({ idleMs: 200 }))).resolves.toBe('job after attempt 1');
  });

  it('until leaves no real timer behind when the work ends during an idle wait (the process stayed up idleMs longer)', async () => {
    const IDLE_MS = 61_234; // (a length no other timer of the process has)
    const clock = new VirtualClock({ idleMs: IDLE_MS });
    clock.setTimer(() => undefined, 1_000); // a timer on the clock: until waits idleMs of real time before moving to it
    const io = new Promise<string>((resolve) => setTimeout(() => resolve('io done'), 20)); // real I/O, ended meanwhile
    // the real timers until sets for its idle waits, and which were cleared (counting the process's timers instead
    // also counted those of earlier tests firing meanwhile)
    const idle: unknown[] = [];
    const cleared = new Set<unknown>();
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = realSet(fn, ms);
      if (ms === IDLE_MS) idle.push(t);
      return t;
    }) as unknown as typeof setTimeout);
    const clear = vi.spyOn(globalThis, 'clearTimeout').mockImplementation((t) => {
      cleared.add(t);
      realClear(t);
    });
    try {
      await expect(clock.until(io)).resolves.toBe('io done');
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
    expect(idle).toHaveLength(1);
    expect(idle.filter((t) => !cleared.has(t))).toEqual([]); // until's own is cleared
  });
});

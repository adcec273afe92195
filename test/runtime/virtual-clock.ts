// Helpers of the signal tests around floxide/testing's VirtualClock (time moves only when the test advances it).
export { VirtualClock } from 'floxide/testing';

/** Lets pending promise callbacks run (a few macrotask turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** A promise and whether it settled yet. */
export function track<T>(p: Promise<T>): { done: () => boolean; p: Promise<T> } {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  return { done: () => done, p };
}


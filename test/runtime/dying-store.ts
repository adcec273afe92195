import type { CheckpointStore } from 'floxide';

/**
 * `store` as one process sees it, until `die()`: from then on every call fails, so the process writes nothing more (as
 * after SIGKILL). A test ends that process's call (an abort signal: its cancellation cannot reach the store any
 * more) so that its claim on the run is no longer live, and another call may take the run over.
 */
export function dyingStore(store: CheckpointStore): { store: CheckpointStore; die: () => void } {
  let dead = false;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => (dead ? Promise.reject(new Error('the process is dead')) : (v as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return { store: proxy, die: () => void (dead = true) };
}

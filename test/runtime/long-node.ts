/**
 * The body of a long node in a test (a call to a slow service that honours its signal): it ends only when `signal` (the
 * node's `ctx.signal`) aborts, rejecting with the abort's reason, which `seen` gets first.
 */
export function untilAborted(signal: AbortSignal, seen: (reason: unknown) => void): Promise<void> {
  return new Promise<void>((_, reject) =>
    signal.addEventListener('abort', () => {
      seen(signal.reason);
      reject(signal.reason as Error);
    }),
  );
}

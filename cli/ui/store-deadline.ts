/**
 * How long the dashboard waits for its store. A store that stopped answering without closing its connections (a
 * paused or overloaded server, a network that drops packets) leaves a call pending until TCP gives up, minutes later:
 * a page, an action or a live update waited that long with nothing said. The dashboard answers after
 * {@link STORE_ANSWER_MS} instead, with a `StoreError` (HTTP 503); the call itself cannot be withdrawn, and an action
 * may still apply once the store answers.
 */
import { StoreError } from '../../runtime/core/errors.js';

/** The default time the dashboard waits for one read or action of its store (ms). */
export const STORE_ANSWER_MS = 10_000;

/** `work`'s result, or a `StoreError` saying the store did not answer `what` when `ms` pass first. */
export function answerWithin<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreError(`the store did not answer ${what} within ${ms} ms`)), ms);
  });
  // (race handles a rejection of `work` that comes after the deadline: no unhandled rejection)
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * A crash test's run that can never end: every item it has left is a wait for a signal with no timeout, no signal
 * of that name is in its mailbox, the run has no deadline, and the test has no signal left to send. Such a run would
 * wait until the test runner's own timeout ("Test timed out"), saying nothing of why; the crash test stops it and
 * names the waits instead (runtime/testing/crash.ts).
 */
import { FloxideError } from '../core/errors.js';
import type { EngineItem } from '../engine/types.js';
import type { CheckpointStore } from '../stores/contract.js';

/** How often the store is looked at, in real time, while the run's process is quiet. */
const LOOK_EVERY_MS = 100;
/** How many looks in a row must find the same stalled run, with nothing happening between them (a second). */
const LOOKS = 10;

/**
 * The waits that keep a stored run open for good, or undefined when the run can still move: it is not running, has
 * a deadline (the deadline ends it), has an item that is not such a wait (a step to run, a sleep, a wait with a
 * timeout or with its signal), or a signal in its mailbox that one of its waits takes.
 */
export async function foreverWaits(store: CheckpointStore, runId: string): Promise<readonly EngineItem[] | undefined> {
  const cp = await store.load(runId);
  if (!cp || cp.run.status !== 'running' || cp.run.deadline !== undefined || cp.items.length === 0) return undefined;
  if (!cp.items.every((it) => it.wait !== undefined && it.notBefore === undefined && it.received === undefined)) return undefined;
  const pending = new Set((await store.pendingSignals(runId)).map((s) => s.name));
  return cp.items.some((it) => pending.has(it.wait!.name)) ? undefined : cp.items;
}

/** The reason a stalled run is stopped with: which signals it waits for, and what the test can do. */
export function stalledRunError(waits: readonly EngineItem[]): FloxideError {
  const names = [...new Set(waits.map((it) => `"${it.wait!.name}"`))];
  const list = waits.map((it) => `signal "${it.wait!.name}" (item ${it.id}, node ${it.node})`).join(', ');
  return new FloxideError(
    'FLOXIDE_CRASH_TEST',
    `never ends: it waits for ${list}, with no timeout, and the test has no signal left to send (send ${names.join(', ')} in the test's \`signals\`, or give the wait a \`timeoutMs\`)`,
  );
}

/** What the watch needs to know of the run's process. */
export interface StallWatchProbe {
  /** True while nothing of the test can wake the run: its signals are all sent, no step is running, no timer is left. */
  quiet(): boolean;
  /** A count that moves whenever the run does something (a step starts or ends, a commit, a signal is taken). */
  activity(): number;
}

/**
 * Looks at a run's store every {@link LOOK_EVERY_MS} of real time while its process is quiet, and calls `stop` with
 * {@link stalledRunError} once {@link LOOKS} looks in a row found the same waits and no activity between them (a
 * signal taken by a wait is in no mailbox until its step commits: the repeated looks let that step start).
 */
export function watchForStall(store: CheckpointStore, runId: string, probe: StallWatchProbe, stop: (reason: FloxideError) => void): () => void {
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let seen = 0;
  let at = -1;
  const look = async () => {
    const before = probe.activity();
    const waits = probe.quiet() ? await foreverWaits(store, runId).catch(() => undefined) : undefined;
    if (ended) return;
    if (waits && probe.quiet() && probe.activity() === before) {
      // (the run did something since the last look: this look is the first of a new row)
      seen = seen > 0 && before === at ? seen + 1 : 1;
      at = before;
    } else seen = 0;
    if (seen >= LOOKS) stop(stalledRunError(waits!));
    else timer = setTimeout(() => void look(), LOOK_EVERY_MS);
  };
  timer = setTimeout(() => void look(), LOOK_EVERY_MS);
  return () => {
    ended = true;
    clearTimeout(timer);
  };
}

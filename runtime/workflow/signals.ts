/**
 * The signals a bound workflow accepts (its `WaitFor` nodes, by name), the check every sender goes through (unknown
 * name or failing payload: `InvalidSignalError`, nothing delivered), and the mailbox of a checkpointed run: its store,
 * plus in-process wake-ups so a run waiting in this process sees a signal sent from it at once.
 */
import { InvalidSignalError } from '../core/errors.js';
import { canonicalJson } from '../core/json.js';
import type { CompiledWorkflow } from '../engine/compile.js';
import type { Mailbox } from '../engine/parked.js';
import { WaitFor } from '../nodes/wait.js';
import type { CheckpointStore } from '../stores/contract.js';

/** The `WaitFor` nodes of a workflow instance, by signal name (top level: nested workflows are not included). */
export function signalNodesOf(wf: CompiledWorkflow, instance: object): ReadonlyMap<string, readonly WaitFor<string, unknown>[]> {
  const out = new Map<string, WaitFor<string, unknown>[]>();
  for (const name of wf.nodes.keys()) {
    const n = (instance as Record<string, unknown>)[name];
    if (n instanceof WaitFor) {
      const list = out.get(n.signalName) ?? [];
      list.push(n as WaitFor<string, unknown>);
      out.set(n.signalName, list);
    }
  }
  return out;
}

/**
 * The payload to deliver for signal `name`, checked by every `WaitFor` node waiting on that name and by JSON. Throws
 * {@link InvalidSignalError} for an unknown name or a payload that fails.
 */
export function checkSignal(nodes: ReadonlyMap<string, readonly WaitFor<string, unknown>[]>, workflow: string, name: string, payload: unknown): unknown {
  const waits = typeof name === 'string' ? nodes.get(name) : undefined;
  if (!waits) {
    const known = [...nodes.keys()].map((n) => JSON.stringify(n)).join(', ');
    throw new InvalidSignalError(`${workflow} has no signal ${JSON.stringify(name)}${known ? ` (its signals: ${known})` : ' (it waits for no signal)'}`);
  }
  let value = payload;
  for (const w of waits) value = w.check(value);
  try {
    canonicalJson(value);
  } catch (err) {
    throw new InvalidSignalError(`the payload of signal ${JSON.stringify(name)} is not JSON data: ${(err as Error).message}`, { cause: err });
  }
  return value;
}

const listeners = new WeakMap<CheckpointStore, Map<string, Set<() => void>>>();

/** Wakes the runs of `store` waiting in this process for a signal to `runId`. */
export function notifyArrival(store: CheckpointStore, runId: string): void {
  const set = listeners.get(store)?.get(runId);
  if (set) for (const fn of [...set]) fn();
}

/** The mailbox of checkpointed run `runId`: the store's, with wake-ups from {@link notifyArrival}. */
export function storeMailbox(store: CheckpointStore, runId: string): Mailbox {
  return {
    take: (name, itemId) => store.takeSignal(runId, name, itemId),
    onArrival(fn) {
      let byRun = listeners.get(store);
      if (!byRun) listeners.set(store, (byRun = new Map()));
      let set = byRun.get(runId);
      if (!set) byRun.set(runId, (set = new Set()));
      set.add(fn);
      return () => {
        set!.delete(fn);
        if (set!.size === 0) byRun!.delete(runId);
      };
    },
  };
}

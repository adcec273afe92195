/** Shared helpers of the distributed worker, orchestrator and fault tests. */
import { bindWorkflow } from '../../runtime/engine/workflow.js';
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';
import { ChainWorkflow, CountCtx, FanWorkflow, SlowWorkflow, type Behaviour } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef, FanWorkflowDef, SlowWorkflowDef } from '../fixtures/distributed/flows.floxide.js';

export const REDIS_URL = process.env.FLOXIDE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.FLOXIDE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const fan = (behaviour: Behaviour = {}) => bindWorkflow(FanWorkflowDef, new FanWorkflow(behaviour));
export const chain = () => bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
export const slow = () => bindWorkflow(SlowWorkflowDef, new SlowWorkflow());
export { CountCtx, FanWorkflowDef, ChainWorkflowDef, SlowWorkflowDef };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until it holds or `ms` pass. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Asserts the exactly-once invariants of a completed fan run of width n. */
export async function checkFanRun(backend: DistributedBackend, runId: string, n: number): Promise<{ output: unknown; count: number; enqueued: number; completed: number }> {
  const run = await backend.getRun(runId);
  const metrics = await backend.metrics(runId);
  const snap = await backend.readContext(runId);
  let count = (snap.initial as { count?: number } | undefined)?.count ?? 0;
  for (const d of snap.deltas) count += (d.delta as { count?: number }).count ?? 0;
  const states = await backend.itemStates(runId);
  const ids = new Set(snap.deltas.map((d) => d.itemId));
  if (ids.size !== snap.deltas.length) throw new Error(`run ${runId}: an item appended two deltas`);
  if (run?.status !== 'completed') throw new Error(`run ${runId} is ${run?.status}: ${JSON.stringify(run?.error)}`);
  if (states.some((s) => s.status !== 'completed')) throw new Error(`run ${runId}: items not completed: ${JSON.stringify(states.filter((s) => s.status !== 'completed'))}`);
  return { output: run.output, count, enqueued: metrics.enqueued, completed: metrics.completed };
}

/** A key prefix no other test uses. */
export function uniquePrefix(tag: string): string {
  return `t-${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}:`;
}

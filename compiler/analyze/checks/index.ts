/**
 * The checks phase of a workflow's analysis: each check reads the {@link ResolvedWorkflow} that extraction
 * (`../resolve.ts`) finished and reports its FLX codes; none changes the model. Listed in the order they report.
 */
import type { ResolvedWorkflow } from '../resolve.js';
import { checkContext } from './context.js';
import { checkNodes } from './nodes.js';
import { checkPayloads } from './payloads.js';
import { checkReachability } from './reachability.js';
import type { CheckContext } from './report.js';
import { checkStorable } from './storable.js';
import { checkTargets } from './targets.js';

export { checkNodeClass } from './nodes.js';
export { reporter, type CheckContext, type Report } from './report.js';

const CHECKS: ReadonlyArray<(w: ResolvedWorkflow, cx: CheckContext) => void> = [checkNodes, checkTargets, checkPayloads, checkContext, checkStorable, checkReachability];

/** Runs every workflow check on `w`. */
export function checkWorkflow(w: ResolvedWorkflow, cx: CheckContext): void {
  for (const check of CHECKS) check(w, cx);
}

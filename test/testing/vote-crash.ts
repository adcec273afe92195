// A crash test for floxide/testing's fresh-process mode (test/testing/crash.test.ts) that can never end: two
// parallel waits with no timeout, one vote. Each process imports this module, so it holds no vitest import.
import { bindWorkflow } from 'floxide';
import { VirtualClock, type CrashTest } from 'floxide/testing';
import { VoteFlow } from '../fixtures/signals/flows.js';
import { VoteFlowDef, type VoteFlowSignals } from '../fixtures/signals/flows.floxide.js';

export const oneVote: CrashTest<number, string, undefined, undefined, VoteFlowSignals> = {
  workflow: () => bindWorkflow(VoteFlowDef, new VoteFlow()),
  context: () => undefined,
  input: 1,
  options: { clock: new VirtualClock() },
  signals: [{ name: 'vote', payload: { vote: 'yes' }, key: 'v1' }],
};

// A crash test for floxide/testing's fresh-process mode (test/testing/crash.test.ts) that can never end: two
// parallel waits with no timeout, one vote. Each process imports this module, so it holds no vitest import.
import { bindWorkflow, MissingDependencyError } from 'floxide';
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

/** A crash test whose world cannot be made (a driver missing in the child): the child's error keeps its class. */
export const missingDriver: CrashTest<number, string, undefined, undefined, VoteFlowSignals> = {
  world: () => {
    throw new MissingDependencyError('the ledger needs the package left-pad, which is not installed: run `npm install left-pad`');
  },
  workflow: () => bindWorkflow(VoteFlowDef, new VoteFlow()),
  context: () => undefined,
  input: 1,
};

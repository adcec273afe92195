// A child process of sqlite-processes.test.ts, a long-lived process (a web server) running LoopWorkflow's run argv[3]
// in the SQLite file argv[2] with a short busy timeout: at step 1 it prints `paused` and waits for a line on its
// standard input, then that step fails. (The test holds the file's write lock by then: failing the run and releasing
// its claim both meet the lock.) Prints `ended <error name>` when its call ends, and lives on until its input ends.
import { createInterface } from 'node:readline';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { LoopCtx, LoopWorkflow } from './flows/loop.js';
import { LoopWorkflowDef } from './flows/loop.floxide.js';

const [file, runId] = process.argv.slice(2) as [string, string];
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const store = new SqliteCheckpointStore(file, { busyTimeoutMs: 100 });
const flow = new LoopWorkflow();
flow.step.hook = async (_ctx, i) => {
  if (i !== 1) return;
  process.stdout.write('paused\n');
  await lines.next();
  throw new Error('step 1 failed');
};
try {
  await bindWorkflow(LoopWorkflowDef, flow).runWithCheckpoint(new LoopCtx(), { i: 0, limit: 3 }, store, runId);
  process.stdout.write('ended without error\n');
} catch (err) {
  process.stdout.write(`ended ${(err as Error).name}\n`);
}
while (!(await lines.next()).done);

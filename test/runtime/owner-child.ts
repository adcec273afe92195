// A child process of ownership.test.ts: `run` starts (or continues) SteadyApprovalFlow's run in the SQLite file and
// waits for its signal; `resume` resumes it. Prints one JSON line: the output, or the error's name and message.
import { appendFileSync } from 'node:fs';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { SteadyApprovalFlow } from '../fixtures/signals/flows.js';
import { SteadyApprovalFlowDef } from '../fixtures/signals/flows.floxide.js';

const [mode, file, runId, log] = process.argv.slice(2) as ['run' | 'resume', string, string, string];
const store = new SqliteCheckpointStore(file);
const wf = bindWorkflow(SteadyApprovalFlowDef, new SteadyApprovalFlow());
const options = { signalPollMs: 20, onEvent: (e: { type: string; node?: string }) => appendFileSync(log, `${process.pid} ${e.type}${e.node ? ` ${e.node}` : ''}\n`) };
try {
  const out = mode === 'run' ? await wf.runWithCheckpoint(undefined, 'order', store, runId, options) : await wf.resume(store, runId, options);
  process.stdout.write(JSON.stringify({ output: out }));
} catch (err) {
  process.stdout.write(JSON.stringify({ error: (err as Error).name, message: (err as Error).message }));
} finally {
  await store.close();
}

// A child process of sqlite-processes.test.ts: one of several processes starting runs on one SQLite file at once. At
// the wall-clock time argv[6] (so that every child starts together) it runs LoopWorkflow (4 steps and the end) under
// argv[3] run ids of its own, `<argv[2]>-<i>`, and argv[4] run ids every child shares, `shared-<i>`, all at once;
// appends `<pid> <run id> <item id>` to the file argv[5] for every attempt it starts. Prints a JSON object: how many
// calls ended how (`output <n>`, or the error's name and code).
import { appendFileSync } from 'node:fs';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { LoopCtx, LoopWorkflow } from './flows/loop.js';
import { LoopWorkflowDef } from './flows/loop.floxide.js';

const [tag, own, shared, log, at] = process.argv.slice(3) as [string, string, string, string, string];
const file = process.argv[2]!;
while (Date.now() < Number(at)) await new Promise((r) => setTimeout(r, 1));
const store = new SqliteCheckpointStore(file);
const wf = bindWorkflow(LoopWorkflowDef, new LoopWorkflow());
const ids = [...Array.from({ length: Number(own) }, (_, i) => `${tag}-${i}`), ...Array.from({ length: Number(shared) }, (_, i) => `shared-${i}`)];
const ended: Record<string, number> = {};
await Promise.all(
  ids.map(async (runId) => {
    let how: string;
    try {
      const onEvent = (e: { type: string; itemId?: string }) => e.type === 'step.started' && appendFileSync(log, `${process.pid} ${runId} ${e.itemId}\n`);
      how = `output ${await wf.runWithCheckpoint(new LoopCtx(), { i: 0, limit: 4 }, store, runId, { onEvent })}`;
    } catch (err) {
      how = `${(err as Error).name} ${(err as { code?: string }).code}`;
    }
    ended[how] = (ended[how] ?? 0) + 1;
  }),
);
await store.close();
process.stdout.write(JSON.stringify(ended));

/**
 * `floxide worker` given the module users write first: the workflow, its context class and `export default
 * bindWorkflow(XDef, new X())` in one file, which its generated module imports back. The worker (a real Node process,
 * the module loaded under tsx) imports that file first, so the generated module runs before the file's classes exist:
 * it must not read them until the workflow is bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from 'floxide';
import { openTestBackend, spawnTsxWorker, type ChildWorker, type TestBackend } from '../distributed/helpers.js';

let tb: TestBackend;
let worker: ChildWorker | undefined;

beforeAll(async () => {
  tb = await openTestBackend('redis', 'selfbound');
});

afterAll(async () => {
  if (worker && worker.proc.exitCode === null) {
    worker.proc.kill('SIGTERM');
    await worker.exit;
  }
  await tb.dispose();
});

describe('floxide worker: a module that binds its own workflow', () => {
  it('loads it and runs its runs', { timeout: 60_000 }, async () => {
    worker = spawnTsxWorker(tb.storeUrl, ['--no-schedules'], {}, 'test/fixtures/distributed/self-bound.ts');
    await worker.ready.catch((err: Error) => expect.fail(err.message));
    const { default: wf, TallyCtx } = await import('../fixtures/distributed/self-bound.js');
    await wf.startDistributed(new TallyCtx(), 3, tb.backend, 'sb-1');
    const done = await new Orchestrator(tb.backend).waitForCompletion('sb-1', { timeoutMs: 30_000 });
    expect(done).toMatchObject({ status: 'completed', output: 12 });
    expect((await tb.backend.readContext('sb-1'))?.deltas.map((d) => d.delta)).toEqual([{ steps: 1 }, { steps: 1 }]);
  });
});

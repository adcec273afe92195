/**
 * The optional batched commit (`commitSteps`) on the memory and Redis backends: each commit of a batch is applied
 * exactly as `commitStep` would apply it (independently atomic and idempotent, in order), and a worker's group
 * commit keeps every guarantee. Postgres has its own suite (postgres-batch.test.ts).
 */
import { createClient } from '@redis/client';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, RunNotFoundError } from '../../runtime/core/errors.js';
import type { EngineItem, JoinArrival, StepOutcome } from '../../runtime/engine/types.js';
import { supportsBatchCommit, type BatchStepCommitter, type DistributedBackend, type LeasedItem, type NewRun, type StepCommit } from '../../runtime/distributed/contracts.js';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { settleJoinGroup } from '../../runtime/engine/joins.js';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { CommitBatcher } from '../../runtime/distributed/commit-batcher.js';
import { REDIS_URL, uniquePrefix } from './helpers.js';

const prefixes: string[] = [];
afterAll(async () => {
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  for (const p of prefixes) for await (const keys of c.scanIterator({ MATCH: `${p}*`, COUNT: 1000 })) if (keys.length > 0) await c.del(keys);
  await c.close();
});

const backends: Record<string, () => Promise<DistributedBackend & BatchStepCommitter>> = {
  memory: async () => new MemoryBackend(),
  redis: async () => {
    const keyPrefix = uniquePrefix('batch');
    prefixes.push(keyPrefix);
    return RedisBackend.connect({ url: REDIS_URL, keyPrefix });
  },
};

const spec = (runId: string): NewRun => ({ runId, workflow: 'wf', fingerprint: 'fp', input: runId, context: { count: 0 }, firstItem: { node: 'start', id: '0', input: null } });
const item = (node: string, id: string, input: unknown = null): EngineItem => ({ node, id, input });
const cont = (items: EngineItem[], arrivals: JoinArrival[] = [], delta?: Record<string, unknown>): StepOutcome => ({ type: 'continue', items, arrivals, delta });
const commitOf = (l: LeasedItem, outcome: StepOutcome): StepCommit => ({ runId: l.runId, itemId: l.item.id, leaseToken: l.leaseToken, outcome });
const arrival = (group: string, index: number, value: unknown): JoinArrival => ({ group, index, size: 2, node: 'merge', value, held: false, outer: [] });

for (const [name, make] of Object.entries(backends)) {
  describe(`commitSteps: ${name}`, () => {
    it('is advertised by supportsBatchCommit', async () => {
      const b = await make();
      try {
        expect(supportsBatchCommit(b)).toBe(true);
        expect(await b.commitSteps([])).toEqual([]);
      } finally {
        await b.close();
      }
    });

    it('applies each commit on its own: errors stay with their commit, the others apply', async () => {
      const b = await make();
      try {
        await b.createRun(spec('a'));
        await b.createRun(spec('b'));
        const leases = await b.claim('w1', 10, 30_000);
        const la = leases.find((l) => l.runId === 'a')!;
        const lb = leases.find((l) => l.runId === 'b')!;
        const res = await b.commitSteps([
          commitOf(la, cont([item('next', '1')], [], { count: 1 })),
          { ...commitOf(la, cont([])), runId: 'nope' },
          commitOf(lb, { type: 'retry', attempt: 1, delayMs: -1, error: { name: 'Error', message: 'x' } }),
          commitOf(lb, { type: 'terminal', output: 'done', items: [], arrivals: [], delta: { count: 2 } }),
        ]);
        expect(res).toHaveLength(4);
        expect(res[0]).toMatchObject({ ok: true, result: { status: 'applied', runStatus: 'running', enqueued: ['1'], contextVersion: 1 } });
        expect(res[1]!.ok).toBe(false);
        expect(!res[1]!.ok && res[1]!.error).toBeInstanceOf(RunNotFoundError);
        expect(!res[2]!.ok && res[2]!.error).toBeInstanceOf(InvalidArgumentError);
        expect(res[3]).toMatchObject({ ok: true, result: { status: 'applied', runStatus: 'completed' } });
        expect((await b.getRun('b'))!.output).toBe('done');
        expect((await b.pendingWork('a')).map((p) => p.item.id)).toEqual(['1']);
        expect((await b.metrics('a')).enqueued).toBe(2);
        expect((await b.metrics('a')).completed).toBe(1);
        expect((await b.readContext('a')).deltas.map((d) => d.delta)).toEqual([{ count: 1 }]);
      } finally {
        await b.close();
      }
    });

    it('commits of one batch see each other: a repeat is a duplicate, two arrivals create the join once', async () => {
      const b = await make();
      try {
        await b.createRun(spec('j'));
        const [first] = await b.claim('w1', 1, 30_000);
        await b.commitStep(commitOf(first!, cont([item('left', 'l'), item('right', 'r')])));
        const two = await b.claim('w1', 2, 30_000);
        expect(two.map((l) => l.item.id).sort()).toEqual(['l', 'r']);
        const res = await b.commitSteps([
          commitOf(two[0]!, cont([], [arrival('g', two[0]!.item.id === 'l' ? 0 : 1, two[0]!.item.id)])),
          commitOf(two[0]!, cont([], [arrival('g', two[0]!.item.id === 'l' ? 0 : 1, two[0]!.item.id)])),
          commitOf(two[1]!, cont([], [arrival('g', two[1]!.item.id === 'l' ? 0 : 1, two[1]!.item.id)])),
        ]);
        expect(res.map((r) => r.ok && r.result.status)).toEqual(['applied', 'duplicate', 'applied']);
        const joined = res.flatMap((r) => (r.ok && r.result.status === 'applied' ? r.result.joined : []));
        // the group's settlement item (the engine settles it into the join item when a worker runs it)
        expect(joined).toEqual([{ id: 'g:join', node: 'merge', settle: [arrival('g', 0, 'l'), arrival('g', 1, 'r')] }]);
        expect(settleJoinGroup('g', joined[0]!.settle!)).toEqual({ id: 'g:join', node: 'merge', input: ['l', 'r'] });
        expect((await b.pendingWork('j')).map((p) => p.item.id)).toEqual(['g:join']);
      } finally {
        await b.close();
      }
    });

    it('a worker group commit resolves each step with its own result', async () => {
      const b = await make();
      try {
        for (let i = 0; i < 20; i++) await b.createRun(spec(`g${i}`));
        const leases = await b.claim('w1', 20, 30_000);
        const batcher = new CommitBatcher(b, 8, 1);
        const results = await Promise.all([
          ...leases.map((l) => batcher.commit(commitOf(l, cont([item('next', '1')])))),
          batcher.commit(commitOf(leases[0]!, cont([item('next', '1')]))),
          batcher.commit({ ...commitOf(leases[1]!, cont([])), runId: 'unknown' }).catch((e: unknown) => e),
        ]);
        expect(results.slice(0, 20).every((r) => (r as { status: string }).status === 'applied')).toBe(true);
        expect((results[20] as { status: string }).status).toBe('duplicate');
        expect(results[21]).toBeInstanceOf(RunNotFoundError);
        for (const l of leases) expect((await b.itemState(l.runId, '0'))!.status).toBe('completed');
      } finally {
        await b.close();
      }
    });
  });
}

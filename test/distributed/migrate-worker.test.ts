/**
 * Moving a run to another graph version while a worker of the old version runs one of its nodes (issue 10), with real
 * Worker instances on the memory backend and the real Redis and Postgres (the store-level rules are in migrate.test.ts).
 * docs/deploying.md promises: a move whose target takes everything the old worker's commit can enqueue (no rename, only
 * safe changes) keeps its lease and the commit applies, its successor going to the new version's workers; any other
 * move is refused while the item is leased (MigrationBlockedError naming the worker) and writes nothing. Either way
 * the run completes exactly once and every node runs once, on the code of the run's version at that moment.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationBlockedError } from '../../runtime/core/errors.js';
import { migrateRun } from '../../compiler/versions/migrate.js';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { migratableBackend } from '../../runtime/distributed/migratable.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { supportsMigration, type DistributedBackend, type LeasedItem, type RunMigrator } from '../../runtime/distributed/contracts.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import type { WorkflowCtx } from '../../runtime/core/node.js';
import type { Transition } from '../../runtime/core/transition.js';
import { Double, DeployFlow as DeployFlowV1, type DeployLog } from '../fixtures/distributed/deploy-v1.js';
import { DeployFlowDef as V1Def } from '../fixtures/distributed/deploy-v1.floxide.js';
import { DeployFlow as DeployFlowV2 } from '../fixtures/distributed/deploy-v2.js';
import { DeployFlowDef as V2Def } from '../fixtures/distributed/deploy-v2.floxide.js';
import { DeployFlow as DeployFlowV3 } from '../fixtures/distributed/deploy-v3.js';
import { DeployFlowDef as V3Def } from '../fixtures/distributed/deploy-v3.floxide.js';
import { deployRecord, deployRecordV3 } from './deploy-record.js';
import { openTestBackend, REAL_BACKENDS, until } from './helpers.js';

const BOUND_MS = 30_000;

/** Version 1's `double`, held until the test opens its gate: the worker keeps the item leased meanwhile. */
class GatedDouble extends Double {
  readonly entered: Promise<void>;
  private enter!: () => void;
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  constructor(log: DeployLog) {
    super(log, 'v1', 'double');
    this.entered = new Promise<void>((r) => (this.enter = r));
  }
  release(): void {
    this.open();
  }
  override async process(ctx: WorkflowCtx, n: number): Promise<Transition<number>> {
    this.enter();
    await this.gate;
    return super.process(ctx, n);
  }
}

const backends: Array<[string, () => Promise<{ backend: DistributedBackend; dispose(): Promise<void> }>]> = [
  ['memory', async () => {
    const backend = new MemoryBackend();
    return { backend, dispose: () => backend.close() };
  }],
  ...REAL_BACKENDS.map((name): [string, () => Promise<{ backend: DistributedBackend; dispose(): Promise<void> }>] => [name, () => openTestBackend(name, 'mgw')]),
];

describe.each(backends)('a version-1 worker runs a node while its run moves, on %s', (_name, openBackend) => {
  const workers: Worker[] = [];
  const opened: Array<{ dispose(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop(0)));
    await Promise.all(opened.splice(0).map((o) => o.dispose()));
  });

  async function open(): Promise<DistributedBackend & RunMigrator> {
    const o = await openBackend();
    opened.push(o);
    if (!supportsMigration(o.backend)) throw new Error(`${o.backend.kind} cannot migrate`);
    return o.backend;
  }

  /** A started worker of `wf`; `leases` collects what it was leased (claims and hand-offs). */
  function worker(b: DistributedBackend, wf: { def: any; instance: object }, id: string, leases: LeasedItem[], leaseMs = 5_000): Worker {
    const w = new Worker(b, wf.def, wf.instance, { workerId: id, concurrency: 2, idleMinMs: 1, idleMaxMs: 20, leaseMs, heartbeatMs: Math.floor(leaseMs / 5), callbacks: { onStarted: (l: LeasedItem) => void leases.push(l) } });
    workers.push(w);
    void w.start();
    return w;
  }

  /** Each (item, node) ran once, and on the version given. */
  function expectRanOnce(log: DeployLog, runId: string, expected: Array<[string, string]>): void {
    expect(log.filter((e) => e.runId === runId).map((e) => [e.node, e.version])).toEqual(expected);
    const ids = log.filter((e) => e.runId === runId).map((e) => e.itemId);
    expect(new Set(ids).size).toBe(ids.length);
  }

  it('a safe move (version 3 accepts version 1) keeps the lease, extended past its first expiry: the old commit applies, its successor runs on version 3', async () => {
    const b = await open();
    const log: DeployLog = [];
    const flow1 = new DeployFlowV1(log);
    const gated = new GatedDouble(log);
    flow1.double = gated;
    const v1 = bindWorkflow(V1Def, flow1);
    const v3 = bindWorkflow(V3Def, new DeployFlowV3(log));
    const old: LeasedItem[] = [];
    const fresh: LeasedItem[] = [];
    // a short lease: the node outlives it, so the old worker's heartbeats must keep extending it after the move
    worker(b, v1, 'old-1', old, 1_000);
    const runId = await new Orchestrator(b, v1).startRun(undefined, '21', { runId: 'mv-safe' });
    await gated.entered;
    const leased = (await b.itemStates(runId)).find((s) => s.status === 'in_progress');
    expect(leased).toMatchObject({ node: 'double', workerId: 'old-1' });

    const plan = await migrateRun(migratableBackend(b), runId, { record: deployRecordV3 });
    expect([plan.from, plan.to]).toEqual([V1Def.fingerprint, V3Def.fingerprint]);
    expect((await b.getRun(runId))!.fingerprint).toBe(V3Def.fingerprint);
    const held = await b.itemState(runId, leased!.itemId);
    expect(held).toMatchObject({ status: 'in_progress', workerId: 'old-1' });

    worker(b, v3, 'new-1', fresh);
    // the version-3 worker is claiming; the old worker's lease is extended past the expiry it had when the run moved
    await until(async () => ((await b.itemState(runId, leased!.itemId))!.leaseExpiresAt ?? 0) > held!.leaseExpiresAt! + 1_000, BOUND_MS, 'the moved lease to be extended');
    expect(await b.itemState(runId, leased!.itemId)).toMatchObject({ status: 'in_progress', workerId: 'old-1', attempt: 1 });
    gated.release();
    const rec = await new Orchestrator(b, v3).waitForCompletion(runId, { timeoutMs: BOUND_MS });
    expect(rec.output).toBe('v3:42#');
    // double ran once on version 1 (its commit applied under the kept lease); its successor was not handed back
    expectRanOnce(log, runId, [['parse', 'v1'], ['double', 'v1'], ['show', 'v3'], ['stamp', 'v3']]);
    expect(old.filter((l) => l.runId === runId).map((l) => l.item.node)).toEqual(['parse', 'double']);
    expect(fresh.filter((l) => l.runId === runId).map((l) => [l.item.node, l.fingerprint])).toEqual([['show', V3Def.fingerprint], ['stamp', V3Def.fingerprint]]);
    expect((await b.itemStates(runId)).map((s) => s.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(await b.metrics(runId)).toMatchObject({ completed: 4, misrouted: 0, redeliveries: 0 });
    expect(await b.errors(runId)).toEqual([]);
  });

  it('a move with a rename (version 2) is refused while the old worker holds the item; its commit applies and the run completes once', async () => {
    const b = await open();
    const log: DeployLog = [];
    const flow1 = new DeployFlowV1(log);
    const gated = new GatedDouble(log);
    flow1.double = gated;
    const v1 = bindWorkflow(V1Def, flow1);
    const v2 = bindWorkflow(V2Def, new DeployFlowV2(log));
    const old: LeasedItem[] = [];
    const fresh: LeasedItem[] = [];
    worker(b, v1, 'old-1', old);
    worker(b, v2, 'new-1', fresh);
    const runId = await new Orchestrator(b, v1).startRun(undefined, '21', { runId: 'mv-rename' });
    await gated.entered;
    const leased = (await b.itemStates(runId)).find((s) => s.status === 'in_progress')!;
    const before = await b.itemStates(runId);

    const refused = await migrateRun(migratableBackend(b), runId, { record: deployRecord, rename: { double: 'twice' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MigrationBlockedError);
    expect((refused as MigrationBlockedError).blocking).toEqual([expect.objectContaining({ item: leased.itemId, node: 'double', reason: expect.stringMatching(/leased by worker old-1/) })]);
    // nothing written: the run stays on version 1 with the same items
    expect((await b.getRun(runId))!.fingerprint).toBe(V1Def.fingerprint);
    expect(await b.itemStates(runId)).toEqual(before);

    gated.release();
    const rec = await new Orchestrator(b, v1).waitForCompletion(runId, { timeoutMs: BOUND_MS });
    expect(rec.output).toBe('v1:42');
    expectRanOnce(log, runId, [['parse', 'v1'], ['double', 'v1'], ['show', 'v1']]);
    expect(fresh.filter((l) => l.runId === runId)).toEqual([]);
    expect(await b.metrics(runId)).toMatchObject({ completed: 3, misrouted: 0, redeliveries: 0 });
  });
});

/**
 * Moving open distributed runs to another graph version (`migrateRun` over `migratableBackend`, and each backend's
 * atomic `migrate`), on the memory backend and the real Redis and Postgres. DeployFlow version 1 (`parse -> double
 * -> show`) and version 2 (`double` renamed `twice`, `tag` added): a run with an item queued for `double` moves to
 * version 2 only with `--rename double=twice`, not while an old worker holds a lease on one of its items, and never
 * with items it did not judge; once moved, only version-2 workers claim it and they finish it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FingerprintMismatchError, MigrationBlockedError, MigrationChangedError, RunNotFoundError, RunStateError } from '../../runtime/core/errors.js';
import { migrateRun } from '../../compiler/versions/migrate.js';
import { supportsMigration, supportsObservation, type DistributedBackend, type RunMigrator, type SignalReceiver } from '../../runtime/distributed/contracts.js';
import { isFinalEvent, type WorkflowEvent } from '../../runtime/engine/events.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { migratableBackend } from '../../runtime/distributed/migratable.js';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { DeployFlow as DeployFlowV1, type DeployLog } from '../fixtures/distributed/deploy-v1.js';
import { DeployFlowDef as V1Def } from '../fixtures/distributed/deploy-v1.floxide.js';
import { DeployFlow as DeployFlowV2 } from '../fixtures/distributed/deploy-v2.js';
import { DeployFlowDef as V2Def } from '../fixtures/distributed/deploy-v2.floxide.js';
import { DeployFlow as DeployFlowV3 } from '../fixtures/distributed/deploy-v3.js';
import { DeployFlowDef as V3Def } from '../fixtures/distributed/deploy-v3.floxide.js';
import { ParkFlow as ParkFlowV1 } from '../fixtures/distributed/park-v1.js';
import { ParkFlowDef as ParkV1Def } from '../fixtures/distributed/park-v1.floxide.js';
import { ParkFlow as ParkFlowV2 } from '../fixtures/distributed/park-v2.js';
import { ParkFlowDef as ParkV2Def } from '../fixtures/distributed/park-v2.floxide.js';
import { deployRecord, parkRecord } from './deploy-record.js';
import { REDIS_URL, uniquePrefix, until } from './helpers.js';
import { usePgSchemas } from './pg-schemas.js';

const pg = usePgSchemas('migrate');
const opened: DistributedBackend[] = [];
afterAll(async () => {
  for (const b of opened) await b.close().catch(() => undefined);
});

const backends: Array<[string, () => Promise<DistributedBackend>]> = [
  ['memory', async () => new MemoryBackend()],
  ['redis', async () => RedisBackend.connect({ url: REDIS_URL, keyPrefix: uniquePrefix('migrate') })],
  ['postgres', async () => pg.open()],
];

async function open(make: () => Promise<DistributedBackend>): Promise<DistributedBackend & RunMigrator> {
  const b = await make();
  opened.push(b);
  if (!supportsMigration(b)) throw new Error(`${b.kind} cannot migrate`);
  return b;
}

describe.each(backends)('migrating distributed runs on %s', (_name, make) => {
  it('moves a run with an item queued for a renamed node only with the rename, then version-2 workers finish it', async () => {
    const b = await open(make);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    const v2 = bindWorkflow(V2Def, new DeployFlowV2(log));
    await v1.startDistributed(undefined, '21', b, 'r1');
    await v1.stepDistributed(b, 'old-1'); // parse: an item for `double` is queued
    const store = migratableBackend(b);

    // Without the rename: blocked, the item listed, nothing written.
    const blocked = await migrateRun(store, 'r1', { record: deployRecord }).catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(MigrationBlockedError);
    expect((blocked as Error).message).toMatch(/run r1 cannot move from DeployFlow version \w+ to \w+:\n {2}[\w.:-]+: node double is not in version \w+ \(renamed\? --rename double=twice\)/);
    expect((blocked as MigrationBlockedError).blocking).toEqual([expect.objectContaining({ node: 'double' })]);
    expect((await b.getRun('r1'))!.fingerprint).toBe(V1Def.fingerprint);

    // A dry run judges and writes nothing.
    const dry = await migrateRun(store, 'r1', { record: deployRecord, rename: { double: 'twice' }, dryRun: true });
    expect([dry.from, dry.to, dry.blocking]).toEqual([V1Def.fingerprint, V2Def.fingerprint, []]);
    expect((await b.getRun('r1'))!.fingerprint).toBe(V1Def.fingerprint);

    // An old worker holds a lease on the item: its commit would enqueue `show` by version 1's edges into a run of
    // version 2 whose queued items were renamed. The move waits for it (blocked, listing the lease), writes nothing.
    const [lease] = await b.claim('old-2', 1, 30_000, { workflow: 'DeployFlow', fingerprints: [V1Def.fingerprint] });
    expect(lease!.item.node).toBe('double');
    const leased = await migrateRun(store, 'r1', { record: deployRecord, rename: { double: 'twice' } }).catch((e: unknown) => e);
    expect(leased).toBeInstanceOf(MigrationBlockedError);
    expect((leased as Error).message).toContain(`${lease!.item.id}: leased by worker old-2, whose commit would follow version ${V1Def.fingerprint}`);
    // The store refuses on its own too (the judgement and the move are separate calls).
    const direct = await b.migrate('r1', { from: V1Def.fingerprint, to: V2Def.fingerprint, renames: { double: 'twice' }, expect: [lease!.item.id] }).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(MigrationBlockedError);
    expect((direct as MigrationBlockedError).blocking).toEqual([{ item: lease!.item.id, node: 'double', reason: expect.stringContaining('leased by worker old-2') }]);
    expect((await b.getRun('r1'))!.fingerprint).toBe(V1Def.fingerprint);
    expect(await b.release('r1', lease!.item.id, lease!.leaseToken)).toBe(true);

    // With the rename: moved; the queued item is now for `twice`; only version-2 claims see the run.
    const plan = await migrateRun(store, 'r1', { record: deployRecord, rename: { double: 'twice' } });
    expect(plan.renames).toEqual({ double: 'twice' });
    expect((await b.getRun('r1'))!.fingerprint).toBe(V2Def.fingerprint);
    expect((await b.pendingWork('r1')).map((w) => [w.item.node, w.state.node])).toEqual([['twice', 'twice']]);
    expect(await b.claim('old-3', 1, 30_000, { workflow: 'DeployFlow', fingerprints: [V1Def.fingerprint] })).toEqual([]);
    for (let i = 0; i < 10 && (await b.getRun('r1'))!.status === 'running'; i++) await v2.stepDistributed(b, 'new-1');
    expect((await b.getRun('r1'))!).toMatchObject({ status: 'completed', output: 'v2:42!', fingerprint: V2Def.fingerprint });
    expect(log.map((e) => `${e.node}@${e.version}`)).toEqual(['parse@v1', 'twice@v2', 'show@v2', 'tag@v2']);
    expect((await b.metrics('r1')).misrouted).toBe(0);

    // A finished run cannot move; an unknown one is not found.
    await expect(migrateRun(store, 'r1', { record: deployRecord })).rejects.toThrow(RunStateError);
    await expect(b.migrate('r1', { from: V2Def.fingerprint, to: V1Def.fingerprint, renames: {} })).rejects.toThrow(RunStateError);
    await expect(migrateRun(store, 'nope', { record: deployRecord })).rejects.toThrow(RunNotFoundError);
    await expect(b.migrate('nope', { from: V1Def.fingerprint, to: V2Def.fingerprint, renames: {} })).rejects.toThrow(RunNotFoundError);
  }, 120_000);

  it('moves runs holding items parked at a renamed wait and sleep, a join hold and pending signals; version-2 workers finish them', async () => {
    const b = await open(make);
    const v1 = bindWorkflow(ParkV1Def, new ParkFlowV1());
    const v2 = bindWorkflow(ParkV2Def, new ParkFlowV2());
    const store = migratableBackend(b);
    const steps = async (wf: typeof v1 | typeof v2, runId: string, n: number) => {
      for (let i = 0; i < n; i++) await wf.stepDistributed(b, `${runId}-worker`);
    };
    const states = async (runId: string) => (await b.pendingWork(runId)).map((w) => `${w.item.node}:${w.state.status}`).sort();
    const rename = { ballot: 'poll', nap: 'rest' };
    const vote = (runId: string, v: string) => (b as typeof b & SignalReceiver).signal(runId, 'vote', { vote: v });

    // wait: both ballots parked, one voted (its arrival held at the join), the other still waiting
    await v1.startDistributed(undefined, 1, b, 'wait');
    await steps(v1, 'wait', 3);
    expect(await states('wait')).toEqual(['ballot:parked', 'ballot:parked']);
    await vote('wait', 'a');
    await steps(v1, 'wait', 1);
    expect(await states('wait')).toEqual(['ballot:parked']);
    expect((await b.parkedArrivals('wait')).map((a) => a.node)).toEqual(['tally']);
    // sleep: both votes in, the run asleep at nap
    await v1.startDistributed(undefined, 1, b, 'sleep');
    await steps(v1, 'sleep', 3);
    await vote('sleep', 'x');
    await vote('sleep', 'y');
    await steps(v1, 'sleep', 4);
    expect(await states('sleep')).toEqual(['nap:parked']);
    // mailbox: the votes arrive before any ballot ran (they wait in the run's mailbox); only version-2 workers run
    await v1.startDistributed(undefined, 1, b, 'mailbox');
    await steps(v1, 'mailbox', 1);
    await vote('mailbox', 'm');
    await vote('mailbox', 'n');
    expect(await states('mailbox')).toEqual(['ballot:pending', 'ballot:pending']);
    await steps(v2, 'mailbox', 1);
    expect(await states('mailbox')).toEqual(['ballot:pending', 'ballot:pending']);

    for (const runId of ['wait', 'sleep', 'mailbox']) {
      const plan = await migrateRun(store, runId, { record: parkRecord, rename });
      expect([plan.to, plan.blocking]).toEqual([ParkV2Def.fingerprint, []]);
    }
    expect(await states('wait')).toEqual(['poll:parked']);
    expect(await states('sleep')).toEqual(['rest:parked']);
    expect(await states('mailbox')).toEqual(['poll:pending', 'poll:pending']);
    await steps(v1, 'old', 3);
    await vote('wait', 'b');
    const outputs = async () => Promise.all(['wait', 'sleep', 'mailbox'].map(async (r) => (await b.getRun(r))!.output));
    await until(async () => {
      await steps(v2, 'new', 1);
      return (await outputs()).every((o) => o !== undefined);
    }, 30_000, 'the moved runs to finish');
    expect(await outputs()).toEqual(['v2:a,b', 'v2:x,y', 'v2:m,n']);
    for (const r of ['wait', 'sleep', 'mailbox']) expect(await b.getRun(r)).toMatchObject({ status: 'completed', fingerprint: ParkV2Def.fingerprint });
  }, 60_000);

  it('refuses a move judged on other items or another version, writing nothing', async () => {
    const b = await open(make);
    const v1 = bindWorkflow(V1Def, new DeployFlowV1([]));
    await v1.startDistributed(undefined, '1', b, 'r2');
    await v1.stepDistributed(b, 'old-1');
    const [item] = await b.pendingWork('r2');
    const m = { from: V1Def.fingerprint, to: V2Def.fingerprint, renames: { double: 'twice' } };
    // a commit between judgement and move: the item judged is gone, another is there
    await expect(b.migrate('r2', { ...m, expect: ['0'] })).rejects.toThrow(MigrationChangedError);
    await expect(b.migrate('r2', { ...m, expect: [] })).rejects.toThrow(MigrationChangedError);
    await expect(b.migrate('r2', { ...m, expect: [item!.item.id, 'other'] })).rejects.toThrow(MigrationChangedError);
    await expect(b.migrate('r2', { ...m, from: V2Def.fingerprint, expect: [item!.item.id] })).rejects.toThrow(FingerprintMismatchError);
    await expect(b.migrate('r2', { ...m, renames: { double: '' } })).rejects.toThrow(/renames must map/);
    expect((await b.getRun('r2'))!.fingerprint).toBe(V1Def.fingerprint);
    expect((await b.pendingWork('r2'))[0]!.item.node).toBe('double');
    await b.migrate('r2', { ...m, expect: [item!.item.id] });
    expect((await b.pendingWork('r2'))[0]!.item).toEqual({ ...item!.item, node: 'twice' });
  }, 60_000);

  it('judges a run again when a step committed between the judgement and the move', async () => {
    const b = await open(make);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    await v1.startDistributed(undefined, '3', b, 'r4');
    const base = migratableBackend(b);
    let loads = 0;
    // The first judgement sees `parse` queued; before the move, a version-1 worker runs it (now `double` is queued).
    const racing = {
      ...base,
      load: async (runId: string) => {
        const cp = await base.load(runId);
        if (++loads === 1) await v1.stepDistributed(b, 'old-1');
        return cp;
      },
    };
    const plan = await migrateRun(racing, 'r4', { record: deployRecord, rename: { double: 'twice' } });
    expect(loads).toBe(2);
    expect(plan.to).toBe(V2Def.fingerprint);
    expect((await b.pendingWork('r4')).map((w) => w.item.node)).toEqual(['twice']);
    expect(log.map((e) => e.node)).toEqual(['parse']);
  }, 60_000);

  it('keeps the leases of a safe move: the old worker commit stays valid, its successor is not handed back to it', async () => {
    const b = await open(make);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    await v1.startDistributed(undefined, '5', b, 'r3');
    await v1.stepDistributed(b, 'old-1');
    const [lease] = await b.claim('old-2', 1, 30_000, { workflow: 'DeployFlow', fingerprints: [V1Def.fingerprint] });
    // version 3 accepts version 1 (a node and an edge added): leases are kept
    await b.migrate('r3', { from: V1Def.fingerprint, to: V3Def.fingerprint, renames: {}, leases: 'keep' });
    const res = await b.commitStep({
      runId: 'r3',
      itemId: lease!.item.id,
      leaseToken: lease!.leaseToken,
      outcome: { type: 'continue', items: [{ node: 'show', id: `${lease!.item.id}.0`, input: 10 }], arrivals: [], delta: undefined },
      handoff: { workerId: 'old-2', leaseMs: 30_000, fingerprint: V1Def.fingerprint },
    });
    expect(res).toMatchObject({ status: 'applied', runStatus: 'running' });
    expect((res as { next?: unknown }).next).toBeUndefined();
    expect(await b.claim('old-3', 1, 30_000, { workflow: 'DeployFlow', fingerprints: [V1Def.fingerprint] })).toEqual([]);
    const [next] = await b.claim('new-1', 1, 30_000, { workflow: 'DeployFlow', fingerprints: [V3Def.fingerprint] });
    expect([next!.item.node, next!.fingerprint]).toEqual(['show', V3Def.fingerprint]);
    expect((await b.metrics('r3')).misrouted).toBe(0);
  }, 60_000);

  it('a worker whose version accepts the run\'s moves it, named in run.migrated; the run keeps the version it started on', async () => {
    const b = await open(make);
    if (!supportsObservation(b)) throw new Error(`${b.kind} has no events`);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    const v3 = bindWorkflow(V3Def, new DeployFlowV3(log));
    await v1.startDistributed(undefined, '4', b, 'r4');
    const w = new Worker(b, v3.def, v3.instance, { workerId: 'new-9', idleMinMs: 1, idleMaxMs: 20 });
    void w.start();
    try {
      await until(async () => (await b.getRun('r4'))?.status === 'completed', 30_000, 'r4 completed');
    } finally {
      await w.stop(0);
    }
    const run = (await b.getRun('r4'))!;
    expect([run.fingerprint, run.startedOn, typeof run.migratedAt]).toEqual([V3Def.fingerprint, V1Def.fingerprint, 'number']);
    const events: WorkflowEvent[] = [];
    for await (const e of b.subscribe({ runId: 'r4' })) {
      events.push(e.event);
      if (isFinalEvent(e.event)) break;
    }
    expect(events.filter((e) => e.type === 'run.migrated')).toEqual([
      { type: 'run.migrated', runId: 'r4', at: run.migratedAt, from: V1Def.fingerprint, to: V3Def.fingerprint, renames: {}, workerId: 'new-9' },
    ]);
    // moved after the worker leased its first item, before that step's commit
    const at = (type: string) => events.findIndex((e) => e.type === type);
    expect([at('step.started') < at('run.migrated'), at('run.migrated') < at('step.finished')]).toEqual([true, true]);
  }, 60_000);
});

/**
 * Deploying a new graph version with runs in flight, on the memory backend and the real Redis and Postgres: runs
 * started by version-1 workers, version-2 workers (a renamed node, an added node) started beside them, version-1
 * workers stopped once their runs drained. Every run completes exactly once, each item runs on a worker serving its
 * run's version with that version's code, and no item is ever claimed by a worker that cannot run it (the store's
 * `misrouted` metric stays zero). Then a worker facing 1,000 items of a version it does not serve: it claims none.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openRunsByVersion } from '../../cli/commands/runs.js';
import { supportsMigration, type DistributedBackend, type LeasedItem } from '../../runtime/distributed/contracts.js';
import { migratableBackend } from '../../runtime/distributed/migratable.js';
import { migrateRun } from '../../compiler/versions/migrate.js';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { DeployFlow as DeployFlowV1, type DeployLog } from '../fixtures/distributed/deploy-v1.js';
import { DeployFlowDef as V1Def } from '../fixtures/distributed/deploy-v1.floxide.js';
import { DeployFlow as DeployFlowV2 } from '../fixtures/distributed/deploy-v2.js';
import { DeployFlowDef as V2Def } from '../fixtures/distributed/deploy-v2.floxide.js';
import { DeployFlow as DeployFlowV3 } from '../fixtures/distributed/deploy-v3.js';
import { DeployFlowDef as V3Def } from '../fixtures/distributed/deploy-v3.floxide.js';
import { deployRecord } from './deploy-record.js';
import { REDIS_URL, uniquePrefix, until } from './helpers.js';
import { usePgSchemas } from './pg-schemas.js';

const pg = usePgSchemas('versions');
const opened: DistributedBackend[] = [];
afterAll(async () => {
  for (const b of opened) await b.close().catch(() => undefined);
});

const backends: Array<[string, () => Promise<DistributedBackend>]> = [
  ['memory', async () => new MemoryBackend()],
  ['redis', async () => RedisBackend.connect({ url: REDIS_URL, keyPrefix: uniquePrefix('versions') })],
  ['postgres', async () => pg.open()],
];

async function open(make: () => Promise<DistributedBackend>): Promise<DistributedBackend> {
  const b = await make();
  opened.push(b);
  return b;
}

describe.each(backends)('rolling deploy on %s', (_name, make) => {
  it('200 runs of version 1 finish on version-1 workers while version 2 takes the new runs; nothing is misrouted', async () => {
    expect(V1Def.name).toBe(V2Def.name);
    expect(V1Def.fingerprint).not.toBe(V2Def.fingerprint);
    const b = await open(make);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    const v2 = bindWorkflow(V2Def, new DeployFlowV2(log));
    // Each lease a worker started, with the versions its pool serves.
    const started: Array<{ serves: string[]; lease: LeasedItem }> = [];
    const watch = (serves: string[]) => ({ onStarted: (lease: LeasedItem) => void started.push({ serves, lease }) });

    const v1Runs = Array.from({ length: 200 }, (_, i) => `v1-${i}`);
    for (let i = 0; i < v1Runs.length; i += 50) await Promise.all(v1Runs.slice(i, i + 50).map((id, j) => v1.startDistributed(undefined, String(i + j), b, id)));

    const poolV1 = new WorkerPool(b, v1.def, v1.instance, { size: 2, concurrency: 4, idPrefix: 'deploy-v1', callbacks: watch([V1Def.fingerprint]) });
    await poolV1.start();
    await until(async () => log.filter((e) => e.version === 'v1').length >= 60, 120_000, 'version 1 under way');

    // The deploy: version-2 workers start; new runs start on version 2.
    const poolV2 = new WorkerPool(b, v2.def, v2.instance, { size: 2, concurrency: 4, idPrefix: 'deploy-v2', callbacks: watch([V2Def.fingerprint]) });
    await poolV2.start();
    const v2Runs = Array.from({ length: 50 }, (_, i) => `v2-${i}`);
    await Promise.all(v2Runs.map((id, i) => v2.startDistributed(undefined, String(i), b, id)));

    // Drain: once no run of version 1 is open, its workers can stop.
    const openOn = async (version: string) => (await openRunsByVersion(b, 'DeployFlow')).find((r) => r.version === version);
    expect((await openOn(V1Def.fingerprint))?.workers.length).toBeGreaterThan(0);
    await until(async () => {
      const row = await openOn(V1Def.fingerprint);
      return row === undefined || row.running + row.paused === 0;
    }, 240_000, 'version 1 drained');
    await poolV1.stop();
    await until(async () => ((await openOn(V2Def.fingerprint))?.running ?? 0) === 0, 240_000, 'version 2 drained');
    await poolV2.stop();

    for (const [runs, version, output] of [
      [v1Runs, V1Def.fingerprint, (i: number) => `v1:${i * 2}`],
      [v2Runs, V2Def.fingerprint, (i: number) => `v2:${i * 2}!`],
    ] as const) {
      for (const [i, runId] of runs.entries()) {
        const run = (await b.getRun(runId))!;
        expect({ runId, status: run.status, version: run.fingerprint, output: run.output }).toEqual({ runId, status: 'completed', version, output: output(i) });
        const m = await b.metrics(runId);
        expect([m.misrouted, m.redeliveries]).toEqual([0, 0]);
        expect(await b.errors(runId)).toEqual([]);
      }
    }
    // Exactly once: each item of each run ran once, with its run's version of the code.
    const ran = new Map<string, string>();
    for (const e of log) {
      const key = `${e.runId}/${e.itemId}`;
      expect(ran.has(key), `${key} ran twice`).toBe(false);
      ran.set(key, e.version);
      expect(e.version).toBe(e.runId.slice(0, 2));
    }
    expect(ran.size).toBe(200 * 3 + 50 * 4);
    expect(log.filter((e) => e.version === 'v2' && e.node === 'twice')).toHaveLength(50);
    // Every lease went to a worker serving its run's version.
    expect(started.length).toBeGreaterThanOrEqual(ran.size);
    for (const s of started) expect(s.serves).toContain(s.lease.fingerprint);
  }, 600_000);

  it('version-1 workers stop early; the open version-1 runs move with the rename and finish on version-2 workers', async () => {
    const b = await open(make);
    if (!supportsMigration(b)) throw new Error(`${b.kind} cannot migrate`);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    const v2 = bindWorkflow(V2Def, new DeployFlowV2(log));
    const started: Array<{ pool: string; lease: LeasedItem; version: string }> = [];
    const watch = (pool: string) => ({ onStarted: (lease: LeasedItem) => void started.push({ pool, lease, version: lease.fingerprint }) });
    const runs = Array.from({ length: 200 }, (_, i) => `m-${i}`);
    for (let i = 0; i < runs.length; i += 50) await Promise.all(runs.slice(i, i + 50).map((id, j) => v1.startDistributed(undefined, String(i + j), b, id)));

    const poolV1 = new WorkerPool(b, v1.def, v1.instance, { size: 2, concurrency: 4, idPrefix: 'early-v1', callbacks: watch('v1') });
    await poolV1.start();
    await until(async () => log.length >= 100, 120_000, 'version 1 under way');
    const poolV2 = new WorkerPool(b, v2.def, v2.instance, { size: 2, concurrency: 4, idPrefix: 'early-v2', callbacks: watch('v2') });
    await poolV2.start();
    // The old workers stop before their runs drained: the open ones are moved, `double` renamed `twice`.
    await poolV1.stop();
    const open1 = (await b.listRuns({ workflow: 'DeployFlow', status: 'running' })).filter((r) => r.fingerprint === V1Def.fingerprint).map((r) => r.runId);
    expect(open1.length).toBeGreaterThan(0);
    const store = migratableBackend(b);
    for (const id of open1) await migrateRun(store, id, { record: deployRecord, rename: { double: 'twice' } });
    expect(await openRunsByVersion(b, 'DeployFlow').then((rows) => rows.find((r) => r.version === V1Def.fingerprint)?.running ?? 0)).toBe(0);
    await until(async () => (await b.listRuns({ workflow: 'DeployFlow', status: 'running' })).length === 0, 240_000, 'every run finished');
    await poolV2.stop();

    const moved = new Set(open1);
    for (const [i, runId] of runs.entries()) {
      const run = (await b.getRun(runId))!;
      expect({ runId, status: run.status, output: run.output }).toEqual({ runId, status: 'completed', output: moved.has(runId) ? `v2:${i * 2}!` : `v1:${i * 2}` });
      expect((await b.metrics(runId)).misrouted).toBe(0);
      expect(await b.errors(runId)).toEqual([]);
    }
    // Exactly once, and by the run's version at the time: a run's items ran on version 1, then (moved) on version 2.
    const ran = new Set<string>();
    const versions = new Map<string, string[]>();
    for (const e of log) {
      const key = `${e.runId}/${e.itemId}`;
      expect(ran.has(key), `${key} ran twice`).toBe(false);
      ran.add(key);
      versions.set(e.runId, [...(versions.get(e.runId) ?? []), e.version]);
      if (e.version === 'v2') expect(['parse', 'twice', 'show', 'tag']).toContain(e.node);
    }
    for (const [runId, vs] of versions) {
      expect(vs.join(',')).toMatch(/^(v1,)*(v1|v2)(,v2)*$/);
      if (!moved.has(runId)) expect(vs).toEqual(['v1', 'v1', 'v1']);
    }
    for (const s of started) expect(s.version).toBe(s.pool === 'v1' ? V1Def.fingerprint : V2Def.fingerprint);
  }, 600_000);

  it('version-3 workers, whose version accepts version 1, take the version-1 runs over; nothing is misrouted', async () => {
    expect(V3Def.accepts).toEqual([V1Def.fingerprint]);
    const b = await open(make);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    const v3 = bindWorkflow(V3Def, new DeployFlowV3(log));
    // Each lease a worker started, with the pool that ran it and the run's version once its item was done.
    const started: Array<{ pool: string; lease: LeasedItem }> = [];
    const watch = (pool: string) => ({ onStarted: (lease: LeasedItem) => void started.push({ pool, lease }) });
    const runs = Array.from({ length: 200 }, (_, i) => `t-${i}`);
    for (let i = 0; i < runs.length; i += 50) await Promise.all(runs.slice(i, i + 50).map((id, j) => v1.startDistributed(undefined, String(i + j), b, id)));

    const poolV1 = new WorkerPool(b, v1.def, v1.instance, { size: 2, concurrency: 4, idPrefix: 'take-v1', callbacks: watch('v1') });
    await poolV1.start();
    await until(async () => log.length >= 100, 120_000, 'version 1 under way');
    const poolV3 = new WorkerPool(b, v3.def, v3.instance, { size: 2, concurrency: 4, idPrefix: 'take-v3', callbacks: watch('v3') });
    expect(poolV3.workers[0]!.accepts).toEqual([V1Def.fingerprint]);
    await poolV3.start();
    await until(async () => started.some((s) => s.pool === 'v3'), 120_000, 'version 3 took a run over');
    const rows = await openRunsByVersion(b, 'DeployFlow');
    expect(rows.find((r) => r.version === V1Def.fingerprint)?.accepting.length ?? 0).toBeGreaterThan(0);
    // The old workers stop before their runs drained; version 3 finishes every run.
    await poolV1.stop();
    await until(async () => (await b.listRuns({ workflow: 'DeployFlow', status: 'running' })).length === 0, 240_000, 'every run finished');
    await poolV3.stop();

    const byRun = new Map<string, Array<{ pool: string; lease: LeasedItem }>>();
    for (const s of started) byRun.set(s.lease.runId, [...(byRun.get(s.lease.runId) ?? []), s]);
    let takenOver = 0;
    for (const [i, runId] of runs.entries()) {
      const run = (await b.getRun(runId))!;
      // Finished by version 1's last step (`show` is terminal there), or moved to version 3 (`show`, then `stamp`).
      const v3 = run.fingerprint === V3Def.fingerprint;
      expect({ runId, status: run.status, output: run.output }).toEqual({ runId, status: 'completed', output: v3 && run.output !== `v1:${i * 2}` ? `v3:${i * 2}#` : `v1:${i * 2}` });
      expect((await b.metrics(runId)).misrouted).toBe(0);
      expect(await b.errors(runId)).toEqual([]);
      // Once a version-3 worker took the run, no version-1 worker leased an item of it again.
      const pools = byRun.get(runId)!.map((s) => s.pool).join(',');
      expect(pools).toMatch(/^(v1,)*(v1|v3)(,v3)*$/);
      if (pools.includes('v3')) {
        takenOver++;
        expect(run.fingerprint).toBe(V3Def.fingerprint);
      }
    }
    expect(takenOver).toBeGreaterThan(0);
    const ran = new Set<string>();
    for (const e of log) {
      const key = `${e.runId}/${e.itemId}`;
      expect(ran.has(key), `${key} ran twice`).toBe(false);
      ran.add(key);
    }
    // Every lease went to a worker whose version runs the item: its own, or one it accepts (and moved first).
    for (const s of started) expect(s.pool === 'v1' ? [V1Def.fingerprint] : [V3Def.fingerprint, V1Def.fingerprint]).toContain(s.lease.fingerprint);
  }, 600_000);

  it('a worker serving both versions finishes runs of each with its own code', async () => {
    const b = await open(make);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    const v2 = bindWorkflow(V2Def, new DeployFlowV2(log));
    await Promise.all([v1.startDistributed(undefined, '1', b, 'old'), v2.startDistributed(undefined, '2', b, 'new')]);
    const pool = new WorkerPool(b, v2.def, v2.instance, { size: 1, concurrency: 2, versions: [{ def: v1.def, instance: v1.instance }] });
    expect(pool.workers[0]!.versions).toEqual([V2Def.fingerprint, V1Def.fingerprint]);
    await pool.start();
    await until(async () => (await b.getRun('old'))?.status === 'completed' && (await b.getRun('new'))?.status === 'completed', 120_000, 'both runs');
    await pool.stop();
    expect((await b.getRun('old'))!.output).toBe('v1:2');
    expect((await b.getRun('new'))!.output).toBe('v2:4!');
    expect(new Set(log.filter((e) => e.runId === 'old').map((e) => e.version))).toEqual(new Set(['v1']));
    expect(() => new WorkerPool(b, v2.def, v2.instance, { versions: [{ def: v2.def, instance: v2.instance }] })).toThrow(/given twice/);
  }, 300_000);

  it('a worker facing 1,000 items of a version it does not serve claims none and stays idle', async () => {
    const b = await open(make);
    const log: DeployLog = [];
    const v1 = bindWorkflow(V1Def, new DeployFlowV1(log));
    const v2 = bindWorkflow(V2Def, new DeployFlowV2(log));
    const ids = Array.from({ length: 1000 }, (_, i) => `old-${i}`);
    for (let i = 0; i < ids.length; i += 100) await Promise.all(ids.slice(i, i + 100).map((id) => v1.startDistributed(undefined, '1', b, id)));
    const pool = new WorkerPool(b, v2.def, v2.instance, { size: 1, concurrency: 8 });
    await pool.start();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 4_000));
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    await pool.stop();
    const share = (cpu.user + cpu.system) / 1000 / wall;
    // The figure for the report (this process: the worker's loop and its store client; not a timing assertion).
    console.log(`idle worker facing 1000 foreign items on ${b.kind}: ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU in ${wall.toFixed(0)} ms (${(share * 100).toFixed(2)}%)`);
    expect(log).toEqual([]);
    expect(pool.stats().processed + pool.stats().released).toBe(0);
    for (const id of ids.slice(0, 20)) expect((await b.metrics(id)).misrouted).toBe(0);
    expect((await b.itemStates('old-0'))[0]).toMatchObject({ status: 'pending', workerId: undefined });
  }, 300_000);
});

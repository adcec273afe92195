/**
 * `floxide runs migrate` on the real Redis and Postgres, in-process through runCli (the binary's code path): runs of
 * DeployFlow version 1 with an item queued for `double`, which version 2 renamed `twice`. Without the rename the
 * command lists the blocking items (exit 1, nothing moved); an item leased to an old worker blocks too; `--dry-run`
 * and `--json` report without moving; with the rename the runs move and version-2 workers finish them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/cli.js';
import { time } from '../../cli/commands/runs.js';
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { DeployFlow as DeployFlowV1 } from '../fixtures/distributed/deploy-v1.js';
import { DeployFlowDef as V1Def } from '../fixtures/distributed/deploy-v1.floxide.js';
import { DeployFlow as DeployFlowV2 } from '../fixtures/distributed/deploy-v2.js';
import { DeployFlowDef as V2Def } from '../fixtures/distributed/deploy-v2.floxide.js';
import { deployRecord } from '../distributed/deploy-record.js';
import { PG_URL, REDIS_URL, uniquePrefix } from '../distributed/helpers.js';
import { usePgSchemas } from '../distributed/pg-schemas.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-cli-migrate-dist-'));
const versions = join(dir, 'deploy.floxide.versions.json');
writeFileSync(versions, JSON.stringify(deployRecord, null, 2));
const pg = usePgSchemas('climigrate');
const opened: DistributedBackend[] = [];
afterAll(async () => {
  for (const b of opened) await b.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, color: false });
  return { code, out, err };
}

const stores: Array<[string, () => Promise<{ b: DistributedBackend; url: string }>]> = [
  [
    'redis',
    async () => {
      const prefix = uniquePrefix('climigrate');
      const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix });
      opened.push(b);
      return { b, url: `${REDIS_URL}?prefix=${prefix}` };
    },
  ],
  [
    'postgres',
    async () => {
      const schema = pg.freshSchema();
      return { b: await pg.open(schema), url: `${PG_URL}?schema=${schema}` };
    },
  ],
];

describe.each(stores)('floxide runs migrate --store %s', (_name, make) => {
  it('lists blocking items (exit 1), reports a dry run and JSON, moves with --rename (exit 0)', async () => {
    const { b, url } = await make();
    const v1 = bindWorkflow(V1Def, new DeployFlowV1([]));
    for (const [i, id] of ['m-1', 'm-2'].entries()) await v1.startDistributed(undefined, String(i + 1), b, id);
    for (let i = 0; i < 2; i++) await v1.stepDistributed(b, 'old-1'); // each run's parse: an item for `double` is queued
    for (const id of ['m-1', 'm-2']) expect((await b.pendingWork(id)).map((w) => w.item.node)).toEqual(['double']);
    const base = ['runs', 'migrate', '--store', url, '--versions', versions];

    const refused = await cli(...base, '--all');
    expect([refused.code, refused.out], refused.err).toEqual([1, '']);
    expect(refused.err).toMatch(/^floxide runs migrate: run m-1 cannot move from DeployFlow version \w+ to \w+:\n {2}[\w.:-]+: node double is not in version \w+ \(renamed\? --rename double=twice\)/);
    expect(refused.err).toMatch(/\nfloxide runs migrate: run m-2 cannot move/);
    const json = await cli(...base, 'm-1', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ runId: 'm-1', moved: false, blocked: true, blocking: [{ node: 'double', reason: expect.stringContaining('--rename double=twice') }] });

    const dry = await cli(...base, '--all', '--rename', 'double=twice', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(dry.out.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(
      ['m-1', 'm-2'].map((runId) => ({ runId, from: V1Def.fingerprint, to: V2Def.fingerprint, moved: false, blocking: [] })),
    );
    expect((await b.getRun('m-1'))!.fingerprint).toBe(V1Def.fingerprint);

    // An old worker holds m-1's item: m-1 is refused with the lease listed, m-2 moves.
    const [lease] = await b.claim('old-worker', 1, 60_000, { workflow: 'DeployFlow', fingerprints: [V1Def.fingerprint] });
    const partial = await cli(...base, '--all', '--rename', 'double=twice');
    expect(partial.code).toBe(1);
    expect(partial.err).toContain(`floxide runs migrate: run ${lease!.runId} cannot move`);
    expect(partial.err).toContain(`${lease!.item.id}: leased by worker old-worker, whose commit would follow version ${V1Def.fingerprint}`);
    const other = lease!.runId === 'm-1' ? 'm-2' : 'm-1';
    expect(partial.out).toBe(`run ${other}: moved from ${V1Def.fingerprint} to ${V2Def.fingerprint}\n`);
    expect((await b.getRun(lease!.runId))!.fingerprint).toBe(V1Def.fingerprint);
    expect(await b.release(lease!.runId, lease!.item.id, lease!.leaseToken)).toBe(true);

    // the same command again (as a deploy script retries it): the run already moved is left alone, the other moves
    const moved = await cli(...base, '--all', '--rename', 'double=twice');
    const lines = (first: string, second: string) => (lease!.runId === 'm-1' ? `${first}${second}` : `${second}${first}`);
    expect([moved.code, moved.out, moved.err]).toEqual([0, lines(`run ${lease!.runId}: moved from ${V1Def.fingerprint} to ${V2Def.fingerprint}\n`, `run ${other}: already on ${V2Def.fingerprint}\n`), '']);
    const again = await cli(...base, '--all');
    expect([again.code, again.out]).toEqual([0, `run m-1: already on ${V2Def.fingerprint}\nrun m-2: already on ${V2Def.fingerprint}\n`]);

    const v2 = bindWorkflow(V2Def, new DeployFlowV2([]));
    for (let i = 0; i < 20 && (await v2.stepDistributed(b, 'new-1')) === undefined; i++);
    for (let i = 0; i < 20 && (await v2.stepDistributed(b, 'new-1')) === undefined; i++);
    expect((await b.getRun('m-1'))!).toMatchObject({ status: 'completed', output: 'v2:2!' });
    expect((await b.getRun('m-2'))!).toMatchObject({ status: 'completed', output: 'v2:4!' });
    // The move shows: in the run's events (runs watch), and runs show / list say where the run started and when it moved.
    const record = (await b.getRun('m-1'))!;
    expect([record.startedOn, record.updatedAt === record.migratedAt || record.updatedAt === record.finishedAt]).toEqual([V1Def.fingerprint, true]);
    const watched = await cli('runs', 'watch', 'm-1', '--store', url);
    const types = watched.out.trim().split('\n').map((l) => l.split(/\s+/)[3]);
    expect(types.indexOf('run.migrated')).toBeGreaterThan(types.indexOf('step.finished'));
    expect(watched.out).toContain(`m-1  run.migrated   version ${V1Def.fingerprint} -> ${V2Def.fingerprint} renaming double->twice by an operator\n`);
    const watchedJson = await cli('runs', 'watch', 'm-1', '--store', url, '--json');
    expect(watchedJson.out.trim().split('\n').map((l) => (JSON.parse(l) as { event: { type: string } }).event).filter((e) => e.type === 'run.migrated')).toEqual([
      { type: 'run.migrated', runId: 'm-1', at: record.migratedAt, from: V1Def.fingerprint, to: V2Def.fingerprint, renames: { double: 'twice' } },
    ]);
    const shown = await cli('runs', 'show', 'm-1', '--store', url);
    expect(shown.out).toContain(`\nmigrated  started on version ${V1Def.fingerprint}, moved to ${V2Def.fingerprint} at ${time(record.migratedAt)}\n`);
    const shownJson = JSON.parse((await cli('runs', 'show', 'm-1', '--store', url, '--json')).out) as { run: Record<string, unknown> };
    expect(shownJson.run).toMatchObject({ fingerprint: V2Def.fingerprint, startedOn: V1Def.fingerprint, migratedAt: record.migratedAt });
    const listed = JSON.parse((await cli('runs', 'list', '--store', url, '--json')).out) as Array<Record<string, unknown>>;
    expect(listed.map((r) => [r.runId, r.startedOn])).toEqual([['m-2', V1Def.fingerprint], ['m-1', V1Def.fingerprint]]);
    expect((await cli(...base, '--all')).out).toBe('no open runs\n');
    const finished = await cli(...base, 'm-1');
    expect([finished.code, finished.out, finished.err]).toEqual([1, '', `floxide runs migrate: run m-1 is completed; only an open (running or paused) run can be migrated\n`]);
    const unknown = await cli(...base, 'nope');
    expect([unknown.code, unknown.out, unknown.err]).toEqual([1, '', 'floxide runs migrate: no run nope in the store\n']);
  }, 120_000);
});

describe('floxide runs migrate, bad stores', () => {
  it('exit 2 for a URL it cannot use, 1 for a store it cannot reach', async () => {
    const bad = await cli('runs', 'migrate', '--all', '--store', 'ftp://127.0.0.1', '--versions', versions);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unsupported store URL scheme/);
    const down = await cli('runs', 'migrate', '--all', '--store', 'redis://127.0.0.1:1', '--versions', versions);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/cannot reach the store/);
  }, 60_000);
});

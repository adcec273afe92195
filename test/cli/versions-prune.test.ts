/**
 * `floxide versions prune` in-process through runCli (the binary's code path): DeployFlow's versions 1 and 2 on record
 * (test/fixtures/distributed); version 1 is kept while the real Redis holds an open run of it or a live worker serving
 * it, or a SQLite checkpoint file a failed run of it, and dropped once nothing needs it; `--no-store` keeps the newest
 * only; the nested graphs of kept versions stay (planPrune).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planPrune } from '../../compiler/versions/prune.js';
import { parseRecord, type GraphVersion, type VersionsRecord } from '../../compiler/versions/record.js';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { SqliteCheckpointStore } from '../../runtime/stores/sqlite.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { DeployFlow as DeployFlowV1 } from '../fixtures/distributed/deploy-v1.js';
import { DeployFlowDef as V1Def } from '../fixtures/distributed/deploy-v1.floxide.js';
import { DeployFlowDef as V2Def } from '../fixtures/distributed/deploy-v2.floxide.js';
import { deployRecord } from '../distributed/deploy-record.js';
import { REDIS_URL, uniquePrefix } from '../distributed/helpers.js';
import { cliCaptured } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-cli-prune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...argv: string[]) => cliCaptured(argv, { cwd: dir });
/** A fresh versions file holding DeployFlow 1 and 2, in its own folder. */
function versionsFile(name: string): string {
  const file = join(mkdtempSync(join(dir, `${name}-`)), `${name}.floxide.versions.json`);
  writeFileSync(file, JSON.stringify(deployRecord, null, 2));
  return file;
}
const idsIn = (file: string) => parseRecord(readFileSync(file, 'utf8'), file).workflows.DeployFlow!.map((v) => v.id);
const [v1, v2] = [V1Def.fingerprint, V2Def.fingerprint];

describe('floxide versions prune', () => {
  it('refuses bad usage with exit 2 and changes nothing', async () => {
    const file = versionsFile('usage');
    const noStore = await cli('versions', 'prune', file);
    expect([noStore.code, noStore.err]).toEqual([2, 'floxide versions prune: give the stores whose runs may need these versions (--store <url>, repeatable), or --no-store when none holds any\n']);
    expect((await cli('versions', 'prune', join(dir, 'nope'), '--no-store')).err).toMatch(/nope: no such file or folder/);
    const empty = mkdtempSync(join(dir, 'empty-'));
    expect((await cli('versions', 'prune', empty, '--no-store')).err).toMatch(/no \*\.floxide\.versions\.json in it/);
    const bad = join(dir, 'bad.floxide.versions.json');
    writeFileSync(bad, '{');
    expect(await cli('versions', 'prune', bad, '--no-store')).toMatchObject({ code: 2, err: expect.stringMatching(/is not valid JSON/) });
    expect((await cli('versions', 'prune', file, '--store', 'ftp://x')).code).toBe(2);
    expect(idsIn(file)).toEqual([v1, v2]);
  });

  it('refuses --store with --no-store, in either order, with exit 2 and writes nothing', async () => {
    const file = versionsFile('both');
    const url = `${REDIS_URL}?prefix=${uniquePrefix('cliprune-both')}`;
    for (const argv of [['--store', url, '--no-store'], ['--no-store', '--store', url], ['--store', url, '--no-store', '--store', url]]) {
      const both = await cli('versions', 'prune', file, ...argv);
      expect([both.code, both.out, both.err], argv.join(' ')).toEqual([
        2,
        '',
        'floxide versions prune: give either --store <url> (the stores whose runs may need these versions) or --no-store (none holds any), not both\n',
      ]);
    }
    expect(idsIn(file)).toEqual([v1, v2]);
  });

  it('--no-store keeps the newest version only; --dry-run and --json write nothing', async () => {
    const file = versionsFile('dev');
    const rel = relative(dir, file);
    const dry = await cli('versions', 'prune', file, '--no-store', '--dry-run');
    expect([dry.code, dry.err]).toEqual([0, '']);
    expect(dry.out).toBe(
      `${rel}: DeployFlow ${v1}: would be dropped\n` +
        `${rel}: DeployFlow ${v2}: kept (the newest on record (the version the generated module runs))\n` +
        '1 version(s) would be dropped from 1 file(s)\n',
    );
    // a folder is searched; --json: one object per version
    const json = await cli('versions', 'prune', dirname(file), '--no-store', '--dry-run', '--json');
    expect(json.out.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { file: rel, workflow: 'DeployFlow', version: v1, kept: false, reasons: [] },
      { file: rel, workflow: 'DeployFlow', version: v2, kept: true, reasons: ['the newest on record (the version the generated module runs)'] },
    ]);
    expect(idsIn(file)).toEqual([v1, v2]);
    const done = await cli('versions', 'prune', file, '--no-store');
    expect(done.out).toMatch(/1 version\(s\) dropped from 1 file\(s\): run `floxide build` to regenerate their modules/);
    expect(idsIn(file)).toEqual([v2]);
    expect((await cli('versions', 'prune', file, '--no-store')).out).toMatch(/no version to drop\n$/);
  });

  it('keeps a version while a Redis store has an open run of it or a live worker serving it, drops it after', async () => {
    const file = versionsFile('redis');
    const prefix = uniquePrefix('cliprune');
    const url = `${REDIS_URL}?prefix=${prefix}`;
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix });
    const pool = new WorkerPool(b, V1Def, new DeployFlowV1([]), { size: 1, idleMaxMs: 50 });
    try {
      await bindWorkflow(V1Def, new DeployFlowV1([])).startDistributed(undefined, '1', b, 'open-1');
      const open = await cli('versions', 'prune', file, '--store', url);
      expect([open.code, open.err]).toEqual([0, '']);
      expect(open.out).toContain(`${relative(dir, file)}: DeployFlow ${v1}: kept (1 running run(s) in ${url})\n`);
      expect(idsIn(file)).toEqual([v1, v2]);

      await b.cancelRun('open-1');
      await pool.start();
      const served = await cli('versions', 'prune', file, '--store', url, '--json');
      const row = served.out.trim().split('\n').map((l) => JSON.parse(l) as { version: string; kept: boolean; reasons: string[] }).find((r) => r.version === v1)!;
      expect(row.kept).toBe(true);
      expect(row.reasons).toEqual([expect.stringMatching(new RegExp(`^served by live worker\\(s\\) .+ of ${url.replace(/[?]/g, '\\?')}$`))]);

      await pool.stop();
      const gone = await cli('versions', 'prune', file, '--store', url);
      expect(gone.out).toContain(`DeployFlow ${v1}: dropped\n`);
      expect(idsIn(file)).toEqual([v2]);
    } finally {
      await pool.stop();
      await b.close();
    }
  }, 60_000);

  it("counts a SQLite checkpoint file's failed runs (they can be resumed), not its finished ones", async () => {
    const file = versionsFile('sqlite');
    const db = join(dir, 'runs.db');
    const store = new SqliteCheckpointStore(db);
    try {
      // a log that cannot be written: the first node fails, and so the run
      const failing = bindWorkflow(V1Def, new DeployFlowV1({ push: () => { throw new Error('disk full'); } } as never));
      await failing.runWithCheckpoint(undefined, '1', store, 'f-1').catch(() => undefined);
      expect((await store.getRun('f-1'))?.status).toBe('failed');
    } finally {
      await store.close();
    }
    const kept = await cli('versions', 'prune', file, '--store', `sqlite:${db}`);
    expect(kept.out).toContain(`DeployFlow ${v1}: kept (1 failed run(s) in sqlite:${db}, which can be resumed)\n`);
    expect(idsIn(file)).toEqual([v1, v2]);
    // a file with a completed run of version 1 only: nothing needs it
    const done = join(dir, 'done.db');
    const other = new SqliteCheckpointStore(done);
    try {
      expect(await bindWorkflow(V1Def, new DeployFlowV1([])).runWithCheckpoint(undefined, '1', other, 'c-1')).toBeDefined();
    } finally {
      await other.close();
    }
    expect((await cli('versions', 'prune', file, '--store', `sqlite:${done}`)).out).toContain(`DeployFlow ${v1}: dropped\n`);
  });
});

describe('planPrune', () => {
  const version = (id: string, nested?: { workflow: string; version: string }): GraphVersion => ({
    id,
    start: 'a',
    nodes: [nested ? { name: 'a', input: 'X', file: 'f.ts', kind: 'workflow', workflow: nested.workflow, version: nested.version } : { name: 'a', input: 'X', file: 'f.ts' }],
    edges: [],
    context: [],
  });
  it('keeps the nested graphs of kept versions, transitively, and drops the rest', () => {
    const record: VersionsRecord = {
      format: 1,
      workflows: {
        Outer: [version('o1', { workflow: 'Mid', version: 'm1' }), version('o2', { workflow: 'Mid', version: 'm2' })],
        Mid: [version('m1', { workflow: 'Inner', version: 'i1' }), version('m2', { workflow: 'Inner', version: 'i2' }), version('m3')],
        Inner: [version('i1'), version('i2'), version('i3')],
      },
    };
    const plan = planPrune(new Map([['f', record]]), (wf, v) => (wf === 'Outer' && v === 'o1' ? ['1 running run(s)'] : []));
    expect(Object.fromEntries(Object.entries(plan.records.get('f')!.workflows).map(([wf, vs]) => [wf, vs.map((v) => v.id)]))).toEqual({
      Outer: ['o1', 'o2'],
      Mid: ['m1', 'm2', 'm3'],
      Inner: ['i1', 'i2', 'i3'],
    });
    expect(plan.versions.find((v) => v.version === 'i1')!.reasons).toEqual(['nested at a of Mid version m1, which is kept']);
    const none = planPrune(new Map([['f', record]]), () => []);
    expect(Object.values(none.records.get('f')!.workflows).map((vs) => vs.map((v) => v.id))).toEqual([['o2'], ['m2', 'm3'], ['i2', 'i3']]);
  });
});

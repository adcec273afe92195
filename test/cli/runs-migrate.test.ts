/**
 * `floxide runs migrate` on a real SQLite file, in-process through runCli (the binary's code path): two runs of
 * OrderFlow v1 (test/fixtures/migrate) stopped with an item pending for `b`; v2 renamed `b` to `shout`. Without the
 * rename the command refuses and lists the blocking items (exit 1); with it, it moves them and v2 finishes them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { OrderFlow as V1 } from '../fixtures/migrate/v1.js';
import { OrderFlowDef as V1Def } from '../fixtures/migrate/v1.floxide.js';
import { OrderFlow as Renamed } from '../fixtures/migrate/v2-renamed.js';
import { OrderFlowDef as RenamedDef } from '../fixtures/migrate/v2-renamed.floxide.js';
import { cliCaptured } from './run-cli.js';
import { time } from '../../cli/commands/runs.js';
import type { WorkflowEvent } from '../../runtime/engine/events.js';

const fixtures = path.resolve(__dirname, '../fixtures/migrate');
const dir = mkdtempSync(join(tmpdir(), 'floxide-cli-migrate-'));
const db = join(dir, 'runs.db');
const versions = join(dir, 'orders.floxide.versions.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...argv: string[]) => cliCaptured(argv);

beforeAll(async () => {
  // One versions file holding v1 then v2, as two successive builds of one source file keep them.
  const of = (f: string) => (JSON.parse(readFileSync(join(fixtures, f), 'utf8')) as { workflows: { OrderFlow: unknown[] } }).workflows.OrderFlow;
  writeFileSync(versions, JSON.stringify({ format: 1, workflows: { OrderFlow: [...of('v1.floxide.versions.json'), ...of('v2-renamed.floxide.versions.json')] } }, null, 2));
  const store = new SqliteCheckpointStore(db);
  try {
    for (const id of ['o-1', 'o-2']) await bindWorkflow(V1Def, new V1()).runWithCheckpoint(undefined, id, store, id).catch(() => undefined);
  } finally {
    await store.close();
  }
});

describe('floxide runs migrate', () => {
  it('refuses bad usage with exit 2', async () => {
    expect((await cli('runs', 'migrate', '--store', `sqlite:${db}`, '--versions', versions)).code).toBe(2);
    expect((await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b')).err).toMatch(/expected old=new/);
    expect((await cli('runs', 'migrate', '--all', '--store', 'ftp://127.0.0.1', '--versions', versions)).code).toBe(2);
    const unknown = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b=nope');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/has no node nope/);
    // one node renamed to two (the last one would win silently): bad usage; the same pair twice is fine
    const twice = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b=shout', '--rename', 'b=c', '--dry-run');
    expect([twice.code, twice.err]).toEqual([2, 'floxide runs migrate: --rename b=c: node b is already renamed to shout (--rename b=shout)\n']);
    // a rename of a node named like an Object.prototype member is checked like any other (`__proto__` was dropped
    // silently: the migration went on without it)
    const proto = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', '__proto__=shout', '--dry-run');
    expect([proto.code, proto.out, proto.err]).toEqual([2, '', 'floxide runs migrate: --rename __proto__=shout: no version on record has a node __proto__\n']);
    // two nodes renamed into one (each check passed alone, and the dry run said the runs could move): bad usage
    const into = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b=shout', '--rename', 'c=shout', '--dry-run');
    expect([into.code, into.out, into.err]).toEqual([2, '', 'floxide runs migrate: --rename c=shout: node b is renamed to shout too: two nodes cannot become one\n']);
    // ...or a node renamed onto one of its version that keeps its name: each run's answer
    const onto = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b=a', '--dry-run');
    expect([onto.code, onto.out]).toEqual([1, '']);
    expect(onto.err).toBe(['o-1', 'o-2'].map((id) => `floxide runs migrate: run ${id}: --rename b=a: version ${V1Def.fingerprint} has a node a that keeps its name: two nodes cannot become one (rename a too)\n`).join(''));
    // names swapped are two renames, each node keeping a name of its own
    const swapped = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b=shout', '--rename', 'a=c', '--rename', 'c=a', '--dry-run');
    expect(swapped.err).not.toMatch(/two nodes cannot become one/);
    // a malformed run id is bad usage, as in every other `runs` command: no run is judged
    const badId = await cli('runs', 'migrate', 'o/1', '--store', `sqlite:${db}`, '--versions', versions, '--dry-run');
    expect([badId.code, badId.out]).toEqual([2, '']);
    expect(badId.err).toMatch(/^floxide runs migrate: invalid run id "o\/1": expected 1-128 characters/);
    // a misspelt path is refused, not read as "nothing on record" or "no runs"
    const noRecord = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', join(dir, 'missing.floxide.versions.json'));
    expect([noRecord.code, noRecord.out]).toEqual([2, '']);
    expect(noRecord.err).toMatch(/--versions .*missing\.floxide\.versions\.json: no such file/);
    const noFile = await cli('runs', 'migrate', '--all', '--store', `sqlite:${join(dir, 'missing.db')}`, '--versions', versions);
    expect([noFile.code, noFile.out, noFile.err]).toEqual([1, '', `floxide runs migrate: no SQLite checkpoint file at ${JSON.stringify(join(dir, 'missing.db'))}\n`]);
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);
  });

  it('a run on a version the file no longer records is that run\'s answer (exit 1), the others are still judged', async () => {
    // the file after v1's entry was removed (deploying.md: once no run of a version is left)
    const v2only = join(dir, 'v2only.floxide.versions.json');
    const all = JSON.parse(readFileSync(versions, 'utf8')) as { workflows: { OrderFlow: Array<{ id: string }> } };
    writeFileSync(v2only, JSON.stringify({ format: 1, workflows: { OrderFlow: all.workflows.OrderFlow.filter((v) => v.id === RenamedDef.fingerprint) } }, null, 2));
    const stale = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', v2only);
    expect([stale.code, stale.out]).toEqual([1, '']);
    expect(stale.err).toBe(['o-1', 'o-2'].map((id) => `floxide runs migrate: run ${id}: version ${V1Def.fingerprint} of OrderFlow is not on record (on record: ${RenamedDef.fingerprint})\n`).join(''));
    // a rename no version on record fits: bad usage, before any run is judged
    const renamed = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', v2only, '--rename', 'b=shout');
    expect([renamed.code, renamed.out, renamed.err]).toEqual([2, '', 'floxide runs migrate: --rename b=shout: no version on record has a node b\n']);
    const to = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--to', 'feedfeedfeedfeed');
    expect([to.code, to.out]).toEqual([2, '']);
    expect(to.err).toMatch(/--to feedfeedfeedfeed: no version feedfeedfeedfeed on record/);
  });

  it('lists the blocking items without the rename (exit 1, nothing moved), moves the runs with it (exit 0)', async () => {
    const refused = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions);
    expect([refused.code, refused.out]).toEqual([1, '']);
    expect(refused.err).toMatch(/^floxide runs migrate: run o-1 cannot move from OrderFlow version \w+ to \w+:\n {2}\d+: node b is not in version \w+ \(renamed\? --rename b=shout\)/);
    expect(refused.err).toMatch(/\nfloxide runs migrate: run o-2 cannot move/);
    const dry = await cli('runs', 'migrate', 'o-1', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b=shout', '--dry-run');
    expect(dry.out).toBe(`run o-1: can move from ${V1Def.fingerprint} to ${RenamedDef.fingerprint}\n`);
    const moved = await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions, '--rename', 'b=shout', '--json');
    expect(moved.code).toBe(0);
    expect(moved.out.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(
      ['o-1', 'o-2'].map((runId) => ({ runId, from: V1Def.fingerprint, to: RenamedDef.fingerprint, moved: true, blocking: [] })),
    );
    // runs show / list say where the runs started and when they moved
    const shown = JSON.parse((await cli('runs', 'show', 'o-1', '--store', `sqlite:${db}`, '--json')).out) as { run: { startedOn?: string; migratedAt?: number; updatedAt: number } };
    expect(shown.run).toMatchObject({ startedOn: V1Def.fingerprint, migratedAt: shown.run.updatedAt });
    expect((await cli('runs', 'show', 'o-1', '--store', `sqlite:${db}`)).out).toContain(`\nmigrated  started on version ${V1Def.fingerprint}, moved to ${RenamedDef.fingerprint} at ${time(shown.run.migratedAt)}\n`);
    const listed = JSON.parse((await cli('runs', 'list', '--store', `sqlite:${db}`, '--json')).out) as Array<{ runId: string; startedOn?: string }>;
    expect(listed.map((r) => [r.runId, r.startedOn])).toEqual([['o-2', V1Def.fingerprint], ['o-1', V1Def.fingerprint]]);
    const store = new SqliteCheckpointStore(db);
    try {
      const v2 = bindWorkflow(RenamedDef, new Renamed());
      expect(await v2.resume(store, 'o-1')).toBe('O-1!!');
      expect(await v2.resume(store, 'o-2')).toBe('O-2!!');
    } finally {
      await store.close();
    }
    // the file's event feed (runs watch) reports the move between the steps before it (b failed the run) and those after
    const watched = await cli('runs', 'watch', 'o-1', '--store', `sqlite:${db}`, '--json');
    const events = watched.out.trim().split('\n').map((l) => (JSON.parse(l) as { event: WorkflowEvent }).event);
    const kinds = events.map((e) => (e.type === 'step.finished' ? `${e.type}:${e.node}` : e.type));
    expect(kinds.slice(kinds.indexOf('run.migrated') - 1, kinds.indexOf('run.migrated') + 3)).toEqual(['step.finished:b', 'run.migrated', 'step.started', 'step.finished:shout']);
    expect(events.find((e) => e.type === 'run.migrated')).toEqual({
      type: 'run.migrated', runId: 'o-1', at: shown.run.migratedAt, from: V1Def.fingerprint, to: RenamedDef.fingerprint, renames: { b: 'shout' },
    });
    expect((await cli('runs', 'watch', 'o-1', '--store', `sqlite:${db}`)).out).toContain(`o-1  run.migrated   version ${V1Def.fingerprint} -> ${RenamedDef.fingerprint} renaming b->shout by an operator\n`);
    expect((await cli('runs', 'migrate', '--all', '--store', `sqlite:${db}`, '--versions', versions)).out).toBe('no open runs\n');
  });
});

/**
 * Migrating checkpointed runs between graph versions, as users do it: a run of OrderFlow version 1
 * (test/fixtures/migrate/v1.ts) stops in SQLite with an item pending for `b`; version 2's code then continues it
 * after `migrateRun` moved it: once after a safe change (b's input widened, judged by the real type checker), once
 * after a rename (b -> shout) that is refused without `--rename` and accepted with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindWorkflow, FingerprintMismatchError, Transition, MigrationBlockedError, InvalidArgumentError, RunStateError, RunBusyError } from 'floxide';
import { SQLITE_MIGRATIONS, SqliteCheckpointStore } from 'floxide/sqlite';
import { SqliteRunReader } from '../../runtime/stores/sqlite-inspect.js';
import type { WorkflowEvent } from '../../runtime/engine/events.js';
import { Analyzer, migrateRun, planMigration, readRecord, type VersionsRecord } from 'floxide/compiler';
import { OrderFlow as V1 } from '../fixtures/migrate/v1.js';
import { Mark } from '../fixtures/migrate/nodes.js';
import { OrderFlowDef as V1Def } from '../fixtures/migrate/v1.floxide.js';
import { OrderFlow as Safe } from '../fixtures/migrate/v2-safe.js';
import { OrderFlowDef as SafeDef } from '../fixtures/migrate/v2-safe.floxide.js';
import { OrderFlow as Renamed } from '../fixtures/migrate/v2-renamed.js';
import { OrderFlowDef as RenamedDef } from '../fixtures/migrate/v2-renamed.floxide.js';
import { endClaim, newOwner } from '../../runtime/stores/ownership.js';
import { undoJournalSlots } from './sqlite-schema.js';

const repo = path.resolve(__dirname, '../..');
const fixtures = path.join(repo, 'test/fixtures/migrate');
const dir = mkdtempSync(join(tmpdir(), 'floxide-migrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The three versions of OrderFlow on one record, oldest first, as successive builds of one file would keep them. */
function record(): VersionsRecord {
  const of = (f: string) => readRecord(path.join(fixtures, f)).workflows.OrderFlow!;
  const all = [...of('v1.floxide.versions.json'), ...of('v2-safe.floxide.versions.json'), ...of('v2-renamed.floxide.versions.json')];
  return { format: 1, workflows: { OrderFlow: all.filter((v, i) => all.findIndex((w) => w.id === v.id) === i) } };
}

/** A v1 run stopped (failed, resumable) with its item for `b` pending. */
async function stoppedRun(store: SqliteCheckpointStore, runId: string): Promise<void> {
  await expect(bindWorkflow(V1Def, new V1()).runWithCheckpoint(undefined, 'hi', store, runId)).rejects.toThrow(/closed/);
  const cp = (await store.load(runId))!;
  expect(cp.run.fingerprint).toBe(V1Def.fingerprint);
  expect(cp.items.map((it) => it.node)).toEqual(['b']);
}

let analyzer: Analyzer;
beforeAll(() => {
  analyzer = new Analyzer({ cwd: fixtures });
  analyzer.analyze();
});
/** The real assignability check, on the fixtures' own small project (record paths are relative to the repo). */
const probe = (file: string, pairs: ReadonlyArray<readonly [string, string]>) => analyzer.probeAssignable(path.relative(fixtures, path.join(repo, file)), pairs);

describe('migrating a SQLite checkpointed run', () => {
  it('resumes a v1 run with v2 code after a safe change the build recorded (input widened, node added)', async () => {
    // v2-safe's versions file holds v1 then v2; the build found no unsafe change and emitted accepts: [v1].
    expect(SafeDef.accepts).toEqual([V1Def.fingerprint]);
    expect(RenamedDef.accepts).toBeUndefined();
    const store = new SqliteCheckpointStore(join(dir, 'safe-resume.db'));
    try {
      await stoppedRun(store, 'safe-0');
      await stoppedRun(store, 'ren-0');
      // while another call holds the run, a resume by the new version is refused and moves nothing
      const other = newOwner();
      await store.claim('safe-0', other);
      await expect(bindWorkflow(SafeDef, new Safe()).resume(store, 'safe-0')).rejects.toBeInstanceOf(RunBusyError);
      expect((await store.getRun('safe-0'))!.fingerprint).toBe(V1Def.fingerprint);
      endClaim(other);
      expect(await bindWorkflow(SafeDef, new Safe()).resume(store, 'safe-0')).toBe('value HI!!');
      expect((await store.getRun('safe-0'))!.fingerprint).toBe(SafeDef.fingerprint);
      // A version the build did not accept is still refused as before, saying the way on (its build, or a migration).
      await expect(bindWorkflow(RenamedDef, new Renamed()).resume(store, 'ren-0')).rejects.toThrow(FingerprintMismatchError);
      await expect(bindWorkflow(RenamedDef, new Renamed()).resume(store, 'ren-0')).rejects.toThrow(
        `run ren-0 was checkpointed by OrderFlow (graph ${V1Def.fingerprint}), not by OrderFlow (graph ${RenamedDef.fingerprint}): use the build of graph ${V1Def.fingerprint}, or move the run to graph ${RenamedDef.fingerprint} first (floxide runs migrate ren-0 --to ${RenamedDef.fingerprint}; docs/deploying.md)`,
      );
    } finally {
      await store.close();
    }
  });

  it('a file an older floxide wrote (schema 10) reads its runs as never moved; a resume that moves one says which process moved it', async () => {
    const file = join(dir, 'schema-10.db');
    const before = new SqliteCheckpointStore(file);
    try {
      await stoppedRun(before, 'old-0');
      // the file as floxide with migrations up to 010 left it
      // (without 013's journal slots, and 012's signal digests)
      undoJournalSlots(before.db);
      before.db.exec('ALTER TABLE floxide_signals DROP COLUMN digest; DROP TABLE floxide_moves; ALTER TABLE floxide_runs DROP COLUMN started_on; ALTER TABLE floxide_runs DROP COLUMN migrated_at; PRAGMA user_version = 10');
    } finally {
      await before.close();
    }
    const store = new SqliteCheckpointStore(file);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
      const old = (await store.getRun('old-0'))!;
      expect([old.fingerprint, old.startedOn, old.migratedAt]).toEqual([V1Def.fingerprint, undefined, undefined]);
      const events: WorkflowEvent[] = [];
      expect(await bindWorkflow(SafeDef, new Safe()).resume(store, 'old-0', { onEvent: (e) => events.push(e) })).toBe('value HI!!');
      const moved = (await store.getRun('old-0'))!;
      expect([moved.fingerprint, moved.startedOn, typeof moved.migratedAt]).toEqual([SafeDef.fingerprint, V1Def.fingerprint, 'number']);
      const reader = new SqliteRunReader(store.db);
      expect(reader.movesAfter(reader.run('old-0')!.runNo, 'old-0', 0).map((m) => m.event)).toEqual([
        { type: 'run.migrated', runId: 'old-0', at: moved.migratedAt, from: V1Def.fingerprint, to: SafeDef.fingerprint, renames: {}, workerId: `${hostname()}:${process.pid}` },
      ]);
      // the resume's own events (onEvent) report the move first, as the file's feed does
      expect(events[0]).toEqual({ type: 'run.migrated', runId: 'old-0', at: moved.migratedAt, from: V1Def.fingerprint, to: SafeDef.fingerprint, renames: {}, workerId: `${hostname()}:${process.pid}` });
      expect(events.filter((e) => e.type === 'run.migrated')).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('a finished run of a version the build accepts reads back as it ended (its stored output), unmoved', async () => {
    const store = new SqliteCheckpointStore(join(dir, 'safe-done.db'));
    try {
      // a v1 run that completed (its b replaced by a node that does not fail: the graph is v1's)
      const working = new V1();
      (working as { b: unknown }).b = new Mark();
      expect(await bindWorkflow(V1Def, working).runWithCheckpoint(undefined, 'hi', store, 'done-1')).toBe('HI!!');
      const v2 = bindWorkflow(SafeDef, new Safe());
      expect(await v2.runWithCheckpoint(undefined, 'hi', store, 'done-1')).toBe('HI!!');
      expect(await v2.resume(store, 'done-1')).toBe('HI!!');
      expect((await store.getRun('done-1'))!.fingerprint).toBe(V1Def.fingerprint);
      // a version the build did not accept is refused, finished or not
      await expect(bindWorkflow(RenamedDef, new Renamed()).resume(store, 'done-1')).rejects.toThrow(FingerprintMismatchError);
      // (finished: no migration to offer)
      await expect(bindWorkflow(RenamedDef, new Renamed()).resume(store, 'done-1')).rejects.toThrow(/: use the build of graph \w{16}$/);
    } finally {
      await store.close();
    }
  });

  it('migrates a v1 run to v2 explicitly after a safe change (the type checker judges the widened input)', async () => {
    const store = new SqliteCheckpointStore(join(dir, 'safe.db'));
    try {
      await stoppedRun(store, 'safe-1');
      const v2 = bindWorkflow(SafeDef, new Safe());
      // Without the type checker a changed input type is not known to be safe: refused, nothing written.
      await expect(migrateRun(store, 'safe-1', { record: record(), to: SafeDef.fingerprint })).rejects.toThrow(/safe-1 .*\n.*node b of version a586e4f10609f31b takes string \| number, not string/);
      expect((await store.getRun('safe-1'))!.fingerprint).toBe(V1Def.fingerprint);
      const plan = await migrateRun(store, 'safe-1', { record: record(), to: SafeDef.fingerprint, probe });
      expect(plan.blocking).toEqual([]);
      expect((await store.getRun('safe-1'))!.fingerprint).toBe(SafeDef.fingerprint);
      expect(await v2.resume(store, 'safe-1')).toBe('value HI!!');
    } finally {
      await store.close();
    }
  });

  it('refuses a rename it was not told about, listing the blocking item, and continues the run once migrated with it', async () => {
    const store = new SqliteCheckpointStore(join(dir, 'renamed.db'));
    try {
      await stoppedRun(store, 'ren-1');
      const err = await migrateRun(store, 'ren-1', { record: record(), to: RenamedDef.fingerprint, probe }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationBlockedError);
      expect((err as Error).message).toContain('node b is not in version');
      expect((err as Error).message).toContain('--rename b=shout');
      await expect(migrateRun(store, 'ren-1', { record: record(), to: RenamedDef.fingerprint, rename: { b: 'nope' } })).rejects.toThrow(InvalidArgumentError);
      expect((await store.load('ren-1'))!.items.map((it) => it.node)).toEqual(['b']);
      const dry = await migrateRun(store, 'ren-1', { record: record(), to: RenamedDef.fingerprint, rename: { b: 'shout' }, dryRun: true });
      expect(dry.blocking).toEqual([]);
      expect((await store.getRun('ren-1'))!.fingerprint).toBe(V1Def.fingerprint);
      // Default target: the newest version on record (v2-renamed).
      await migrateRun(store, 'ren-1', { record: record(), rename: { b: 'shout' } });
      const cp = (await store.load('ren-1'))!;
      expect(cp.run.fingerprint).toBe(RenamedDef.fingerprint);
      expect(cp.items.map((it) => it.node)).toEqual(['shout']);
      // A fresh store on the same file reads the rewritten journal.
      await store.close();
      const again = new SqliteCheckpointStore(join(dir, 'renamed.db'));
      try {
        expect(await bindWorkflow(RenamedDef, new Renamed()).resume(again, 'ren-1')).toBe('HI!!');
        await expect(migrateRun(again, 'ren-1', { record: record(), to: V1Def.fingerprint })).rejects.toThrow(RunStateError);
      } finally {
        await again.close();
      }
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it('a run moved while a process runs it on the old graph: that process\'s commit is refused, the new version finishes it', async () => {
    const store = new SqliteCheckpointStore(join(dir, 'moved-live.db'));
    try {
      // version 1 with a `b` that waits until the run was moved (its process is still running the old graph then)
      let entered!: () => void;
      const inB = new Promise<void>((r) => (entered = r));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const old = new V1();
      Object.assign(old, { b: { process: async (_ctx: unknown, s: string) => (entered(), await gate, Transition.next(s)) } });
      const live = bindWorkflow(V1Def, old).runWithCheckpoint(undefined, 'hi', store, 'live-0');
      await inB;
      await migrateRun(store, 'live-0', { record: record(), rename: { b: 'shout' } });
      release();
      const err = await live.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FingerprintMismatchError);
      expect((err as Error).message).toBe(
        `run live-0 was moved to graph ${RenamedDef.fingerprint} (floxide runs migrate) while this process ran it on graph ${V1Def.fingerprint}: its commit is refused and the run stays where the move left it; resume it with the build of graph ${RenamedDef.fingerprint}`,
      );
      // nothing of the old graph landed: the run is open on version 2 with its item for `shout`
      const cp = (await store.load('live-0'))!;
      expect([cp.run.status, cp.run.fingerprint, cp.items.map((it) => it.node)]).toEqual(['running', RenamedDef.fingerprint, ['shout']]);
      expect(await bindWorkflow(RenamedDef, new Renamed()).resume(store, 'live-0')).toBe('HI!!');
      expect((await store.stepHistory('live-0')).map((h) => h.node)).toEqual(['a', 'shout', 'c']);
    } finally {
      await store.close();
    }
  });

  it('blocks on a narrowed input, a changed join fan-out and a changed merge strategy (pure plan)', () => {
    const v1 = {
      id: '1111111111111111',
      start: 'a',
      nodes: [
        { name: 'a', input: 'string', file: 'f.ts' },
        { name: 'j', input: 'string[]', file: 'f.ts', join: true as const },
      ],
      edges: [{ from: 'a', to: 'j', kind: 'success' as const }],
      context: [{ name: 'n', strategy: 'sum' as const }],
    };
    const v2 = {
      ...v1,
      id: '2222222222222222',
      nodes: [{ name: 'a', input: '"x"', file: 'f.ts' }, { name: 'b', input: 'string', file: 'f.ts' }, v1.nodes[1]!],
      edges: [...v1.edges, { from: 'b', to: 'j', kind: 'success' as const }],
      context: [{ name: 'n', strategy: 'max' as const }],
    };
    // (three arrivals parked in group g: one line for the group)
    const arrivals = [{ group: 'g', node: 'j' }, { group: 'g', node: 'j' }, { group: 'g', node: 'j' }];
    const plan = planMigration('W', v1, v2, {}, { items: [{ id: '1', node: 'a' }], arrivals }, () => false);
    expect(plan.blocking.map((b) => [b.item ?? b.field, b.reason])).toEqual([
      ['1', 'node a of version 2222222222222222 takes "x", not string'],
      ['g', 'join arrivals parked in group g count the old fan-out into j'],
      ['n', 'context field n: merge strategy sum -> max: the stored context deltas follow the old strategy'],
    ]);
    // the same type name with another structure (a required field added): the reason shows both structures
    const s1 = { ...v1, nodes: [{ name: 'a', input: 'Order', shape: '{ id: string }', file: 'f.ts' }, v1.nodes[1]!] };
    const s2 = { ...s1, id: '6666666666666666', nodes: [{ ...s1.nodes[0]!, shape: '{ id: string; qty: number }' }, v1.nodes[1]!] };
    expect(planMigration('W', s1, s2, {}, { items: [{ id: '1', node: 'a' }], arrivals: [] }, () => false).blocking).toEqual([
      { item: '1', node: 'a', reason: 'node a of version 6666666666666666 takes Order { id: string; qty: number }, not Order { id: string }' },
    ]);
    // items at a wait that waits for another signal in the target (an item parked there waits for the old one)
    const w1 = { ...v1, nodes: [{ name: 'a', input: 'string', file: 'f.ts', kind: 'wait' as const, signal: 'go' }, v1.nodes[1]!] };
    const w2 = { ...w1, id: '3333333333333333', nodes: [{ ...w1.nodes[0]!, signal: 'start' }, v1.nodes[1]!] };
    expect(planMigration('W', w1, w2, {}, { items: [{ id: '1', node: 'a' }], arrivals: [] }, () => false).blocking).toEqual([
      { item: '1', node: 'a', reason: 'node a waits for signal start, not go in version 3333333333333333: an item parked there waits for the old signal' },
    ]);
    // items at a nested workflow node (whose workflow can park) that runs another workflow in the target
    const n1 = { ...v1, nodes: [{ name: 'a', input: 'string', file: 'f.ts', kind: 'workflow' as const, workflow: 'Review', parks: true as const }, v1.nodes[1]!] };
    const n2 = { ...n1, id: '4444444444444444', nodes: [{ ...n1.nodes[0]!, workflow: 'Review2' }, v1.nodes[1]!] };
    expect(planMigration('W', n1, n2, {}, { items: [{ id: '1', node: 'a' }], arrivals: [] }, () => false).blocking).toEqual([
      { item: '1', node: 'a', reason: 'node a runs nested workflow Review2, not Review in version 4444444444444444: an item parked there holds a nested run begun there' },
    ]);
    // the nested workflow's own graph changed unsafely: judged when its versions are at hand (the `nested` judge)
    const n3 = { ...n1, id: '5555555555555555', nodes: [{ ...n1.nodes[0]!, version: 'b' }, v1.nodes[1]!] };
    const n1a = { ...n1, nodes: [{ ...n1.nodes[0]!, version: 'a' }, v1.nodes[1]!] };
    const unsafe = () => [{ kind: 'node-removed' as const, safe: false, node: 'ask', text: 'node ask removed' }];
    expect(planMigration('W', n1a, n3, {}, { items: [{ id: '1', node: 'a' }], arrivals: [] }, () => false, unsafe).blocking).toEqual([
      { item: '1', node: 'a', reason: 'node a: nested workflow Review changed from version a to b (node ask removed) in version 5555555555555555: an item parked there holds a nested run begun there' },
    ]);
    expect(planMigration('W', n1a, n3, {}, { items: [{ id: '1', node: 'a' }], arrivals: [] }, () => false).blocking).toEqual([]);
  });

  it("migrateRun judges a parking nested workflow's graph by the versions of the same file", async () => {
    const wait = (name: string) => ({ name, input: 'string', file: 'f.ts', kind: 'wait' as const, signal: 'go' });
    const review = (id: string, node: string) => ({ id, start: node, nodes: [wait(node)], edges: [], context: [] });
    const outer = (id: string, version: string) => ({
      id,
      start: 'review',
      nodes: [{ name: 'review', input: 'string', file: 'f.ts', kind: 'workflow' as const, workflow: 'Review', version, parks: true as const }],
      edges: [],
      context: [],
    });
    const record: VersionsRecord = { format: 1, workflows: { W: [outer('1111111111111111', 'a'), outer('2222222222222222', 'b')], Review: [review('a', 'ask'), review('b', 'poll')] } };
    const moved: string[] = [];
    const store = {
      load: async () => ({ run: { workflow: 'W', fingerprint: '1111111111111111', status: 'running' }, items: [{ id: '1', node: 'review' }], arrivals: [] }),
      migrate: async (runId: string) => void moved.push(runId),
    };
    const err = await migrateRun(store, 'r-1', { record, to: '2222222222222222' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationBlockedError);
    expect((err as MigrationBlockedError).message).toMatch(/1: node review: nested workflow Review changed from version a to b \(node ask removed \(renamed to poll\?\)\) in version 2222222222222222/);
    // the same move with the nested workflow's change safe (a node added): the run moves
    const safe: VersionsRecord = { ...record, workflows: { ...record.workflows, Review: [review('a', 'ask'), { ...review('b', 'ask'), nodes: [wait('ask'), wait('more')] }] } };
    await migrateRun(store, 'r-1', { record: safe, to: '2222222222222222' });
    expect(moved).toEqual(['r-1']);
  });
});

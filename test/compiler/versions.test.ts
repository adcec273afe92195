/**
 * Versions on record and the compatibility check of `floxide build`: the pure comparison on hand-built versions, the
 * record file, one fixture per unsafe change (a version on record, the source changed since; asserting code and
 * position), and a build run as users run it on a temporary project.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProject, type BuildResult } from '../../compiler/build.js';
import { analyzeProject } from '../../compiler/index.js';
import { formatBuildResult } from '../../compiler/report.js';
import { compareVersions, isCompatible, type VersionChange } from '../../compiler/versions/compare.js';
import { emptyRecord, parseRecord, recordVersions, renderRecord, type GraphVersion } from '../../compiler/versions/record.js';
import { makeProject, repo } from '../tooling/project.js';
import { cliCaptured } from '../cli/run-cli.js';
import { articleWorkflow, branchWorkflow, waitingWorkflow } from './emit-models.js';

const v1: GraphVersion = {
  id: '1111111111111111',
  start: 'a',
  nodes: [
    { name: 'a', input: 'string', file: 'f.ts' },
    { name: 'b', input: 'string', file: 'f.ts' },
    { name: 'j', input: 'string[]', file: 'f.ts', join: true },
  ],
  edges: [
    { from: 'a', to: 'b', kind: 'success' },
    { from: 'b', to: 'j', kind: 'success' },
  ],
  context: [{ name: 'n', strategy: 'sum' }],
};
const never = () => false;

describe('compareVersions', () => {
  it('finds nothing between a version and itself', () => {
    expect(compareVersions(v1, v1, { accepts: never })).toEqual([]);
  });

  it('judges a renamed node unsafe, guesses the new name, and accepts the rename when given', () => {
    const v2: GraphVersion = {
      ...v1,
      id: '2222222222222222',
      nodes: [v1.nodes[0], { name: 'c', input: 'string', file: 'f.ts' }, v1.nodes[2]],
      edges: [
        { from: 'a', to: 'c', kind: 'success' },
        { from: 'c', to: 'j', kind: 'success' },
      ],
    };
    const changes = compareVersions(v1, v2, { accepts: never });
    // Without the rename, the join's predecessor changed too.
    expect(changes.filter((c) => !c.safe).map((c) => [c.kind, c.node, c.renameGuess])).toEqual([
      ['node-removed', 'b', 'c'],
      ['join-changed', 'j', undefined],
    ]);
    expect(isCompatible(changes)).toBe(false);
    const renamed = compareVersions(v1, v2, { accepts: never, renames: new Map([['b', 'c']]) });
    expect(renamed).toEqual([]);
  });

  it('asks about changed input types only, and calls a widened one safe', () => {
    const v2: GraphVersion = { ...v1, nodes: [v1.nodes[0], { name: 'b', input: 'string | number', file: 'f.ts' }, v1.nodes[2]] };
    const asked: string[] = [];
    const widened = compareVersions(v1, v2, { accepts: (o, n) => (asked.push(`${o.input} => ${n.input}`), true) });
    expect(asked).toEqual(['string => string | number']);
    expect(widened.map((c) => [c.kind, c.safe])).toEqual([['input-changed', true]]);
    expect(compareVersions(v1, v2, { accepts: never }).map((c) => [c.kind, c.safe])).toEqual([['input-changed', false]]);
  });

  it("judges a join's changed fan-out and a changed merge strategy unsafe; added nodes, edges and fields safe", () => {
    const v2: GraphVersion = {
      ...v1,
      nodes: [...v1.nodes, { name: 'x', input: 'string', file: 'f.ts' }],
      edges: [...v1.edges, { from: 'a', to: 'j', kind: 'success' }, { from: 'b', to: 'x', kind: 'fallback' }],
      context: [
        { name: 'm', strategy: 'lastWrite' },
        { name: 'n', strategy: 'max' },
      ],
    };
    const changes = compareVersions(v1, v2, { accepts: never });
    expect(changes.map((c) => [c.kind, c.safe, c.text])).toEqual([
      ['node-added', true, 'node x added'],
      ['join-changed', false, 'the fan-out into @join() j changed (edges in were b -> j, now a -> j, b -> j)'],
      ['edge-added', true, 'edge a -> j added'],
      ['edge-added', true, 'edge b -fallback-> x added'],
      ['field-changed', true, 'context field m added'],
      ['merge-changed', false, 'context field n: merge strategy sum -> max'],
    ]);
  });
});

describe('compareVersions: the start', () => {
  it('judges a new start safe, and a renamed start node no start change', () => {
    const v2: GraphVersion = { ...v1, start: 'b' };
    expect(compareVersions(v1, v2, { accepts: never }).map((c) => [c.kind, c.safe, c.text])).toEqual([['start-changed', true, 'start changed from a to b']]);
    const renamed: GraphVersion = { ...v1, start: 'z', nodes: [{ ...v1.nodes[0]!, name: 'z' }, v1.nodes[1]!, v1.nodes[2]!], edges: [{ from: 'z', to: 'b', kind: 'success' }, v1.edges[1]!] };
    expect(compareVersions(v1, renamed, { accepts: never, renames: new Map([['a', 'z']]) })).toEqual([]);
  });
});

describe('compareVersions: waits', () => {
  /** v1 with node b a wait for `signal`, a sleep, or a plain node. */
  const waiting = (b: { signal: string } | 'sleep' | 'plain'): GraphVersion => ({
    ...v1,
    nodes: [v1.nodes[0]!, { ...v1.nodes[1]!, ...(b === 'plain' ? {} : b === 'sleep' ? { kind: 'sleep' as const } : { kind: 'wait' as const, signal: b.signal }) }, v1.nodes[2]!],
  });

  it('judges a wait that waits for another signal, or no longer waits, unsafe; a node that starts waiting safe', () => {
    const changes = (from: GraphVersion, to: GraphVersion) => compareVersions(from, to, { accepts: never }).map((c) => [c.kind, c.safe, c.node, c.text]);
    const go = { signal: 'go' };
    expect(changes(waiting(go), waiting(go))).toEqual([]);
    expect(changes(waiting(go), waiting({ signal: 'start' }))).toEqual([['wait-changed', false, 'b', 'node b waits for signal start, not go']]);
    expect(changes(waiting(go), waiting('plain'))).toEqual([['wait-changed', false, 'b', 'node b no longer waits for signal go']]);
    expect(changes(waiting(go), waiting('sleep'))).toEqual([['wait-changed', false, 'b', 'node b no longer waits for signal go']]);
    expect(changes(waiting('plain'), waiting(go))).toEqual([]);
    // renamed, and still waiting for its signal: only the rename is said (nothing of it is unsafe when it is given)
    const renamed: GraphVersion = { ...v1, nodes: [v1.nodes[0]!, { name: 'c', input: 'string', file: 'f.ts', kind: 'wait', signal: 'go' }, v1.nodes[2]!], edges: [{ from: 'a', to: 'c', kind: 'success' }, { from: 'c', to: 'j', kind: 'success' }] };
    expect(compareVersions(waiting(go), renamed, { accepts: never, renames: new Map([['b', 'c']]) }).filter((c) => !c.safe)).toEqual([]);
  });
});

describe('compareVersions: nested workflows', () => {
  /** v1 with node b a nested workflow (`parks`: one whose runs can park), or a plain node. */
  const nesting = (b: { workflow: string; parks: boolean } | 'plain'): GraphVersion => ({
    ...v1,
    nodes: [v1.nodes[0]!, { ...v1.nodes[1]!, ...(b === 'plain' ? {} : { kind: 'workflow' as const, workflow: b.workflow, ...(b.parks ? { parks: true as const } : {}) }) }, v1.nodes[2]!],
  });
  const changes = (from: GraphVersion, to: GraphVersion) => compareVersions(from, to, { accepts: never }).map((c) => [c.kind, c.safe, c.node, c.text]);

  it('judges a nested workflow whose runs can park, swapped for another or for a plain node, unsafe', () => {
    const review = { workflow: 'Review', parks: true };
    expect(changes(nesting(review), nesting(review))).toEqual([]);
    expect(changes(nesting(review), nesting({ workflow: 'Review2', parks: true }))).toEqual([['nested-changed', false, 'b', 'node b runs nested workflow Review2, not Review']]);
    expect(changes(nesting(review), nesting({ workflow: 'Review2', parks: false }))).toEqual([['nested-changed', false, 'b', 'node b runs nested workflow Review2, not Review']]);
    expect(changes(nesting(review), nesting('plain'))).toEqual([['nested-changed', false, 'b', 'node b no longer runs nested workflow Review']]);
  });

  it('lets a nested workflow that never parks be swapped, and any node become one (its items are only queued)', () => {
    expect(changes(nesting({ workflow: 'Sum', parks: false }), nesting('plain'))).toEqual([]);
    expect(changes(nesting({ workflow: 'Sum', parks: false }), nesting({ workflow: 'Review', parks: true }))).toEqual([]);
    expect(changes(nesting('plain'), nesting({ workflow: 'Review', parks: true }))).toEqual([]);
    // the same workflow starting to park: its runs in flight hold none yet
    expect(changes(nesting({ workflow: 'Review', parks: false }), nesting({ workflow: 'Review', parks: true }))).toEqual([]);
  });

  it("judges a parking nested workflow's changed graph by its own versions: unsafe for the runs parked there, or not", () => {
    const at = (version: string): GraphVersion => ({ ...v1, nodes: [v1.nodes[0]!, { ...v1.nodes[1]!, kind: 'workflow', workflow: 'Review', version, parks: true }, v1.nodes[2]!] });
    const asked: string[] = [];
    const nested = (workflow: string, file: string, from: string, to: string): VersionChange[] | undefined => {
      asked.push(`${workflow} ${file} ${from} -> ${to}`);
      if (to === 'unknown') return undefined;
      return to === 'renamed' ? [{ kind: 'node-removed', safe: false, node: 'ask', text: 'node ask removed' }] : [{ kind: 'node-added', safe: true, node: 'x', text: 'node x added' }];
    };
    const judged = (to: string) => compareVersions(at('old'), at(to), { accepts: never, nested }).map((c) => [c.kind, c.safe, c.node, c.text]);
    expect(judged('renamed')).toEqual([['nested-changed', false, 'b', 'node b: nested workflow Review changed from version old to renamed (node ask removed)']]);
    expect(judged('grown')).toEqual([]);
    expect(judged('unknown')).toEqual([]);
    expect(judged('old')).toEqual([]);
    expect(asked).toEqual(['Review f.ts old -> renamed', 'Review f.ts old -> grown', 'Review f.ts old -> unknown']);
    // a nested workflow that stopped parking (its wait removed) is judged all the same: its old runs are parked
    const stopped: GraphVersion = { ...v1, nodes: [v1.nodes[0]!, { ...v1.nodes[1]!, kind: 'workflow', workflow: 'Review', version: 'renamed' }, v1.nodes[2]!] };
    expect(compareVersions(at('old'), stopped, { accepts: never, nested }).map((c) => c.kind)).toEqual(['nested-changed']);
    // without a judge (migrations), a nested graph's change is not judged
    expect(compareVersions(at('old'), at('renamed'), { accepts: never })).toEqual([]);
  });

  it('says nothing against a version recorded before nested workflows kept their class', () => {
    const old: GraphVersion = { ...v1, nodes: [v1.nodes[0]!, { ...v1.nodes[1]!, kind: 'workflow' }, v1.nodes[2]!] };
    expect(changes(old, nesting('plain'))).toEqual([]);
  });
});

describe('nested workflows as the analysis records them', () => {
  it('marks a nested workflow that can park (a wait or a sleep, at any depth) and keeps its graph version', () => {
    const r = analyzeProject({ cwd: repo, paths: ['test/fixtures/signals', 'examples/nested.ts'] });
    const node = (workflow: string, name: string) => r.model.workflows.find((w) => w.name === workflow)!.nodes.find((n) => n.name === name)!;
    const fingerprint = (workflow: string) => r.model.workflows.find((w) => w.name === workflow)!.fingerprint;
    // a sleep only
    expect([node('NestedNapFlow', 'nap').parks, node('NestedNapFlow', 'nap').nestedVersion]).toEqual([true, fingerprint('SleepFlow')]);
    // a wait, and a wait two levels down
    expect(node('ReviewFlow', 'review').parks).toBe(true);
    expect([node('AuditFlow', 'audit').parks, node('AuditFlow', 'audit').nestedVersion]).toEqual([true, fingerprint('ReviewFlow')]);
    // nothing that parks: versioned all the same
    expect([node('OuterWorkflow', 'inner').parks, node('OuterWorkflow', 'inner').nestedVersion]).toEqual([undefined, fingerprint('InnerWorkflow')]);
    expect(node('ReviewFlow', 'intake').nestedVersion).toBeUndefined();
  });
});

describe('the versions file', () => {
  it('renders deterministically and reads back what it wrote', () => {
    const record = { format: 1 as const, workflows: { Z: [v1], A: [{ ...v1, id: 'ffffffffffffffff' }] } };
    const text = renderRecord(record);
    expect(text.indexOf('"A"')).toBeLessThan(text.indexOf('"Z"'));
    expect(text.endsWith('}\n')).toBe(true);
    expect(renderRecord(parseRecord(text, 'x.json'))).toBe(text);
    expect(renderRecord(emptyRecord())).toBe('{\n  "format": 1,\n  "workflows": {}\n}\n');
  });

  it('records which nodes are nested workflows, waits (with their signal) and sleeps, and reads them back', () => {
    const text = renderRecord(recordVersions(emptyRecord(), [waitingWorkflow, branchWorkflow]));
    expect(text).toContain('{ "name": "approval", "input": "unknown", "file": "src/approval.ts", "kind": "wait", "signal": "approval" }');
    expect(text).toContain('{ "name": "remind", "input": "unknown", "file": "src/approval.ts", "kind": "sleep" }');
    expect(text).toContain('{ "name": "ask", "input": "unknown", "file": "src/approval.ts" }');
    expect(text).toMatch(/\{ "name": "sub", "input": "[^"]+", "file": "[^"]+", "kind": "workflow", "workflow": "SubFlow" \}/);
    expect(text).toMatch(/\{ "name": "collect", "input": "[^"]+", "file": "[^"]+", "join": true \}/);
    expect(renderRecord(parseRecord(text, 'x.json'))).toBe(text);
    const parking = { ...branchWorkflow, nodes: branchWorkflow.nodes.map((n) => (n.name === 'sub' ? { ...n, parks: true as const } : n)) };
    expect(renderRecord(recordVersions(emptyRecord(), [parking]))).toMatch(/"name": "sub", .*"kind": "workflow", "workflow": "SubFlow", "parks": true \}/);
    const versioned = { ...parking, nodes: parking.nodes.map((n) => (n.name === 'sub' ? { ...n, nestedVersion: '0123456789abcdef' } : n)) };
    expect(renderRecord(recordVersions(emptyRecord(), [versioned]))).toMatch(/"name": "sub", .*"kind": "workflow", "workflow": "SubFlow", "version": "0123456789abcdef", "parks": true \}/);
    const bad = (node: object) => JSON.stringify({ format: 1, workflows: { X: [{ ...v1, nodes: [node] }] } });
    expect(() => parseRecord(bad({ name: 'a', input: 'string', file: 'f.ts', kind: 'timer' }), 'd.json')).toThrow(/d\.json: the versions of X are malformed/);
    expect(() => parseRecord(bad({ name: 'a', input: 'string', file: 'f.ts', kind: 'wait', signal: 7 }), 'e.json')).toThrow(/e\.json: the versions of X are malformed/);
    expect(() => parseRecord(bad({ name: 'a', input: 'string', file: 'f.ts', kind: 'workflow', workflow: 7 }), 'f.json')).toThrow(/f\.json: the versions of X are malformed/);
    expect(() => parseRecord(bad({ name: 'a', input: 'string', file: 'f.ts', kind: 'workflow', parks: 'yes' }), 'g.json')).toThrow(/g\.json: the versions of X are malformed/);
    expect(() => parseRecord(bad({ name: 'a', input: 'string', file: 'f.ts', kind: 'workflow', version: 1 }), 'h.json')).toThrow(/h\.json: the versions of X are malformed/);
  });

  it('rejects a malformed file with a message naming it', () => {
    expect(() => parseRecord('{', 'a.floxide.versions.json')).toThrow(/a\.floxide\.versions\.json is not valid JSON/);
    expect(() => parseRecord('{"format": 9, "workflows": {}}', 'b.json')).toThrow(/b\.json is not a floxide versions file of format 1/);
    expect(() => parseRecord('{"format": 1, "workflows": {"X": [{}]}}', 'c.json')).toThrow(/versions of X are malformed/);
  });

  it('appends a new version; one on record already (a change that keeps the graph, a reverted change) becomes the last entry', () => {
    const first = recordVersions(emptyRecord(), [articleWorkflow]);
    expect(first.workflows.ArticleWorkflow.map((v) => v.id)).toEqual([articleWorkflow.fingerprint]);
    const retyped = { ...articleWorkflow, nodes: articleWorkflow.nodes.map((n) => (n.name === 'draft' ? { ...n, inputType: 'string | number' } : n)) };
    const same = recordVersions(first, [retyped]).workflows.ArticleWorkflow;
    expect(same).toHaveLength(1);
    expect(same[0].nodes.find((n) => n.name === 'draft')!.input).toBe('string | number');
    const other = recordVersions(first, [{ ...articleWorkflow, fingerprint: '0123456789abcdef' }]).workflows.ArticleWorkflow;
    expect(other.map((v) => v.id)).toEqual([articleWorkflow.fingerprint, '0123456789abcdef']);
    expect(recordVersions(first, []).workflows).toEqual(first.workflows);
    // a change reverted to the graph on record first: that version is the newest again, last in the list
    const reverted = recordVersions({ ...first, workflows: { ArticleWorkflow: other } }, [articleWorkflow]).workflows.ArticleWorkflow;
    expect(reverted.map((v) => v.id)).toEqual(['0123456789abcdef', articleWorkflow.fingerprint]);
  });
});

// One fixture per unsafe change: the source file next to its versions file (v1 on record), the source changed since.
const fixtureDir = 'test/fixtures/versions';
let fixtures: BuildResult;
let strict: BuildResult;
beforeAll(async () => {
  fixtures = await buildProject({ cwd: repo, project: `${fixtureDir}/tsconfig.json`, check: true });
  strict = await buildProject({ cwd: repo, project: `${fixtureDir}/tsconfig.json`, check: true, strictVersions: true });
}, 180_000);

describe('compile-fail fixtures of unsafe changes', () => {
  const cases: Array<[string, string, number, number, RegExp]> = [
    ['FLX050-renamed.ts', 'FLX050', 8, 14, /node b of version \w{16} is gone \(renamed to shout\?\)/],
    ['FLX051-narrowed.ts', 'FLX051', 8, 3, /node b: input narrowed from string \| number to string since version \w{16}/],
    ['FLX052-join.ts', 'FLX052', 10, 11, /fan-out into @join\(\) collect changed \(edges in were word -> collect, now again -> collect\)/],
    ['FLX053-merge.ts', 'FLX053', 6, 16, /context field count: merge strategy sum -> max since version \w{16}/],
    ['FLX055-signal.ts', 'FLX055', 11, 17, /node approval waits for signal approved, not approval since version \w{16}: items of its runs parked at approval wait for the old signal/],
    ['FLX056-nested.ts', 'FLX056', 18, 17, /node review no longer runs nested workflow Review since version \w{16}: items of its runs parked at review hold a nested run begun there/],
    ['FLX056-nested-graph.ts', 'FLX056', 11, 18, /node vote: nested workflow VoteFlow changed from version \w{16} to \w{16} \(node ballot removed \(renamed to poll\?\)\) since version \w{16}: items of its runs parked at vote hold a nested run/],
    ['vote-flow.ts', 'FLX050', 10, 18, /node ballot of version \w{16} is gone \(renamed to poll\?\)/],
  ];

  it.each(cases)('%s reports %s at %i:%i', (file, code, line, column, message) => {
    const diags = fixtures.diagnostics.filter((d) => d.position?.file === file);
    expect(diags.map((d) => `${d.code}@${d.position!.line}:${d.position!.column}`)).toEqual([`${code}@${line}:${column}`]);
    expect(diags[0].severity).toBe('warning');
    expect(diags[0].message).toMatch(message);
    // a change that made a new version: old workers keep its runs; one that kept the id (types, signals, node kinds
    // and nested graphs are not in it): new workers take them too, so only waiting helps
    const newVersion = code === 'FLX050' || code === 'FLX052' || code === 'FLX053';
    expect(diags[0].hint).toMatch(newVersion ? /keep workers serving version \w{16} until its runs drain/ : /the version id stays \w{16}, so workers of this build take its runs too/);
    // and how the diagnostic goes away once they have: the record keeps the old version until it is pruned
    if (newVersion) expect(diags[0].hint).toMatch(/; once no run of version \w{16} is left, `floxide versions prune` drops it from the record \(docs\/deploying\.md\)$/);
    const s = strict.diagnostics.find((d) => d.position?.file === file)!;
    expect([s.code, s.severity]).toEqual([code, 'error']);
  });

  it('a renamed node: the hint gives the migrate command with the rename it guessed, whole but the store (its --versions file relative to the project)', () => {
    const [d] = fixtures.diagnostics.filter((x) => x.position?.file === 'FLX050-renamed.ts');
    expect(d!.hint).toMatch(
      /^keep workers serving version (\w{16}) until its runs drain, or move them to this version \(`floxide runs migrate --all --store <url> --versions FLX050-renamed\.floxide\.versions\.json --rename b=shout`\); once no run of version \1 is left/,
    );
  });

  it('reports nothing for safe changes (an input widened, a node and an edge added)', () => {
    expect(fixtures.diagnostics.filter((d) => d.position?.file === 'safe.ts')).toEqual([]);
  });

  it('--strict-versions fails the build and writes nothing', () => {
    expect(strict.exitCode).toBe(1);
    expect(strict.versions.stale).toEqual([]);
    expect(strict.modules.stale).toEqual([]);
  });
});

const NODES = `import { node, Transition, type WorkflowCtx } from 'floxide';

@node()
export class Upper {
  process(_ctx: WorkflowCtx, s: string): Transition<string> {
    return Transition.next(s.toUpperCase());
  }
}
`;
const flow = (fields: string) => `import { edge, workflow } from 'floxide';
import { Upper } from './nodes.js';

@workflow({ start: 'a' })
export class Flow {
${fields}
}
`;

describe('floxide build keeps the versions on record', () => {
  it('records the first version, leaves the file alone when nothing changed, then appends and compares', async () => {
    const dir = makeProject('versions', { 'nodes.ts': NODES, 'flow.ts': flow(`  @edge('b') a = new Upper();\n  b = new Upper();`) });
    const record = path.join(dir, 'flow.floxide.versions.json');
    const first = await buildProject({ cwd: dir });
    expect(first.exitCode).toBe(0);
    expect(first.versions.written).toEqual([record]);
    const v1 = parseRecord(readFileSync(record, 'utf8'), record).workflows.Flow;
    expect(v1.map((v) => v.id)).toEqual([first.model!.workflows[0].fingerprint]);

    const again = await buildProject({ cwd: dir });
    expect(again.versions.unchanged).toEqual([record]);
    expect(readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8')).not.toContain('supersedes');
    expect(again.newVersions).toEqual([]);

    // v2: b renamed to shout, c added.
    writeFileSync(path.join(dir, 'flow.ts'), flow(`  @edge('shout') a = new Upper();\n  @edge('c') shout = new Upper();\n  c = new Upper();`));
    const check = await buildProject({ cwd: dir, check: true });
    expect(check.exitCode).toBe(1);
    expect(check.versions.stale).toEqual([record]);
    const second = await buildProject({ cwd: dir });
    expect(second.exitCode).toBe(0);
    expect(second.diagnostics.map((d) => [d.code, d.severity, d.position?.line])).toEqual([['FLX050', 'warning', 7]]);
    const ids = parseRecord(readFileSync(record, 'utf8'), record).workflows.Flow.map((v) => v.id);
    expect(ids).toEqual([v1[0].id, second.model!.workflows[0].fingerprint]);
    const out = formatBuildResult(second, { cwd: dir, color: false }).stdout;
    expect(out).toContain(
      `Flow: new version ${ids[1]} (from ${ids[0]}: node b removed (renamed to shout?), node c added, node shout added, edge a -> shout added, edge shout -> c added, edge a -> b removed; 1 change(s) break runs in flight on ${ids[0]})`,
    );

    // the definition names the versions recorded before it (its workers' schedulers take the ticks over from theirs)
    const generated = () => readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8');
    expect(generated()).toContain(`  supersedes: [${JSON.stringify(ids[0]).replace(/"/g, "'")}],\n`);

    const strictBuild = await buildProject({ cwd: dir, strictVersions: true });
    expect(strictBuild.exitCode).toBe(1);
    expect(strictBuild.diagnostics[0].severity).toBe('error');

    // the change reverted: v1 is built again, recorded last (the newest on record), and supersedes v2; a build after
    // it changes nothing
    writeFileSync(path.join(dir, 'flow.ts'), flow(`  @edge('b') a = new Upper();\n  b = new Upper();`));
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    expect(parseRecord(readFileSync(record, 'utf8'), record).workflows.Flow.map((v) => v.id)).toEqual([ids[1], ids[0]]);
    expect(generated()).toContain(`  supersedes: [${JSON.stringify(ids[1]).replace(/"/g, "'")}],\n`);
    const afterRevert = await buildProject({ cwd: dir, check: true });
    expect([afterRevert.exitCode, afterRevert.versions.stale]).toEqual([0, []]);
  }, 180_000);

  it("records a union input in one order whichever files the build checked first (the checker prints a union's members in the order it met them)", async () => {
    // `'alpha'` is met in a.ts first when the whole project is built, in b.ts's own union after `'zeta'` when b.ts is
    // built alone (a hook building the changed files, CI the project: --check failed on the file the other wrote)
    const node = (cls: string, input: string) => `@node()\nexport class ${cls} {\n  process(_ctx: WorkflowCtx, s: ${input}): Transition<string> {\n    return Transition.next(s);\n  }\n}\n`;
    const head = `import { node, workflow, Transition, type WorkflowCtx } from 'floxide';\n`;
    const dir = makeProject('versions-union-order', {
      'a.ts': `${head}export const first: 'alpha' = 'alpha';\n${node('A1', "'alpha' | 'beta'")}@workflow({ start: 'a1' })\nexport class AFlow {\n  a1 = new A1();\n}\n`,
      'b.ts': `${head}${node('B1', "'zeta' | 'alpha'")}@workflow({ start: 'b1' })\nexport class BFlow {\n  b1 = new B1();\n}\n`,
    });
    const record = path.join(dir, 'b.floxide.versions.json');
    const all = await buildProject({ cwd: dir });
    expect([all.diagnostics, all.exitCode]).toEqual([[], 0]);
    expect(readFileSync(record, 'utf8')).toContain(`{ "name": "b1", "input": "'alpha' | 'zeta'", "file": "b.ts" }`);
    const alone = await buildProject({ cwd: dir, paths: ['b.ts'], check: true });
    expect([alone.exitCode, alone.versions.stale]).toEqual([0, []]);
  }, 120_000);

  it('warns when a renamed source starts a new record while its old versions stay in the orphaned module\'s file', async () => {
    const dir = makeProject('versions-renamed-file', { 'nodes.ts': NODES, 'flow.ts': flow(`  @edge('b') a = new Upper();\n  b = new Upper();`) });
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    writeFileSync(path.join(dir, 'flow.ts'), flow(`  @edge('c') a = new Upper();\n  c = new Upper();`));
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    const old = path.join(dir, 'flow.floxide.versions.json');
    const [v1, v2] = parseRecord(readFileSync(old, 'utf8'), old).workflows.Flow!.map((v) => v.id);
    renameSync(path.join(dir, 'flow.ts'), path.join(dir, 'orders.ts'));
    const renamed = await buildProject({ cwd: dir });
    expect(renamed.exitCode).toBe(0);
    expect(renamed.orphans).toEqual([path.join(dir, 'flow.floxide.ts')]);
    expect(renamed.stranded).toEqual([{ workflow: 'Flow', from: old, to: path.join(dir, 'orders.floxide.versions.json'), versions: [v1] }]);
    expect(formatBuildResult(renamed, { cwd: dir, color: false }).stderr).toContain(
      `floxide: warning: Flow: version(s) ${v1} are on record in flow.floxide.versions.json, whose module is orphaned (its source renamed or gone), not in orders.floxide.versions.json`,
    );
    expect(v2).toBe(renamed.model!.workflows[0]!.fingerprint);
    // the entries moved over (the old file in place of the new one): nothing is stranded, and v1 is judged again
    renameSync(old, path.join(dir, 'orders.floxide.versions.json'));
    const moved = await buildProject({ cwd: dir });
    expect([moved.stranded, moved.diagnostics.map((d) => d.code)]).toEqual([[], ['FLX050']]);
  }, 180_000);

  it("judges a generic node's input written in the workflow's file (its type argument) where its names are in scope", async () => {
    const generic = `import { node, Transition, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Identity<T> implements Node<T, T> {
  process(_ctx: WorkflowCtx, v: T): Transition<T> {
    return Transition.next(v);
  }
}
`;
    const flowOf = (arg: string) => `import { workflow } from 'floxide';
import { Identity } from './generic.js';
import type { Order } from './types.js';

@workflow({ start: 'a' })
export class Flow {
  a = new Identity<${arg}>();
}
`;
    const dir = makeProject('versions-generic', { 'generic.ts': generic, 'types.ts': 'export interface Order { id: string }\n', 'flow.ts': flowOf('Order') });
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    writeFileSync(path.join(dir, 'flow.ts'), flowOf('Order | null'));
    const widened = await buildProject({ cwd: dir, strictVersions: true });
    expect([widened.exitCode, widened.diagnostics]).toEqual([0, []]);
    writeFileSync(path.join(dir, 'flow.ts'), flowOf('Order'));
    const narrowed = await buildProject({ cwd: dir, strictVersions: true });
    expect(narrowed.diagnostics.map((d) => [d.code, d.severity])).toEqual([['FLX051', 'error']]);
  }, 180_000);

  it('sees a change inside a named input type (its name unchanged): a required field added is a narrowing, an optional one a widening', async () => {
    const nodes = `import { node, Transition, type Node, type WorkflowCtx } from 'floxide';
import type { Order } from './types.js';

@node()
export class Take implements Node<Order, string> {
  process(_ctx: WorkflowCtx, o: Order): Transition<string> {
    return Transition.next(o.id);
  }
}
`;
    const flowText = `import { workflow } from 'floxide';
import { Take } from './nodes.js';

@workflow({ start: 'take' })
export class Flow {
  take = new Take();
}
`;
    const dir = makeProject('versions-named-type', { 'nodes.ts': nodes, 'types.ts': 'export interface Line { sku: string }\nexport interface Order { id: string; lines: Line[] }\n', 'flow.ts': flowText });
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    const recorded = () => JSON.parse(readFileSync(path.join(dir, 'flow.floxide.versions.json'), 'utf8')).workflows.Flow as Array<{ id: string; nodes: Array<{ input: string; shape?: string }> }>;
    expect(recorded()[0]!.nodes[0]).toEqual({ name: 'take', input: 'Order', shape: '{ id: string; lines: Array<{ sku: string }> }', file: 'nodes.ts' });
    // a required field, deep inside: the display text stays `Order`, the graph version too
    writeFileSync(path.join(dir, 'types.ts'), 'export interface Line { sku: string; qty: number }\nexport interface Order { id: string; lines: Line[] }\n');
    const narrowed = await buildProject({ cwd: dir, strictVersions: true });
    expect(narrowed.diagnostics.map((d) => [d.code, d.severity])).toEqual([['FLX051', 'error']]);
    expect(narrowed.diagnostics[0]!.message).toContain('node take: input narrowed from Order { id: string; lines: Array<{ sku: string }> } to Order { id: string; lines: Array<{ qty: number; sku: string }> }');
    expect(recorded()[0]!.nodes[0]!.shape).toBe('{ id: string; lines: Array<{ sku: string }> }');
    // an optional field instead: old items still fit, and the record takes the new structure
    writeFileSync(path.join(dir, 'types.ts'), 'export interface Line { sku: string; qty?: number }\nexport interface Order { id: string; lines: Line[] }\n');
    const widened = await buildProject({ cwd: dir, strictVersions: true });
    expect([widened.exitCode, widened.diagnostics]).toEqual([0, []]);
    expect(recorded()[0]!.nodes[0]!.shape).toBe('{ id: string; lines: Array<{ qty?: number | undefined; sku: string }> }');
  }, 180_000);

  it('sees it through library generics too (Record, Partial, Map): their type arguments are shaped', async () => {
    const nodes = `import { node, Transition, type Node, type WorkflowCtx } from 'floxide';
import type { Line, Order } from './types.js';

export interface Books { byId: Record<string, Line>; draft: Partial<Order>; index: Map<string, Line> }

@node()
export class Take implements Node<Books, string> {
  process(_ctx: WorkflowCtx, b: Books): Transition<string> {
    return Transition.next(Object.keys(b.byId).join());
  }
}
`;
    const flowText = `import { workflow } from 'floxide';
import { Take } from './nodes.js';

@workflow({ start: 'take' })
export class Flow {
  take = new Take();
}
`;
    const dir = makeProject('versions-library-generics', { 'nodes.ts': nodes, 'types.ts': 'export interface Line { sku: string }\nexport interface Order { id: string }\n', 'flow.ts': flowText });
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    const shape = () => (JSON.parse(readFileSync(path.join(dir, 'flow.floxide.versions.json'), 'utf8')).workflows.Flow as Array<{ nodes: Array<{ shape?: string }> }>)[0]!.nodes[0]!.shape;
    expect(shape()).toBe('{ byId: Record<string, { sku: string }>; draft: Partial<{ id: string }>; index: Map<string, { sku: string }> }');
    writeFileSync(path.join(dir, 'types.ts'), 'export interface Line { sku: string; qty: number }\nexport interface Order { id: string }\n');
    const narrowed = await buildProject({ cwd: dir, strictVersions: true });
    expect(narrowed.diagnostics.map((d) => [d.code, d.severity])).toEqual([['FLX051', 'error']]);
    expect(narrowed.diagnostics[0]!.message).toContain('byId: Record<string, { qty: number; sku: string }>');
  }, 180_000);

  it('after `floxide versions prune`, the build judges nothing against a dropped version and the module lists none', async () => {
    const dir = makeProject('versions-prune', { 'nodes.ts': NODES, 'flow.ts': flow(`  @edge('b') a = new Upper();\n  b = new Upper();`) });
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    writeFileSync(path.join(dir, 'flow.ts'), flow(`  @edge('shout') a = new Upper();\n  shout = new Upper();`));
    const v2 = await buildProject({ cwd: dir });
    expect(v2.diagnostics.map((d) => d.code)).toEqual(['FLX050']);
    const pruned = await cliCaptured(['versions', 'prune', '.', '--no-store'], { cwd: dir });
    expect([pruned.code, pruned.err]).toEqual([0, '']);
    expect(pruned.out).toMatch(/1 version\(s\) dropped from 1 file\(s\): run `floxide build`/);
    // the module still lists the dropped version until the build: --check says so
    expect((await buildProject({ cwd: dir, check: true })).modules.stale).toEqual([path.join(dir, 'flow.floxide.ts')]);
    const after = await buildProject({ cwd: dir });
    expect([after.exitCode, after.diagnostics]).toEqual([0, []]);
    expect(readFileSync(path.join(dir, 'flow.floxide.ts'), 'utf8')).not.toContain('supersedes');
    expect((await buildProject({ cwd: dir, check: true })).exitCode).toBe(0);
  }, 180_000);

  it('says what made a new version when only what the record does not hold changed: a retry or timeout policy', async () => {
    const dir = makeProject('versions-policy', { 'nodes.ts': NODES, 'flow.ts': flow(`  @edge('b') a = new Upper();\n  b = new Upper();`) });
    expect((await buildProject({ cwd: dir })).exitCode).toBe(0);
    writeFileSync(path.join(dir, 'flow.ts'), flow(`  @retry({ maxAttempts: 3 })\n  @edge('b') a = new Upper();\n  b = new Upper();`).replace('{ edge, workflow }', '{ edge, retry, workflow }'));
    const second = await buildProject({ cwd: dir });
    expect(second.exitCode).toBe(0);
    const [note] = second.newVersions;
    expect(formatBuildResult(second, { cwd: dir, color: false }).stdout).toContain(
      `Flow: new version ${note!.id} (from ${note!.previous}: same nodes and edges; a node's retry or timeout policy, or the branch discriminant, changed; safe for runs in flight)`,
    );
  }, 180_000);

  it('reports a malformed versions file as FLX054 and writes nothing', async () => {
    const dir = makeProject('versions-bad', { 'nodes.ts': NODES, 'flow.ts': flow(`  a = new Upper();`), 'flow.floxide.versions.json': '{ nope' });
    const r = await buildProject({ cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.diagnostics.map((d) => [d.code, d.position?.file, d.position?.line])).toEqual([['FLX054', 'flow.floxide.versions.json', 1]]);
    expect(r.modules.written).toEqual([]);
    expect(readFileSync(path.join(dir, 'flow.floxide.versions.json'), 'utf8')).toBe('{ nope');
  }, 180_000);
});

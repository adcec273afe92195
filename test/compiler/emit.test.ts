import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { workflowMetaOf, graphShapeOf, fingerprintOf } from 'floxide';
import { ArticleWorkflow } from '../../examples/article.js';
import { dotOf, dotOfVersion, emitDefinition, emitDispatch, emitNodeSpecs, emitSignals, emitWorkItems, mermaidOf, ModuleScope } from '../../compiler/emit/index.js';
import { dotId, mermaidString, objectKey, propertyAccess, tsMultilineString, tsString } from '../../compiler/emit/literals.js';
import { renderModule } from '../../compiler/render.js';
import { versionOf } from '../../compiler/versions/record.js';
import { articleWorkflow, branchWorkflow, edgeModel, innerWorkflow, nodeModel, outerWorkflow, waitingWorkflow, workflowModel } from './emit-models.js';

const layout = { rootDir: '/project' };

describe('the generated module', () => {
  it('is exactly the reference examples/article.floxide.ts (minus its hand-written note)', () => {
    const reference = readFileSync(new URL('../../examples/article.floxide.ts', import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('// (Hand-written'))
      .join('\n');
    // The versions check of `floxide build` adds the recorded versions the graph accepts and those recorded before it
    // (since merge strategies entered the fingerprint, the article's earlier id is both).
    expect(renderModule('examples/article.ts', [{ ...articleWorkflow, compatible: ['1ecff6d76fca5cc5'], superseded: ['1ecff6d76fca5cc5'] }], layout)).toBe(reference);
  });

  it('uses the fingerprint the runtime computes from the decorators', () => {
    expect(fingerprintOf(graphShapeOf(workflowMetaOf(ArticleWorkflow)!))).toBe(articleWorkflow.fingerprint);
  });

  it('is byte-deterministic and ends with exactly one newline', () => {
    const a = renderModule('examples/nested.ts', [innerWorkflow, outerWorkflow], layout);
    const b = renderModule('examples/nested.ts', [innerWorkflow, outerWorkflow], layout);
    expect(a).toBe(b);
    expect(a.endsWith('\n') && !a.endsWith('\n\n')).toBe(true);
    expect(a).not.toContain('\r');
    expect(a).not.toContain('/project');
  });

  it('imports an inner workflow of another file from its generated module, relative to --out-dir', () => {
    const text = renderModule('src/flows/branch.ts', [branchWorkflow], { rootDir: '/project', outDir: '/project/gen' });
    const imports = text.split('\n').filter((l) => l.startsWith('import '));
    expect(imports).toEqual([
      "import { defineWorkflow, unknownWorkItem, type InputOf, type NodeExecutor, type NodeSpec, type OutputOf, type Transition, type WorkflowDef, type WorkflowInputOf } from 'floxide';",
      "import { Router } from '../../../src/flows/branch.js';",
      "import { SubFlowDef } from '../sub/sub.floxide.js';",
    ]);
  });

  it('aliases imports that would collide with generated or user names', () => {
    const F = 'src/x.ts';
    const wf = workflowModel(F, 'Transition', {
      start: 'a',
      context: { name: 'TransitionNodes', file: 'src/ctx.ts', kind: 'class' },
      nodes: [nodeModel(F, 'a', 'A')],
      edges: [],
      terminals: ['a'],
    });
    const text = renderModule(F, [wf], layout);
    expect(text).toContain("import { defineWorkflow, unknownWorkItem, type InputOf, type NodeExecutor, type NodeSpec, type OutputOf, type Transition as FloxideTransition, type WorkflowDef } from 'floxide';");
    expect(text).toContain("import { TransitionNodes as TransitionNodes_ } from './ctx.js';");
    expect(text).toContain("import { Transition } from './x.js';");
    expect(text).toContain('exec: NodeExecutor): Promise<FloxideTransition<unknown>> {');
    expect(text).toContain('export type TransitionContext = TransitionNodes_;');
    expect(text).toContain('get contextClass() { return TransitionNodes_; },');
  });
});

describe('emitWorkItems', () => {
  it('writes the exact union, input, output and context types', () => {
    const scope = new ModuleScope('examples/nested.ts', [innerWorkflow, outerWorkflow]);
    const out = emitWorkItems(outerWorkflow, scope);
    expect(out.content).toBe(
      [
        'export type OuterWorkflowWorkItem =',
        "  | { node: 'inner'; id: string; input: WorkflowInputOf<typeof InnerWorkflowDef> }",
        "  | { node: 'print'; id: string; input: InputOf<OuterWorkflow['print']> };",
        '',
        'export type OuterWorkflowInput = WorkflowInputOf<typeof InnerWorkflowDef>;',
        "export type OuterWorkflowOutput = OutputOf<OuterWorkflow['print']>;",
        'export type OuterWorkflowContext = undefined;',
        '',
      ].join('\n'),
    );
    expect(out.imports.every((i) => i.typeOnly)).toBe(true);
    expect(new Set(out.imports.map((i) => i.name))).toEqual(new Set(['WorkflowInputOf', 'InputOf', 'OuterWorkflow', 'OutputOf']));
  });

  it('uses WorkflowOutputOf for a nested terminal and quotes odd field names', () => {
    const F = 'a.ts';
    const wf = workflowModel(F, 'W', {
      start: 'my-node',
      nodes: [nodeModel(F, 'my-node', 'A'), nodeModel(F, 'sub', 'Inner', { kind: 'workflow' })],
      edges: [edgeModel(F, 'my-node', 'sub')],
      terminals: ['sub'],
    });
    const out = emitWorkItems(wf, new ModuleScope(F, [wf])).content;
    expect(out).toContain("  | { node: 'my-node'; id: string; input: InputOf<W['my-node']> }");
    expect(out).toContain('export type WOutput = WorkflowOutputOf<typeof InnerDef>;');
  });
});

describe('emitNodeSpecs / emitDispatch / emitDefinition', () => {
  const scope = new ModuleScope('src/flows/branch.ts', [branchWorkflow]);

  it('writes one NodeSpec per node with branch arms, otherwise, retry defaults, timeout, join and lazy inner workflow', () => {
    const out = emitNodeSpecs(branchWorkflow, scope).content.split('\n');
    // its type written out first (isolatedDeclarations: a declaration emitted from this file alone), then the value
    expect(out[0]).toBe('export const RouterNodes: {');
    expect(out[1]).toBe(
      "  readonly classify: { readonly name: 'classify'; readonly successors: readonly []; readonly fallbacks: readonly []; readonly branch: { readonly discriminant: 'type'; readonly arms: { readonly small: readonly ['small']; readonly 'big \"one\"': readonly ['sub'] }; readonly otherwise: readonly ['other'] }; readonly retry: undefined; readonly timeoutMs: 250; readonly join: false; readonly terminal: false; readonly workflow: undefined };",
    );
    expect(out[3]).toContain("readonly retry: { readonly maxAttempts: 2; readonly backoff: 'exponential'; readonly initialDelayMs: 100; readonly maxDelayMs: 30000; readonly jitterMs: 0; readonly retryOn: readonly ['NodeTimeoutError'] }");
    expect(out[4]).toContain('readonly workflow: () => typeof SubFlowDef };');
    expect(out[6]).toBe('} = {');
    expect(out[7]).toBe(
      "  classify: { name: 'classify', successors: [], fallbacks: [], branch: { discriminant: 'type', arms: { small: ['small'], 'big \"one\"': ['sub'] }, otherwise: ['other'] }, retry: undefined, timeoutMs: 250, join: false, terminal: false, workflow: undefined },",
    );
    expect(out[9]).toContain("retry: { maxAttempts: 2, backoff: 'exponential', initialDelayMs: 100, maxDelayMs: 30000, jitterMs: 0, retryOn: ['NodeTimeoutError'] }");
    expect(out[10]).toContain('workflow: () => SubFlowDef },');
    expect(out[11]).toContain('join: true, terminal: true,');
    expect(out[12]).toBe("} as const satisfies Record<RouterWorkItem['node'], NodeSpec>;");
  });

  it('writes an exhaustive switch and the terminal test', () => {
    expect(emitDispatch(branchWorkflow, scope).content).toBe(
      [
        'export function processRouterWorkItem(wf: Router, item: RouterWorkItem, exec: NodeExecutor): Promise<Transition<unknown>> {',
        '  switch (item.node) {',
        "    case 'classify':",
        '      return exec.run(wf.classify, item.input, RouterNodes.classify);',
        "    case 'small':",
        '      return exec.run(wf.small, item.input, RouterNodes.small);',
        "    case 'other':",
        '      return exec.run(wf.other, item.input, RouterNodes.other);',
        "    case 'sub':",
        '      return exec.runWorkflow(SubFlowDef, wf.sub, item.input, RouterNodes.sub);',
        "    case 'collect':",
        '      return exec.run(wf.collect, item.input, RouterNodes.collect);',
        '    default:',
        '      return unknownWorkItem(item);',
        '  }',
        '}',
        '',
        'export function isRouterTerminal(item: RouterWorkItem): boolean {',
        "  return item.node === 'collect';",
        '}',
        '',
      ].join('\n'),
    );
  });

  it('keeps a one-node dispatch exhaustive (switch does not narrow a one-member union)', () => {
    const F = 'a.ts';
    const wf = workflowModel(F, 'Solo', { start: 'only', nodes: [nodeModel(F, 'only', 'A')], edges: [], terminals: ['only'] });
    expect(emitDispatch(wf, new ModuleScope(F, [wf])).content).toContain(
      ['    default:', '      item.node satisfies never;', '      return unknownWorkItem(item as never);', '  }'].join('\n'),
    );
  });

  it('escapes names in property accesses and keys (no __proto__ pitfall)', () => {
    const F = 'a.ts';
    const wf = workflowModel(F, 'W', {
      start: 'a-b',
      context: { name: 'C', file: F, kind: 'class' },
      contextFields: [
        { name: '__proto__', strategy: 'sum' },
        { name: 'x y', strategy: 'append' },
      ],
      nodes: [nodeModel(F, 'a-b', 'A')],
      edges: [],
      terminals: ['a-b'],
    });
    const s = new ModuleScope(F, [wf]);
    expect(emitDispatch(wf, s).content).toContain("return exec.run(wf['a-b'], item.input, WNodes['a-b']);");
    expect(emitNodeSpecs(wf, s).content).toContain("  'a-b': { name: 'a-b',");
    expect(emitDefinition(wf, s).content).toContain("contextFields: { ['__proto__']: 'sum', 'x y': 'append' },");
  });
});

describe('emitSignals', () => {
  it('writes the signal map (payload = what the WaitFor check takes: SignalPayloadOf) and the sorted names, and the definition carries them', () => {
    const scope = new ModuleScope('src/approval.ts', [waitingWorkflow]);
    expect(emitSignals(waitingWorkflow, scope).content).toBe(
      [
        'export type ApprovalSignals = {',
        "  approval: SignalPayloadOf<Approval['approval']>;",
        '};',
        '',
        "export const ApprovalSignalNames: readonly ['approval'] = ['approval'] as const satisfies readonly (keyof ApprovalSignals)[];",
        '',
      ].join('\n'),
    );
    const def = emitDefinition(waitingWorkflow, scope).content;
    expect(def).toContain('defineWorkflow<Approval, ApprovalWorkItem, ApprovalInput, ApprovalOutput, ApprovalContext, ApprovalSignals>({');
    expect(def).toContain('  signals: ApprovalSignalNames,\n});');
  });

  it('intersects the payloads of waits sharing a name, sorts and quotes names, and writes nothing without waits', () => {
    const F = 'a.ts';
    const wf = workflowModel(F, 'W', {
      start: 'b',
      nodes: [nodeModel(F, 'b', 'WaitFor', { wait: { signal: 'the-vote' } }), nodeModel(F, 'a', 'WaitFor', { wait: { signal: 'go' } }), nodeModel(F, 'c', 'WaitFor', { wait: { signal: 'the-vote' } })],
      edges: [edgeModel(F, 'b', 'a'), edgeModel(F, 'a', 'c')],
      terminals: ['c'],
    });
    const out = emitSignals(wf, new ModuleScope(F, [wf])).content;
    expect(out).toContain("  go: SignalPayloadOf<W['a']>;\n  'the-vote': SignalPayloadOf<W['b']> & SignalPayloadOf<W['c']>;\n");
    expect(out).toContain("export const WSignalNames: readonly ['go', 'the-vote'] = ['go', 'the-vote'] as const");
    expect(emitSignals(articleWorkflow, new ModuleScope(articleWorkflow.class.file, [articleWorkflow]))).toEqual({ content: '', imports: [] });
    expect(emitDefinition(articleWorkflow, new ModuleScope(articleWorkflow.class.file, [articleWorkflow])).content).not.toContain('signals');
  });
});

describe('dotOf', () => {
  it('draws a wait (its signal) and a sleep as rounded boxes, and the timeout route dashed', () => {
    expect(dotOf(waitingWorkflow)).toBe(
      [
        'digraph Approval {',
        '  rankdir=LR;',
        '  node [shape=box style=filled fontname="Helvetica" color=lightgray];',
        '  edge [fontname="Helvetica" arrowhead=vee];',
        '  ask;',
        '  approval [style="filled,rounded" color=lightblue label="approval\\nwaits for signal approval"];',
        '  remind [style="filled,rounded" color=lightyellow label="remind\\nsleeps on a durable timer"];',
        '  decide;',
        '  escalate;',
        '  ask -> approval;',
        '  approval -> remind;',
        '  approval -> escalate [style="dashed" color="red" label="timeout"];',
        '  remind -> decide;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('keeps Floxide header and edge styles, in declaration order, with joins and nested workflows marked', () => {
    expect(dotOf(branchWorkflow)).toBe(
      [
        'digraph Router {',
        '  rankdir=LR;',
        '  node [shape=box style=filled fontname="Helvetica" color=lightgray];',
        '  edge [fontname="Helvetica" arrowhead=vee];',
        '  classify;',
        '  small;',
        '  other;',
        '  sub [shape=box3d];',
        '  collect [shape=diamond];',
        '  classify -> small [label="small"];',
        '  classify -> sub [label="big \\"one\\""];',
        '  classify -> other [style="dashed" label="otherwise"];',
        '  small -> collect;',
        '  sub -> collect;',
        '  other -> collect;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('draws a recorded graph version as dotOf drew it (joins, nested workflows), in the record\'s order', () => {
    expect(dotOfVersion('Router', versionOf(branchWorkflow))).toBe(
      [
        'digraph Router {',
        '  rankdir=LR;',
        '  node [shape=box style=filled fontname="Helvetica" color=lightgray];',
        '  edge [fontname="Helvetica" arrowhead=vee];',
        '  classify;',
        '  collect [shape=diamond];',
        '  other;',
        '  small;',
        '  sub [shape=box3d];',
        // (the record's canonical edge order)
        '  classify -> sub [label="big \\"one\\""];',
        '  classify -> small [label="small"];',
        '  classify -> other [style="dashed" label="otherwise"];',
        '  other -> collect;',
        '  small -> collect;',
        '  sub -> collect;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('draws the waits (their signals), sleeps and timeout routes of a recorded version as dotOf drew them', () => {
    expect(dotOfVersion('Approval', versionOf(waitingWorkflow))).toBe(
      [
        'digraph Approval {',
        '  rankdir=LR;',
        '  node [shape=box style=filled fontname="Helvetica" color=lightgray];',
        '  edge [fontname="Helvetica" arrowhead=vee];',
        '  approval [style="filled,rounded" color=lightblue label="approval\\nwaits for signal approval"];',
        '  ask;',
        '  decide;',
        '  escalate;',
        '  remind [style="filled,rounded" color=lightyellow label="remind\\nsleeps on a durable timer"];',
        '  approval -> remind;',
        '  approval -> escalate [style="dashed" color="red" label="timeout"];',
        '  ask -> approval;',
        '  remind -> decide;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('quotes keywords, $ names and escapes backslashes and newlines in labels', () => {
    const F = 'a.ts';
    const wf = workflowModel(F, '$Flow', {
      start: 'node',
      nodes: [nodeModel(F, 'node', 'A'), nodeModel(F, 'b$', 'B')],
      edges: [edgeModel(F, 'node', 'b$', 'branch', 'a\\b\nc')],
      terminals: ['b$'],
    });
    expect(dotOf(wf)).toContain('digraph "$Flow" {');
    expect(dotOf(wf)).toContain('  "node" -> "b$" [label="a\\\\b\\nc"];');
  });
});

describe('mermaidOf', () => {
  it('writes a flowchart LR with shapes and labelled edges', () => {
    expect(mermaidOf(articleWorkflow)).toBe(
      ['flowchart LR', '  outline["outline"]', '  draft["draft"]', '  review["review"]', '  apology["apology"]', '  outline --> draft', '  draft --> review', '  draft -. fallback .-> apology', ''].join('\n'),
    );
    const m = mermaidOf(branchWorkflow);
    expect(m).toContain('  collect{{"collect"}}\n');
    expect(m).toContain('  sub[["sub"]]\n');
    expect(m).toContain('  classify -->|"big #34;one#34;"| sub\n');
    expect(m).toContain('  classify -.->|"otherwise"| other\n');
  });

  it('draws a wait and a sleep as labelled stadiums, and the timeout route dotted and labelled', () => {
    expect(mermaidOf(waitingWorkflow)).toBe(
      [
        'flowchart LR',
        '  ask["ask"]',
        '  approval(["approval \u00b7 waits for signal approval"])',
        '  remind(["remind \u00b7 sleeps on a durable timer"])',
        '  decide["decide"]',
        '  escalate["escalate"]',
        '  ask --> approval',
        '  approval --> remind',
        '  approval -. timeout .-> escalate',
        '  remind --> decide',
        '',
      ].join('\n'),
    );
  });

  it('switches every node to generated ids when one name is not a safe Mermaid id', () => {
    const F = 'a.ts';
    const wf = workflowModel(F, 'W', { start: 'start', nodes: [nodeModel(F, 'start', 'A'), nodeModel(F, 'end', 'B')], edges: [edgeModel(F, 'start', 'end')], terminals: ['end'] });
    expect(mermaidOf(wf)).toBe(['flowchart LR', '  n0["start"]', '  n1["end"]', '  n0 --> n1', ''].join('\n'));
  });
});

describe('literals', () => {
  it('escapes TypeScript strings', () => {
    expect(tsString(`it's a \\ "q"\n\u2028\u0000`)).toBe(`'it\\'s a \\\\ "q"\\n\\u2028\\u0000'`);
    expect(objectKey('ok')).toBe('ok');
    expect(objectKey('1a')).toBe("'1a'");
    expect(propertyAccess('o', 'default')).toBe('o.default');
    expect(tsMultilineString('a\nb\n')).toEqual(["  'a\\n' +", "  'b\\n'"]);
  });
  it('escapes DOT ids and Mermaid labels', () => {
    expect(dotId('Graph')).toBe('"Graph"');
    expect(dotId('ok_1')).toBe('ok_1');
    expect(mermaidString('a|b[c]#<x>')).toBe('"a#124;b#91;c#93;#35;#60;x#62;"');
  });
});

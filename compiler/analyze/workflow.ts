/**
 * Workflow checks: turns a {@link RawWorkflow} into a {@link WorkflowModel}, resolving node field types and
 * checking the graph (targets, start, terminals, reachability, duplicates) and the types along every edge
 * (success, fallback, branch arms with narrowing, joins, nested workflows, contexts).
 */
import * as path from 'node:path';
import { ts } from 'ts-morph';
import { fingerprintOf } from '../../runtime/graph/shape.js';
import { diagnostic, type DiagnosticCode } from '../diagnostics.js';
import type { ClassRef, ContextRef, Diagnostic, DiagnosticFix, EdgeModel, NodeModel, WorkflowModel } from '../model.js';
import { isPublishedNodeClass, parkingKindOf, type DecoratorResolver } from './decorators.js';
import { isExportedByName, type Extractor, type RawField, type RawWorkflow } from './extract.js';
import { addArmsFix, addContextFix, renameTargetFixes } from './fixes.js';
import { graphProblems } from './graph-checks.js';
import { positionOf, slash } from './project.js';
import { shapeOfModel } from './shape.js';
import { signalsOf } from '../signals.js';
import { unstorableParts } from './storable.js';
import type { Payload, TypeTools } from './types.js';

/** What an enclosing workflow needs to know about a nested one. */
interface WorkflowSummary {
  input: ts.Type | undefined;
  inputText: string;
  output: Payload | undefined;
  /** Types the enclosing workflow's context must be assignable to. */
  contextNeeds: Array<{ type: ts.Type; text: string }>;
  contextText: string;
  /** Its signal map's names (its own waits' and, qualified, its nested workflows'): see `signalsOf`. */
  signals: string[];
}

/** The analysis of one workflow class (memoised per checker). */
export interface WorkflowResult {
  model: WorkflowModel;
  diagnostics: Diagnostic[];
  summary: WorkflowSummary;
}

/** A node field resolved to its class and types. */
interface ResolvedNode {
  field: RawField;
  kind: 'node' | 'workflow';
  cls: ts.ClassDeclaration & { name: ts.Identifier };
  /** Undefined when the class's process is unusable (reported once, at the class). */
  input: ts.Type | undefined;
  inputText: string;
  output: Payload | undefined;
  contextNeeds: Array<{ type: ts.Type; text: string }>;
  contextText: string;
  /** A `WaitFor` node's signal name; a `Sleep` node. */
  wait?: { signal: string };
  sleep?: true;
  /** A nested workflow's signal names. */
  signals?: string[];
}

type NamedClass = ts.ClassDeclaration & { name: ts.Identifier };

/** Analyses workflows and node classes with one checker. */
export class WorkflowAnalyzer {
  private readonly results = new Map<ts.ClassDeclaration, WorkflowResult | 'pending'>();
  private readonly nodeClassProblems = new Map<ts.ClassDeclaration, Diagnostic | null>();

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly resolver: DecoratorResolver,
    private readonly extractor: Extractor,
    private readonly tools: TypeTools,
    private readonly rootDir: string,
  ) {}

  /** FLX022 for a `@node` class without a usable `process` (computed once per class), or null. */
  nodeClassProblem(cls: NamedClass): Diagnostic | null {
    let p = this.nodeClassProblems.get(cls);
    if (p === undefined) {
      const sym = this.checker.getSymbolAtLocation(cls.name);
      const sig = sym ? this.tools.nodeSignature(this.checker.getDeclaredTypeOfSymbol(sym), cls) : 'cannot be resolved';
      p = typeof sig === 'string' ? diagnostic('FLX022', `node class ${cls.name.text} ${sig}`, positionOf(cls.name, this.rootDir)) : null;
      this.nodeClassProblems.set(cls, p);
    }
    return p;
  }

  /** Analyses a workflow (memoised); `undefined` while it is being analysed (a nesting cycle). */
  workflow(raw: RawWorkflow): WorkflowResult | undefined {
    const r = this.results.get(raw.decl);
    if (r === 'pending') return undefined;
    if (r) return r;
    this.results.set(raw.decl, 'pending');
    const res = this.compute(raw);
    this.results.set(raw.decl, res);
    return res;
  }

  private classRef(cls: NamedClass): ClassRef {
    return { name: cls.name.text, file: slash(path.relative(this.rootDir, cls.getSourceFile().fileName)) };
  }

  private compute(raw: RawWorkflow): WorkflowResult {
    const out: Diagnostic[] = [];
    const c = this.checker;
    const t = this.tools;
    const report = (code: DiagnosticCode, node: ts.Node, message: string, hint?: string, fixes?: Array<DiagnosticFix | undefined>) => {
      const d = diagnostic(code, message, positionOf(node, this.rootDir), hint);
      const usable = fixes?.filter((f): f is DiagnosticFix => f !== undefined) ?? [];
      if (usable.length > 0) d.fixes = usable;
      out.push(d);
    };
    const wfName = raw.name;

    if (!isExportedByName(raw.decl)) report('FLX023', raw.nameNode, `workflow class ${wfName} is not exported by name, so the generated module cannot import it`, `write \`export class ${wfName}\``);

    // Resolve the fields that are nodes.
    const fieldsByName = new Map(raw.fields.map((f) => [f.name, f]));
    const nodes = new Map<string, ResolvedNode>();
    const notNodes = new Map<string, string>(); // field -> why it is not a node
    for (const f of raw.fields) {
      const r = this.resolveField(f, raw, out);
      if (typeof r === 'string') {
        notNodes.set(f.name, r);
        if (f.decorated) report('FLX021', f.nameNode, `field ${f.name} of ${wfName} has edge decorators but ${r}`);
        continue;
      }
      nodes.set(f.name, r);
      if (f.hidden) report('FLX023', f.nameNode, `node field ${f.name} of ${wfName} is ${f.hidden}; generated code reads it as ${wfName}['${f.name}']`, `make ${f.name} public`);
    }
    const exists = (name: string) => fieldsByName.has(name) || raw.otherMembers.has(name);
    const unknownTarget = (node: ts.Node, what: string, name: string) => {
      const fields = [...fieldsByName.keys()];
      const close = closeNames(name, fields);
      report('FLX010', node, `${what} ${JSON.stringify(name)} is not a field of ${wfName}`, suggestion(close, fields), renameTargetFixes(node, close, this.rootDir));
    };

    // Start.
    let start = raw.start?.name ?? '';
    if (!raw.start) report('FLX017', raw.decorator, `workflow ${wfName} declares no start`, "add start: '<field>' to @workflow({...})");
    else if (!exists(start)) unknownTarget(raw.start.node, 'start', start);
    else if (raw.otherMembers.has(start)) report('FLX017', raw.start.node, `start ${JSON.stringify(start)} of ${wfName} is not a field`, 'the start must name a node field');
    else if (!nodes.has(start)) report('FLX021', raw.start.node, `start ${JSON.stringify(start)} of ${wfName} is not a node: ${notNodes.get(start) ?? 'not a node'}`);

    // Edges: targets, duplicates, mixed kinds.
    const edges: EdgeModel[] = [];
    const validEdges: Array<{ from: RawField; e: RawField['edges'][number] }> = [];
    for (const f of raw.fields) {
      const seen = new Set<string>();
      const tags = new Set<string>();
      for (const arm of f.arms) {
        if (tags.has(arm.tag)) report('FLX016', arm.tagNode, `branch arm ${JSON.stringify(arm.tag)} of ${f.name} is declared twice`, 'list all the targets of a tag in one @edge.when');
        tags.add(arm.tag);
      }
      for (const e of f.edges) {
        const key = `${e.kind}\u0000${e.tag ?? ''}\u0000${e.to}`;
        const label = e.kind === 'branch' ? `branch ${JSON.stringify(e.tag)} edge` : `${e.kind} edge`;
        if (seen.has(key)) {
          report('FLX016', e.targetNode, `duplicate ${label} ${f.name} -> ${e.to}`);
          continue;
        }
        seen.add(key);
        const edge: EdgeModel = { from: f.name, to: e.to, kind: e.kind, position: positionOf(e.decorator, this.rootDir) };
        if (e.tag !== undefined) edge.tag = e.tag;
        edges.push(edge);
        if (!exists(e.to)) unknownTarget(e.targetNode, `${label} target`, e.to);
        else if (!nodes.has(e.to)) report('FLX021', e.targetNode, `${label} target ${JSON.stringify(e.to)} of ${wfName} is not a node: ${notNodes.get(e.to) ?? 'it is a method or accessor'}`);
        else if (nodes.has(f.name)) validEdges.push({ from: f, e });
      }
      const hasSuccess = f.edges.some((e) => e.kind === 'success');
      if (hasSuccess && (f.arms.length > 0 || f.hasOtherwise)) report('FLX025', f.nameNode, `node ${f.name} has both success edges and branch arms`);
    }

    // Types along edges.
    const targetInput = (to: string): { type: ts.Type; join: boolean } | undefined => {
      const n = nodes.get(to)!;
      if (!n.input) return undefined;
      if (!n.field.join) return { type: n.input, join: false };
      const el = t.elementType(n.input);
      return el ? { type: el, join: true } : undefined;
    };
    for (const n of nodes.values()) {
      if (n.field.join && n.input && !t.elementType(n.input)) report('FLX024', n.field.nameNode, `join node ${n.field.name} must take an array (T[]), but its input is ${n.inputText}`);
    }
    const checkPayload = (p: Payload, to: string, code: DiagnosticCode, at: ts.Node, what: string) => {
      const target = targetInput(to);
      if (!target || t.assignable(p, target.type)) return;
      const targetText = t.text(target.type);
      if (target.join) report('FLX024', at, `${what} ${p.text} is not assignable to ${targetText}, the element type of join ${to}'s input ${nodes.get(to)!.inputText}`);
      else report(code, at, `${what} ${p.text} is not assignable to ${to}'s input ${targetText}`);
    };
    const branchSources = new Set<string>();
    for (const { from, e } of validEdges) {
      const src = nodes.get(from.name)!;
      if (e.kind === 'success' && src.output) checkPayload(src.output, e.to, 'FLX011', e.targetNode, `${from.name}'s output`);
      if (e.kind === 'fallback' && src.input) checkPayload(t.payload([src.input]), e.to, 'FLX012', e.targetNode, `fallback ${from.name} -> ${e.to}: ${from.name}'s input`);
      if (e.kind === 'branch' || e.kind === 'otherwise') branchSources.add(from.name);
    }
    // The nodes that would accept a payload (in declaration order): where a fix can route a missing arm.
    const acceptors = (p: Payload, except: string) =>
      raw.fields
        .map((f) => f.name)
        .filter((to) => {
          const target = to !== except && nodes.has(to) ? targetInput(to) : undefined;
          return target !== undefined && t.assignable(p, target.type);
        });
    for (const name of branchSources) this.checkBranch(nodes.get(name)!, raw.discriminant, checkPayload, report, acceptors);
    // Branch arms whose targets were all invalid still need their tags checked.
    for (const f of raw.fields) if ((f.arms.length > 0 || f.hasOtherwise) && nodes.has(f.name) && !branchSources.has(f.name)) this.checkBranch(nodes.get(f.name)!, raw.discriminant, checkPayload, report, acceptors);

    // The context: the class `context:` names, else the one type every node declares.
    const ctx = this.workflowContext(raw, nodes, start, report, out);
    // Terminals and reachability.
    const order = raw.fields.filter((f) => nodes.has(f.name));
    const terminals = order.filter((f) => !f.edges.some((e) => e.kind !== 'fallback')).map((f) => f.name);
    this.checkStorable(raw, ctx, nodes, terminals, report);
    // Without a terminal, unless an edge leads to a field that is not a node: that (FLX010/FLX021) is the root cause.
    const danglingEdge = raw.fields.some((f) => f.edges.some((e) => !nodes.has(e.to)));
    if (nodes.size > 0 && terminals.length === 0 && !danglingEdge) report('FLX019', raw.nameNode, `workflow ${wfName} has no terminal node (every node has success edges or branch arms)`);
    const shape = graphProblems({
      nodes: order.map((f) => f.name),
      edges: order.flatMap((f) => f.edges.filter((e) => nodes.has(e.to)).map((e) => ({ from: f.name, to: e.to }))),
      start: nodes.has(start) ? start : undefined,
      terminals,
    });
    for (const f of order) if (shape.unreachable.includes(f.name)) report('FLX030', f.nameNode, `node ${f.name} of ${wfName} is unreachable from the start ${start}`);
    if (terminals.length > 0 && !danglingEdge) {
      for (const cycle of shape.closedCycles) {
        const first = fieldsByName.get(cycle[0])!;
        report('FLX019', first.nameNode, `nodes ${cycle.join(', ')} of ${wfName} form a cycle with no way out to a terminal node: a run that enters it never completes`, 'give a node of the cycle an edge (or a branch arm) that leads to a terminal node');
      }
    }

    // The model.
    const nodeModels: NodeModel[] = order.map((f) => {
      const n = nodes.get(f.name)!;
      const m: NodeModel = {
        name: f.name,
        kind: n.kind,
        class: this.classRef(n.cls),
        inputType: n.inputText,
        outputType: n.output?.text ?? 'unknown',
        contextType: n.contextText,
        join: f.join,
        position: positionOf(f.nameNode, this.rootDir),
      };
      if (f.retry) m.retry = f.retry;
      if (f.timeoutMs !== undefined) m.timeoutMs = f.timeoutMs;
      if (n.wait) m.wait = n.wait;
      if (n.sleep) m.sleep = true;
      if (n.signals) m.signals = n.signals;
      return m;
    });
    const startNode = nodes.get(start);
    const terminalOutputs = terminals.flatMap((name) => nodes.get(name)!.output?.types ?? []);
    const output = t.payload(terminalOutputs);
    const model: WorkflowModel = {
      name: wfName,
      class: this.classRef(raw.decl as NamedClass),
      position: positionOf(raw.nameNode, this.rootDir),
      start,
      discriminant: raw.discriminant,
      contextType: ctx.text,
      contextFields: ctx.fields,
      inputType: startNode?.inputText ?? 'unknown',
      outputType: output.text,
      nodes: nodeModels,
      edges,
      terminals,
      fingerprint: '',
    };
    if (ctx.ref) model.context = ctx.ref;
    model.fingerprint = fingerprintOf(shapeOfModel(model));

    const contextNeeds = ctx.type ? [{ type: ctx.type, text: ctx.text }] : [...nodes.values()].flatMap((n) => n.contextNeeds);
    return {
      model,
      diagnostics: out,
      summary: {
        input: startNode?.input,
        inputText: startNode?.inputText ?? 'unknown',
        output: terminalOutputs.length > 0 ? output : undefined,
        contextNeeds,
        contextText: ctx.text,
        signals: signalsOf(model).map((s) => s.name),
      },
    };
  }

  /**
   * The workflow's context. With `context: C`, the class C, which every node's context must accept (FLX020 at each
   * node that does not). Without it, the context type the nodes declare when they all declare the same one (a class,
   * an interface or a type alias, which generated code must be able to import: FLX023), else FLX020 once, with a
   * hint that can be followed. `type` is undefined when no context could be settled (or none is needed).
   */
  private workflowContext(
    raw: RawWorkflow,
    nodes: ReadonlyMap<string, ResolvedNode>,
    start: string,
    report: (code: DiagnosticCode, node: ts.Node, message: string, hint?: string, fixes?: Array<DiagnosticFix | undefined>) => void,
    out: Diagnostic[],
  ): { type: ts.Type | undefined; text: string; ref?: ContextRef; fields: WorkflowModel['contextFields'] } {
    const c = this.checker;
    const wfName = raw.name;
    const needs = [...nodes.values()].flatMap((n) => n.contextNeeds.map((need) => ({ node: n, ...need })));
    const what = (n: ResolvedNode) => (n.kind === 'workflow' ? `nested workflow ${n.field.name} (${n.cls.name.text})` : `node ${n.field.name} (${n.cls.name.text})`);

    if (raw.context) {
      const cls = raw.context.decl as NamedClass;
      const sym = c.getSymbolAtLocation(cls.name);
      const type = sym ? c.getDeclaredTypeOfSymbol(sym) : c.getUndefinedType();
      const text = cls.name.text;
      const fields = this.extractor.contextFields(cls, out);
      if (!isExportedByName(cls)) report('FLX023', raw.context.node, `context class ${text} is not exported by name, so the generated module cannot import it`, `write \`export class ${text}\``);
      for (const need of needs) {
        if (!c.isTypeAssignableTo(type, need.type)) report('FLX020', need.node.field.nameNode, `${what(need.node)} needs context ${need.text}, but workflow ${wfName}'s context is ${text}`, `make ${text} assignable to ${need.text}`);
      }
      return { type, text, ref: { ...this.classRef(cls), kind: 'class' }, fields };
    }

    const distinct = needs.filter((n, i) => needs.findIndex((o) => o.type === n.type) === i);
    if (distinct.length === 0) return { type: undefined, text: 'undefined', fields: [] };
    if (distinct.length > 1) {
      // No inference: name the context. One of the types the nodes need may already fit them all.
      const fitsAll = distinct.find((d) => distinct.every((o) => c.isTypeAssignableTo(d.type, o.type)));
      const fitsClass = fitsAll && namedDeclaration(fitsAll.type);
      const call = ts.isCallExpression(raw.decorator.expression) ? raw.decorator.expression : undefined;
      const list = distinct.map((d) => `${d.node.field.name} needs ${d.text}`).join(', ');
      const message = `the nodes of workflow ${wfName} need different contexts (${list}), so its context cannot be inferred`;
      if (fitsClass && ts.isClassDeclaration(fitsClass)) {
        report('FLX020', distinct[1].node.field.nameNode, message, `declare the one every node accepts: @workflow({ start: '${start}', context: ${fitsAll!.text} })`, [call && addContextFix(call, fitsClass as NamedClass, c, this.rootDir)]);
      } else {
        const name = `${wfName}Context`;
        report('FLX020', distinct[1].node.field.nameNode, message, `declare a context class every node accepts and name it: \`export class ${name} implements ${distinct.map((d) => d.text).join(', ')} { ... }\` and @workflow({ start: '${start}', context: ${name} })`);
      }
      return { type: undefined, text: 'unknown', fields: [] };
    }

    // Every node declares the same context type: it is the workflow's.
    const { type, text, node } = distinct[0];
    const decl = namedDeclaration(type);
    if (!decl) {
      report('FLX023', node.field.nameNode, `the context type ${text} that the nodes of ${wfName} declare has no name the generated module can import`, `declare it by name (\`export interface ${wfName}Context { ... }\`, a type alias or a class) and use that name in the nodes' WorkflowCtx<...>`);
      return { type, text, fields: [] };
    }
    const keyword = ts.isClassDeclaration(decl) ? 'class' : ts.isInterfaceDeclaration(decl) ? 'interface' : 'type';
    if (!isExportedByName(decl)) report('FLX023', node.field.nameNode, `context ${keyword === 'type' ? 'type alias' : keyword} ${decl.name.text} (inferred from the nodes of ${wfName}) is not exported by name, so the generated module cannot import it`, `write \`export ${keyword} ${decl.name.text}\``);
    const ref: ContextRef = { name: decl.name.text, file: slash(path.relative(this.rootDir, decl.getSourceFile().fileName)), kind: ts.isClassDeclaration(decl) ? 'class' : 'type' };
    return { type, text, ref, fields: ts.isClassDeclaration(decl) ? this.extractor.contextFields(decl, out) : [] };
  }

  /**
   * FLX029 at each part of the context, of a node's input or of a terminal's output that storage does not carry
   * (`storable.ts`): a checkpointed or distributed run would read it back as something else. Nested workflows are
   * checked as workflows of their own.
   */
  private checkStorable(
    raw: RawWorkflow,
    ctx: { type: ts.Type | undefined; text: string; ref?: ContextRef },
    nodes: ReadonlyMap<string, ResolvedNode>,
    terminals: readonly string[],
    report: (code: DiagnosticCode, node: ts.Node, message: string, hint?: string) => void,
  ): void {
    const c = this.checker;
    const say = (at: ts.Node, root: string, whose: string, parts: ReturnType<typeof unstorableParts>) => {
      for (const p of parts) report('FLX029', at, `${root}${p.path} (${whose}) is ${p.what}, which a stored run (checkpointed or distributed) does not read back as such`);
    };
    if (ctx.type && ctx.ref) say(raw.context?.node ?? raw.nameNode, ctx.text, `the context of ${raw.name}`, unstorableParts(ctx.type, c, { ownMethods: ctx.ref.kind !== 'class' }));
    for (const n of nodes.values()) {
      if (n.kind !== 'node') continue;
      const name = n.field.name;
      if (n.input) say(n.field.nameNode, 'input', `of node ${name}`, unstorableParts(n.input, c, { ownMethods: true }));
      if (terminals.includes(name)) for (const o of n.output?.types ?? []) say(n.field.nameNode, 'output', `of terminal node ${name}`, unstorableParts(o, c, { ownMethods: true }));
    }
  }

  /** Branch checks of one node: discriminated output (FLX015), tags, exhaustiveness (FLX014), arm payloads (FLX013). */
  private checkBranch(
    n: ResolvedNode,
    discriminant: string,
    checkPayload: (p: Payload, to: string, code: DiagnosticCode, at: ts.Node, what: string) => void,
    report: (code: DiagnosticCode, node: ts.Node, message: string, hint?: string, fixes?: Array<DiagnosticFix | undefined>) => void,
    acceptors: (p: Payload, except: string) => string[],
  ): void {
    const f = n.field;
    if (!n.output) return;
    const variants = this.tools.variants(n.output, discriminant);
    if ('bad' in variants) {
      report('FLX015', f.nameNode, `node ${f.name} branches on ${discriminant}, but its output ${n.output.text} is not a union discriminated by a string-literal ${JSON.stringify(discriminant)} (${variants.bad} is not)`);
      return;
    }
    const allTags = [...new Set(variants.flatMap((v) => v.tags))];
    const named = new Set<string>();
    for (const arm of f.arms) {
      named.add(arm.tag);
      if (!allTags.includes(arm.tag)) report('FLX015', arm.tagNode, `${JSON.stringify(arm.tag)} is not a variant of ${f.name}'s output ${n.output.text} (its ${discriminant} tags: ${allTags.map((x) => JSON.stringify(x)).join(', ')})`);
    }
    const missing = allTags.filter((tag) => !named.has(tag));
    if (missing.length > 0 && !f.hasOtherwise) {
      // Each missing tag goes to the node named like it when that one accepts the variant, else to the first node
      // that does, else to a field named like the tag (which the user then adds: FLX010 says so).
      const arms = missing.map((tag) => {
        const ok = acceptors(this.tools.payload(variants.filter((v) => v.tags.includes(tag)).map((v) => v.type)), f.name);
        return { tag, target: ok.includes(tag) ? tag : (ok[0] ?? tag) };
      });
      const lastArm = [...f.edges].reverse().find((e) => e.kind === 'branch')?.decorator;
      report('FLX014', f.nameNode, `branch arms of ${f.name} are not exhaustive: missing ${missing.map((x) => JSON.stringify(x)).join(', ')}`, undefined, [lastArm && addArmsFix(lastArm, arms, this.rootDir)]);
    }
    for (const e of f.edges) {
      if (e.kind === 'branch') {
        const narrowed = variants.filter((v) => v.tags.includes(e.tag!)).map((v) => v.type);
        if (narrowed.length > 0) checkPayload(this.tools.payload(narrowed), e.to, 'FLX013', e.targetNode, `arm ${JSON.stringify(e.tag)} of ${f.name}: variant`);
      } else if (e.kind === 'otherwise') {
        const rest = variants.filter((v) => v.tags.some((tag) => !named.has(tag))).map((v) => v.type);
        if (rest.length > 0) checkPayload(this.tools.payload(rest), e.to, 'FLX013', e.targetNode, `otherwise arm of ${f.name}: ${rest.length === 1 ? 'variant' : 'variants'}`);
      }
    }
  }

  /** A field's node, or the reason it is not one. */
  private resolveField(f: RawField, raw: RawWorkflow, out: Diagnostic[]): ResolvedNode | string {
    const c = this.checker;
    const sym = (f.decl as { symbol?: ts.Symbol }).symbol ?? c.getSymbolAtLocation(f.nameNode);
    let type = sym ? c.getTypeOfSymbolAtLocation(sym, f.decl) : c.getTypeAtLocation(f.decl);
    type = c.getNonNullableType(type);
    const cls = type.getSymbol()?.declarations?.find((d): d is NamedClass => ts.isClassDeclaration(d) && d.name !== undefined);
    const typeText = this.tools.text(type);
    if (!cls) return `its type ${typeText} is not a @node class`;
    const kinds = this.extractor.decoratorsOf(cls).map((d) => d.kind);
    if (kinds.includes('workflow')) {
      const inner = this.extractor.workflowOf(cls);
      if (!inner) return `${cls.name.text} is not a readable @workflow class`;
      const res = this.workflow(inner);
      if (!res) {
        out.push(diagnostic('FLX027', `nested workflow ${f.name} (${cls.name.text}) contains ${raw.name} again`, positionOf(f.nameNode, this.rootDir)));
        return { field: f, kind: 'workflow', cls, input: undefined, inputText: 'unknown', output: undefined, contextNeeds: [], contextText: 'unknown' };
      }
      const s = res.summary;
      const r: ResolvedNode = { field: f, kind: 'workflow', cls, input: s.input, inputText: s.inputText, output: s.output, contextNeeds: s.contextNeeds, contextText: s.contextText };
      if (s.signals.length > 0) r.signals = s.signals;
      return r;
    }
    if (!kinds.includes('node') && !isPublishedNodeClass(cls)) {
      const looksLikeNode = type.getProperty('process') !== undefined;
      return looksLikeNode ? `class ${cls.name.text} is not decorated with @node()` : `its type ${typeText} is not a @node class`;
    }
    if (this.nodeClassProblem(cls)) {
      return { field: f, kind: 'node', cls, input: undefined, inputText: 'unknown', output: undefined, contextNeeds: [], contextText: 'unknown' };
    }
    const sig = this.tools.nodeSignature(type, f.decl);
    if (typeof sig === 'string') {
      out.push(diagnostic('FLX022', `node ${f.name} (${cls.name.text}) ${sig}`, positionOf(f.nameNode, this.rootDir)));
      return { field: f, kind: 'node', cls, input: undefined, inputText: 'unknown', output: undefined, contextNeeds: [], contextText: 'unknown' };
    }
    const resolved: ResolvedNode = {
      field: f,
      kind: 'node',
      cls,
      input: sig.input.types[0],
      inputText: sig.input.text,
      output: sig.output,
      contextNeeds: sig.store ? [{ type: sig.store, text: sig.storeText }] : [],
      contextText: sig.storeText,
    };
    const parking = parkingKindOf(type, c);
    if (parking === 'sleep') resolved.sleep = true;
    if (parking === 'wait') {
      const nameSym = type.getProperty('signalName');
      const nameType = nameSym ? c.getTypeOfSymbolAtLocation(nameSym, f.decl) : undefined;
      if (nameType?.isStringLiteral()) resolved.wait = { signal: nameType.value };
      else out.push(diagnostic('FLX028', `the signal name of WaitFor node ${f.name} of ${raw.name} is ${nameType ? this.tools.text(nameType) : 'unknown'}, not a string literal, so its signal cannot be typed`, positionOf(f.nameNode, this.rootDir)));
    }
    return resolved;
  }
}

/**
 * The named, non-generic class, interface or type alias declaring `type`: what generated code can import by name.
 * Undefined for anonymous types (`{ n: number }`), generic instantiations and everything else.
 */
function namedDeclaration(type: ts.Type): (ts.ClassDeclaration | ts.InterfaceDeclaration | ts.TypeAliasDeclaration) & { name: ts.Identifier } | undefined {
  if (type.aliasSymbol) {
    if (type.aliasTypeArguments?.length) return undefined;
    const alias = type.aliasSymbol.declarations?.find(ts.isTypeAliasDeclaration);
    return alias?.typeParameters?.length ? undefined : alias;
  }
  if ((type as ts.TypeReference).typeArguments?.length) return undefined;
  const decl = type.getSymbol()?.declarations?.find((d) => ts.isClassDeclaration(d) || ts.isInterfaceDeclaration(d));
  if (!decl || !decl.name || (decl as ts.ClassDeclaration | ts.InterfaceDeclaration).typeParameters?.length) return undefined;
  return decl as (ts.ClassDeclaration | ts.InterfaceDeclaration) & { name: ts.Identifier };
}

/** The field names close to a misspelt one. */
function closeNames(name: string, fields: readonly string[]): string[] {
  return fields.filter((f) => distance(f.toLowerCase(), name.toLowerCase()) <= Math.max(1, Math.floor(name.length / 3)));
}

/** "did you mean" hint for a misspelt field name. */
function suggestion(close: readonly string[], fields: readonly string[]): string {
  return close.length > 0 ? `did you mean ${close.map((f) => JSON.stringify(f)).join(' or ')}?` : `the fields are ${fields.map((f) => JSON.stringify(f)).join(', ') || '(none)'}`;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

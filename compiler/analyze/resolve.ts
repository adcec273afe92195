/**
 * The extraction phase of a workflow's analysis: turns a {@link RawWorkflow} (its decorators, read by `extract.ts`)
 * into a {@link ResolvedWorkflow}: each field resolved to its node class and types (or the reason it is not a node),
 * the edges, the start, the context, the terminals, and the {@link WorkflowModel} emitters consume. It checks
 * nothing: what is wrong is recorded as data, and the checks (`checks/`) read it and report. (The one exception is the
 * context class's decorators, which `extract.ts` reads, and reports on, when extraction first meets the class.)
 */
import * as path from 'node:path';
import { ts } from 'ts-morph';
import { fingerprintOf } from '../../runtime/graph/shape.js';
import type { Diagnostic, ClassRef, ContextRef, EdgeModel, NodeModel, WorkflowModel } from '../model.js';
import { isPublishedNodeClass, parkingKindOf } from './decorators.js';
import type { Extractor, RawEdge, RawField, RawWorkflow } from './extract.js';
import { positionOf, slash } from './project.js';
import { shapeOfModel } from './shape.js';
import { canonicalTypeText } from './type-text.js';
import { signalsOf } from '../signals.js';
import type { Payload, TypeTools } from './types.js';

export type NamedClass = ts.ClassDeclaration & { name: ts.Identifier };

/** A context type some node (or nested workflow) declares. */
export interface ContextNeed {
  type: ts.Type;
  text: string;
}

/** What an enclosing workflow needs to know about a nested one. */
export interface WorkflowSummary {
  input: ts.Type | undefined;
  inputText: string;
  output: Payload | undefined;
  /** Types the enclosing workflow's context must be assignable to. */
  contextNeeds: ContextNeed[];
  contextText: string;
  /** Its signal map's names (its own waits' and, qualified, its nested workflows'): see `signalsOf`. */
  signals: string[];
  /** Whether its runs can park (a wait or a sleep in it, at any depth): a nested run that parks parks its outer item. */
  parks: boolean;
  /** Its graph version (fingerprint). */
  fingerprint: string;
}

/** A node field resolved to its class and types. */
export interface ResolvedNode {
  field: RawField;
  kind: 'node' | 'workflow';
  cls: NamedClass;
  /** Undefined when the class's process is unusable (reported once, at the class) or the node is unusable here. */
  input: ts.Type | undefined;
  inputText: string;
  /** The input's structure when a named type is in it (see `TypeTools.shape`). */
  inputShape?: string;
  output: Payload | undefined;
  /**
   * What a payload sent to this node must be assignable to: its input, or for a `@join()` node the element of its
   * input array. Undefined when the input is unknown, or is not an array at a join (FLX024).
   */
  accepts: { type: ts.Type; join: boolean } | undefined;
  contextNeeds: ContextNeed[];
  contextText: string;
  /** A `WaitFor` node's signal name; a `Sleep` node. */
  wait?: { signal: string };
  sleep?: true;
  /** A nested workflow's signal names. */
  signals?: string[];
  /** A nested workflow whose runs can park (see {@link WorkflowSummary.parks}). */
  parks?: true;
  /** A nested workflow's graph version (see {@link WorkflowSummary.fingerprint}). */
  nestedVersion?: string;
  /** A nested workflow that contains the workflow again (FLX027). */
  nestingCycle?: true;
  /** Why this field's `process` is unusable although its class's is (FLX022). */
  signatureProblem?: string;
  /** A `WaitFor` node whose signal name is not a string literal: the name's type (FLX028). */
  signalNameType?: string;
}

/**
 * The workflow's context as the nodes and options settle it:
 * - `declared`: `@workflow({ context: C })`;
 * - `none`: no node needs a context;
 * - `conflict`: the nodes need different ones and none is declared;
 * - `unnamed`: every node declares one type, which has no importable name;
 * - `inferred`: every node declares one named type, which is the workflow's.
 */
export type ResolvedContext =
  | { kind: 'declared'; type: ts.Type; text: string; ref: ContextRef; decl: NamedClass; node: ts.Node; fields: WorkflowModel['contextFields'] }
  | { kind: 'none'; type: undefined; text: 'undefined'; fields: [] }
  | { kind: 'conflict'; type: undefined; text: 'unknown'; fields: []; distinct: NodeContextNeed[] }
  | { kind: 'unnamed'; type: ts.Type; text: string; node: ResolvedNode; fields: [] }
  | { kind: 'inferred'; type: ts.Type; text: string; ref: ContextRef; decl: NamedDeclaration; node: ResolvedNode; fields: WorkflowModel['contextFields'] };

/** A context need with the node that has it. */
export interface NodeContextNeed extends ContextNeed {
  node: ResolvedNode;
}

export type NamedDeclaration = (ts.ClassDeclaration | ts.InterfaceDeclaration | ts.TypeAliasDeclaration) & { name: ts.Identifier };

/** A workflow after extraction: every fact the checks read, and the model. */
export interface ResolvedWorkflow {
  raw: RawWorkflow;
  fieldsByName: ReadonlyMap<string, RawField>;
  /** The node fields, by name (in declaration order). */
  nodes: ReadonlyMap<string, ResolvedNode>;
  /** The fields that are not nodes, with the reason. */
  notNodes: ReadonlyMap<string, string>;
  /** The start's name ('' when none is declared). */
  start: string;
  /** Edges repeating an earlier one of their field (same kind, tag and target): left out of the model. */
  duplicateEdges: ReadonlySet<RawEdge>;
  /** The node fields in declaration order. */
  order: readonly RawField[];
  /** Nodes with no success edge and no branch arm, in declaration order. */
  terminals: readonly string[];
  /** Some edge leads to a field that is not a node (the root cause of a missing terminal, if any). */
  danglingEdge: boolean;
  context: ResolvedContext;
  model: WorkflowModel;
  summary: WorkflowSummary;
}

/** Resolves workflows with one checker. */
export class WorkflowResolver {
  private readonly classProblems = new Map<ts.ClassDeclaration, string | null>();

  /** `nested` analyses a nested workflow (undefined while it is being analysed: a nesting cycle). */
  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly extractor: Extractor,
    private readonly tools: TypeTools,
    private readonly rootDir: string,
    private readonly nested: (raw: RawWorkflow) => WorkflowSummary | undefined,
  ) {}

  /** Why a `@node` class has no usable `process` (computed once per class), or null. */
  nodeClassProblem(cls: NamedClass): string | null {
    let p = this.classProblems.get(cls);
    if (p === undefined) {
      const sym = this.checker.getSymbolAtLocation(cls.name);
      const sig = sym ? this.tools.nodeSignature(this.checker.getDeclaredTypeOfSymbol(sym), cls) : 'cannot be resolved';
      p = typeof sig === 'string' ? sig : null;
      this.classProblems.set(cls, p);
    }
    return p;
  }

  /** The extraction phase; the decorator problems of a context class go to `out`. */
  resolve(raw: RawWorkflow, out: Diagnostic[]): ResolvedWorkflow {
    const fieldsByName = new Map(raw.fields.map((f) => [f.name, f]));
    const nodes = new Map<string, ResolvedNode>();
    const notNodes = new Map<string, string>();
    for (const f of raw.fields) {
      const r = this.resolveField(f);
      if (typeof r === 'string') notNodes.set(f.name, r);
      else nodes.set(f.name, r);
    }
    const start = raw.start?.name ?? '';

    const duplicateEdges = new Set<RawEdge>();
    const edges: EdgeModel[] = [];
    for (const f of raw.fields) {
      const seen = new Set<string>();
      for (const e of f.edges) {
        const key = `${e.kind}\u0000${e.tag ?? ''}\u0000${e.to}`;
        if (seen.has(key)) {
          duplicateEdges.add(e);
          continue;
        }
        seen.add(key);
        const edge: EdgeModel = { from: f.name, to: e.to, kind: e.kind, position: positionOf(e.decorator, this.rootDir) };
        if (e.tag !== undefined) edge.tag = e.tag;
        edges.push(edge);
      }
    }

    const context = this.context(raw, nodes, out);
    const order = raw.fields.filter((f) => nodes.has(f.name));
    const terminals = order.filter((f) => !f.edges.some((e) => e.kind !== 'fallback')).map((f) => f.name);
    const danglingEdge = raw.fields.some((f) => f.edges.some((e) => !nodes.has(e.to)));

    const startNode = nodes.get(start);
    const terminalOutputs = terminals.flatMap((name) => nodes.get(name)!.output?.types ?? []);
    const output = this.tools.payload(terminalOutputs);
    const model: WorkflowModel = {
      name: raw.name,
      class: this.classRef(raw.decl as NamedClass),
      position: positionOf(raw.nameNode, this.rootDir),
      start,
      discriminant: raw.discriminant,
      contextType: context.text,
      contextFields: context.fields,
      inputType: canonicalTypeText(startNode?.inputText ?? 'unknown'),
      outputType: canonicalTypeText(output.text),
      nodes: order.map((f) => this.nodeModel(nodes.get(f.name)!)),
      edges,
      terminals,
      fingerprint: '',
    };
    if (context.kind === 'declared' || context.kind === 'inferred') model.context = context.ref;
    model.fingerprint = fingerprintOf(shapeOfModel(model));

    const contextNeeds = context.type ? [{ type: context.type, text: context.text }] : [...nodes.values()].flatMap((n) => n.contextNeeds);
    const summary: WorkflowSummary = {
      input: startNode?.input,
      inputText: startNode?.inputText ?? 'unknown',
      output: terminalOutputs.length > 0 ? output : undefined,
      contextNeeds,
      contextText: context.text,
      signals: signalsOf(model).map((s) => s.name),
      parks: model.nodes.some((n) => n.wait !== undefined || n.sleep === true || n.parks === true),
      fingerprint: model.fingerprint,
    };
    return { raw, fieldsByName, nodes, notNodes, start, duplicateEdges, order, terminals, danglingEdge, context, model, summary };
  }

  private classRef(cls: NamedClass): ClassRef {
    return { name: cls.name.text, file: slash(path.relative(this.rootDir, cls.getSourceFile().fileName)) };
  }

  private nodeModel(n: ResolvedNode): NodeModel {
    const f = n.field;
    const m: NodeModel = {
      name: f.name,
      kind: n.kind,
      class: this.classRef(n.cls),
      inputType: canonicalTypeText(n.inputText),
      ...(n.inputShape === undefined ? {} : { inputShape: n.inputShape }),
      outputType: canonicalTypeText(n.output?.text ?? 'unknown'),
      contextType: n.contextText,
      join: f.join,
      position: positionOf(f.nameNode, this.rootDir),
    };
    if (f.retry) m.retry = f.retry;
    if (f.timeoutMs !== undefined) m.timeoutMs = f.timeoutMs;
    if (n.wait) m.wait = n.wait;
    if (n.sleep) m.sleep = true;
    if (n.signals) m.signals = n.signals;
    if (n.parks) m.parks = true;
    if (n.nestedVersion !== undefined) m.nestedVersion = n.nestedVersion;
    return m;
  }

  /**
   * The workflow's context. With `context: C`, the class C. Without it, the context type the nodes declare when they
   * all declare the same one (a class, an interface or a type alias), else none or a conflict.
   */
  private context(raw: RawWorkflow, nodes: ReadonlyMap<string, ResolvedNode>, out: Diagnostic[]): ResolvedContext {
    const c = this.checker;
    if (raw.context) {
      const decl = raw.context.decl as NamedClass;
      const sym = c.getSymbolAtLocation(decl.name);
      const type = sym ? c.getDeclaredTypeOfSymbol(sym) : c.getUndefinedType();
      const fields = this.extractor.contextFields(decl, out);
      return { kind: 'declared', type, text: decl.name.text, ref: { ...this.classRef(decl), kind: 'class' }, decl, node: raw.context.node, fields };
    }
    const needs = [...nodes.values()].flatMap((n) => n.contextNeeds.map((need) => ({ node: n, ...need })));
    const distinct = needs.filter((n, i) => needs.findIndex((o) => o.type === n.type) === i);
    if (distinct.length === 0) return { kind: 'none', type: undefined, text: 'undefined', fields: [] };
    if (distinct.length > 1) return { kind: 'conflict', type: undefined, text: 'unknown', fields: [], distinct };
    const { type, text, node } = distinct[0];
    const decl = namedDeclaration(type);
    if (!decl) return { kind: 'unnamed', type, text, node, fields: [] };
    const ref: ContextRef = { name: decl.name.text, file: slash(path.relative(this.rootDir, decl.getSourceFile().fileName)), kind: ts.isClassDeclaration(decl) ? 'class' : 'type' };
    return { kind: 'inferred', type, text, ref, decl, node, fields: ts.isClassDeclaration(decl) ? this.extractor.contextFields(decl, out) : [] };
  }

  /** A field's node, or the reason it is not one. */
  private resolveField(f: RawField): ResolvedNode | string {
    const c = this.checker;
    const sym = (f.decl as { symbol?: ts.Symbol }).symbol ?? c.getSymbolAtLocation(f.nameNode);
    let type = sym ? c.getTypeOfSymbolAtLocation(sym, f.decl) : c.getTypeAtLocation(f.decl);
    type = c.getNonNullableType(type);
    const cls = type.getSymbol()?.declarations?.find((d): d is NamedClass => ts.isClassDeclaration(d) && d.name !== undefined);
    const typeText = this.tools.text(type);
    if (!cls) return `its type ${typeText} is not a @node class`;
    const unusable = (kind: ResolvedNode['kind']): ResolvedNode => ({ field: f, kind, cls, input: undefined, inputText: 'unknown', output: undefined, accepts: undefined, contextNeeds: [], contextText: 'unknown' });
    const kinds = this.extractor.decoratorsOf(cls).map((d) => d.kind);
    if (kinds.includes('workflow')) {
      const inner = this.extractor.workflowOf(cls);
      if (!inner) return `${cls.name.text} is not a readable @workflow class`;
      const s = this.nested(inner);
      if (!s) return { ...unusable('workflow'), nestingCycle: true };
      const inputShape = s.input && this.tools.shape({ types: [s.input], text: s.inputText });
      const r: ResolvedNode = { field: f, kind: 'workflow', cls, input: s.input, inputText: s.inputText, ...(inputShape === undefined ? {} : { inputShape }), output: s.output, accepts: this.accepts(f, s.input), contextNeeds: s.contextNeeds, contextText: s.contextText };
      if (s.signals.length > 0) r.signals = s.signals;
      if (s.parks) r.parks = true;
      r.nestedVersion = s.fingerprint;
      return r;
    }
    if (!kinds.includes('node') && !isPublishedNodeClass(cls)) {
      const looksLikeNode = type.getProperty('process') !== undefined;
      return looksLikeNode ? `class ${cls.name.text} is not decorated with @node()` : `its type ${typeText} is not a @node class`;
    }
    if (this.nodeClassProblem(cls)) return unusable('node');
    const sig = this.tools.nodeSignature(type, f.decl);
    if (typeof sig === 'string') return { ...unusable('node'), signatureProblem: sig };
    const input = sig.input.types[0];
    const resolved: ResolvedNode = {
      field: f,
      kind: 'node',
      cls,
      input,
      inputText: sig.input.text,
      output: sig.output,
      accepts: this.accepts(f, input),
      contextNeeds: sig.store ? [{ type: sig.store, text: sig.storeText }] : [],
      contextText: sig.storeText,
    };
    const inputShape = this.tools.shape(sig.input);
    if (inputShape !== undefined) resolved.inputShape = inputShape;
    const parking = parkingKindOf(type, c);
    if (parking === 'sleep') resolved.sleep = true;
    if (parking === 'wait') {
      const nameSym = type.getProperty('signalName');
      const nameType = nameSym ? c.getTypeOfSymbolAtLocation(nameSym, f.decl) : undefined;
      if (nameType?.isStringLiteral()) resolved.wait = { signal: nameType.value };
      else resolved.signalNameType = nameType ? this.tools.text(nameType) : 'unknown';
    }
    return resolved;
  }

  /** What a payload sent to the node of field `f` with input `input` must be assignable to. */
  private accepts(f: RawField, input: ts.Type | undefined): ResolvedNode['accepts'] {
    if (!input) return undefined;
    if (!f.join) return { type: input, join: false };
    const el = this.tools.elementType(input);
    return el ? { type: el, join: true } : undefined;
  }
}

/**
 * The named, non-generic class, interface or type alias declaring `type`: what generated code can import by name.
 * Undefined for anonymous types (`{ n: number }`), generic instantiations and everything else.
 */
export function namedDeclaration(type: ts.Type): NamedDeclaration | undefined {
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

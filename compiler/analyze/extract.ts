/**
 * Workflow extraction: reads the floxide decorators of a source file's classes into raw, still-untyped
 * descriptions (fields, edges with the nodes that declared them, options). Argument problems are reported here
 * (FLX003, FLX005, FLX018, FLX026); types are resolved in `resolve.ts`, graph and type checks run in `checks/`.
 */
import { ts } from 'ts-morph';
import type { RetryOptions } from '../../runtime/graph/decorators.js';
import { normalizeRetry, type EdgeKind } from '../../runtime/graph/shape.js';
import type { MergeStrategyName } from '../../runtime/graph/decorators.js';
import { diagnostic, type DiagnosticCode } from '../diagnostics.js';
import type { ContextFieldModel, Diagnostic } from '../model.js';
import { propertyKey, readLiteral, type DecoratorResolver, type LiteralValue, type ResolvedDecorator } from './decorators.js';
import { positionOf } from './project.js';

export interface RawEdge {
  kind: EdgeKind;
  to: string;
  tag?: string;
  /** The target's string literal. */
  targetNode: ts.Node;
  decorator: ts.Decorator;
}

export interface RawArm {
  tag: string;
  tagNode: ts.Node;
}

export interface RawField {
  name: string;
  decl: ts.PropertyDeclaration | ts.ParameterDeclaration;
  nameNode: ts.Node;
  /** Carries at least one floxide field decorator (so the runtime registry knows it). */
  decorated: boolean;
  /** Why generated code cannot read it, if so. */
  hidden: 'private' | 'protected' | undefined;
  edges: RawEdge[];
  arms: RawArm[];
  hasOtherwise: boolean;
  retry?: RetryOptions;
  timeoutMs?: number;
  join: boolean;
}

export interface RawWorkflow {
  decl: ts.ClassDeclaration;
  name: string;
  nameNode: ts.Node;
  decorator: ts.Decorator;
  start?: { name: string; node: ts.Node };
  /**
   * The options name a start that could not be read (not a literal, an empty string, options that are not an
   * object literal): already reported (FLX003, FLX005), so no "declares no start" (FLX017) follows.
   */
  startUnreadable?: true;
  context?: { decl: ts.ClassDeclaration; node: ts.Node };
  discriminant: string;
  /** Property declarations in source order, then constructor parameter properties. */
  fields: RawField[];
  /** Names of members that are not fields (methods, accessors): a start or target naming one is FLX017/FLX021. */
  otherMembers: Set<string>;
}

/** The floxide classes of one file. */
export interface FileClasses {
  workflows: RawWorkflow[];
  nodeClasses: ts.ClassDeclaration[];
}

const FIELD_KINDS = new Set(['edge', 'edge.onFailure', 'edge.when', 'edge.otherwise', 'retry', 'timeout', 'join']);

/** Reads decorators into raw workflows; diagnostics go to `out`. */
export class Extractor {
  private readonly raw = new Map<ts.ClassDeclaration, RawWorkflow>();
  constructor(
    private readonly resolver: DecoratorResolver,
    private readonly checker: ts.TypeChecker,
    private readonly rootDir: string,
  ) {}

  /** The floxide decorators on a node, in source order. */
  decoratorsOf(node: ts.HasDecorators): ResolvedDecorator[] {
    const out: ResolvedDecorator[] = [];
    for (const d of ts.getDecorators(node) ?? []) {
      const r = this.resolver.resolve(d);
      if (r) out.push(r);
    }
    return out;
  }

  /** Classes decorated with `@node()` or `@workflow(...)` at the top level of `sf`. */
  fileClasses(sf: ts.SourceFile, out: Diagnostic[]): FileClasses {
    const result: FileClasses = { workflows: [], nodeClasses: [] };
    const visit = (n: ts.Node, topLevel: boolean) => {
      if (ts.isClassDeclaration(n) || ts.isClassExpression(n)) {
        const decs = ts.canHaveDecorators(n) ? this.decoratorsOf(n) : [];
        const wf = decs.filter((d) => d.kind === 'workflow');
        const nd = decs.filter((d) => d.kind === 'node');
        for (const d of decs) if (d.kind !== 'workflow' && d.kind !== 'node') this.report(out, 'FLX026', d.decorator, `@${d.kind}(...) decorates fields, not classes`);
        if ((wf.length > 0 || nd.length > 0) && (!topLevel || !ts.isClassDeclaration(n) || !n.name)) {
          this.report(out, 'FLX023', n.name ?? n, 'floxide classes must be named classes declared at the top level of a module', 'move the class to the top level of its module and export it');
        } else if (ts.isClassDeclaration(n) && n.name) {
          if (wf.length > 0 && nd.length > 0) this.report(out, 'FLX026', nd[0].decorator, `class ${n.name.text} cannot be both a @workflow and a @node`, 'a workflow used as a node needs only @workflow');
          for (const d of [...wf, ...nd]) if (!d.call) this.report(out, 'FLX026', d.decorator, `@${d.kind} must be called: @${d.kind}(${d.kind === 'workflow' ? "{ start: '...' }" : ''})`);
          if (wf.length > 1) this.report(out, 'FLX018', wf[1].decorator, `class ${n.name.text} has ${wf.length} @workflow decorators, so more than one start`);
          if (wf.length > 0 && wf[0].call) result.workflows.push(this.workflow(n as ts.ClassDeclaration & { name: ts.Identifier }, wf[0], out));
          else if (nd.length > 0) result.nodeClasses.push(n);
          if (wf.length === 0) this.checkStrayFieldDecorators(n, out);
        }
      }
      ts.forEachChild(n, (c) => visit(c, false));
    };
    for (const st of sf.statements) visit(st, true);
    return result;
  }

  /** Floxide field decorators used in a class that is not a workflow. */
  private checkStrayFieldDecorators(cls: ts.ClassDeclaration, out: Diagnostic[]): void {
    for (const m of cls.members) {
      if (!ts.canHaveDecorators(m)) continue;
      for (const d of this.decoratorsOf(m)) {
        if (FIELD_KINDS.has(d.kind)) this.report(out, 'FLX026', d.decorator, `@${d.kind}(...) is used in class ${cls.name?.text ?? '(anonymous)'}, which is not a @workflow`, 'add @workflow({ start: ... }) to the class, or remove the decorator');
      }
    }
  }

  private report(out: Diagnostic[], code: DiagnosticCode, node: ts.Node, message: string, hint?: string): void {
    out.push(diagnostic(code, message, positionOf(node, this.rootDir), hint));
  }

  /** The raw workflow of a `@workflow` class anywhere in the program (diagnostics dropped: its own file reports them). */
  workflowOf(cls: ts.ClassDeclaration): RawWorkflow | undefined {
    const cached = this.raw.get(cls);
    if (cached) return cached;
    const dec = this.decoratorsOf(cls).find((d) => d.kind === 'workflow');
    if (!dec || !dec.call || !cls.name) return undefined;
    return this.workflow(cls as ts.ClassDeclaration & { name: ts.Identifier }, dec, []);
  }

  private workflow(cls: ts.ClassDeclaration & { name: ts.Identifier }, dec: ResolvedDecorator, out: Diagnostic[]): RawWorkflow {
    const cached = this.raw.get(cls);
    if (cached) return cached;
    const wf: RawWorkflow = { decl: cls, name: cls.name.text, nameNode: cls.name, decorator: dec.decorator, discriminant: 'kind', fields: [], otherMembers: new Set() };
    this.workflowOptions(wf, dec.call!, out);
    const params: ts.ParameterDeclaration[] = [];
    for (const m of cls.members) {
      if (ts.isPropertyDeclaration(m) && !hasModifier(m, ts.SyntaxKind.StaticKeyword)) {
        const name = propertyKey(m.name);
        if (name !== undefined) wf.fields.push(this.field(m, name, m.name, out));
        continue;
      }
      if (ts.isConstructorDeclaration(m)) {
        for (const p of m.parameters) if (ts.isParameterPropertyDeclaration(p, m) && ts.isIdentifier(p.name)) params.push(p);
        continue;
      }
      if ((ts.isMethodDeclaration(m) || ts.isGetAccessor(m) || ts.isSetAccessor(m)) && m.name) {
        const name = propertyKey(m.name);
        if (name !== undefined) wf.otherMembers.add(name);
      }
      if (ts.canHaveDecorators(m)) {
        for (const d of this.decoratorsOf(m)) if (FIELD_KINDS.has(d.kind)) this.report(out, 'FLX026', d.decorator, `@${d.kind}(...) goes on a node field, not on a method, accessor or static member`);
      }
    }
    for (const p of params) wf.fields.push(this.field(p, (p.name as ts.Identifier).text, p.name, out));
    this.raw.set(cls, wf);
    return wf;
  }

  private workflowOptions(wf: RawWorkflow, call: ts.CallExpression, out: Diagnostic[]): void {
    const arg = call.arguments[0];
    if (!arg) return;
    let obj: ts.Expression = arg;
    while (ts.isParenthesizedExpression(obj) || ts.isAsExpression(obj) || ts.isSatisfiesExpression(obj)) obj = obj.expression;
    if (!ts.isObjectLiteralExpression(obj)) {
      this.report(out, 'FLX003', arg, '@workflow(...) takes an object literal: { start, context?, discriminant? }');
      wf.startUnreadable = true;
      return;
    }
    for (const p of obj.properties) {
      if (ts.isShorthandPropertyAssignment(p) && p.name.text === 'context') {
        this.contextOption(wf, p.name, out);
        continue;
      }
      if (!ts.isPropertyAssignment(p)) {
        this.report(out, 'FLX003', p, '@workflow options must be plain `key: value` properties');
        if (ts.isSpreadAssignment(p) || (p.name !== undefined && propertyKey(p.name) === 'start')) wf.startUnreadable = true;
        continue;
      }
      const key = propertyKey(p.name);
      if (key === 'context') {
        this.contextOption(wf, p.initializer, out);
      } else if (key === 'start' || key === 'discriminant') {
        const v = readLiteral(p.initializer);
        if (v.ok && typeof v.value === 'string' && v.value !== '') {
          if (key === 'start') wf.start = { name: v.value, node: p.initializer };
          else wf.discriminant = v.value;
          continue;
        }
        if (!v.ok) this.report(out, 'FLX003', v.node, `@workflow ${key} must be a string literal`);
        else this.report(out, 'FLX005', p.initializer, `@workflow ${key} must be a non-empty string`);
        if (key === 'start') wf.startUnreadable = true;
      } else {
        this.report(out, 'FLX005', p.name, `unknown @workflow option ${JSON.stringify(key ?? p.name.getText())}`, 'the options are start, context and discriminant');
      }
    }
  }

  private contextOption(wf: RawWorkflow, expr: ts.Expression, out: Diagnostic[]): void {
    let e = expr;
    while (ts.isParenthesizedExpression(e)) e = e.expression;
    if (!ts.isIdentifier(e) && !ts.isPropertyAccessExpression(e)) {
      this.report(out, 'FLX003', expr, '@workflow context must name a class (`context: MyContext`)');
      return;
    }
    let sym = this.checker.getSymbolAtLocation(ts.isIdentifier(e) ? e : e.name);
    if (sym && sym.flags & ts.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
    const decl = sym?.declarations?.find(ts.isClassDeclaration);
    if (!decl || !decl.name) {
      this.report(out, 'FLX003', expr, `@workflow context ${e.getText()} is not a class declaration`);
      return;
    }
    wf.context = { decl, node: expr };
  }

  private field(decl: ts.PropertyDeclaration | ts.ParameterDeclaration, name: string, nameNode: ts.Node, out: Diagnostic[]): RawField {
    const f: RawField = { name, decl, nameNode, decorated: false, hidden: undefined, edges: [], arms: [], hasOtherwise: false, join: false };
    if (ts.isPrivateIdentifier(nameNode) || hasModifier(decl, ts.SyntaxKind.PrivateKeyword)) f.hidden = 'private';
    else if (hasModifier(decl, ts.SyntaxKind.ProtectedKeyword)) f.hidden = 'protected';
    if (!ts.canHaveDecorators(decl)) return f;
    for (const d of this.decoratorsOf(decl)) {
      if (!FIELD_KINDS.has(d.kind)) {
        this.report(out, 'FLX026', d.decorator, d.kind.startsWith('merge.') ? `@${d.kind}() belongs on context class fields, not on workflow fields` : `@${d.kind}(...) decorates classes, not fields`);
        continue;
      }
      f.decorated = true;
      if (!d.call) {
        this.report(out, 'FLX026', d.decorator, `@${d.kind} must be called, e.g. @${d.kind}(${d.kind === 'join' ? '' : '...'})`);
        continue;
      }
      this.fieldDecorator(f, d, d.call, out);
    }
    return f;
  }

  private strings(args: readonly ts.Expression[], what: string, out: Diagnostic[]): Array<{ value: string; node: ts.Node }> {
    const res: Array<{ value: string; node: ts.Node }> = [];
    for (const a of args) {
      if (ts.isSpreadElement(a)) {
        this.report(out, 'FLX003', a, `${what} must be string literals, not a spread`);
        continue;
      }
      const v = readLiteral(a);
      if (!v.ok) this.report(out, 'FLX003', v.node, `${what} must be string literals`);
      else if (typeof v.value !== 'string') this.report(out, 'FLX005', a, `${what} must be strings, got ${JSON.stringify(v.value)}`);
      else res.push({ value: v.value, node: a });
    }
    return res;
  }

  private fieldDecorator(f: RawField, d: ResolvedDecorator, call: ts.CallExpression, out: Diagnostic[]): void {
    const args = call.arguments;
    switch (d.kind) {
      case 'edge':
      case 'edge.onFailure':
      case 'edge.otherwise': {
        const kind: EdgeKind = d.kind === 'edge' ? 'success' : d.kind === 'edge.onFailure' ? 'fallback' : 'otherwise';
        if (args.length === 0) this.report(out, 'FLX005', call, `@${d.kind}() needs at least one target field name`);
        for (const t of this.strings(args, `@${d.kind} targets`, out)) f.edges.push({ kind, to: t.value, targetNode: t.node, decorator: d.decorator });
        if (kind === 'otherwise') f.hasOtherwise = true;
        return;
      }
      case 'edge.when': {
        if (args.length < 2) this.report(out, 'FLX005', call, "@edge.when(tag, ...targets) needs a tag and at least one target field name");
        if (args.length === 0) return;
        const [tag] = this.strings([args[0]], '@edge.when tags', out);
        if (!tag) return;
        f.arms.push({ tag: tag.value, tagNode: tag.node });
        for (const t of this.strings(args.slice(1), '@edge.when targets', out)) f.edges.push({ kind: 'branch', to: t.value, tag: tag.value, targetNode: t.node, decorator: d.decorator });
        return;
      }
      case 'retry': {
        if (args.length !== 1) {
          this.report(out, 'FLX005', call, '@retry takes one options object: @retry({ maxAttempts: 3 })');
          return;
        }
        const v = readLiteral(args[0]);
        if (!v.ok) {
          this.report(out, 'FLX003', v.node, '@retry options must be an object literal of literals');
          return;
        }
        const problem = retryProblem(v.value);
        if (problem) this.report(out, 'FLX005', args[0], `@retry: ${problem}`);
        else f.retry = v.value as unknown as RetryOptions;
        return;
      }
      case 'timeout': {
        const v = args.length === 1 ? readLiteral(args[0]) : undefined;
        if (!v) this.report(out, 'FLX005', call, '@timeout takes one argument: the time limit in ms');
        else if (!v.ok) this.report(out, 'FLX003', v.node, '@timeout(ms) must be a number literal');
        else if (typeof v.value !== 'number' || !Number.isFinite(v.value) || v.value <= 0) this.report(out, 'FLX005', args[0], `@timeout(ms) must be a positive number, got ${JSON.stringify(v.value)}`);
        else f.timeoutMs = v.value;
        return;
      }
      case 'join':
        if (args.length > 0) this.report(out, 'FLX005', args[0], '@join() takes no arguments');
        f.join = true;
        return;
    }
  }

  /**
   * The type text of a field whose type a numeric, `append` or `union` strategy cannot merge (its parts other than
   * null and undefined: numbers; arrays; arrays or Sets), or undefined when it fits (or is any/unknown).
   */
  private strategyMisfit(strategy: MergeStrategyName, type: ts.Type): string | undefined {
    if (!(strategy in FITS)) return undefined;
    const parts = (type.isUnion() ? type.types : [type]).filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
    if (parts.some((t) => t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) return undefined;
    const isArray = (t: ts.Type) => this.checker.isArrayType(t) || this.checker.isTupleType(t);
    const isSet = (t: ts.Type) => ['Set', 'ReadonlySet'].includes(t.getSymbol()?.getName() ?? '');
    const fits = (t: ts.Type) => (strategy === 'append' ? isArray(t) : strategy === 'union' ? isArray(t) || isSet(t) : (t.flags & ts.TypeFlags.NumberLike) !== 0);
    return parts.every(fits) ? undefined : this.checker.typeToString(type);
  }

  /** The merge strategy of each instance property of a context class, in declaration order. */
  contextFields(cls: ts.ClassDeclaration, out: Diagnostic[]): ContextFieldModel[] {
    const res: ContextFieldModel[] = [];
    for (const m of cls.members) {
      if (!ts.isPropertyDeclaration(m) || hasModifier(m, ts.SyntaxKind.StaticKeyword)) continue;
      const name = propertyKey(m.name);
      if (name === undefined) continue;
      let strategy: MergeStrategyName = 'lastWrite';
      const merges = this.decoratorsOf(m).filter((d) => d.kind.startsWith('merge.'));
      if (merges.length > 1) this.report(out, 'FLX026', merges[1].decorator, `context field ${name} has more than one @merge strategy`);
      if (merges[0]) {
        const member = merges[0].kind.slice('merge.'.length);
        if (!merges[0].call) this.report(out, 'FLX026', merges[0].decorator, `@${merges[0].kind} must be called: @${merges[0].kind}()`);
        strategy = member === 'with' ? 'custom' : (member as MergeStrategyName);
        const misfit = this.strategyMisfit(strategy, this.checker.getTypeAtLocation(m));
        if (misfit) this.report(out, 'FLX031', merges[0].decorator, `context field ${name} is ${misfit}: @merge.${member}() merges ${FITS[strategy as keyof typeof FITS]}, so each step's change of it would be lost in a plain run and refused by a stored one`);
      }
      res.push({ name, strategy, position: positionOf(m.name, this.rootDir) });
    }
    return res;
  }
}

/** What each typed strategy merges (FLX031). */
const FITS = { sum: 'numbers', max: 'numbers', min: 'numbers', append: 'arrays', union: 'arrays or Sets' } as const;

function hasModifier(n: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(n) && (ts.getModifiers(n)?.some((m) => m.kind === kind) ?? false);
}

/** True when a class, interface or type alias is exported by name (what generated code can import). */
export function isExportedByName(decl: ts.ClassDeclaration | ts.InterfaceDeclaration | ts.TypeAliasDeclaration): boolean {
  const mods = ts.getModifiers(decl) ?? [];
  return mods.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) && !mods.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
}

function retryProblem(v: LiteralValue): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected an options object';
  const known = ['maxAttempts', 'backoff', 'initialDelayMs', 'maxDelayMs', 'jitterMs', 'retryOn'];
  const unknown = Object.keys(v).filter((k) => !known.includes(k));
  if (unknown.length > 0) return `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: the options are ${known.join(', ')}`;
  if (typeof v.maxAttempts !== 'number' || !Number.isInteger(v.maxAttempts) || v.maxAttempts < 1) return 'maxAttempts must be an integer >= 1';
  if (v.backoff !== undefined && v.backoff !== 'linear' && v.backoff !== 'exponential') return "backoff must be 'linear' or 'exponential'";
  for (const k of ['initialDelayMs', 'maxDelayMs', 'jitterMs'] as const) {
    const n = v[k];
    if (n !== undefined && (typeof n !== 'number' || !Number.isFinite(n) || n < 0)) return `${k} must be a number >= 0`;
  }
  if (v.retryOn !== undefined && (!Array.isArray(v.retryOn) || v.retryOn.some((x) => typeof x !== 'string'))) return 'retryOn must be an array of strings';
  const { initialDelayMs, maxDelayMs } = normalizeRetry(v as unknown as RetryOptions);
  if (initialDelayMs > maxDelayMs) {
    return `initialDelayMs ${initialDelayMs} is more than maxDelayMs ${maxDelayMs}${v.maxDelayMs === undefined ? ' (its default)' : ''}, the cap on every delay: each would be cut to ${maxDelayMs} ms. Set maxDelayMs to the longest delay you want`;
  }
  return undefined;
}

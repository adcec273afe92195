/**
 * Decorator resolution: which floxide decorator (if any) a `@...` expression is. The identifier's symbol is
 * followed through import aliases and re-exports to its declaration in floxide's `runtime/graph/decorators.ts` (or the
 * published `dist/runtime/graph/decorators.d.ts`); bare names are never trusted. Also reads decorator arguments, which
 * must be literals.
 */
import { ts } from 'ts-morph';
import { isFloxideDeclarationFile, isFloxideDecoratorsFile, isFloxideNodesFile, NODE_CLASS_TAG, PARKING_NODES } from './decorator-files.js';

export { isFloxideDecoratorsFile } from './decorator-files.js';

/**
 * True for a node class floxide publishes (`BatchNode`, `SplitNode`...) read from its declaration files: `.d.ts`
 * files keep no decorators, so the class's `@node()` is carried by the JSDoc tag `@floxideNode` instead, which counts
 * only in floxide's own declarations (a user's class needs the decorator, which is what registers it at run time).
 */
export function isPublishedNodeClass(cls: ts.ClassDeclaration): boolean {
  const sf = cls.getSourceFile();
  return sf.isDeclarationFile && isFloxideDeclarationFile(sf.fileName) && ts.getJSDocTags(cls).some((t) => t.tagName.text === NODE_CLASS_TAG);
}

/**
 * `wait` for a node type that is floxide's `WaitFor` or extends it, `sleep` for `Sleep`, else undefined: the helper
 * nodes that park their item. The class is trusted only where floxide declares it (`runtime/nodes/wait.ts`, its
 * published `.d.ts`), as decorators are.
 */
export function parkingKindOf(type: ts.Type, checker: ts.TypeChecker): 'wait' | 'sleep' | undefined {
  const seen = new Set<ts.Type>();
  const todo = [type];
  while (todo.length > 0) {
    const t = todo.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    for (const d of t.getSymbol()?.declarations ?? []) {
      if (!ts.isClassDeclaration(d) || !d.name || !Object.prototype.hasOwnProperty.call(PARKING_NODES, d.name.text)) continue;
      const file = PARKING_NODES[d.name.text as keyof typeof PARKING_NODES];
      if (isFloxideNodesFile(d.getSourceFile().fileName, file)) return file;
    }
    const target = t.flags & ts.TypeFlags.Object && (t as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference ? (t as ts.TypeReference).target : t;
    if (target.isClassOrInterface()) todo.push(...(checker.getBaseTypes(target) ?? []));
  }
  return undefined;
}

/** The floxide decorators, with the property-access forms spelled out. */
export type FloxideDecoratorKind =
  | 'node'
  | 'workflow'
  | 'edge'
  | 'edge.onFailure'
  | 'edge.when'
  | 'edge.otherwise'
  | 'retry'
  | 'timeout'
  | 'join'
  | `merge.${MergeMember}`;

type MergeMember = 'sum' | 'max' | 'min' | 'append' | 'union' | 'lastWrite' | 'fixed' | 'eventLog' | 'with';

const TOP_LEVEL = new Set(['node', 'workflow', 'edge', 'retry', 'timeout', 'join', 'merge']);
const EDGE_MEMBERS = new Set(['onFailure', 'when', 'otherwise']);
const MERGE_MEMBERS = new Set<string>(['sum', 'max', 'min', 'append', 'union', 'lastWrite', 'fixed', 'eventLog', 'with']);

/** A recognised decorator: its kind, its call (undefined when written without parentheses) and its node. */
export interface ResolvedDecorator {
  kind: FloxideDecoratorKind;
  decorator: ts.Decorator;
  call: ts.CallExpression | undefined;
}


/** Resolves decorators to floxide decorator kinds, caching per symbol. */
export class DecoratorResolver {
  private readonly cache = new Map<ts.Symbol, string | null>();
  constructor(private readonly checker: ts.TypeChecker) {}

  /** The floxide decorator `d` is, or undefined for any other decorator. */
  resolve(d: ts.Decorator): ResolvedDecorator | undefined {
    let expr: ts.Expression = d.expression;
    while (ts.isParenthesizedExpression(expr)) expr = expr.expression;
    const call = ts.isCallExpression(expr) ? expr : undefined;
    const callee = call ? call.expression : expr;
    const kind = this.kindOfExpression(callee);
    return kind ? { kind, decorator: d, call } : undefined;
  }

  private kindOfExpression(e: ts.Expression): FloxideDecoratorKind | undefined {
    const direct = this.topLevelName(e);
    if (direct) return direct === 'merge' ? undefined : (direct as FloxideDecoratorKind);
    if (ts.isPropertyAccessExpression(e)) {
      const owner = this.topLevelName(e.expression);
      const member = e.name.text;
      if (owner === 'edge' && EDGE_MEMBERS.has(member)) return `edge.${member}` as FloxideDecoratorKind;
      if (owner === 'merge' && MERGE_MEMBERS.has(member)) return `merge.${member}` as FloxideDecoratorKind;
    }
    return undefined;
  }

  /** The name of the floxide top-level export `e` refers to (`edge`, `merge`...), if any. */
  private topLevelName(e: ts.Expression): string | undefined {
    const at = ts.isPropertyAccessExpression(e) ? e.name : ts.isIdentifier(e) ? e : undefined;
    if (!at) return undefined;
    const sym = this.checker.getSymbolAtLocation(at);
    if (!sym) return undefined;
    let cached = this.cache.get(sym);
    if (cached === undefined) {
      cached = this.computeTopLevel(sym);
      this.cache.set(sym, cached);
    }
    return cached ?? undefined;
  }

  private computeTopLevel(sym: ts.Symbol): string | null {
    let target = sym;
    if (target.flags & ts.SymbolFlags.Alias) {
      try {
        target = this.checker.getAliasedSymbol(target);
      } catch {
        return null;
      }
    }
    const decl = target.declarations?.[0];
    if (!decl) return null;
    if (!TOP_LEVEL.has(target.name)) return null;
    if (!isFloxideDecoratorsFile(decl.getSourceFile().fileName)) return null;
    // Must be the module-level export, not some local of the same name.
    const isModuleLevel = (ts.isVariableDeclaration(decl) && ts.isSourceFile(decl.parent.parent.parent)) || (ts.isFunctionDeclaration(decl) && ts.isSourceFile(decl.parent));
    return isModuleLevel ? target.name : null;
  }
}

/** A decorator argument read statically. */
export type LiteralValue = string | number | boolean | null | LiteralValue[] | { [key: string]: LiteralValue };

/** The outcome of reading an expression as a literal: the value, or the sub-expression that is not one. */
export type LiteralResult = { ok: true; value: LiteralValue } | { ok: false; node: ts.Node };

function unwrap(e: ts.Expression): ts.Expression {
  for (;;) {
    if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
    else return e;
  }
}

/** Reads a literal expression: strings, numbers, booleans, null, arrays and object literals of those. */
export function readLiteral(expr: ts.Expression): LiteralResult {
  const e = unwrap(expr);
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return { ok: true, value: e.text };
  if (ts.isNumericLiteral(e)) return { ok: true, value: Number(e.text.replace(/_/g, '')) };
  if (ts.isPrefixUnaryExpression(e) && (e.operator === ts.SyntaxKind.MinusToken || e.operator === ts.SyntaxKind.PlusToken) && ts.isNumericLiteral(e.operand)) {
    const n = Number(e.operand.text.replace(/_/g, ''));
    return { ok: true, value: e.operator === ts.SyntaxKind.MinusToken ? -n : n };
  }
  if (e.kind === ts.SyntaxKind.TrueKeyword) return { ok: true, value: true };
  if (e.kind === ts.SyntaxKind.FalseKeyword) return { ok: true, value: false };
  if (e.kind === ts.SyntaxKind.NullKeyword) return { ok: true, value: null };
  if (ts.isArrayLiteralExpression(e)) {
    const out: LiteralValue[] = [];
    for (const el of e.elements) {
      if (ts.isSpreadElement(el) || ts.isOmittedExpression(el)) return { ok: false, node: el };
      const r = readLiteral(el);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  }
  if (ts.isObjectLiteralExpression(e)) {
    const out: { [key: string]: LiteralValue } = {};
    for (const p of e.properties) {
      if (!ts.isPropertyAssignment(p)) return { ok: false, node: p };
      const key = propertyKey(p.name);
      if (key === undefined) return { ok: false, node: p.name };
      const r = readLiteral(p.initializer);
      if (!r.ok) return r;
      out[key] = r.value;
    }
    return { ok: true, value: out };
  }
  return { ok: false, node: e };
}

/** A property name written as an identifier, string or number; undefined for computed names. */
export function propertyKey(name: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return name.text;
  if (ts.isPrivateIdentifier(name)) return name.text;
  return undefined;
}

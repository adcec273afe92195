/**
 * Type checks on the TypeScript checker: a node's input/output/context from its `process(ctx, input)`,
 * assignability of edge payloads, and discriminated-union narrowing for branch arms.
 *
 * A payload is kept as a list of alternatives (a union without needing the checker to build one): it is
 * assignable to a target when every alternative is.
 */
import { ts } from 'ts-morph';

/** A value flowing along an edge: alternatives (read as a union) and their display text. */
export interface Payload {
  types: ts.Type[];
  text: string;
}

/** What a node class offers, read from its `process` signature. */
export interface NodeSignature {
  input: Payload;
  output: Payload;
  /** The `store` type the node's ctx wants; undefined when it accepts any context. */
  store: ts.Type | undefined;
  storeText: string;
}

const FORMAT =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope |
  ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType;

/** The properties of a `WorkflowCtx` (runtime/core/node.ts). */
const CONTEXT_KEYS = new Set(['store', 'signal', 'runId', 'itemId', 'attempt', 'failure']);
const PRIMITIVE = ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike | ts.TypeFlags.BooleanLike | ts.TypeFlags.BigIntLike | ts.TypeFlags.ESSymbolLike | ts.TypeFlags.Void | ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Never;

/** How many arguments a call of `sig` must pass (from its declaration: optional, defaulted and rest parameters are not). */
function requiredArguments(sig: ts.Signature): number {
  const decl = sig.getDeclaration() as ts.SignatureDeclaration | undefined;
  if (!decl || !('parameters' in decl)) return 0;
  let min = 0;
  decl.parameters
    .filter((p) => !(ts.isIdentifier(p.name) && p.name.text === 'this'))
    .forEach((p, i) => {
      if (!p.dotDotDotToken && !p.questionToken && !p.initializer) min = i + 1;
    });
  return min;
}

/** A type declared by TypeScript's libraries or a package (`Date`, `Map<K, V>`, `Buffer`): kept by name in a shape. */
function isLibraryType(t: ts.Type): boolean {
  const decls = (t.aliasSymbol ?? t.getSymbol())?.getDeclarations() ?? [];
  return decls.length > 0 && decls.every((d) => {
    const f = d.getSourceFile();
    return f.hasNoDefaultLib || f.fileName.includes('/node_modules/');
  });
}

/** Type checks for one checker. */
export class TypeTools {
  constructor(readonly checker: ts.TypeChecker) {}

  /** Display text without absolute `import("...")` paths. */
  text(t: ts.Type): string {
    return this.checker.typeToString(t, undefined, FORMAT).replace(/import\("[^"]*"\)\./g, '');
  }

  /**
   * The structure of a payload as type text, named types of the project spelt out (their properties, sorted, at every
   * depth; a type met again inside itself, and library types such as `Date` or `Map<K, V>`, by name): what a versions
   * file records next to the input's display text, so that a change inside a named type (`interface Order` gains a
   * required field) shows as a changed input, and the recorded text, valid TypeScript in any scope, can be asked
   * whether it is assignable to the new input. Undefined when it is the display text itself (no named type of the
   * project in it).
   */
  shape(p: Payload): string | undefined {
    const named = { spelt: false };
    const texts = [...new Set(p.types.map((t) => this.shapeOf(t, new Set(), 0, named)))].sort();
    return named.spelt ? (texts.length === 0 ? 'never' : texts.join(' | ')) : undefined;
  }

  /** `named.spelt`: set when a named type (an interface, a class, a type alias) was spelt out. */
  private shapeOf(t: ts.Type, within: Set<ts.Type>, depth: number, named: { spelt: boolean }): string {
    const c = this.checker;
    if (t.isUnion() || t.isIntersection()) {
      const parts = [...new Set(t.types.map((x) => this.shapeOf(x, within, depth, named)))].sort();
      return parts.map((x) => (/[|&]/.test(x) && !x.startsWith('{') ? `(${x})` : x)).join(t.isUnion() ? ' | ' : ' & ');
    }
    if (!(t.flags & ts.TypeFlags.Object) || within.has(t) || depth > 8) return this.text(t);
    const list = c.isArrayType(t) || c.isTupleType(t);
    if (!list && isLibraryType(t)) return this.libraryShape(t, within, depth, named);
    if (!list && (t.getCallSignatures().length > 0 || t.getConstructSignatures().length > 0)) return this.text(t);
    within.add(t);
    try {
      if (c.isArrayType(t)) {
        const [el] = c.getTypeArguments(t as ts.TypeReference);
        return `${t.getSymbol()?.getName() === 'ReadonlyArray' ? 'ReadonlyArray' : 'Array'}<${el ? this.shapeOf(el, within, depth + 1, named) : 'unknown'}>`;
      }
      if (c.isTupleType(t)) {
        const target = (t as ts.TypeReference).target as ts.TupleType;
        if (target.elementFlags.some((f) => !(f & ts.ElementFlags.Required))) return this.text(t);
        return `${target.readonly ? 'readonly ' : ''}[${c.getTypeArguments(t as ts.TypeReference).map((x) => this.shapeOf(x, within, depth + 1, named)).join(', ')}]`;
      }
      if (t.aliasSymbol !== undefined || (t.getSymbol()?.flags ?? 0) & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class)) named.spelt = true;
      const parts: string[] = [];
      for (const prop of [...c.getPropertiesOfType(t)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        if (prop.name.startsWith('__@') || prop.name.startsWith('#')) continue;
        const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
        parts.push(`${/^[A-Za-z_$][\w$]*$/.test(prop.name) ? prop.name : JSON.stringify(prop.name)}${optional ? '?' : ''}: ${this.shapeOf(c.getTypeOfSymbol(prop), within, depth + 1, named)}`);
      }
      for (const info of c.getIndexInfosOfType(t)) parts.push(`[key: ${this.text(info.keyType)}]: ${this.shapeOf(info.type, within, depth + 1, named)}`);
      return parts.length === 0 ? '{}' : `{ ${parts.join('; ')} }`;
    } finally {
      within.delete(t);
    }
  }

  /**
   * A library type by name, its type arguments shaped (`Record<string, Order>`, `Partial<Order>`, `Map<string,
   * Order>`: a change inside `Order` shows), or its display text when it has none.
   */
  private libraryShape(t: ts.Type, within: Set<ts.Type>, depth: number, named: { spelt: boolean }): string {
    const text = this.text(t);
    let args: readonly ts.Type[] | undefined = t.aliasSymbol ? t.aliasTypeArguments : undefined;
    if (!t.aliasSymbol && ((t as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) !== 0) {
      const ref = t as ts.TypeReference;
      args = this.checker.getTypeArguments(ref).slice(0, ref.target.typeParameters?.length ?? 0);
    }
    const lt = text.indexOf('<');
    if (!args || args.length === 0 || lt <= 0 || !text.endsWith('>')) return text;
    within.add(t);
    try {
      return `${text.slice(0, lt)}<${args.map((a) => this.shapeOf(a, within, depth + 1, named)).join(', ')}>`;
    } finally {
      within.delete(t);
    }
  }

  payload(types: readonly ts.Type[]): Payload {
    const uniq = [...new Set(types)];
    const texts = [...new Set(uniq.map((t) => this.text(t)))];
    return { types: uniq, text: texts.length === 0 ? 'never' : texts.join(' | ') };
  }

  /** True when every alternative of `p` is assignable to `target`. */
  assignable(p: Payload, target: ts.Type): boolean {
    return p.types.every((t) => this.checker.isTypeAssignableTo(t, target));
  }

  /**
   * Reads `process(ctx, input)` of a node instance type, at `location` (the workflow field, so generic node
   * classes are instantiated). Returns a reason string when there is no usable `process`.
   */
  nodeSignature(instance: ts.Type, location: ts.Node): NodeSignature | string {
    const c = this.checker;
    const processSym = instance.getProperty('process');
    if (!processSym) return 'has no process(ctx, input) method';
    const processType = c.getTypeOfSymbolAtLocation(processSym, location);
    const sigs = c.getSignaturesOfType(processType, ts.SignatureKind.Call);
    if (sigs.length === 0) return '`process` is not a method';
    const sig = sigs[sigs.length - 1];
    const params = sig.getParameters();
    const required = requiredArguments(sig);
    if (required > 2) return `has process with ${required} required parameters, but a node is called as process(ctx, input)`;
    if (params.length >= 1) {
      const first = c.getNonNullableType(c.getTypeOfSymbolAtLocation(params[0], location));
      if (!this.acceptsContext(first)) return `has process whose first parameter (${params[0].name}: ${this.text(first)}) cannot take the context: a node is called as process(ctx, input)`;
    }
    const unknown = c.getUnknownType();
    let input: ts.Type = unknown;
    if (params.length >= 2) input = c.getTypeOfSymbolAtLocation(params[1], location);
    let store: ts.Type | undefined;
    if (params.length >= 1) {
      const ctxType = c.getTypeOfSymbolAtLocation(params[0], location);
      if (!(ctxType.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) {
        const storeSym = ctxType.getProperty('store');
        if (storeSym) {
          const st = c.getTypeOfSymbolAtLocation(storeSym, location);
          if (!(st.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) store = st;
        }
      }
    }
    const ret = sig.getReturnType();
    const values = this.transitionValues(c.getAwaitedType(ret) ?? ret);
    if (!values) return `process must return Transition<O> or Promise<Transition<O>>, not ${this.text(ret)}`;
    return { input: this.payload([input]), output: this.payload(values), store, storeText: store ? this.text(store) : 'unknown' };
  }

  /** True when a `WorkflowCtx` can be passed for a parameter of type `t`: no primitive, no property a context lacks. */
  private acceptsContext(t: ts.Type): boolean {
    if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return true;
    const members = t.isUnion() ? t.types : [t];
    return members.some((m) => !(m.flags & PRIMITIVE) && m.getProperties().every((p) => CONTEXT_KEYS.has(p.name)));
  }

  /** The `O`s of a `Transition<O>` (or union of them); undefined when the type is not a Transition. */
  transitionValues(t: ts.Type): ts.Type[] | undefined {
    if (t.flags & ts.TypeFlags.Any) return [t];
    if (t.aliasSymbol?.name === 'Transition' && t.aliasTypeArguments?.length === 1) return [t.aliasTypeArguments[0]];
    const members = t.isUnion() ? t.types : [t];
    const out: ts.Type[] = [];
    let sawTransition = false;
    for (const m of members) {
      if (m.aliasSymbol?.name === 'Transition' && m.aliasTypeArguments?.length === 1) {
        out.push(m.aliasTypeArguments[0]);
        sawTransition = true;
        continue;
      }
      const tag = this.literalStrings(this.propertyType(m, 'type'));
      if (!tag || tag.length !== 1) return undefined;
      if (tag[0] === 'next' || tag[0] === 'sleep') {
        // (a sleep sends its value on when it wakes)
        const v = this.propertyType(m, 'value');
        if (!v) return undefined;
        out.push(v);
      } else if (tag[0] === 'nextAll') {
        const vs = this.propertyType(m, 'values');
        if (!vs || !this.checker.isArrayType(vs)) return undefined;
        out.push(...this.checker.getTypeArguments(vs as ts.TypeReference).slice(0, 1));
      } else if (tag[0] !== 'hold' && tag[0] !== 'abort' && tag[0] !== 'wait') return undefined;
      sawTransition = true;
    }
    // An unannotated process returning next(v) or hold() (Transition<never>) has the union of both Transitions'
    // members: the never-valued ones send nothing.
    return sawTransition ? [...new Set(out)].filter((v) => !(v.flags & ts.TypeFlags.Never)) : undefined;
  }

  propertyType(t: ts.Type, name: string): ts.Type | undefined {
    const sym = t.getProperty(name);
    if (!sym) return undefined;
    const decl = sym.valueDeclaration ?? sym.declarations?.[0];
    return decl ? this.checker.getTypeOfSymbolAtLocation(sym, decl) : this.checker.getTypeOfSymbol(sym);
  }

  /** The string literal values of a literal type or union of them; undefined when any member is not one. */
  literalStrings(t: ts.Type | undefined): string[] | undefined {
    if (!t) return undefined;
    const members = t.isUnion() ? t.types : [t];
    const out: string[] = [];
    for (const m of members) {
      if (m.isStringLiteral()) out.push(m.value);
      else return undefined;
    }
    return out;
  }

  /**
   * Splits a payload into discriminated variants: each alternative's union members with their tags. Returns
   * the offending member's text when one has no string-literal `discriminant`.
   */
  variants(p: Payload, discriminant: string): Array<{ type: ts.Type; tags: string[] }> | { bad: string } {
    const out: Array<{ type: ts.Type; tags: string[] }> = [];
    for (const t of p.types) {
      if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.Never)) return { bad: this.text(t) };
      for (const m of t.isUnion() ? t.types : [t]) {
        const tags = this.literalStrings(this.propertyType(m, discriminant));
        if (!tags) return { bad: this.text(m) };
        out.push({ type: m, tags });
      }
    }
    return out;
  }

  /** The element type of an array (or readonly array) type, else undefined. */
  elementType(t: ts.Type): ts.Type | undefined {
    if (!this.checker.isArrayType(t)) return undefined;
    return this.checker.getTypeArguments(t as ts.TypeReference)[0];
  }
}

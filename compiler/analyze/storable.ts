/**
 * Which parts of a type do not survive storage (FLX029). Every durable mode stores inputs, outputs and the context as
 * JSON with Date, Map, Set and bigint tagged (runtime/core/tags.ts): plain data, those four and floxide's EventLog and
 * Fixed read back as they were; a function or a symbol is dropped, and an object with methods (a class instance, a
 * RegExp, a Promise...) reads back as a plain object without them. An instance of any other class, even one without
 * methods, reads back as a plain object too: without its prototype, `instanceof` fails, getters and private (`#x`)
 * fields are gone. Plain data is what an interface, a type alias or an object literal type describes, except lib's
 * error interfaces (`Error`, `TypeError`...): an error's message and stack are not stored. This walk names the path
 * of each such part.
 */
import { ts } from 'ts-morph';
import { isFloxideValuesFile } from './decorator-files.js';

/** A part of a type that does not survive storage: where (`.a.b[]`) and what it is. */
export interface UnstorablePart {
  path: string;
  what: string;
}

/** The lib classes that storage carries, and which of their type arguments it carries (all of them). */
const CARRIED_LIB = new Set(['Date', 'Map', 'ReadonlyMap', 'Set', 'ReadonlySet']);
/** floxide's context values (runtime/context/values.ts): stored as their data. */
const CARRIED_FLOXIDE = new Set(['EventLog', 'Fixed']);

const PLAIN =
  ts.TypeFlags.Any |
  ts.TypeFlags.Unknown |
  ts.TypeFlags.Never |
  ts.TypeFlags.StringLike |
  ts.TypeFlags.NumberLike |
  ts.TypeFlags.BooleanLike |
  ts.TypeFlags.BigIntLike |
  ts.TypeFlags.EnumLike |
  ts.TypeFlags.Null |
  ts.TypeFlags.Undefined |
  ts.TypeFlags.Void |
  ts.TypeFlags.NonPrimitive |
  ts.TypeFlags.TypeParameter |
  ts.TypeFlags.Index |
  ts.TypeFlags.IndexedAccess |
  ts.TypeFlags.Conditional;

/** At most this many parts per walk: the first ones say what to fix. */
const MAX_PARTS = 5;

/** How deep the walk looks (recursive data types end at their first repetition anyway). */
const MAX_DEPTH = 12;

/** A method or accessor as a message names it: `format()`, `get length`, `set length`. */
function memberText(p: ts.Symbol): string {
  const decls = p.getDeclarations() ?? [];
  if (decls.some(ts.isGetAccessorDeclaration)) return `get ${p.getName()}`;
  if (decls.some(ts.isSetAccessorDeclaration)) return `set ${p.getName()}`;
  return `${p.getName()}()`;
}

const isMethodLike = (d: ts.Declaration) => ts.isMethodDeclaration(d) || ts.isMethodSignature(d) || ts.isGetAccessorDeclaration(d) || ts.isSetAccessorDeclaration(d);

/**
 * The parts of `type` that storage does not carry, each with its path below `root` (`''` for the type itself).
 * `ownMethods: false` skips the methods of the type itself (a context class: revived as `new C()`, its methods come
 * back from its prototype) but not those of its fields.
 */
export function unstorableParts(type: ts.Type, checker: ts.TypeChecker, options: { ownMethods: boolean }): UnstorablePart[] {
  const out: UnstorablePart[] = [];
  const active = new Set<ts.Type>();

  const visit = (t: ts.Type, path: string, depth: number, methods: boolean): void => {
    if (out.length >= MAX_PARTS || depth > MAX_DEPTH || active.has(t)) return;
    if (t.flags & ts.TypeFlags.ESSymbolLike) {
      out.push({ path, what: 'a symbol' });
      return;
    }
    if (t.flags & PLAIN) return;
    if (t.isUnionOrIntersection()) {
      for (const m of t.types) visit(m, path, depth, methods);
      return;
    }
    if (!(t.flags & ts.TypeFlags.Object)) return;
    active.add(t);
    try {
      if (checker.isArrayType(t) || checker.isTupleType(t)) {
        for (const arg of checker.getTypeArguments(t as ts.TypeReference)) visit(arg, `${path}[]`, depth + 1, true);
        return;
      }
      if (t.getCallSignatures().length > 0 || t.getConstructSignatures().length > 0) {
        out.push({ path, what: 'a function' });
        return;
      }
      const error = libErrorName(t);
      if (error) {
        out.push({ path, what: `${error}, an error object (its message and stack are not stored: JSON keeps only an object's own enumerable fields)` });
        return;
      }
      const carried = carriedClass(t);
      if (carried) {
        const args = (t as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference ? checker.getTypeArguments(t as ts.TypeReference) : [];
        args.forEach((arg, i) => visit(arg, `${path}${args.length === 2 ? (i === 0 ? '<key>' : '<value>') : '<>'}`, depth + 1, true));
        return;
      }
      const props = checker.getPropertiesOfType(t);
      if (methods) {
        const named = props.filter((p) => (p.getDeclarations() ?? []).some(isMethodLike)).map(memberText);
        if (named.length > 0) {
          const name = t.getSymbol()?.getName();
          const noun = name && name !== '__type' && name !== '__object' ? `${name}, an object` : 'an object';
          out.push({ path, what: `${noun} with methods (${named.slice(0, 3).join(', ')}${named.length > 3 ? ', ...' : ''})` });
          return;
        }
        const cls = classOf(t);
        if (cls) {
          out.push({ path, what: `${cls.name ? `${cls.name}, an instance of a class` : 'an instance of a class'} (without its prototype once stored)` });
          return;
        }
      }
      for (const p of props) {
        if ((p.getDeclarations() ?? []).some(isMethodLike)) continue;
        visit(checker.getTypeOfSymbol(p), `${path}.${p.getName()}`, depth + 1, true);
      }
      for (const info of checker.getIndexInfosOfType(t)) visit(info.type, `${path}[key]`, depth + 1, true);
    } finally {
      active.delete(t);
    }
  };

  visit(type, '', 0, options.ownMethods);
  return out;
}

/** The class `t` is an instance of (declared with `class`, in the project or a package; `name` unset when anonymous). */
function classOf(t: ts.Type): { name?: string } | undefined {
  const sym = t.getSymbol();
  if (!sym || !(sym.flags & ts.SymbolFlags.Class)) return undefined;
  const name = sym.getName();
  return name === 'default' || name.startsWith('__') ? {} : { name };
}

/**
 * The name of the lib error type `t` is (`Error`, `TypeError`, `AggregateError`...: interfaces in lib.d.ts, so not
 * caught as class instances), or undefined. Their `message` and `stack` are own non-enumerable fields, which JSON drops.
 */
function libErrorName(t: ts.Type): string | undefined {
  const sym = t.getSymbol();
  const name = sym?.getName();
  if (!name || !/Error$/.test(name)) return undefined;
  return (sym!.getDeclarations() ?? []).some((d) => isLibFile(d.getSourceFile())) ? name : undefined;
}

function isLibFile(sf: ts.SourceFile): boolean {
  return sf.isDeclarationFile && /(^|\/)lib\.[\w.]+\.d\.ts$/.test(sf.fileName);
}

/** Whether `t` is Date, Map, Set (lib) or EventLog, Fixed (floxide): storage carries them, with their type arguments. */
function carriedClass(t: ts.Type): boolean {
  const sym = t.getSymbol();
  if (!sym) return false;
  const name = sym.getName();
  if (!CARRIED_LIB.has(name) && !CARRIED_FLOXIDE.has(name)) return false;
  return (sym.getDeclarations() ?? []).some((d) => {
    const sf = d.getSourceFile();
    return CARRIED_LIB.has(name) ? isLibFile(sf) : isFloxideValuesFile(sf.fileName);
  });
}

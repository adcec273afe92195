/**
 * Escaping for everything emitters print: TypeScript string literals, property names and accesses, DOT ids and
 * labels, Mermaid labels. Every name and string from the model goes through one of these.
 */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Words that cannot be used as a binding name (an import's local name). Property names may use them. */
const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'yield let static implements interface package private protected public await arguments eval undefined NaN Infinity'
  ).split(' '),
);

/** True for an ASCII identifier name (usable after a `.` and as an unquoted object key). */
export function isIdentifierName(name: string): boolean {
  return IDENTIFIER.test(name);
}

/** True for a name usable as a local binding (import alias, declaration). */
export function isBindingName(name: string): boolean {
  return IDENTIFIER.test(name) && !RESERVED.has(name);
}

/** A single-quoted TypeScript string literal for `value`, escaping quotes, backslashes and control characters. */
export function tsString(value: string): string {
  let out = "'";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === "'") out += "\\'";
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + "'";
}

/** An object literal key for `name`: bare when it is an identifier, quoted otherwise; `__proto__` becomes computed. */
export function objectKey(name: string): string {
  if (name === '__proto__') return `[${tsString(name)}]`;
  return isIdentifierName(name) ? name : tsString(name);
}

/** `obj.name`, or `obj['na-me']` when `name` is not an identifier. */
export function propertyAccess(obj: string, name: string): string {
  return isIdentifierName(name) ? `${obj}.${name}` : `${obj}[${tsString(name)}]`;
}

/** A TypeScript literal for a JSON-like value (strings single-quoted, objects with escaped keys, in key order). */
export function tsLiteral(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return tsString(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '0' : String(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(tsLiteral).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `${objectKey(k)}: ${tsLiteral(v)}`).join(', ')} }`;
  }
  throw new TypeError(`cannot print ${typeof value} as a TypeScript literal`);
}

/**
 * The type TypeScript gives {@link tsLiteral}`(value)` under `as const` (readonly tuples and properties, literal
 * types), written out: what a generated `const` declares, so the module compiles under `isolatedDeclarations`.
 */
export function tsConstType(value: unknown): string {
  if (Array.isArray(value)) return `readonly [${value.map(tsConstType).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, v]) => `readonly ${objectKey(k)}: ${tsConstType(v)}`).join('; ')} }`;
  }
  return tsLiteral(value);
}

/**
 * A multi-line text as a TypeScript expression: one `'line\n' +` per line, indented by `indent`, so generated
 * graphs stay readable in review. Returns `''` for empty text.
 */
export function tsMultilineString(text: string, indent = '  '): string[] {
  if (text === '') return [`${indent}''`];
  const parts = text.split(/(?<=\n)/);
  return parts.map((part, i) => `${indent}${tsString(part)}${i < parts.length - 1 ? ' +' : ''}`);
}

const DOT_KEYWORDS = new Set(['node', 'edge', 'graph', 'digraph', 'subgraph', 'strict']);

/** The inside of a DOT double-quoted string: `"` and `\` escaped, newlines as `\n`. */
export function dotEscape(text: string): string {
  return text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\r?\n|\r/g, '\\n');
}

/** A DOT id: bare when it is a plain identifier that is not a keyword, quoted and escaped otherwise. */
export function dotId(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !DOT_KEYWORDS.has(name.toLowerCase()) ? name : `"${dotEscape(name)}"`;
}

/** A DOT quoted string (for labels and attribute values). */
export function dotString(text: string): string {
  return `"${dotEscape(text)}"`;
}

/**
 * The inside of a Mermaid `"..."` label: characters Mermaid would parse (quotes, brackets, pipes, `#`, `<`, `>`,
 * `&`, backslash, backtick) and control characters become `#<code>;` entities.
 */
export function mermaidEscape(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    out += /["#<>&|\\`[\]{}()]/.test(ch) || code < 0x20 || code === 0x7f ? `#${code};` : ch;
  }
  return out;
}

/** A Mermaid quoted label. */
export function mermaidString(text: string): string {
  return `"${mermaidEscape(text)}"`;
}

const MERMAID_RESERVED = new Set(['end', 'graph', 'flowchart', 'subgraph', 'style', 'class', 'classdef', 'click', 'linkstyle', 'direction', 'default', 'call', 'href']);

/** True when `name` can be a Mermaid node id as is. */
export function isMermaidSafeId(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]*$/.test(name) && !MERMAID_RESERVED.has(name.toLowerCase());
}

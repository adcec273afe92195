/**
 * Type text that does not depend on the order the checker met the types. `typeToString` prints a union's members in
 * the order the checker created them, so the same `'zeta' | 'alpha'` prints as `'alpha' | 'zeta'` when another file
 * that mentions `'alpha'` was checked first: a build of one file and a build of the whole project would record two
 * texts for one input type (and the versions file would flip between them).
 */
import { ts } from 'ts-morph';

/**
 * `text` (a type as `typeToString` prints it) with the members of every union, at any depth, in sorted order (by
 * their own canonical text, UTF-16 order, no locale); everything else as it was. Text that does not parse as one type
 * is returned unchanged.
 */
export function canonicalTypeText(text: string): string {
  if (!text.includes('|')) return text;
  const prefix = 'type T = ';
  const sf = ts.createSourceFile('type.ts', `${prefix}${text};`, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const decl = sf.statements[0];
  const parseErrors = (sf as unknown as { parseDiagnostics?: readonly unknown[] }).parseDiagnostics;
  if ((parseErrors?.length ?? 0) > 0 || sf.statements.length !== 1 || !decl || !ts.isTypeAliasDeclaration(decl) || decl.type.getStart(sf) !== prefix.length || decl.type.end !== prefix.length + text.length) return text;
  const src = sf.text;
  const print = (node: ts.Node): string => {
    if (ts.isUnionTypeNode(node)) return [...new Set(node.types.map(print))].sort().join(' | ');
    let out = '';
    let at = node.getStart(sf);
    ts.forEachChild(node, (child) => {
      out += src.slice(at, child.getStart(sf)) + print(child);
      at = child.end;
    });
    return out + src.slice(at, node.end);
  };
  return print(decl.type);
}

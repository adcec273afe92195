/**
 * Fix builders: the edits that resolve a diagnostic, computed by the check that reports it (so `floxide build` and
 * the `floxide/ts-plugin` code fixes share one source of truth). Each returns plain {@link DiagnosticFix} data:
 * positions, never ts nodes.
 */
import * as path from 'node:path';
import { ts } from 'ts-morph';
import type { DiagnosticFix, LineColumn, TextEdit } from '../model.js';
import { moduleSpecifier } from '../render.js';
import { slash } from './project.js';

function lineColumn(sf: ts.SourceFile, pos: number): LineColumn {
  const lc = sf.getLineAndCharacterOfPosition(pos);
  return { line: lc.line + 1, column: lc.character + 1 };
}

function textEdit(sf: ts.SourceFile, start: number, end: number, newText: string, rootDir: string): TextEdit {
  return { file: slash(path.relative(rootDir, sf.fileName)), start: lineColumn(sf, start), end: lineColumn(sf, end), newText };
}

/** The line break `sf` uses (that of its first line), for the lines a fix adds: a CRLF file stays CRLF. */
function newLineOf(sf: ts.SourceFile): string {
  const at = sf.text.indexOf('\n');
  return at > 0 && sf.text[at - 1] === '\r' ? '\r\n' : '\n';
}

/** A string literal's text in the quote style of `like` (a literal of the same file). */
function quoted(value: string, like: ts.Node): string {
  const q = like.getText()[0] === '"' ? '"' : "'";
  return q + value.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), `\\${q}`) + q;
}

/** FLX010: one fix per close field name, replacing the misspelt literal (its quotes kept). */
export function renameTargetFixes(literal: ts.Node, names: readonly string[], rootDir: string): DiagnosticFix[] {
  if (!ts.isStringLiteral(literal) && !ts.isNoSubstitutionTemplateLiteral(literal)) return [];
  const sf = literal.getSourceFile();
  return names.map((name) => ({
    description: `Change ${JSON.stringify(literal.text)} to ${JSON.stringify(name)}`,
    edits: [textEdit(sf, literal.getStart(sf), literal.getEnd(), quoted(name, literal), rootDir)],
  }));
}

/**
 * FLX014: adds an `@edge.when(tag, target)` arm per missing tag after the field's last arm, on its own line when
 * the arms are on their own lines. The decorator is spelt as the existing arm spells it (aliases kept).
 */
export function addArmsFix(lastArm: ts.Decorator, arms: ReadonlyArray<{ tag: string; target: string }>, rootDir: string): DiagnosticFix | undefined {
  const call = lastArm.expression;
  if (!ts.isCallExpression(call) || call.arguments.length === 0 || arms.length === 0) return undefined;
  const sf = lastArm.getSourceFile();
  const like = call.arguments[0];
  const callee = call.expression.getText(sf);
  const ownLine = /^[ \t]*\r?\n/.test(sf.text.slice(lastArm.getEnd()));
  const lineStart = sf.text.lastIndexOf('\n', lastArm.getStart(sf) - 1) + 1;
  const sep = ownLine ? `${newLineOf(sf)}${sf.text.slice(lineStart, lastArm.getStart(sf)).replace(/\S/g, ' ')}` : ' ';
  const text = arms.map((a) => `${sep}@${callee}(${quoted(a.tag, like)}, ${quoted(a.target, like)})`).join('');
  return {
    description: `Add ${arms.length === 1 ? 'the missing arm' : 'the missing arms'} ${arms.map((a) => `${JSON.stringify(a.tag)} -> ${a.target}`).join(', ')}`,
    edits: [textEdit(sf, lastArm.getEnd(), lastArm.getEnd(), text, rootDir)],
  };
}

/**
 * FLX020: adds `context: C` to the `@workflow({...})` options, importing `C` when the workflow's file does not see
 * it under that name. Undefined when the options are not an object literal or `C` cannot be imported by path.
 */
export function addContextFix(workflowCall: ts.CallExpression, context: ts.ClassDeclaration & { name: ts.Identifier }, checker: ts.TypeChecker, rootDir: string): DiagnosticFix | undefined {
  let obj: ts.Expression | undefined = workflowCall.arguments[0];
  while (obj && (ts.isParenthesizedExpression(obj) || ts.isAsExpression(obj) || ts.isSatisfiesExpression(obj))) obj = obj.expression;
  if (!obj || !ts.isObjectLiteralExpression(obj)) return undefined;
  const sf = workflowCall.getSourceFile();
  const name = context.name.text;
  const edits: TextEdit[] = [];
  const last = obj.properties[obj.properties.length - 1];
  if (last) edits.push(textEdit(sf, last.getEnd(), last.getEnd(), `, context: ${name}`, rootDir));
  else edits.push(textEdit(sf, obj.getStart(sf) + 1, obj.getStart(sf) + 1, ` context: ${name} `, rootDir));
  const ctxFile = context.getSourceFile();
  const seen = checker.getSymbolsInScope(workflowCall, ts.SymbolFlags.Value | ts.SymbolFlags.Alias).find((s) => {
    if (s.name !== name) return false;
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    return target.declarations?.includes(context) ?? false;
  });
  // `context:` takes the class as a value: an import of it as a type only becomes a value import
  const specifier = seen?.declarations?.find(ts.isImportSpecifier);
  if (specifier?.isTypeOnly) edits.unshift(textEdit(sf, specifier.getStart(sf), specifier.getEnd(), specifier.getText(sf).replace(/^type\s+/, ''), rootDir));
  else if (specifier?.parent.parent.isTypeOnly) {
    const decl = specifier.parent.parent.parent;
    const names = specifier.parent.elements.map((e) => (e === specifier ? e.getText(sf) : `type ${e.getText(sf)}`)).join(', ');
    edits.unshift(textEdit(sf, decl.getStart(sf), decl.getEnd(), `import { ${names} } from ${decl.moduleSpecifier.getText(sf)};`, rootDir));
  }
  if (!seen) {
    if (ctxFile.isDeclarationFile || ctxFile.fileName.includes('/node_modules/')) return undefined;
    if (ctxFile !== sf) {
      const imports = sf.statements.filter(ts.isImportDeclaration);
      const at = imports.length > 0 ? imports[imports.length - 1].getEnd() : 0;
      const line = `import { ${name} } from ${quoted(moduleSpecifier(sf.fileName, ctxFile.fileName), imports[0]?.moduleSpecifier ?? workflowCall)};`;
      edits.unshift(textEdit(sf, at, at, at === 0 ? `${line}${newLineOf(sf)}` : `${newLineOf(sf)}${line}`, rootDir));
    }
  }
  return { description: `Declare the workflow's context: add context: ${name} to @workflow`, edits };
}

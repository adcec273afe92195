/**
 * Assignability of types known only as display text (a recorded version's input types): a throwaway copy of the
 * source file where the names in the text are in scope, with one probe assignment per pair appended, type-checked
 * on the analysis program. A pair whose assignment reports any error, a name that no longer resolves included,
 * is not assignable: the check stays conservative.
 */
import * as path from 'node:path';
import type { Project, ts } from 'ts-morph';
import type { AnalysisProgram } from './program.js';

/** `base` (a source file's text) with one probe assignment per pair of type texts appended, one line each. */
export function probeSourceText(base: string, pairs: ReadonlyArray<readonly [string, string]>): string {
  const probeLines = pairs.map(
    ([from, to], i) => `type __FloxideFrom${i} = ${from}; type __FloxideTo${i} = ${to}; declare const __floxideFrom${i}: __FloxideFrom${i}; export const __floxideTo${i}: __FloxideTo${i} = __floxideFrom${i};`,
  );
  return `${base}\n${probeLines.join('\n')}\n`;
}

/**
 * Per pair, whether its probe line in `probe` (the text of {@link probeSourceText}, of a base of `baseLines` lines)
 * reports no diagnostic among `diagnostics`.
 */
export function probeAnswers(probe: ts.SourceFile, baseLines: number, count: number, diagnostics: readonly ts.Diagnostic[]): boolean[] {
  const ok = new Array<boolean>(count).fill(true);
  for (const d of diagnostics) {
    if (d.start === undefined) continue;
    const i = probe.getLineAndCharacterOfPosition(d.start).line - baseLines;
    if (i >= 0 && i < count) ok[i] = false;
  }
  return ok;
}

/** `pairs[i]` = [from, to] type texts; answers, per pair, whether a `from` value is assignable to `to`. */
export function probeAssignable(project: Project, program: AnalysisProgram, absFile: string, pairs: ReadonlyArray<readonly [string, string]>): boolean[] {
  if (pairs.length === 0) return [];
  const source = project.getSourceFile(absFile);
  const base = source?.getFullText() ?? '';
  const ext = path.extname(absFile) || '.ts';
  const probePath = path.join(path.dirname(absFile), `__floxide_probe_${process.pid}${ext}`);
  const probe = project.createSourceFile(probePath, probeSourceText(base, pairs), { overwrite: true });
  try {
    const sf = probe.compilerNode;
    const checked = program.current();
    return probeAnswers(sf, base.split('\n').length, pairs.length, [...checked.getSyntacticDiagnostics(sf), ...checked.getSemanticDiagnostics(sf)]);
  } finally {
    project.removeSourceFile(probe);
  }
}

/**
 * Assignability of types known only as display text (a recorded version's input types): a throwaway copy of the
 * source file where the names in the text are in scope, with one probe assignment per pair appended, type-checked
 * on the analysis program. A pair whose assignment reports any error, a name that no longer resolves included,
 * is not assignable: the check stays conservative.
 */
import * as path from 'node:path';
import type { Project } from 'ts-morph';
import type { AnalysisProgram } from './program.js';

/** `pairs[i]` = [from, to] type texts; answers, per pair, whether a `from` value is assignable to `to`. */
export function probeAssignable(project: Project, program: AnalysisProgram, absFile: string, pairs: ReadonlyArray<readonly [string, string]>): boolean[] {
  if (pairs.length === 0) return [];
  const source = project.getSourceFile(absFile);
  const base = source?.getFullText() ?? '';
  const lines = base.split('\n').length;
  const probeLines = pairs.map(
    ([from, to], i) => `type __FloxideFrom${i} = ${from}; type __FloxideTo${i} = ${to}; declare const __floxideFrom${i}: __FloxideFrom${i}; export const __floxideTo${i}: __FloxideTo${i} = __floxideFrom${i};`,
  );
  const ext = path.extname(absFile) || '.ts';
  const probePath = path.join(path.dirname(absFile), `__floxide_probe_${process.pid}${ext}`);
  const probe = project.createSourceFile(probePath, `${base}\n${probeLines.join('\n')}\n`, { overwrite: true });
  try {
    const ok = pairs.map(() => true);
    const sf = probe.compilerNode;
    const checked = program.current();
    for (const d of [...checked.getSyntacticDiagnostics(sf), ...checked.getSemanticDiagnostics(sf)]) {
      if (d.start === undefined) continue;
      const line = sf.getLineAndCharacterOfPosition(d.start).line + 1;
      if (line <= lines) continue;
      const i = line - lines - 1;
      if (i >= 0 && i < ok.length) ok[i] = false;
    }
    return ok;
  } finally {
    project.removeSourceFile(probe);
  }
}

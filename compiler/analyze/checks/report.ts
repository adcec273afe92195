/**
 * What every workflow check is given: the checker and type tools to ask, and a reporter that turns a problem at a
 * ts node into a {@link Diagnostic} (its position relative to the project root, with the fixes that apply).
 */
import type { ts } from 'ts-morph';
import { diagnostic, type DiagnosticCode } from '../../diagnostics.js';
import type { Diagnostic, DiagnosticFix } from '../../model.js';
import { positionOf } from '../project.js';
import type { TypeTools } from '../types.js';

export interface CheckContext {
  checker: ts.TypeChecker;
  tools: TypeTools;
  rootDir: string;
  report: Report;
}

/** Reports one problem at `node`; fixes that could not be built (undefined) are left out. */
export type Report = (code: DiagnosticCode, node: ts.Node, message: string, hint?: string, fixes?: Array<DiagnosticFix | undefined>) => void;

/** A reporter that appends to `out`. */
export function reporter(out: Diagnostic[], rootDir: string): Report {
  return (code, node, message, hint, fixes) => {
    const d = diagnostic(code, message, positionOf(node, rootDir), hint);
    const usable = fixes?.filter((f): f is DiagnosticFix => f !== undefined) ?? [];
    if (usable.length > 0) d.fixes = usable;
    out.push(d);
  };
}

/**
 * One analysis pass over one `ts.Program`: the decorator resolver, extractor, type tools and workflow checks that
 * share a checker. `floxide build` (the {@link Analyzer}) and the `floxide/ts-plugin` (on the language service's
 * program) both analyse a file through it, in the same two phases: extract every file's classes first, then check.
 */
import type { ts } from 'ts-morph';
import type { Diagnostic, WorkflowModel } from '../model.js';
import { DecoratorResolver } from './decorators.js';
import { Extractor, type FileClasses } from './extract.js';
import { TypeTools } from './types.js';
import { WorkflowAnalyzer } from './workflow.js';

/** The floxide classes of one file, checked: its workflow models and every problem found in them. */
export interface FileAnalysis {
  workflows: WorkflowModel[];
  diagnostics: Diagnostic[];
}

export class ProgramAnalysis {
  readonly checker: ts.TypeChecker;
  private readonly extractor: Extractor;
  private readonly workflows: WorkflowAnalyzer;

  constructor(
    readonly program: ts.Program,
    readonly rootDir: string,
  ) {
    this.checker = program.getTypeChecker();
    const resolver = new DecoratorResolver(this.checker);
    this.extractor = new Extractor(resolver, this.checker, rootDir);
    this.workflows = new WorkflowAnalyzer(this.checker, this.extractor, new TypeTools(this.checker), rootDir);
  }

  /**
   * Phase 1: the `@node`/`@workflow` classes of `sf`, with their decorator problems in `out`. A file with a syntax
   * error yields none: what the parser recovered is not what the user wrote, so the syntax error (TypeScript's
   * own, FLX002 in a build) is the one problem reported there, never a follow-on FLX010 or FLX019.
   */
  extract(sf: ts.SourceFile, out: Diagnostic[]): FileClasses {
    if (this.program.getSyntacticDiagnostics(sf).length > 0) return { workflows: [], nodeClasses: [] };
    return this.extractor.fileClasses(sf, out);
  }

  /** Phase 2: checks extracted classes (node classes, then workflows); problems go to `out`. */
  check(classes: FileClasses, out: Diagnostic[]): WorkflowModel[] {
    const models: WorkflowModel[] = [];
    for (const cls of classes.nodeClasses) this.workflows.checkNodeClass(cls as ts.ClassDeclaration & { name: ts.Identifier }, out);
    for (const raw of classes.workflows) {
      const res = this.workflows.workflow(raw);
      if (!res) continue;
      models.push(res.model);
      out.push(...res.diagnostics);
    }
    return models;
  }
}

/**
 * Analyses the floxide classes of one file of `program` (positions relative to `rootDir`). TypeScript's own
 * diagnostics are not included: `floxide build` adds them as FLX002, an editor shows them itself.
 */
export function analyzeSourceFile(program: ts.Program, sf: ts.SourceFile, rootDir: string): FileAnalysis {
  const analysis = new ProgramAnalysis(program, rootDir);
  const diagnostics: Diagnostic[] = [];
  const workflows = analysis.check(analysis.extract(sf, diagnostics), diagnostics);
  return { workflows, diagnostics };
}

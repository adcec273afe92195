/**
 * A workflow's analysis in two phases: extraction (`resolve.ts`: a {@link RawWorkflow} to its node types, edges,
 * context, terminals and {@link WorkflowModel}) finishes, then the checks (`checks/`) read what it found and report
 * the FLX diagnostics. Memoised per checker, so a workflow nested in several others is analysed once.
 */
import type { ts } from 'ts-morph';
import type { Diagnostic, WorkflowModel } from '../model.js';
import { checkNodeClass, checkWorkflow, reporter } from './checks/index.js';
import type { Extractor, RawWorkflow } from './extract.js';
import { WorkflowResolver, type NamedClass, type WorkflowSummary } from './resolve.js';
import type { TypeTools } from './types.js';

/** The analysis of one workflow class. */
export interface WorkflowResult {
  model: WorkflowModel;
  diagnostics: Diagnostic[];
  summary: WorkflowSummary;
}

/** Analyses workflows and node classes with one checker. */
export class WorkflowAnalyzer {
  private readonly results = new Map<ts.ClassDeclaration, WorkflowResult | 'pending'>();
  private readonly resolver: WorkflowResolver;

  constructor(
    private readonly checker: ts.TypeChecker,
    extractor: Extractor,
    private readonly tools: TypeTools,
    private readonly rootDir: string,
  ) {
    this.resolver = new WorkflowResolver(checker, extractor, tools, rootDir, (raw) => this.workflow(raw)?.summary);
  }

  /** Checks a `@node` class (FLX022 when its `process` is unusable); problems go to `out`. */
  checkNodeClass(cls: NamedClass, out: Diagnostic[]): void {
    checkNodeClass(cls, this.resolver.nodeClassProblem(cls), reporter(out, this.rootDir));
  }

  /** Analyses a workflow (memoised); `undefined` while it is being analysed (a nesting cycle). */
  workflow(raw: RawWorkflow): WorkflowResult | undefined {
    const r = this.results.get(raw.decl);
    if (r === 'pending') return undefined;
    if (r) return r;
    this.results.set(raw.decl, 'pending');
    const diagnostics: Diagnostic[] = [];
    const resolved = this.resolver.resolve(raw, diagnostics);
    checkWorkflow(resolved, { checker: this.checker, tools: this.tools, rootDir: this.rootDir, report: reporter(diagnostics, this.rootDir) });
    const res = { model: resolved.model, diagnostics, summary: resolved.summary };
    this.results.set(raw.decl, res);
    return res;
  }
}

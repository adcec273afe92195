/**
 * The analysis entry points: {@link analyzeProject} (one shot) and {@link Analyzer} (keeps the ts-morph Project
 * and per-file results alive, so `--watch` re-analyses only the files a change can affect).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ts, type Project } from 'ts-morph';
import { sortDiagnostics } from '../diagnostics.js';
import { FLOW_MODEL_VERSION, type Diagnostic, type FlowModel, type WorkflowModel } from '../model.js';
import type { FileClasses } from './extract.js';
import { configFileNames, isSkippedFile, loadProject, outOfProjectPaths, scopeMatcher, slash, tsDiagnostic, type AnalyzeOptions } from './project.js';
import { AnalysisProgram } from './program.js';
import { probeAssignable } from './probe.js';
import { ProgramAnalysis } from './session.js';
import { resolveTsconfig } from '../tsconfig-path.js';

export type { AnalyzeOptions } from './project.js';
export { shapeOfModel } from './shape.js';
export { analyzeSourceFile, ProgramAnalysis, type FileAnalysis } from './session.js';

/** What analysis produces: the model, every problem found, and the project root positions are relative to. */
export interface AnalysisResult {
  model: FlowModel;
  /** Sorted by file, line, column. The model is only fit for emission when none is an error. */
  diagnostics: Diagnostic[];
  /** Absolute project root (the tsconfig's directory). */
  rootDir: string;
}

/** Analyses a project once. Never throws on bad input: problems come back as diagnostics. */
export function analyzeProject(opts: AnalyzeOptions = {}): AnalysisResult {
  return new Analyzer(opts).analyze();
}

interface FileResult {
  workflows: WorkflowModel[];
  diagnostics: Diagnostic[];
}

// TS errors that only say "decorators are not enabled": FLX001 already says it, once.
const DECORATOR_MODE_CODES = new Set([1206, 1207, 1219, 1236, 1237, 1238, 1239, 1240, 1241, 1249, 1270, 1271, 1278, 1279]);

/**
 * A reusable analysis of one project. `analyze()` analyses everything; `refresh(changed)` re-reads the changed
 * files from disk and re-analyses only them and the files that import them (transitively).
 */
export class Analyzer {
  private readonly opts: AnalyzeOptions;
  private readonly inScope: (absFile: string) => boolean;
  private project: Project | undefined;
  private program: AnalysisProgram | undefined;
  private rootDir: string;
  private configPath = '';
  private configDiagnostics: Diagnostic[] = [];
  private configFiles = new Set<string>();
  private fatal: Diagnostic | undefined;
  private readonly files = new Map<string, FileResult>();
  /** File -> the project files it imports (direct). */
  private imports = new Map<string, Set<string>>();

  constructor(opts: AnalyzeOptions = {}) {
    this.opts = opts;
    this.inScope = scopeMatcher(opts);
    this.rootDir = path.dirname(resolveTsconfig(opts.cwd ?? process.cwd(), opts.project));
  }

  /** Loads (or reloads) the project and analyses every file in scope. */
  analyze(): AnalysisResult {
    this.files.clear();
    this.imports.clear();
    const loaded = loadProject(this.opts);
    this.rootDir = loaded.rootDir;
    if ('error' in loaded) {
      this.project = undefined;
      this.program = undefined;
      this.fatal = loaded.error;
      this.configDiagnostics = [];
      return this.result();
    }
    this.fatal = undefined;
    this.project = loaded.project;
    this.program = new AnalysisProgram(loaded.project);
    this.configPath = loaded.configPath;
    this.configDiagnostics = loaded.configDiagnostics;
    this.configFiles = loaded.configFiles;
    this.run(undefined);
    return this.result();
  }

  /**
   * Re-analyses after `changedAbsPaths` changed on disk (edited, created or deleted). Reuses the ts-morph
   * Project; a change to the tsconfig reloads everything.
   */
  refresh(changedAbsPaths: string[]): AnalysisResult {
    const project = this.project;
    if (!project || changedAbsPaths.some((p) => path.resolve(p) === this.configPath)) return this.analyze();
    const changed = new Set<string>();
    for (const raw of changedAbsPaths) {
      const abs = path.resolve(raw);
      if (!/\.[cm]?tsx?$/.test(abs) || isSkippedFile(abs)) continue;
      const file = abs.split(path.sep).join('/');
      const sf = project.getSourceFile(file);
      if (fs.existsSync(abs)) {
        if (sf) sf.refreshFromFileSystemSync();
        else if (this.isConfigFile(abs)) project.addSourceFileAtPath(abs);
        else if (this.program!.has(file)) this.program!.forget([file]);
        else continue;
      } else if (sf) {
        project.removeSourceFile(sf);
        this.files.delete(file);
        this.imports.delete(file);
      } else if (this.program!.has(file)) {
        this.program!.forget([file]);
      } else continue;
      changed.add(file);
    }
    if (changed.size === 0) return this.result();
    // Everything that imports a changed file, transitively, may see different types.
    const affected = new Set(changed);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [file, deps] of this.imports) {
        if (affected.has(file)) continue;
        for (const d of deps) {
          if (affected.has(d)) {
            affected.add(file);
            grew = true;
            break;
          }
        }
      }
    }
    this.run(affected);
    return this.result();
  }

  /**
   * Per pair of type texts `[from, to]`, whether `from` is assignable to `to` with the names of `file` (relative to
   * the project root) in scope; false when a name does not resolve. All false before a successful `analyze()`.
   */
  probeAssignable(file: string, pairs: ReadonlyArray<readonly [string, string]>): boolean[] {
    if (!this.project || !this.program) return pairs.map(() => false);
    return probeAssignable(this.project, this.program, slash(path.resolve(this.rootDir, file)), pairs);
  }

  private isConfigFile(abs: string): boolean {
    this.configFiles = configFileNames(this.configPath);
    return this.configFiles.has(abs.split(path.sep).join('/'));
  }

  /** Analyses `only` (or every root file) with a fresh checker; other files keep their cached results. */
  private run(only: Set<string> | undefined): void {
    const program = this.program!.current();
    const checker = program.getTypeChecker();
    const analysis = new ProgramAnalysis(program, this.rootDir);
    const roots = this.configFiles;

    const batch: Array<{ sf: ts.SourceFile; classes: FileClasses; out: Diagnostic[] }> = [];
    for (const sf of program.getSourceFiles()) {
      const file = sf.fileName;
      if (!roots.has(file) || isSkippedFile(file) || program.isSourceFileFromExternalLibrary(sf) || file.includes('/node_modules/')) continue;
      if (only && !only.has(file)) continue;
      this.imports.set(file, this.importsOf(sf, checker, roots));
      if (!this.inScope(file)) {
        this.files.delete(file);
        continue;
      }
      const out: Diagnostic[] = [];
      for (const d of program.getSyntacticDiagnostics(sf)) {
        const td = tsDiagnostic(d, this.rootDir);
        if (td) out.push(td);
      }
      batch.push({ sf, classes: analysis.extract(sf, out), out });
    }
    const decoratorsOff = this.configDiagnostics.some((d) => d.code === 'FLX001');
    let done = 0;
    for (const { sf, classes, out } of batch) {
      // A file whose `floxide` import does not resolve has no decorator floxide can recognise: type-checked, it says
      // why (TS2307), where the build would otherwise find no workflow and succeed.
      if (classes.workflows.length > 0 || classes.nodeClasses.length > 0 || importsUnresolvedFloxide(sf, checker)) {
        for (const d of program.getSemanticDiagnostics(sf)) {
          if (decoratorsOff && DECORATOR_MODE_CODES.has(d.code)) continue;
          if (isMissingGeneratedModule(d) || saidByFloxide(sf, d, out)) continue;
          const td = tsDiagnostic(d, this.rootDir);
          if (td) out.push(td);
        }
      }
      const models = analysis.check(classes, out);
      this.files.set(sf.fileName, { workflows: models, diagnostics: out });
      this.opts.onProgress?.(++done, batch.length);
    }
  }

  /** The project files `sf` imports or re-exports. */
  private importsOf(sf: ts.SourceFile, checker: ts.TypeChecker, roots: Set<string>): Set<string> {
    const deps = new Set<string>();
    const add = (spec: ts.Expression | undefined) => {
      if (!spec || !ts.isStringLiteral(spec)) return;
      const sym = checker.getSymbolAtLocation(spec);
      const decl = sym?.valueDeclaration ?? sym?.declarations?.[0];
      if (decl && ts.isSourceFile(decl) && roots.has(decl.fileName)) deps.add(decl.fileName);
    };
    for (const st of sf.statements) {
      if (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) add(st.moduleSpecifier);
      else if (ts.isImportEqualsDeclaration(st) && ts.isExternalModuleReference(st.moduleReference)) add(st.moduleReference.expression);
    }
    return deps;
  }

  private result(): AnalysisResult {
    const diagnostics: Diagnostic[] = [];
    if (this.fatal) diagnostics.push(this.fatal);
    diagnostics.push(...this.configDiagnostics);
    if (this.project) diagnostics.push(...outOfProjectPaths(this.opts, this.configPath, this.configFiles));
    const workflows: WorkflowModel[] = [];
    for (const r of this.files.values()) {
      diagnostics.push(...r.diagnostics);
      workflows.push(...r.workflows);
    }
    workflows.sort((a, b) => (a.class.file < b.class.file ? -1 : a.class.file > b.class.file ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { model: { version: FLOW_MODEL_VERSION, workflows }, diagnostics: sortDiagnostics(diagnostics), rootDir: this.rootDir };
  }
}

/** True when `sf` imports `floxide` (or a subpath of it) and the import does not resolve (no node_modules/floxide: Yarn PnP). */
function importsUnresolvedFloxide(sf: ts.SourceFile, checker: ts.TypeChecker): boolean {
  return sf.statements.some(
    (st) =>
      ts.isImportDeclaration(st) &&
      ts.isStringLiteral(st.moduleSpecifier) &&
      /^floxide(\/|$)/.test(st.moduleSpecifier.text) &&
      checker.getSymbolAtLocation(st.moduleSpecifier) === undefined,
  );
}

/** The codes of floxide's own reports of a decorator argument's shape (see {@link saidByFloxide}). */
const ARGUMENT_CODES = new Set(['FLX003', 'FLX005']);

/**
 * A TypeScript error inside a decorator whose arguments floxide already reported (FLX003, FLX005 in `out`): the
 * same mistake said twice (an unknown `@retry` option is also TS2353, `@workflow('a')` also TS2345). Floxide's
 * report names the options the decorator takes; TypeScript's is dropped from the build's list.
 */
function saidByFloxide(sf: ts.SourceFile, d: ts.Diagnostic, out: readonly Diagnostic[]): boolean {
  if (d.file !== sf || d.start === undefined) return false;
  const decorator = enclosing(sf, d.start, ts.isDecorator);
  if (decorator === undefined) return false;
  const [from, to] = [decorator.getStart(sf), decorator.getEnd()];
  return out.some((o) => {
    if (!ARGUMENT_CODES.has(o.code) || o.position === undefined) return false;
    const at = sf.getPositionOfLineAndCharacter(o.position.line - 1, o.position.column - 1);
    return at >= from && at < to;
  });
}

/** The innermost node of `sf` around `pos` that `is` accepts. */
function enclosing<T extends ts.Node>(sf: ts.SourceFile, pos: number, is: (n: ts.Node) => n is T): T | undefined {
  let found: T | undefined;
  const visit = (n: ts.Node): void => {
    if (pos < n.getStart(sf) || pos >= n.getEnd()) return;
    if (is(n)) found = n;
    ts.forEachChild(n, visit);
  };
  ts.forEachChild(sf, visit);
  return found;
}

/**
 * "Cannot find module './x.floxide.js'" is not an error before the first build: that module is what the build
 * writes. (A file may import its own generated module, e.g. to bind the workflow next to its definition.)
 */
function isMissingGeneratedModule(d: ts.Diagnostic): boolean {
  if (d.code !== 2307) return false;
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  return /['"][^'"]*\.floxide(\.js|\.ts)?['"]/.test(text);
}


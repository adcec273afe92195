/**
 * floxide's analysis on tsserver's program: the FLX diagnostics of one file (the same `analyzeSourceFile` pass as
 * `floxide build`, so the same positions and text), the build's versions check of its workflows (FLX050-FLX056), the
 * stale-module flag (FLX040, the same rendering as `floxide build --check`), and code fixes from the fixes the checks
 * attach.
 *
 * The analysis code runs with ts-morph's TypeScript helpers on nodes and a checker from tsserver's TypeScript. That
 * is sound when both agree on the numbering of syntax kinds and flags, which {@link incompatibility} verifies
 * (field for field) before the plugin starts; otherwise the plugin stays off and says why in the tsserver log.
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { ts as morphTs } from 'ts-morph';
import type TS from 'typescript';
import { analyzeSourceFile } from '../../compiler/analyze/session.js';
import { decoratorModeDiagnostic, isSkippedFile } from '../../compiler/analyze/project.js';
import { DIAGNOSTIC_CODES } from '../../compiler/diagnostics.js';
import { generatedModuleFreshness } from '../../compiler/freshness.js';
import type { Diagnostic, DiagnosticFix, LineColumn, WorkflowModel } from '../../compiler/model.js';
import { generatedPathFor, type OutputLayout } from '../../compiler/render.js';
import { versionsPathFor } from '../../compiler/versions/record.js';
import { TypeProbe } from './probe.js';

/** Options in the tsconfig's plugin entry: `{ "name": "floxide/ts-plugin", "outDir": "src/generated" }`. */
export interface PluginOptions {
  /** As `floxide build --out-dir` (relative to the tsconfig's directory). */
  outDir?: string;
  /** The module generated code imports the runtime from (default `floxide`). */
  runtimeModule?: string;
}

/** FLX diagnostics carry numeric codes in the editor: `FLX011` is 951011 (tsserver codes are numbers). */
export const FLX_CODE_BASE = 951000;
const numericCode = (code: string) => FLX_CODE_BASE + Number(code.slice(3));

const ENUMS = ['SyntaxKind', 'SymbolFlags', 'TypeFlags', 'ObjectFlags', 'TypeFormatFlags', 'SignatureKind', 'DiagnosticCategory', 'NodeFlags', 'ModifierFlags'] as const;

/** Why tsserver's TypeScript cannot run the analysis (an enum numbered differently), or undefined when it can. */
export function incompatibility(ts: typeof TS): string | undefined {
  for (const name of ENUMS) {
    const a = (ts as unknown as Record<string, Record<string, unknown>>)[name];
    const b = (morphTs as unknown as Record<string, Record<string, unknown>>)[name];
    if (!a || !b) return `TypeScript ${ts.version} has no ts.${name}`;
    for (const k of Object.keys(b)) {
      if (a[k] !== b[k]) return `the editor's TypeScript ${ts.version} numbers ts.${name}.${k} differently from floxide's compiler (TypeScript ${morphTs.version}); use TypeScript ${morphTs.versionMajorMinor} in the editor (the workspace version)`;
    }
  }
  return undefined;
}

interface FileResult {
  program: TS.Program;
  sf: TS.SourceFile;
  diagnostics: Diagnostic[];
  /** The FLX040 flags, with the files to write (the module, its versions file: those that differ from the build's). */
  stale: Array<{ diagnostic: Diagnostic; files: GeneratedFile[] }>;
  /** The generated module and versions file on disk these results judged (undefined: the file has no workflow). */
  disk: string | undefined;
}

/** A generated file as the build would write it, and as it is (undefined: missing). */
interface GeneratedFile {
  path: string;
  expected: string;
  current: string | undefined;
}

const slash = (p: string) => p.split(path.sep).join('/');

export class FloxideLanguageService {
  private last: FileResult | undefined;
  private readonly rootDir: string;
  /** The project's tsconfig (undefined: an inferred project, which has none). */
  private readonly configPath: string | undefined;
  private readonly layout: OutputLayout;
  private readonly probe: TypeProbe;

  constructor(
    private readonly ts: typeof TS,
    private readonly info: TS.server.PluginCreateInfo,
    options: PluginOptions,
  ) {
    const project = info.project;
    const config = project.projectKind === ts.server.ProjectKind.Configured ? project.getProjectName() : undefined;
    this.configPath = config;
    this.rootDir = slash(config ? path.dirname(config) : project.getCurrentDirectory());
    this.layout = {
      rootDir: this.rootDir,
      outDir: options.outDir ? path.resolve(this.rootDir, options.outDir) : undefined,
      runtimeModule: options.runtimeModule,
    };
    this.probe = new TypeProbe(ts, project.getCurrentDirectory());
  }

  supportedCodeFixes(): string[] {
    return Object.keys(DIAGNOSTIC_CODES).map((c) => String(numericCode(c)));
  }

  /** The plain diagnostics of `fileName` plus floxide's (a missing generated module's TS2307 becomes FLX040). */
  semanticDiagnostics(fileName: string, plain: readonly TS.Diagnostic[]): TS.Diagnostic[] {
    const r = this.analyse(fileName);
    if (!r) return [...plain];
    const out: TS.Diagnostic[] = [];
    for (const d of plain) out.push(this.missingModule(d) ?? d);
    for (const d of r.diagnostics) out.push(this.toTs(r.sf, d));
    for (const s of r.stale) out.push(this.toTs(r.sf, s.diagnostic));
    return out;
  }

  /** The fixes of floxide's diagnostics (with a code in `errorCodes`) whose span meets `start`..`end`. */
  codeFixes(fileName: string, start: number, end: number, errorCodes: readonly number[]): TS.CodeFixAction[] {
    const r = this.analyse(fileName);
    if (!r) return [];
    const wanted = new Set(errorCodes);
    const meets = (d: Diagnostic) => {
      if (!wanted.has(numericCode(d.code))) return false;
      const span = this.span(r.sf, d);
      return span !== undefined && span.start <= end && start <= span.start + span.length;
    };
    const out: TS.CodeFixAction[] = [];
    for (const d of r.diagnostics) if (meets(d)) for (const fix of d.fixes ?? []) out.push(this.toCodeFix(fix));
    for (const s of r.stale) {
      if (!meets(s.diagnostic)) continue;
      const changes: TS.FileTextChanges[] = [];
      for (const f of s.files) {
        const isNewFile = this.isNewFile(f.path, f.current);
        if (isNewFile === undefined) break;
        changes.push({ fileName: f.path, isNewFile, textChanges: [{ span: { start: 0, length: f.current?.length ?? 0 }, newText: f.expected }] });
      }
      if (changes.length < s.files.length) continue;
      out.push({ fixName: 'floxide', description: `Regenerate ${s.files.map((f) => path.basename(f.path)).join(' and ')} (as floxide build would)`, changes });
    }
    return out;
  }

  /**
   * Whether an edit of the generated module `file` (its text `current`, undefined: no such file) creates it. tsserver
   * requires that of exactly the files it has no script info for: a module on disk that the project does not include
   * (a tsconfig `exclude`, an `outDir` outside it) gets one first, so the edit replaces its text. Undefined when that
   * cannot be done: then no fix is offered, and the editor's other fixes still are.
   */
  private isNewFile(file: string, current: string | undefined): boolean | undefined {
    const service = this.info.project.projectService;
    const normalized = this.ts.server.toNormalizedPath(file);
    if (service.getScriptInfo(normalized) !== undefined) return false;
    if (current === undefined) return true;
    try {
      return service.getOrCreateScriptInfoForNormalizedPath(normalized, false) === undefined ? undefined : false;
    } catch {
      return undefined;
    }
  }

  /** Analyses a file of the current program (memoised for the program and file). */
  private analyse(fileName: string): FileResult | undefined {
    const program = this.info.languageService.getProgram();
    const sf = program?.getSourceFile(fileName);
    if (!program || !sf || isSkippedFile(sf.fileName) || program.isSourceFileFromExternalLibrary(sf) || sf.fileName.includes('/node_modules/')) return undefined;
    const mine = slash(path.relative(this.rootDir, sf.fileName));
    // `floxide build` in a terminal may write the module (excluded from the project, or unchanged) and the versions
    // file (never part of it) without a new program: the results stand only while those files are as judged
    if (this.last && this.last.program === program && this.last.sf === sf && (this.last.disk === undefined || this.last.disk === this.diskState(mine))) return this.last;
    const analysis = sf.text.includes('@')
      ? analyzeSourceFile(program as unknown as morphTs.Program, sf as unknown as morphTs.SourceFile, this.rootDir)
      : { workflows: [], diagnostics: [] };
    const diagnostics = analysis.diagnostics.filter((d) => d.position?.file === mine);
    const result: FileResult = { program, sf, diagnostics, stale: [], disk: undefined };
    const decoratorMode = this.configPath && decoratorModeDiagnostic(program.getCompilerOptions(), this.configPath, slash(path.relative(this.rootDir, this.configPath)));
    if (analysis.workflows.length > 0 && decoratorMode) {
      // the build stops at the tsconfig (and generates nothing): said on each workflow class, where FLX040 would be
      result.diagnostics = [...diagnostics, ...analysis.workflows.map((wf) => ({ ...decoratorMode, position: wf.position }))];
    } else if (analysis.workflows.length > 0 && !diagnostics.some((d) => d.severity === 'error')) {
      result.disk = this.diskState(mine);
      const checked = this.staleness(program, mine, analysis.workflows);
      result.stale = checked.stale;
      result.diagnostics = [...diagnostics, ...checked.versions];
    }
    this.last = result;
    return result;
  }

  /** The modification times and sizes of the generated module and the versions file of `source`, as one string. */
  private diskState(source: string): string {
    return [generatedPathFor(source, this.layout), versionsPathFor(source, this.layout)]
      .map((p) => {
        const st = statSync(p, { throwIfNoEntry: false });
        return st ? `${st.mtimeMs}:${st.size}` : '-';
      })
      .join(' ');
  }

  /**
   * The build's versions check of the workflows of `source` (FLX050-FLX056 where the build reports them; FLX054, on
   * the versions file in the build, on each workflow class), and FLX040 on each workflow class whose generated module
   * differs from what `floxide build` would write, or whose versions file does (`floxide build --check` fails on
   * either): the fix writes both as the build would.
   */
  private staleness(program: TS.Program, source: string, workflows: WorkflowModel[]): { stale: FileResult['stale']; versions: Diagnostic[] } {
    const genPath = slash(generatedPathFor(source, this.layout));
    const current = program.getSourceFile(genPath)?.text ?? this.ts.sys.readFile(genPath);
    const probe = (file: string, pairs: ReadonlyArray<readonly [string, string]>) => this.probe.assignable(program, slash(path.resolve(this.rootDir, file)), pairs);
    // a nested workflow of another file, as the build has it (analysed only when its version is needed)
    const analysed = new Map<string, WorkflowModel[]>();
    const workflowOf = (name: string, file: string) => {
      let models = analysed.get(file);
      if (!models) {
        const sf = program.getSourceFile(slash(path.resolve(this.rootDir, file)));
        models = sf ? analyzeSourceFile(program as unknown as morphTs.Program, sf as unknown as morphTs.SourceFile, this.rootDir).workflows : [];
        analysed.set(file, models);
      }
      return models.find((wf) => wf.name === name);
    };
    const f = generatedModuleFreshness(source, workflows, this.layout, current, { probe, workflowOf });
    const versionDiagnostics = f.diagnostics.flatMap((d) => (d.code === 'FLX054' ? workflows.map((wf) => ({ ...d, position: wf.position })) : d.position?.file === source ? [d] : []));
    const files: GeneratedFile[] = f.state === 'fresh' ? [] : [{ path: f.path, expected: f.expected, current }];
    const versions = f.versions && { ...f.versions, current: this.ts.sys.readFile(f.versions.path) };
    const versionsStale = versions !== undefined && versions.current?.replace(/\r\n/g, '\n') !== versions.expected;
    if (versionsStale) files.push(versions);
    if (files.length === 0) return { stale: [], versions: versionDiagnostics };
    const relOf = (p: string) => slash(path.relative(path.dirname(path.resolve(this.rootDir, source)), p));
    const flagged = f.state === 'stale' && f.changed.size > 0 ? workflows.filter((wf) => f.changed.has(wf.name)) : workflows;
    const stale = flagged.map((wf) => {
      const nodes = f.changed.get(wf.name) ?? [];
      const what =
        f.state === 'missing'
          ? `the generated module ${relOf(f.path)} of ${wf.name} does not exist yet`
          : f.state === 'stale'
            ? `the generated module ${relOf(f.path)} of ${wf.name} is stale${nodes.length > 0 ? ` (changed: ${nodes.join(', ')})` : ''}`
            : `the versions file ${relOf(versions!.path)} of ${wf.name} is ${versions!.current === undefined ? 'missing' : 'stale'}`;
      const diagnostic: Diagnostic = { code: 'FLX040', severity: 'warning', message: `${what}: run floxide build`, hint: DIAGNOSTIC_CODES.FLX040.hint, position: wf.position };
      return { diagnostic, files };
    });
    return { stale, versions: versionDiagnostics };
  }

  /** TS2307 "Cannot find module './x.floxide.js'" as FLX040: the build writes that module. */
  private missingModule(d: TS.Diagnostic): TS.Diagnostic | undefined {
    if (d.code !== 2307 || !d.file || d.start === undefined) return undefined;
    const spec = /['"]([^'"]*\.floxide(?:\.[cm]?[jt]s)?)['"]/.exec(this.ts.flattenDiagnosticMessageText(d.messageText, '\n'))?.[1];
    if (!spec) return undefined;
    const source = `${spec.replace(/\.floxide(\.[cm]?[jt]s)?$/, '')}.ts`;
    return {
      ...d,
      code: numericCode('FLX040'),
      source: 'floxide',
      messageText: chain(`FLX040: ${spec} is not generated yet (from ${source}): run floxide build`, DIAGNOSTIC_CODES.FLX040.hint),
    };
  }

  private toTs(sf: TS.SourceFile, d: Diagnostic): TS.Diagnostic {
    const span = this.span(sf, d) ?? { start: 0, length: 0 };
    return {
      file: sf,
      start: span.start,
      length: span.length,
      code: numericCode(d.code),
      source: 'floxide',
      category: d.severity === 'error' ? this.ts.DiagnosticCategory.Error : this.ts.DiagnosticCategory.Warning,
      messageText: chain(`${d.code}: ${d.message}`, d.hint),
    };
  }

  private span(sf: TS.SourceFile, d: Diagnostic): TS.TextSpan | undefined {
    if (!d.position) return undefined;
    const start = offsetOf(sf, d.position);
    return { start, length: tokenLength(this.ts, sf, start) };
  }

  private toCodeFix(fix: DiagnosticFix): TS.CodeFixAction {
    const byFile = new Map<string, TS.TextChange[]>();
    for (const e of fix.edits) {
      const abs = slash(path.resolve(this.rootDir, e.file));
      const sf = this.info.languageService.getProgram()?.getSourceFile(abs);
      if (!sf) continue;
      const start = offsetOf(sf, e.start);
      const list = byFile.get(abs) ?? [];
      list.push({ span: { start, length: offsetOf(sf, e.end) - start }, newText: e.newText });
      byFile.set(abs, list);
    }
    return { fixName: 'floxide', description: fix.description, changes: [...byFile].map(([fileName, textChanges]) => ({ fileName, textChanges })) };
  }
}

function chain(message: string, hint: string | undefined): TS.DiagnosticMessageChain | string {
  if (!hint) return message;
  return { messageText: message, category: 1, code: 0, next: [{ messageText: `hint: ${hint}`, category: 3, code: 0 }] };
}

function offsetOf(sf: TS.SourceFile, at: LineColumn): number {
  return sf.getPositionOfLineAndCharacter(at.line - 1, at.column - 1);
}

/**
 * How much to underline from `start`: the identifier or string literal there, else the outermost node starting
 * there that ends on the same line (a decorator), else nothing.
 */
function tokenLength(ts: typeof TS, sf: TS.SourceFile, start: number): number {
  let best: TS.Node | undefined;
  const line = sf.getLineAndCharacterOfPosition(start).line;
  const visit = (n: TS.Node): void => {
    if (n.getStart(sf) === start) {
      if (ts.isIdentifier(n) || ts.isPrivateIdentifier(n) || ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
        best = n;
        return;
      }
      if (!best && sf.getLineAndCharacterOfPosition(n.getEnd()).line === line) best = n;
    }
    n.forEachChild((c) => {
      if (c.getStart(sf) <= start && start < c.getEnd()) visit(c);
    });
  };
  visit(sf);
  return best ? best.getEnd() - start : 0;
}

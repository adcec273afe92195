/**
 * `floxide build` as a function: analyse the project, then write one generated module per source file with
 * workflows (or, in check mode, list the stale ones), and optionally the graphs under a docs directory. The CLI is
 * a thin shell over {@link buildProject}, `watchProject` (./watch.ts) and `formatBuildResult` (./report.ts).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ts } from 'ts-morph';
import type { Diagnostic, FlowModel } from './model.js';
import { Analyzer, type AnalysisResult } from './analyze/index.js';
import { sortDiagnostics } from './diagnostics.js';
import { renderDocs } from './docs.js';
import { checkVersions, strandedRecords, type StrandedRecord, type TypeProbe, type VersionNote } from './versions/check.js';
import { renderModules, type OutputLayout, type RenderCache } from './render.js';
import { recordFresh } from './stamps.js';
import { findOrphanedModules, removeFiles, writeOutputs, type WriteResult } from './writer.js';
import { resolveTsconfig } from './tsconfig-path.js';

/** Exit codes of `floxide build` (and every `floxide` command). */
export const ExitCode = {
  /** Everything is fine. */
  Ok: 0,
  /** Analysis found errors, or `--check` found stale/missing generated files. */
  Failed: 1,
  /** Bad usage (unknown option, missing tsconfig...) or an internal error. */
  Usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface BuildOptions {
  /** The tsconfig, or the folder holding it (relative to `cwd`). Default: the nearest `tsconfig.json` from `cwd` up. */
  project?: string;
  /** Files or directories to restrict the build to (relative to `cwd`). Default: the whole project. */
  paths?: string[];
  /** Directory for the generated modules (mirrors source paths under the project root). Default: next to each source. */
  outDir?: string;
  /**
   * Write nothing (but the stamps of the modules found up to date, in node_modules/.cache, see ./stamps.ts); fail
   * (exit 1) when a generated file (or a docs graph) is missing or stale.
   */
  check?: boolean;
  /** Directory to write `<Workflow>.dot`, `.svg` and `.mmd` into. */
  docs?: string;
  /** Put the FlowModel on the result's `json` (the CLI prints it). */
  json?: boolean;
  /** Working directory for relative paths. Default `process.cwd()`. */
  cwd?: string;
  /** The module generated code imports the runtime from. Default `floxide`. */
  runtimeModule?: string;
  /**
   * Changes that break runs in flight on a recorded version (FLX050-FLX053, FLX055, FLX056) are errors, not
   * warnings: for CI, so a deploy that would strand runs fails before it ships.
   */
  strictVersions?: boolean;
  /** Called after each file is analysed, with how many of how many. */
  onProgress?: (done: number, total: number) => void;
}

export interface BuildResult {
  exitCode: ExitCode;
  /** Analysis diagnostics (errors and warnings). */
  diagnostics: Diagnostic[];
  /** The model (undefined when the project could not be loaded). */
  model: FlowModel | undefined;
  /** Absolute project root. */
  rootDir: string;
  /** Generated modules. */
  modules: WriteResult;
  /** Docs graphs (empty without `docs`). */
  docs: WriteResult;
  /** The versions files (`<stem>.floxide.versions.json`, next to the generated modules). */
  versions: WriteResult;
  /** Graph versions this build records for the first time, with what changed since the previous one. */
  newVersions: VersionNote[];
  /**
   * Generated modules whose source no longer declares a workflow (or is gone): deleted by a build, reported (exit 1)
   * by `check`. Absolute paths.
   */
  orphans: string[];
  /** Versions on record left in an orphaned module's versions file for a workflow recorded elsewhere now (a warning). */
  stranded: StrandedRecord[];
  /** Usage or internal errors, one message each (exit code 2). */
  errors: string[];
  /** The FlowModel as pretty JSON, with `json`. */
  json?: string;
  /** Wall time of the whole build, in ms. */
  durationMs: number;
}

const emptyWrite = (): WriteResult => ({ written: [], unchanged: [], stale: [] });

/** Resolves and validates the options that do not need analysis. Returns an error message for bad usage. */
export function resolveOptions(opts: BuildOptions): { cwd: string; project: string } | { error: string } {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const project = resolveTsconfig(cwd, opts.project);
  if (!existsSync(project) || !statSync(project).isFile()) {
    const where = opts.project === undefined ? `no tsconfig.json in ${cwd} or a folder above it` : `tsconfig not found: ${project}`;
    return { error: `${where} (pass --project <tsconfig.json or its folder>)` };
  }
  for (const p of opts.paths ?? []) if (!existsSync(path.resolve(cwd, p))) return { error: `path not found: ${p}` };
  for (const [flag, dir] of [['--out-dir', opts.outDir], ['--docs', opts.docs]] as const) {
    const file = dir === undefined ? undefined : fileInTheWay(path.resolve(cwd, dir));
    if (file !== undefined) return { error: `${flag} ${dir}: ${file} is a file, not a folder: give a folder (created when missing)` };
  }
  return { cwd, project };
}

/** The file that stops `dir` from being a folder: `dir` itself, or the nearest of its ancestors that exists. */
function fileInTheWay(dir: string): string | undefined {
  for (let p = dir; ; p = path.dirname(p)) {
    if (existsSync(p)) return statSync(p).isDirectory() ? undefined : p;
    if (path.dirname(p) === p) return undefined;
  }
}

/** The analysis options of a build's options (paths made absolute). */
export function analyzeOptions(opts: BuildOptions, resolved: { cwd: string; project: string }) {
  return { project: resolved.project, cwd: resolved.cwd, onProgress: opts.onProgress, paths: opts.paths?.length ? opts.paths.map((p) => path.resolve(resolved.cwd, p)) : undefined };
}

/**
 * Which files the tsconfig includes (parsed without type-checking), so orphan detection never touches files of
 * another project (fixtures, benches) that happen to sit under the same root.
 */
export function projectFileTest(rootDir: string, opts: BuildOptions): (abs: string) => boolean {
  const project = resolveTsconfig(path.resolve(opts.cwd ?? process.cwd()), opts.project);
  const host: ts.ParseConfigFileHost = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined };
  const parsed = ts.getParsedCommandLineOfConfigFile(project, { ignoreDeprecations: '6.0' }, host);
  const files = new Set((parsed?.fileNames ?? []).map((f) => path.resolve(rootDir, f)));
  return (abs) => files.has(abs);
}

/**
 * Emits and writes (or checks) everything for an analysis result. `probe` answers whether a recorded input type is
 * assignable to the current one (the {@link Analyzer}'s `probeAssignable`); without it a changed input type counts
 * as narrowed.
 */
export async function buildFromAnalysis(analysis: AnalysisResult, opts: BuildOptions, started = performance.now(), cache?: RenderCache, probe?: TypeProbe): Promise<BuildResult> {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const result: BuildResult = {
    exitCode: ExitCode.Ok,
    diagnostics: analysis.diagnostics,
    model: analysis.model,
    rootDir: analysis.rootDir,
    modules: emptyWrite(),
    docs: emptyWrite(),
    versions: emptyWrite(),
    newVersions: [],
    orphans: [],
    stranded: [],
    errors: [],
    durationMs: 0,
  };
  if (opts.json) result.json = JSON.stringify(analysis.model, null, 2);
  const layout: OutputLayout = { rootDir: analysis.rootDir, outDir: opts.outDir ? path.resolve(cwd, opts.outDir) : undefined, runtimeModule: opts.runtimeModule };
  const versions = analysis.diagnostics.some((d) => d.severity === 'error') ? undefined : checkVersions(analysis.model, layout, { strict: opts.strictVersions, probe });
  if (versions) result.diagnostics = sortDiagnostics([...analysis.diagnostics, ...versions.diagnostics]);
  if (!versions || result.diagnostics.some((d) => d.severity === 'error')) {
    result.exitCode = ExitCode.Failed;
  } else {
    const modules = renderModules(analysis.model, layout, cache);
    result.modules = writeOutputs(modules, { check: opts.check });
    // So floxide/register and floxide/vite trust these modules without checking them again.
    const upToDate = new Set([...result.modules.written, ...result.modules.unchanged]);
    recordFresh(analysis.rootDir, modules.filter((m) => upToDate.has(m.path)).map((m) => ({ source: path.resolve(analysis.rootDir, m.source), generated: m.path })));
    result.versions = writeOutputs(versions.files, { check: opts.check });
    result.newVersions = versions.notes;
    const scopeRoots = opts.paths?.length ? opts.paths.map((p) => path.resolve(cwd, p)) : [analysis.rootDir];
    result.orphans = findOrphanedModules({
      dirs: layout.outDir ? [layout.outDir] : scopeRoots,
      rootDir: analysis.rootDir,
      expected: new Set(modules.map((m) => m.path)),
      isProjectFile: projectFileTest(analysis.rootDir, opts),
      inScope: (source) => scopeRoots.some((r) => source === r || source.startsWith(r + path.sep)),
    });
    result.stranded = strandedRecords(result.orphans, versions.files);
    if (!opts.check) removeFiles(result.orphans);
    if (opts.docs) result.docs = writeOutputs(await renderDocs(analysis.model, path.resolve(cwd, opts.docs)), { check: opts.check });
    if (result.modules.stale.length + result.docs.stale.length + result.versions.stale.length > 0 || (opts.check && result.orphans.length > 0)) result.exitCode = ExitCode.Failed;
  }
  result.durationMs = performance.now() - started;
  return result;
}

/** Runs `floxide build` once. Never throws for bad input: usage problems come back as `errors` with exit code 2. */
export async function buildProject(opts: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const resolved = resolveOptions(opts);
  if ('error' in resolved) return usageResult(resolved.error, started);
  try {
    const analyzer = new Analyzer(analyzeOptions(opts, resolved));
    return await buildFromAnalysis(analyzer.analyze(), opts, started, undefined, (file, pairs) => analyzer.probeAssignable(file, pairs));
  } catch (err) {
    return usageResult(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, started);
  }
}

/** The result of a build that could not start (bad usage or an internal error): exit code 2 with the message. */
export function usageResult(message: string, started: number): BuildResult {
  return {
    exitCode: ExitCode.Usage,
    diagnostics: [],
    model: undefined,
    rootDir: '',
    modules: emptyWrite(),
    docs: emptyWrite(),
    versions: emptyWrite(),
    newVersions: [],
    orphans: [],
    stranded: [],
    errors: [message],
    durationMs: performance.now() - started,
  };
}


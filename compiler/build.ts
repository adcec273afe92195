/**
 * `floxide build` as a function: analyse the project, then write one generated module per source file with
 * workflows (or, in check mode, list the stale ones), and optionally the graphs under a docs directory. The CLI is
 * a thin shell over {@link buildProject} and {@link watchProject}.
 */
import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { ts } from 'ts-morph';
import type { Diagnostic, FlowModel, WorkflowModel } from './model.js';
import { Analyzer, analyzeProject, type AnalysisResult } from './analyze/index.js';
import { formatDiagnostics, sortDiagnostics } from './diagnostics.js';
import { dotOf } from './emit/dot.js';
import { mermaidOf } from './emit/mermaid.js';
import { checkVersions, type TypeProbe, type VersionNote } from './versions/check.js';
import { findOrphanedModules, removeFiles, renderModules, writeOutputs, type OutputFile, type OutputLayout, type RenderCache, type WriteResult } from './writer.js';

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
  /** Path to the tsconfig (relative to `cwd`). Default `tsconfig.json`. */
  project?: string;
  /** Files or directories to restrict the build to (relative to `cwd`). Default: the whole project. */
  paths?: string[];
  /** Directory for the generated modules (mirrors source paths under the project root). Default: next to each source. */
  outDir?: string;
  /** Write nothing; fail (exit 1) when a generated file (or a docs graph) is missing or stale. */
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
   * Changes that break runs in flight on a recorded version (FLX050-FLX053) are errors, not warnings: for CI, so a
   * deploy that would strand runs fails before it ships.
   */
  strictVersions?: boolean;
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
  /** Usage or internal errors, one message each (exit code 2). */
  errors: string[];
  /** The FlowModel as pretty JSON, with `json`. */
  json?: string;
  /** Wall time of the whole build, in ms. */
  durationMs: number;
}

const emptyWrite = (): WriteResult => ({ written: [], unchanged: [], stale: [] });

/** Resolves and validates the options that do not need analysis. Returns an error message for bad usage. */
function resolveOptions(opts: BuildOptions): { cwd: string; project: string } | { error: string } {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const project = path.resolve(cwd, opts.project ?? 'tsconfig.json');
  if (!existsSync(project) || !statSync(project).isFile()) return { error: `tsconfig not found: ${project} (pass --project <path to tsconfig.json>)` };
  for (const p of opts.paths ?? []) if (!existsSync(path.resolve(cwd, p))) return { error: `path not found: ${p}` };
  return { cwd, project };
}

function analyzeOptions(opts: BuildOptions, resolved: { cwd: string; project: string }) {
  return { project: resolved.project, cwd: resolved.cwd, paths: opts.paths?.length ? opts.paths.map((p) => path.resolve(resolved.cwd, p)) : undefined };
}

/**
 * Which files the tsconfig includes (parsed without type-checking), so orphan detection never touches files of
 * another project (fixtures, benches) that happen to sit under the same root.
 */
function projectFileTest(rootDir: string, opts: BuildOptions): (abs: string) => boolean {
  const project = path.resolve(path.resolve(opts.cwd ?? process.cwd()), opts.project ?? 'tsconfig.json');
  const host: ts.ParseConfigFileHost = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined };
  const parsed = ts.getParsedCommandLineOfConfigFile(project, { ignoreDeprecations: '6.0' }, host);
  const files = new Set((parsed?.fileNames ?? []).map((f) => path.resolve(rootDir, f)));
  return (abs) => files.has(abs);
}

/** True when `dir` (recursively, skipping node_modules) holds a file of the project. */
function hasProjectFile(dir: string, isProjectFile: (abs: string) => boolean): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory() ? e.name !== 'node_modules' && hasProjectFile(abs, isProjectFile) : isProjectFile(abs)) return true;
  }
  return false;
}

/** Docs file stems: the workflow name, or `<source path>.<name>` when two workflows share a name. */
export function docsStems(workflows: readonly WorkflowModel[]): Map<WorkflowModel, string> {
  const count = new Map<string, number>();
  for (const wf of workflows) count.set(wf.name, (count.get(wf.name) ?? 0) + 1);
  return new Map(
    workflows.map((wf) => [wf, count.get(wf.name)! > 1 ? `${wf.class.file.replace(/\.[cm]?tsx?$/, '').replace(/[\\/]/g, '_')}.${wf.name}` : wf.name]),
  );
}

let vizInstance: Promise<{ renderString(dot: string, opts: { format: string }): string }> | undefined;

/** Renders DOT to SVG offline (Graphviz compiled to WASM). */
export async function renderSvg(dot: string): Promise<string> {
  const cached = svgCache.get(dot);
  if (cached !== undefined) return cached;
  vizInstance ??= import('@viz-js/viz').then((m) => m.instance());
  const raw = (await vizInstance).renderString(dot, { format: 'svg' });
  const svg = raw.endsWith('\n') ? raw : `${raw}\n`;
  // Rendering is pure, so `--watch` reuses the SVG of graphs that did not change (bounded: a long session stays small).
  if (svgCache.size >= 2000) svgCache.clear();
  svgCache.set(dot, svg);
  return svg;
}
const svgCache = new Map<string, string>();

/** The docs files of a model: `<dir>/<stem>.dot`, `.svg`, `.mmd` per workflow. */
export async function renderDocs(model: FlowModel, docsDir: string): Promise<OutputFile[]> {
  const files: OutputFile[] = [];
  for (const [wf, stem] of docsStems(model.workflows)) {
    const dot = dotOf(wf);
    files.push({ path: path.join(docsDir, `${stem}.dot`), content: dot });
    files.push({ path: path.join(docsDir, `${stem}.svg`), content: await renderSvg(dot) });
    files.push({ path: path.join(docsDir, `${stem}.mmd`), content: mermaidOf(wf) });
  }
  return files;
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

function usageResult(message: string, started: number): BuildResult {
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
    errors: [message],
    durationMs: performance.now() - started,
  };
}

/** How a build is reported on the terminal. */
export interface BuildReport {
  /** For stdout (the JSON model with `--json`, else the summary). */
  stdout: string;
  /** For stderr (diagnostics, stale files, errors). */
  stderr: string;
}

/** Formats a build result for the terminal (paths relative to `cwd`). */
export function formatBuildResult(result: BuildResult, opts: { cwd: string; color: boolean; check?: boolean; json?: boolean }): BuildReport {
  const rel = (p: string) => path.relative(opts.cwd, p).split(path.sep).join('/') || '.';
  let out = '';
  let err = '';
  for (const e of result.errors) err += `floxide: ${e}\n`;
  if (result.diagnostics.length > 0) err += formatDiagnostics(result.diagnostics, { color: opts.color, cwd: opts.cwd, rootDir: result.rootDir || undefined }).replace(/\n?$/, '\n');
  const stale = [...result.modules.stale, ...result.versions.stale, ...result.docs.stale];
  const orphans = opts.check ? result.orphans : [];
  if (stale.length + orphans.length > 0) {
    err += `${stale.length + orphans.length} generated file(s) are stale, missing or orphaned; run \`floxide build\`:\n`;
    for (const f of stale) err += `  ${rel(f)}${existsSync(f) ? ' (stale)' : ' (missing)'}\n`;
    for (const f of orphans) err += `  ${rel(f)} (orphaned: its source declares no workflow; a build deletes it)\n`;
  }
  if (opts.json && result.json !== undefined) out += `${result.json}\n`;
  else if (result.exitCode === ExitCode.Ok && result.model) {
    const n = result.model.workflows.length;
    const files = result.modules.written.length + result.modules.unchanged.length;
    const docs = result.docs.written.length + result.docs.unchanged.length;
    if (opts.check) {
      out += `floxide: ${n} workflow(s) in ${files} module(s) up to date`;
      if (docs > 0) out += `; ${docs} docs file(s) up to date`;
    } else {
      out += `floxide: ${n} workflow(s) in ${files} module(s): ${result.modules.written.length} written, ${result.modules.unchanged.length} unchanged`;
      if (docs > 0) out += `; docs: ${result.docs.written.length} written, ${result.docs.unchanged.length} unchanged`;
      if (result.versions.written.length > 0) out += `; versions: ${result.versions.written.length} file(s) written`;
      if (result.orphans.length > 0) out += `; removed ${result.orphans.length} orphaned module(s): ${result.orphans.map(rel).join(', ')}`;
    }
    out += ` (${Math.round(result.durationMs)} ms)\n`;
    if (!opts.check) for (const v of result.newVersions) if (v.previous) out += `floxide: ${formatNewVersion(v)}\n`;
  }
  return { stdout: out, stderr: err };
}

/** `Flow: new version 9bc1... (from 3f2a...: node polish added; safe for runs in flight)`. */
export function formatNewVersion(v: VersionNote): string {
  if (!v.previous) return `${v.workflow}: version ${v.id} recorded (the first)`;
  const unsafe = v.changes.filter((c) => !c.safe);
  const what = v.changes.length === 0 ? 'same graph' : v.changes.map((c) => c.text).join(', ');
  const verdict = unsafe.length === 0 ? 'safe for runs in flight' : `${unsafe.length} change(s) break runs in flight on ${v.previous}`;
  return `${v.workflow}: new version ${v.id} (from ${v.previous}: ${what}; ${verdict})`;
}

/** A running `--watch`. */
export interface WatchHandle {
  /** Resolves once the first build has finished. */
  readonly ready: Promise<BuildResult>;
  close(): void;
}

/**
 * Builds, then rebuilds whenever a TypeScript file under the project root changes, reusing the analysis
 * (`Analyzer.refresh`) so a one-file edit rebuilds incrementally. `onBuild` gets every result.
 */
export function watchProject(opts: BuildOptions, onBuild: (result: BuildResult, changed: string[]) => void): WatchHandle {
  const resolved = resolveOptions(opts);
  if ('error' in resolved) {
    const r = usageResult(resolved.error, performance.now());
    onBuild(r, []);
    return { ready: Promise.resolve(r), close() {} };
  }
  const analyzer = new Analyzer(analyzeOptions(opts, resolved));
  const outDir = opts.outDir ? path.resolve(resolved.cwd, opts.outDir) : undefined;
  const docsDir = opts.docs ? path.resolve(resolved.cwd, opts.docs) : undefined;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let closed = false;
  const cache: RenderCache = new Map();

  const run = (changed: string[]) =>
    (running = running.then(async () => {
      const started = performance.now();
      let result: BuildResult;
      try {
        const analysis = changed.length === 0 ? analyzer.analyze() : analyzer.refresh(changed);
        result = await buildFromAnalysis(analysis, opts, started, cache, (file, pairs) => analyzer.probeAssignable(file, pairs));
      } catch (err) {
        result = usageResult(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, started);
      }
      if (!closed) onBuild(result, changed);
      return result;
    }));

  // Watch before the first build: changes made while it runs are queued, none is missed.
  const root = path.dirname(resolved.project);
  const ignored = (abs: string) =>
    !/\.(m|c)?tsx?$/.test(abs) ||
    /\.floxide\.(m|c)?tsx?$/.test(abs) ||
    abs.split(path.sep).some((part) => part === 'node_modules' || part === '.git') ||
    (outDir !== undefined && abs.startsWith(outDir + path.sep)) ||
    (docsDir !== undefined && abs.startsWith(docsDir + path.sep));
  const onChange = (base: string) => (_event: string, name: string | Buffer | null) => {
    if (!name) return;
    const abs = path.resolve(base, name.toString());
    if (ignored(abs)) return;
    pending.add(abs);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const changed = [...pending].sort();
      pending = new Set();
      void run(changed);
    }, 30);
  };
  // The root itself (not recursively), and recursively each top-level directory holding project files: never
  // node_modules or dist, whose size would make the watch slow to set up.
  const isProjectFile = projectFileTest(root, opts);
  const topDirs = new Set<string>();
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || ['node_modules', 'dist', '.git'].includes(entry.name)) continue;
    topDirs.add(entry.name);
  }
  const watched = [...topDirs].filter((d) => hasProjectFile(path.join(root, d), isProjectFile)).sort();
  const watchers: FSWatcher[] = [watch(root, onChange(root)), ...watched.map((d) => watch(path.join(root, d), { recursive: true }, onChange(path.join(root, d))))];
  const ready = run([]) as Promise<BuildResult>;
  return {
    ready,
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

export interface GraphOptions {
  /** The workflow class name, or `<file>:<name>` (file relative to the project root) when the name is not unique. */
  workflow: string;
  format: 'dot' | 'mermaid' | 'svg';
  project?: string;
  cwd?: string;
  color?: boolean;
}

/** `floxide graph`: analyses the project and renders one workflow's graph. */
export async function graphOf(opts: GraphOptions): Promise<{ exitCode: ExitCode; stdout: string; stderr: string }> {
  const resolved = resolveOptions({ project: opts.project, cwd: opts.cwd });
  if ('error' in resolved) return { exitCode: ExitCode.Usage, stdout: '', stderr: `floxide: ${resolved.error}\n` };
  let analysis: AnalysisResult;
  try {
    analysis = analyzeProject(analyzeOptions({}, resolved));
  } catch (err) {
    return { exitCode: ExitCode.Usage, stdout: '', stderr: `floxide: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n` };
  }
  const errors = analysis.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { exitCode: ExitCode.Failed, stdout: '', stderr: formatDiagnostics(analysis.diagnostics, { color: opts.color ?? false, cwd: resolved.cwd, rootDir: analysis.rootDir }) };
  const sep = opts.workflow.lastIndexOf(':');
  const [file, name] = sep > 0 ? [opts.workflow.slice(0, sep).split(path.sep).join('/'), opts.workflow.slice(sep + 1)] : [undefined, opts.workflow];
  const matches = analysis.model.workflows.filter((wf) => wf.name === name && (file === undefined || wf.class.file === file));
  if (matches.length !== 1) {
    const known = analysis.model.workflows.map((wf) => `${wf.class.file}:${wf.name}`).join(', ') || 'none';
    const why = matches.length === 0 ? `no workflow named ${JSON.stringify(opts.workflow)}` : `${matches.length} workflows are named ${JSON.stringify(name)}: use <file>:<name>`;
    return { exitCode: ExitCode.Failed, stdout: '', stderr: `floxide: ${why} (workflows: ${known})\n` };
  }
  const wf = matches[0];
  const stdout = opts.format === 'mermaid' ? mermaidOf(wf) : opts.format === 'svg' ? await renderSvg(dotOf(wf)) : dotOf(wf);
  return { exitCode: ExitCode.Ok, stdout, stderr: '' };
}

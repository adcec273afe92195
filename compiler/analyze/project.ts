/**
 * Project loading: the user's tsconfig through ts-morph (kept alive for `--watch`), the tsconfig checks (FLX001,
 * FLX004), which files are in scope (FLX006 for a requested path the tsconfig does not include), and positions relative to the project root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Project, ts } from 'ts-morph';
import { diagnostic } from '../diagnostics.js';
import type { Diagnostic, Position } from '../model.js';
import { resolveTsconfig } from '../tsconfig-path.js';

/** Where and what to analyse. */
export interface AnalyzeOptions {
  /** The tsconfig, or the folder holding it (absolute or relative to `cwd`). Default: the nearest `tsconfig.json` from `cwd` up. */
  project?: string;
  /** Files or directories to restrict the analysis to (absolute or relative to `cwd`). Default: the whole project. */
  paths?: string[];
  /** Default `process.cwd()`. */
  cwd?: string;
  /** Called after each file is analysed, with how many of how many (a CLI shows it for builds of many files). */
  onProgress?: (done: number, total: number) => void;
}

/** A loaded project: the ts-morph Project plus what analysis needs to know about it. */
export interface LoadedProject {
  project: Project;
  /** Absolute project root (the tsconfig's directory). */
  rootDir: string;
  configPath: string;
  /** FLX001 and tsconfig parse problems. */
  configDiagnostics: Diagnostic[];
  /** The tsconfig's own files (absolute, `/`): the user files; imported library files are not among them. */
  configFiles: Set<string>;
}

/** The files a tsconfig names (include/files minus exclude), absolute with `/`. */
export function configFileNames(configPath: string): Set<string> {
  return new Set(parseConfig(configPath).fileNames.map((f) => slash(path.resolve(f))));
}

/** The tsconfig as tsc reads it (with `ignoreDeprecations: '6.0'` so pre-6 configs load). */
function parseConfig(configPath: string): { fileNames: string[]; errors: readonly ts.Diagnostic[]; references: readonly string[] } {
  let unrecoverable: ts.Diagnostic | undefined;
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, { ignoreDeprecations: '6.0' }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => (unrecoverable = d) });
  if (!parsed) return { fileNames: [], errors: unrecoverable ? [unrecoverable] : [], references: [] };
  return { fileNames: parsed.fileNames, errors: parsed.errors, references: (parsed.projectReferences ?? []).map((r) => r.path) };
}

/** Normalises a path to `/` separators. */
export function slash(p: string): string {
  return p.split(path.sep).join('/');
}

/** True for files the analysis never reads as sources: declarations and generated modules. */
export function isSkippedFile(fileName: string): boolean {
  return fileName.endsWith('.d.ts') || fileName.endsWith('.d.mts') || fileName.endsWith('.d.cts') || /\.floxide\.[cm]?tsx?$/.test(fileName);
}

/** Loads the tsconfig (with `ignoreDeprecations: '6.0'` so pre-6 configs load), or reports FLX004. */
export function loadProject(opts: AnalyzeOptions): LoadedProject | { error: Diagnostic; rootDir: string } {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const configPath = resolveTsconfig(cwd, opts.project);
  const rootDir = path.dirname(configPath);
  if (!fs.existsSync(configPath) || !fs.statSync(configPath).isFile()) {
    return { rootDir, error: diagnostic('FLX004', `tsconfig not found: ${slash(path.relative(cwd, configPath)) || configPath}`, undefined) };
  }
  const configFile = slash(path.relative(rootDir, configPath));
  let project: Project;
  try {
    // No dependency resolution: ts-morph's program would parse every dependency only for AnalysisProgram to do it again.
    project = new Project({ tsConfigFilePath: configPath, compilerOptions: { ignoreDeprecations: '6.0' }, skipFileDependencyResolution: true });
  } catch (err) {
    // (at the syntax error TypeScript found, else at the file's start: a position, as every diagnostic has)
    const syntax = ts.readConfigFile(configPath, (f) => ts.sys.readFile(f)).error;
    const position = (syntax && tsDiagnostic(syntax, rootDir)?.position) ?? { file: configFile, line: 1, column: 1 };
    return { rootDir, error: diagnostic('FLX004', `cannot load ${slash(path.relative(cwd, configPath))}: ${(err as Error).message}`, position) };
  }
  const configDiagnostics: Diagnostic[] = [];
  const config = parseConfig(configPath);
  if (config.fileNames.length === 0 && config.references.length > 0) {
    // A solution file (a monorepo's root): its projects are built one at a time, each with its own settings.
    const projects = config.references.map((r) => slash(path.relative(cwd, r)) || '.');
    return {
      rootDir,
      error: diagnostic(
        'FLX004',
        `${slash(path.relative(cwd, configPath)) || configPath} is a solution file: it has no files of its own and references ${projects.length} project(s) (${projects.join(', ')}); floxide build builds one project at a time`,
        { file: configFile, line: 1, column: 1 },
        `run it for each: ${projects.map((p) => `floxide build -p ${p}`).join(' && ')}`,
      ),
    };
  }
  for (const c of config.errors) {
    configDiagnostics.push(tsDiagnostic(c, rootDir) ?? { code: `FLX002`, severity: 'error', message: `TS${c.code}: ${ts.flattenDiagnosticMessageText(c.messageText, '\n')}`, position: { file: configFile, line: 1, column: 1 } });
  }
  const decoratorMode = decoratorModeDiagnostic(project.getCompilerOptions(), configPath, configFile);
  if (decoratorMode) configDiagnostics.push(decoratorMode);
  return { project, rootDir, configPath, configDiagnostics, configFiles: new Set(config.fileNames.map((f) => slash(path.resolve(f)))) };
}

/**
 * FLX001 when `options` (of the tsconfig at `configPath`, `configFile` as positions name it) do not enable legacy
 * decorators: `floxide build` stops at it, the `floxide/ts-plugin` shows it on the workflow classes.
 */
export function decoratorModeDiagnostic(options: ts.CompilerOptions, configPath: string, configFile: string): Diagnostic | undefined {
  if (options.experimentalDecorators === true) return undefined;
  const off = options.experimentalDecorators === false;
  return diagnostic(
    'FLX001',
    `${configFile} does not enable experimentalDecorators (floxide's decorators need the legacy decorator mode)`,
    positionOfKey(configPath, configFile, off ? 'experimentalDecorators' : 'compilerOptions'),
    off ? 'set `"experimentalDecorators": true` in "compilerOptions"' : 'add `"experimentalDecorators": true,` inside "compilerOptions"',
  );
}

/** Position of `"key"` in a JSON file (1:1 when absent). */
function positionOfKey(absPath: string, file: string, key: string): Position {
  const text = fs.readFileSync(absPath, 'utf8');
  const idx = text.indexOf(`"${key}"`);
  if (idx < 0) return { file, line: 1, column: 1 };
  const before = text.slice(0, idx).split('\n');
  return { file, line: before.length, column: before[before.length - 1].length + 1 };
}

/** 1-based position of a node's start (or of `pos`) relative to the project root. */
export function positionOf(node: ts.Node, rootDir: string, sf = node.getSourceFile()): Position {
  return positionAt(sf, node.getStart(sf), rootDir);
}

export function positionAt(sf: ts.SourceFile, pos: number, rootDir: string): Position {
  const lc = sf.getLineAndCharacterOfPosition(pos);
  return { file: slash(path.relative(rootDir, sf.fileName)), line: lc.line + 1, column: lc.character + 1 };
}

/** A TypeScript diagnostic as FLX002 (the TS message and position passed through), or undefined without a file. */
export function tsDiagnostic(d: ts.Diagnostic, rootDir: string): Diagnostic | undefined {
  if (!d.file || d.start === undefined) return undefined;
  return {
    code: 'FLX002',
    severity: d.category === ts.DiagnosticCategory.Error ? 'error' : 'warning',
    message: `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    hint: 'fix the TypeScript error; floxide build reads only code that type-checks',
    position: positionAt(d.file, d.start, rootDir),
  };
}

/** Whether an absolute file is inside the requested scope (no scope = every file). */
export function scopeMatcher(opts: AnalyzeOptions): (absFile: string) => boolean {
  if (!opts.paths || opts.paths.length === 0) return () => true;
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const roots = opts.paths.map((p) => slash(path.resolve(cwd, p)));
  return (absFile: string) => {
    const f = slash(path.resolve(absFile));
    return roots.some((r) => f === r || f.startsWith(r.endsWith('/') ? r : `${r}/`));
  };
}

/**
 * FLX006 for each requested path that holds no file of the project: a file the tsconfig does not include (or
 * excludes), or a directory without one. Without it, such a build reported "0 workflow(s)" and succeeded.
 */
export function outOfProjectPaths(opts: AnalyzeOptions, configPath: string, configFiles: ReadonlySet<string>): Diagnostic[] {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const config = slash(path.relative(cwd, configPath)) || configPath;
  const out: Diagnostic[] = [];
  for (const p of opts.paths ?? []) {
    const abs = slash(path.resolve(cwd, p));
    const shown = slash(path.relative(cwd, abs)) || '.';
    const isDir = fs.existsSync(abs) && fs.statSync(abs).isDirectory();
    if (isDir ? [...configFiles].some((f) => f.startsWith(abs.endsWith('/') ? abs : `${abs}/`)) : configFiles.has(abs)) continue;
    const what = isDir ? `no file under ${shown}/ is part of the project: ${config} includes none` : `${shown} is not part of the project: ${config} does not include it`;
    out.push(diagnostic('FLX006', `${what} (see its "include", "files" and "exclude")`, undefined));
  }
  return out;
}

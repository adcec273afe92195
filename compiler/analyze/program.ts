/**
 * The program analysis runs on, built as tsc builds it. ts-morph holds the project's own files (read once, refreshed
 * by `--watch`), but creates source files without a module format, so its program takes every file for ESM: the
 * errors of a CommonJS file (TS1295 under verbatimModuleSyntax...) went unreported, the build wrote modules that tsc
 * rejects, and imports resolved with the wrong package.json conditions. Here every file gets the format tsc gives it
 * (from its extension and the nearest package.json's "type") before its imports are resolved.
 */
import { ts, type Project } from 'ts-morph';

/** Where ts-morph serves TypeScript's lib files from (in memory, the versions bundled with it). */
const LIB_DIR = '/node_modules/typescript/lib';

export class AnalysisProgram {
  private program: ts.Program | undefined;
  /** Files outside the project (dependencies, libs), parsed once per name and module format. */
  private readonly parsed = new Map<string, ts.SourceFile>();
  private forgotten = false;

  constructor(private readonly project: Project) {}

  /** A program of the project's files as they are now, reusing what the previous one parsed and resolved. */
  current(): ts.Program {
    const own = this.project.getSourceFiles();
    const last = this.program;
    if (last && !this.forgotten && own.length === last.getRootFileNames().length && own.every((sf) => last.getSourceFile(sf.getFilePath()) === sf.compilerNode)) return last;
    this.forgotten = false;
    const options = this.project.getCompilerOptions();
    const files = this.project.getModuleResolutionHost();
    const host: ts.CompilerHost = {
      getSourceFile: (fileName, languageVersionOrOptions) => this.sourceFile(fileName, languageVersionOrOptions),
      getDefaultLibFileName: (o) => `${LIB_DIR}/${ts.getDefaultLibFileName(o)}`,
      getDefaultLibLocation: () => LIB_DIR,
      writeFile: () => undefined,
      getCurrentDirectory: () => this.project.getFileSystem().getCurrentDirectory(),
      getCanonicalFileName: (f) => f,
      useCaseSensitiveFileNames: () => true,
      getNewLine: () => '\n',
      fileExists: (f) => files.fileExists(f),
      readFile: (f) => files.readFile(f),
      directoryExists: files.directoryExists && ((d) => files.directoryExists!(d)),
      getDirectories: files.getDirectories && ((d) => files.getDirectories!(d)),
      realpath: files.realpath && ((p) => files.realpath!(p)),
    };
    const rootNames = own.map((sf) => sf.getFilePath() as string);
    this.program = ts.createProgram({ rootNames, options, host, oldProgram: this.program });
    return this.program;
  }

  /** Whether the last program read `fileName` (a dependency outside the project, for `--watch`). */
  has(fileName: string): boolean {
    return this.program?.getSourceFile(fileName) !== undefined;
  }

  /** Forgets what was parsed of files that changed on disk (outside the project: ts-morph refreshes its own). */
  forget(fileNames: Iterable<string>): void {
    this.forgotten = true;
    for (const f of fileNames) for (const key of [...this.parsed.keys()]) if (key.endsWith(`|${f}`)) this.parsed.delete(key);
  }

  private sourceFile(fileName: string, languageVersionOrOptions: ts.ScriptTarget | ts.CreateSourceFileOptions): ts.SourceFile | undefined {
    const format = typeof languageVersionOrOptions === 'object' ? languageVersionOrOptions.impliedNodeFormat : undefined;
    const own = this.project.getSourceFile(fileName);
    if (own) {
      const sf = own.compilerNode;
      sf.impliedNodeFormat = format;
      return sf;
    }
    const key = `${format}|${fileName}`;
    let sf = this.parsed.get(key);
    if (!sf) {
      const text = this.project.getModuleResolutionHost().readFile(fileName);
      if (text === undefined) return undefined;
      sf = ts.createSourceFile(fileName, text, languageVersionOrOptions, true);
      this.parsed.set(key, sf);
    }
    return sf;
  }
}

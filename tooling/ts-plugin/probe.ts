/**
 * The versions check's type probe (is a recorded input type assignable to the current one?) on tsserver's program, as
 * `floxide build` answers it on its own (compiler/analyze/probe.ts): the file where the names in the type texts are in
 * scope, with one probe assignment per pair appended; a pair whose line has any error is not assignable. The probe
 * text takes the file's place in a program that shares every other source file and module resolution with
 * tsserver's (a new checker, nothing else parsed or resolved again). Answers are memoised: by the pair alone when
 * its texts name no type (`string` to `string | number`), else by the pair and the file's text outside function
 * bodies (what a type at its top level can see), so typing in a method, or in another file, asks nothing again (a
 * type declared in another file and changed there is judged on the next change of this file, or by `floxide build`).
 */
import type TS from 'typescript';
import { probeAnswers, probeSourceText } from '../../compiler/analyze/probe.js';

const MEMO_LIMIT = 1000;

/** The words a type text may hold that mean the same in every scope. */
const SCOPE_FREE = new Set(['string', 'number', 'boolean', 'bigint', 'symbol', 'object', 'null', 'undefined', 'void', 'never', 'unknown', 'any', 'true', 'false', 'readonly', 'unique']);

/** Whether a type text names nothing that depends on the scope it is read in (only keywords and literals). */
function scopeFree(text: string): boolean {
  const words = text.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '').match(/[A-Za-z_$][\w$]*/g) ?? [];
  return words.every((w) => SCOPE_FREE.has(w));
}

/** The text of `sf` without the bodies of its functions, methods, accessors and arrow functions. */
function withoutBodies(ts: typeof TS, sf: TS.SourceFile): string {
  const cuts: Array<readonly [number, number]> = [];
  const visit = (n: TS.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      cuts.push([n.body.pos, n.body.end]);
      return;
    }
    n.forEachChild(visit);
  };
  sf.forEachChild(visit);
  let out = '';
  let at = 0;
  for (const [from, to] of cuts) {
    out += `${sf.text.slice(at, from)}{}`;
    at = to;
  }
  return out + sf.text.slice(at);
}

export class TypeProbe {
  private readonly memo = new Map<string, boolean>();

  constructor(
    private readonly ts: typeof TS,
    private readonly currentDirectory: string,
  ) {}

  /** Per pair `[from, to]` of type texts, whether `from` is assignable to `to` with the names of `absFile` in scope. */
  assignable(program: TS.Program, absFile: string, pairs: ReadonlyArray<readonly [string, string]>): boolean[] {
    const sf = program.getSourceFile(absFile);
    if (!sf) return pairs.map(() => false);
    let scope: string | undefined;
    const key = ([from, to]: readonly [string, string]) => (scopeFree(from) && scopeFree(to) ? `\0${from}\0${to}` : `${absFile}\0${(scope ??= withoutBodies(this.ts, sf))}\0${from}\0${to}`);
    const ask = pairs.filter((p) => !this.memo.has(key(p)));
    if (ask.length > 0) {
      const answers = this.check(program, sf, ask);
      if (this.memo.size + ask.length > MEMO_LIMIT) this.memo.clear();
      ask.forEach((p, i) => this.memo.set(key(p), answers[i]!));
    }
    return pairs.map((p) => this.memo.get(key(p))!);
  }

  private check(program: TS.Program, sf: TS.SourceFile, pairs: ReadonlyArray<readonly [string, string]>): boolean[] {
    const ts = this.ts;
    const options = program.getCompilerOptions();
    const base = ts.createCompilerHost(options);
    const host: TS.CompilerHost = {
      ...base,
      getCurrentDirectory: () => this.currentDirectory,
      getSourceFile: (fileName, languageVersionOrOptions, onError, fresh) =>
        fileName === sf.fileName
          ? ts.createSourceFile(fileName, probeSourceText(sf.text, pairs), languageVersionOrOptions, true)
          : (program.getSourceFile(fileName) ?? base.getSourceFile(fileName, languageVersionOrOptions, onError, fresh)),
      writeFile: () => undefined,
    };
    // the same root files: only this file's text differs, so the old program's structure (and resolution) is reused
    const probing = ts.createProgram({ rootNames: program.getRootFileNames(), options, host, oldProgram: program });
    const probe = probing.getSourceFile(sf.fileName);
    if (!probe) return pairs.map(() => false);
    return probeAnswers(probe, sf.text.split('\n').length, pairs.length, [...probing.getSyntacticDiagnostics(probe), ...probing.getSemanticDiagnostics(probe)]);
  }
}

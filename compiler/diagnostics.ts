/**
 * The diagnostic code table and the formatter `floxide build` prints with. Analysis collects {@link Diagnostic}s
 * (it never throws); the CLI prints them with {@link formatDiagnostics} and exits 1 when any is an error.
 * Every code is documented in `docs/diagnostics.md` (meaning, example, fix).
 */
import * as path from 'node:path';
import pc from 'picocolors';
import type { Diagnostic, Position, Severity } from './model.js';

/** One entry of the code table. */
export interface DiagnosticCodeInfo {
  severity: Severity;
  /** A short title (what `docs/diagnostics.md` lists). */
  title: string;
  /** The default fix, used when a diagnostic does not carry a more specific hint. */
  hint: string;
}

/** Every `FLX` code analysis can report. Codes are stable: never renumber, only add. */
export const DIAGNOSTIC_CODES = {
  FLX001: { severity: 'error', title: 'tsconfig does not enable experimentalDecorators', hint: 'add "experimentalDecorators": true to "compilerOptions" in your tsconfig.json' },
  FLX002: { severity: 'error', title: 'TypeScript error in a source file', hint: 'fix the TypeScript error; floxide build reads only code that type-checks' },
  FLX003: { severity: 'error', title: 'decorator argument is not statically readable', hint: 'write decorator arguments as literals (strings, numbers, object literals of literals); `context` takes a class name' },
  FLX004: { severity: 'error', title: 'tsconfig cannot be read', hint: 'fix the tsconfig, or pass the project\'s tsconfig.json with --project' },
  FLX006: { severity: 'error', title: 'a path given to build is not part of the project', hint: 'add the file to "include" (or "files") in the tsconfig, or pass the tsconfig that includes it with --project' },
  FLX005: { severity: 'error', title: 'decorator argument has the wrong shape', hint: 'see the decorator\'s TSDoc for the arguments it takes' },
  FLX010: { severity: 'error', title: 'unknown edge target or start', hint: 'name a field of the workflow class' },
  FLX011: { severity: 'error', title: 'success edge payload not assignable to the target input', hint: "make the target's process(ctx, input) accept the source's output" },
  FLX012: { severity: 'error', title: "fallback target does not accept the failing node's input", hint: "a fallback receives the failing node's input: make the fallback's input accept it" },
  FLX013: { severity: 'error', title: 'branch arm variant not assignable to the target input', hint: "the arm's targets receive the narrowed variant: make their input accept it" },
  FLX014: { severity: 'error', title: 'branch arms are not exhaustive', hint: 'add an @edge.when arm for each missing tag, or an @edge.otherwise(...) arm' },
  FLX015: { severity: 'error', title: 'branch on a non-discriminated output, or on a tag that is not a variant', hint: "branch on a union of object types whose discriminant property is a string literal; use the variants' tags" },
  FLX016: { severity: 'error', title: 'duplicate edge', hint: 'remove the repeated edge' },
  FLX017: { severity: 'error', title: 'missing start', hint: "declare the start node: @workflow({ start: '<field>' }), naming a node field" },
  FLX018: { severity: 'error', title: 'duplicate start', hint: 'keep exactly one @workflow decorator with one start' },
  FLX019: { severity: 'error', title: 'no terminal node', hint: 'leave at least one node without success edges or branch arms: its output completes the run' },
  FLX020: { severity: 'error', title: "node's context type does not accept the workflow's", hint: "declare @workflow({ context: C }) with a context class the node's WorkflowCtx<...> accepts" },
  FLX021: { severity: 'error', title: 'field is not a node', hint: "give the field a @node() class (or a @workflow class) type, or don't use it in edges" },
  FLX022: { severity: 'error', title: 'node class has no usable process(ctx, input)', hint: 'implement process(ctx: WorkflowCtx<C>, input: I): Transition<O> | Promise<Transition<O>>' },
  FLX023: { severity: 'error', title: 'class or field not usable from generated code', hint: 'export the class by name and make node fields public' },
  FLX024: { severity: 'error', title: 'join input is not an array, or a payload is not assignable to its element', hint: 'a @join() node takes T[] where every incoming payload is a T' },
  FLX025: { severity: 'error', title: 'success edges and branch arms on the same node', hint: 'use either @edge(...) or @edge.when/@edge.otherwise on a node, not both' },
  FLX026: { severity: 'error', title: 'misused floxide decorator', hint: 'see docs/diagnostics.md for where each decorator goes' },
  FLX027: { severity: 'error', title: 'nested workflows form a cycle', hint: 'a workflow cannot contain itself, directly or through other workflows' },
  FLX028: { severity: 'error', title: 'WaitFor signal name is not a string literal', hint: "name the signal with a string literal (`new WaitFor('approval', { payload })`): floxide build types each workflow's signals by name" },
  FLX029: { severity: 'error', title: 'a value that storage does not carry', hint: 'store data: Date, Map, Set, bigint and plain objects, arrays and primitives come back as they were; keep functions, symbols, class instances and Error objects out of contexts, inputs and outputs (declare their data as an interface or a type alias, and build the object inside the node that uses it)' },
  FLX030: { severity: 'warning', title: 'unreachable node', hint: 'add an edge to it, or remove the field' },
  FLX031: { severity: 'error', title: "a merge strategy that does not fit its field's type", hint: '@merge.sum(), max() and min() merge numbers, append() arrays, union() arrays or Sets: use @merge.lastWrite() (or @merge.with({ merge, diff })) for other values, e.g. a bigint or a Date' },
  FLX050: { severity: 'warning', title: 'a node of a recorded version is gone (removed or renamed)', hint: 'keep workers serving the old version until its runs drain (docs/deploying.md)' },
  FLX051: { severity: 'warning', title: "a node's input type is narrowed from a recorded version", hint: 'accept the old input type too (widen it), or drain the old version before its items reach the new code' },
  FLX052: { severity: 'warning', title: "a join's fan-out changed from a recorded version", hint: 'keep workers serving the old version until its runs drain: its parked join arrivals count the old fan-out' },
  FLX053: { severity: 'warning', title: "a context field's merge strategy changed from a recorded version", hint: 'keep workers serving the old version until its runs drain: their stored context deltas follow the old strategy' },
  FLX054: { severity: 'error', title: 'versions file cannot be read', hint: 'restore the file from version control, or delete it to start a new record' },
  FLX055: { severity: 'warning', title: "a wait's signal changed from a recorded version", hint: 'keep the old signal name until no run waits for it, or keep workers serving the old version until its runs drain' },
  FLX056: { severity: 'warning', title: 'a nested workflow node changed from a recorded version', hint: 'keep workers serving the old version until its runs drain' },
  FLX040: { severity: 'warning', title: 'generated module is stale or missing', hint: 'run `floxide build` (floxide/register and floxide/vite regenerate it before it is imported)' },
} as const satisfies Record<string, DiagnosticCodeInfo>;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

/** Builds a diagnostic of a table code (severity and default hint from the table). */
export function diagnostic(code: DiagnosticCode, message: string, position: Position | undefined, hint?: string): Diagnostic {
  const info: DiagnosticCodeInfo = DIAGNOSTIC_CODES[code];
  const d: Diagnostic = { code, severity: info.severity, message, hint: hint ?? info.hint };
  if (position) d.position = position;
  return d;
}

const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Orders diagnostics by file, line, column, code, message (positionless ones first). */
export function sortDiagnostics(diags: readonly Diagnostic[]): Diagnostic[] {
  return [...diags].sort((a, b) => {
    const pa = a.position;
    const pb = b.position;
    if (!pa || !pb) return (pa ? 1 : 0) - (pb ? 1 : 0) || cmpStr(a.code, b.code) || cmpStr(a.message, b.message);
    return cmpStr(pa.file, pb.file) || pa.line - pb.line || pa.column - pb.column || cmpStr(a.code, b.code) || cmpStr(a.message, b.message);
  });
}

/** Options of {@link formatDiagnostics}. */
export interface FormatOptions {
  /** ANSI colours (as tsc --pretty). */
  color: boolean;
  /** Paths are printed relative to this directory. */
  cwd: string;
  /** The directory diagnostic positions are relative to (`AnalysisResult.rootDir`). Default `cwd`. */
  rootDir?: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Formats diagnostics as `path:line:col - error FLX011: message`, an indented `hint: ...` line under each, and a
 * closing `Found N errors.` (warnings counted separately: `Found 1 error and 2 warnings.`). Empty input gives ''.
 */
export function formatDiagnostics(diags: readonly Diagnostic[], opts: FormatOptions): string {
  if (diags.length === 0) return '';
  const c = pc.createColors(opts.color);
  const root = opts.rootDir ?? opts.cwd;
  const out: string[] = [];
  for (const d of diags) {
    let where = '';
    if (d.position) {
      const rel = path.relative(opts.cwd, path.resolve(root, d.position.file)).split(path.sep).join('/') || '.';
      where = `${c.cyan(rel)}:${c.yellow(String(d.position.line))}:${c.yellow(String(d.position.column))} - `;
    }
    const sev = d.severity === 'error' ? c.red('error') : c.yellow('warning');
    out.push(`${where}${sev} ${c.gray(`${d.code}:`)} ${d.message}`);
    if (d.hint) out.push(`    ${c.gray('hint:')} ${d.hint}`);
  }
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.length - errors;
  out.push('');
  out.push(warnings > 0 ? `Found ${plural(errors, 'error')} and ${plural(warnings, 'warning')}.` : `Found ${plural(errors, 'error')}.`);
  return out.join('\n') + '\n';
}

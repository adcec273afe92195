/**
 * "No forgotten builds": before a generated module (`x.floxide.js`) is imported, make sure it exists and matches its
 * source (`x.ts`), running `floxide build` on that one source when it may not. Shared by the Node loader hook
 * (`floxide/register`) and the Vite/Vitest plugin (`floxide/vite`).
 *
 * A module is trusted without a build while the stamps recorded when it was last written or found up to date (by
 * `floxide build` or here; ../compiler/stamps.ts) still hold for the source and every file it reaches through relative
 * imports, so an unchanged project starts without loading the compiler. Otherwise `floxide build` runs on that one
 * source: it writes the module, or with `regenerate: false` only compares it. A build that finds errors leaves the
 * module as it was and answers with its diagnostics, formatted as `floxide build` prints them. Compiled output
 * (`dist/x.floxide.js`) is only checked: rebuilding it takes tsc too.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_SPECIFIER, isRecordedFresh } from '../compiler/stamps.js';
import { findTsconfig } from '../compiler/tsconfig-path.js';
import { compiledFrom } from './compiled.js';

export { GENERATED_SPECIFIER };

export type Freshness = { ok: true; built: boolean } | { ok: false; message: string };

export interface EnsureOptions {
  /** Build when stale (default). With `false` a stale or missing module is only reported. */
  regenerate?: boolean;
  /** The tsconfig (default: the nearest `tsconfig.json` above the source). */
  project?: string;
}

/** The source a generated module is built from (`a/x.floxide.js` -> `a/x.ts`, `.mjs` -> `.mts`), or undefined. */
export function sourceOfGenerated(generated: string): string | undefined {
  const m = /\.floxide(?:\.([cm]?)[jt]sx?)?$/.exec(generated);
  if (!m) return undefined;
  const base = generated.slice(0, m.index);
  const candidates = [`${base}.${m[1] ?? ''}ts`, `${base}.tsx`, `${base}.ts`];
  return candidates.find((c) => existsSync(c));
}

const rel = (root: string, p: string) => path.relative(root, p).split(path.sep).join('/');

const inFlight = new Map<string, Promise<Freshness>>();

/**
 * Makes sure the generated module at `generated` (an absolute path; `.js` or `.ts`) is up to date with its source.
 * Never throws for a user problem: the answer says what is wrong. Concurrent calls for one module share one check
 * (a dev server resolves it for several importers at once).
 */
export function ensureGenerated(generated: string, opts: EnsureOptions = {}): Promise<Freshness> {
  const key = `${generated}\u0000${opts.regenerate !== false}\u0000${opts.project ?? ''}`;
  let running = inFlight.get(key);
  if (!running) {
    running = check(generated, opts).finally(() => inFlight.delete(key));
    inFlight.set(key, running);
  }
  return running;
}

/** The TypeScript generated module a generated module's path stands for (`x.floxide.js` -> `x.floxide.ts`). */
const typeScriptModule = (generated: string) => generated.replace(/\.floxide(?:\.([cm]?)[jt]sx?)?$/, (_m, mc: string | undefined) => `.floxide.${mc ?? ''}ts`);

async function check(generated: string, opts: EnsureOptions): Promise<Freshness> {
  const source = sourceOfGenerated(generated);
  if (!source) return checkCompiled(generated, opts);
  const project = opts.project ?? findTsconfig(path.dirname(source));
  if (!project) return { ok: false, message: `${source} is not in a TypeScript project (no tsconfig.json above it), so its generated module cannot be built` };
  return checkSource(project, source, typeScriptModule(generated), opts.regenerate !== false);
}

/**
 * Whether `target` (the generated `.ts` module) is up to date with `source`: the recorded stamps when they still hold,
 * else `floxide build` of that one source, which writes the module when `build`, else only compares it. Either way
 * the build records the stamps of a module it finds up to date.
 */
async function checkSource(project: string, source: string, target: string, build: boolean): Promise<Freshness> {
  const rootDir = path.dirname(project);
  if (existsSync(target) && isRecordedFresh(rootDir, source, target)) return { ok: true, built: false };
  const key = rel(rootDir, source);
  const shown = rel(rootDir, target);
  if (!build && !existsSync(target)) return { ok: false, message: `${shown} is not generated from ${key} yet: run floxide build` };
  const { buildProject } = await import('../compiler/build.js');
  const { formatDiagnostics } = await import('../compiler/diagnostics.js');
  const result = await buildProject({ project, paths: [source], cwd: rootDir, check: !build });
  const written = result.modules.written.includes(target);
  if (written || result.modules.unchanged.includes(target)) return { ok: true, built: written };
  if (result.modules.stale.includes(target)) return { ok: false, message: `${shown} is stale: ${key} (or a file it imports) changed since it was generated; run floxide build` };
  const why = [...result.errors, formatDiagnostics(result.diagnostics, { color: false, cwd: rootDir, rootDir: result.rootDir || rootDir }).trimEnd()].filter(Boolean).join('\n');
  const what = why || `${key} declares no workflow`;
  // (with builds off nothing was built: the check found the errors a build would stop at)
  if (!build) return { ok: false, message: `${shown} cannot be checked against ${key}, which has errors (floxide build would stop at them too):\n${what}` };
  return { ok: false, message: `floxide build of ${key} failed, so ${shown} is ${existsSync(target) ? 'stale' : 'missing'}:\n${what}` };
}

/**
 * A generated module with no source next to it. Compiled output (`dist/x.floxide.js`) cannot be rebuilt here (that
 * takes `floxide build` and then tsc): when the tsconfig's `outDir` and `rootDir` lead to the generated module it was
 * compiled from and that module's source, it is checked against them (without writing) and must be newer than the
 * module; else (an `--out-dir` build, output shipped without its sources) an existing module is imported as it is.
 */
async function checkCompiled(compiled: string, opts: EnsureOptions): Promise<Freshness> {
  const project = opts.project ?? findTsconfig(path.dirname(compiled));
  const rootDir = project ? path.dirname(project) : path.dirname(compiled);
  const module = project ? compiledFrom(project, compiled) : undefined;
  const source = module && sourceOfGenerated(module);
  const shown = rel(rootDir, compiled);
  if (!module || !source || !project) {
    if (existsSync(compiled) || existsSync(typeScriptModule(compiled))) return { ok: true, built: false };
    return { ok: false, message: `${shown} does not exist, and no source file is next to it${module ? ` nor at ${rel(rootDir, module.replace(/\.floxide(\.[cm]?tsx?)$/, '$1'))}` : ''}: run floxide build` };
  }
  const origin = `${shown} is compiled from ${rel(rootDir, module)} (generated from ${rel(rootDir, source)})`;
  const advice = 'compiled output is not rebuilt on import: run floxide build && tsc';
  if (!existsSync(compiled)) return { ok: false, message: `${origin}, but it does not exist; ${advice}` };
  const generated = await checkSource(project, source, module, false);
  if (!generated.ok) return { ok: false, message: `${origin}, which is not up to date; ${advice}\n${generated.message}` };
  if (existsSync(module) && statSync(compiled).mtimeMs < statSync(module).mtimeMs) return { ok: false, message: `${origin}, but it is older than ${rel(rootDir, module)}; ${advice}` };
  return { ok: true, built: false };
}

/**
 * Source text of a module that throws `StaleGeneratedModuleError(message)` when imported (`errorsUrl`: floxide's errors
 * module). It exports `names` (what the importer imports by name, see {@link importedNames}): Node links a module's
 * named imports before it runs anything, so without them the import would fail first, with a SyntaxError that the
 * module "does not provide an export named" the workflow's definition.
 */
export function throwingModule(errorsUrl: string, message: string, names: readonly string[] = []): string {
  const named = names.filter((n) => n !== 'default');
  const exports = [named.length > 0 ? `export let ${named.join(', ')};\n` : '', names.includes('default') ? 'export default undefined;\n' : ''].join('');
  // The message on a line of its own: Node prints the throwing line under an uncaught error, which then reads cleanly.
  return `import { StaleGeneratedModuleError } from ${JSON.stringify(errorsUrl)};\n${exports}const message = ${JSON.stringify(message)};\nthrow new StaleGeneratedModuleError(message);\n`;
}

/**
 * The names a module's source text imports (or re-exports) by name from `specifier`, `default` for a default import;
 * type-only imports left out. A light reading of static `import`/`export ... from` declarations, enough to let a
 * stand-in module link.
 */
export function importedNames(text: string, specifier: string): string[] {
  const names = new Set<string>();
  const quoted = specifier.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const declaration = new RegExp(`\\b(import|export)\\s+(?!type\\s*[{\\w*])((?:(?!\\b(?:import|export)\\b)[^;'"])*?)\\s*from\\s*(['"])${quoted}\\3`, 'g');
  for (const [, keyword, clause] of text.matchAll(declaration)) {
    const braces = /\{([^}]*)\}/.exec(clause!);
    const head = clause!.replace(/\{[^}]*\}/, '').replace(/,/g, ' ').trim();
    if (keyword === 'import' && /^[A-Za-z_$][\w$]*$/.test(head)) names.add('default');
    for (const part of braces?.[1]?.split(',') ?? []) {
      const name = part.trim().split(/\s+as\s+/)[0]!.trim();
      if (name && !name.startsWith('type ')) names.add(name);
    }
  }
  return [...names].filter((n) => /^[A-Za-z_$][\w$]*$/.test(n)).sort();
}

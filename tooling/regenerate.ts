/**
 * "No forgotten builds": before a generated module (`x.floxide.js`) is imported, make sure it exists and matches its
 * source (`x.ts`), running `floxide build` on that one source when it may not. Shared by the Node loader hook
 * (`floxide/register`) and the Vite/Vitest plugin (`floxide/vite`).
 *
 * A build is needed when the source (or a file it imports by a relative path) changed since the last check: the
 * modification times and sizes seen after the last successful check are kept in
 * `<project>/node_modules/.cache/floxide/generated.json` (in memory only when the project has no node_modules), so an
 * unchanged project starts without loading the compiler. A build that finds errors leaves the module as it was and
 * answers with its diagnostics, formatted as `floxide build` prints them.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findTsconfig } from '../compiler/tsconfig-path.js';

/** A generated module's specifier or path: `./x.floxide.js`, `x.floxide.ts`, `x.floxide` (and `.mjs`/`.cjs`...). */
export const GENERATED_SPECIFIER = /\.floxide(?:\.[cm]?[jt]sx?)?$/;

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

/** The source and the project files it imports by relative path, with their mtime and size. */
function stampOf(source: string, generated: string): string {
  const files = [source, generated];
  const text = readFileSync(source, 'utf8');
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const spec = m[1];
    if (GENERATED_SPECIFIER.test(spec)) continue;
    const abs = path.resolve(path.dirname(source), spec);
    const ts = abs.replace(/\.([cm]?)js$/, '.$1ts');
    files.push(existsSync(ts) ? ts : abs);
  }
  return files
    .map((f) => {
      try {
        const s = statSync(f);
        return `${f}:${s.mtimeMs}:${s.size}`;
      } catch {
        return `${f}:-`;
      }
    })
    .join('|');
}

const memory = new Map<string, Record<string, string>>();

function cacheFile(rootDir: string): string | undefined {
  const modules = path.join(rootDir, 'node_modules');
  return existsSync(modules) ? path.join(modules, '.cache', 'floxide', 'generated.json') : undefined;
}

function readStamps(rootDir: string): Record<string, string> {
  let stamps = memory.get(rootDir);
  if (stamps) return stamps;
  stamps = {};
  const file = cacheFile(rootDir);
  if (file && existsSync(file)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) stamps = Object.assign(Object.create(null), parsed) as Record<string, string>;
    } catch {
      // A damaged cache only costs a build.
    }
  }
  memory.set(rootDir, stamps);
  return stamps;
}

function writeStamps(rootDir: string, stamps: Record<string, string>): void {
  const file = cacheFile(rootDir);
  if (!file) return;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(stamps, null, 2)}\n`);
  } catch {
    // Read-only node_modules: the stamps stay in memory.
  }
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

async function check(generated: string, opts: EnsureOptions): Promise<Freshness> {
  const source = sourceOfGenerated(generated);
  const target = generated.replace(/\.floxide(?:\.([cm]?)[jt]sx?)?$/, (_m, mc: string | undefined) => `.floxide.${mc ?? ''}ts`);
  if (!source) {
    // Not next to its source (an --out-dir build, or a generated module whose source is gone): nothing to rebuild from.
    // Compiled output (dist/x.floxide.js) is imported as it is.
    return existsSync(target) || existsSync(generated) ? { ok: true, built: false } : { ok: false, message: `${target} does not exist and no source file is next to it: run floxide build` };
  }
  const project = opts.project ?? findTsconfig(path.dirname(source));
  if (!project) return { ok: false, message: `${source} is not in a TypeScript project (no tsconfig.json above it), so its generated module cannot be built` };
  const rootDir = path.dirname(project);
  const stamps = readStamps(rootDir);
  const key = rel(rootDir, source);
  if (existsSync(target) && stamps[key] === stampOf(source, target)) return { ok: true, built: false };
  if (opts.regenerate === false) {
    return { ok: false, message: `${rel(rootDir, target)} is ${existsSync(target) ? 'not checked against' : 'not generated from'} ${key} yet: run floxide build` };
  }
  const { buildProject } = await import('../compiler/build.js');
  const { formatDiagnostics } = await import('../compiler/diagnostics.js');
  const result = await buildProject({ project, paths: [source], cwd: rootDir });
  if (result.exitCode !== 0 || !existsSync(target)) {
    const why = [...result.errors, formatDiagnostics(result.diagnostics, { color: false, cwd: rootDir, rootDir: result.rootDir || rootDir }).trimEnd()].filter(Boolean).join('\n');
    return { ok: false, message: `floxide build of ${key} failed, so ${rel(rootDir, target)} is ${existsSync(target) ? 'stale' : 'missing'}:\n${why || `${key} declares no workflow`}` };
  }
  stamps[key] = stampOf(source, target);
  writeStamps(rootDir, stamps);
  return { ok: true, built: result.modules.written.length > 0 };
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
  return `import { StaleGeneratedModuleError } from ${JSON.stringify(errorsUrl)};\n${exports}throw new StaleGeneratedModuleError(${JSON.stringify(message)});\n`;
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

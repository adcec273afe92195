/**
 * Which generated modules were last found up to date with their sources: per source, the modification time and size
 * of the source, of every file it reaches through relative imports and re-exports (transitively), and of the
 * generated module, as they were when the module was written or checked. Kept in
 * `<project>/node_modules/.cache/floxide/generated.json` (in memory only when the project has no node_modules).
 * `floxide build` records the modules it writes or finds unchanged; `floxide/register` and `floxide/vite` trust a
 * module whose recorded stamps still hold, so an unchanged project starts without loading the compiler.
 *
 * Light on purpose (node:fs only): the import hooks load it on every start.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A generated module's specifier or path: `./x.floxide.js`, `x.floxide.ts`, `x.floxide` (and `.mjs`/`.cjs`...). */
export const GENERATED_SPECIFIER = /\.floxide(?:\.[cm]?[jt]sx?)?$/;

/** At most this many files are followed from one source (a bound for a project that imports everything). */
const MAX_FILES = 2000;

/** File (relative to the project, `/`-separated) -> `mtime:size`, or `-` when it does not exist. */
type Stamp = Record<string, string>;
/** Source (relative to the project) -> its stamp. */
type Stamps = Record<string, Stamp>;

const slash = (p: string) => p.split(path.sep).join('/');
const rel = (root: string, p: string) => slash(path.relative(root, p));

function statOf(file: string): string {
  try {
    const s = statSync(file);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return '-';
  }
}

/** The file a relative specifier names: `./a.js` -> `a.ts` when it exists, `./dir` -> `dir/index.ts`... */
function resolveRelative(from: string, spec: string): string {
  const abs = path.resolve(path.dirname(from), spec.split(/[?#]/)[0]!);
  const ts = abs.replace(/\.([cm]?)js(x?)$/, '.$1ts$2');
  const candidates = [ts, abs, `${abs}.ts`, `${abs}.tsx`, path.join(abs, 'index.ts'), path.join(abs, 'index.tsx')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? ts;
}

/** Relative `import`/`export ... from`/`import()` specifiers of a module's text (generated modules left out). */
function relativeImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) if (!GENERATED_SPECIFIER.test(m[1]!.split(/[?#]/)[0]!)) out.push(m[1]!);
  return out;
}

/** The stamp of `source` and `generated` now: the source's relative imports followed transitively (read, so slower). */
function stampOf(rootDir: string, source: string, generated: string): Stamp {
  const stamp: Stamp = { [rel(rootDir, generated)]: statOf(generated) };
  const queue = [source];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const file = queue.shift()!;
    stamp[rel(rootDir, file)] = statOf(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const spec of relativeImports(text)) {
      const next = resolveRelative(file, spec);
      if (seen.size >= MAX_FILES || seen.has(next) || next.includes(`${path.sep}node_modules${path.sep}`)) continue;
      seen.add(next);
      queue.push(next);
    }
  }
  return stamp;
}

const memory = new Map<string, Stamps>();

function cacheFile(rootDir: string): string | undefined {
  const modules = path.join(rootDir, 'node_modules');
  return existsSync(modules) ? path.join(modules, '.cache', 'floxide', 'generated.json') : undefined;
}

function readCache(rootDir: string): Stamps {
  const file = cacheFile(rootDir);
  const stamps: Stamps = Object.create(null) as Stamps;
  if (!file || !existsSync(file)) return stamps;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return stamps;
    for (const [key, value] of Object.entries(parsed)) if (value && typeof value === 'object' && !Array.isArray(value)) stamps[key] = value as Stamp;
  } catch {
    // A damaged cache only costs a check.
  }
  return stamps;
}

function stampsOf(rootDir: string): Stamps {
  let stamps = memory.get(rootDir);
  if (!stamps) memory.set(rootDir, (stamps = readCache(rootDir)));
  return stamps;
}

/**
 * Whether the generated module `generated` of `source` (absolute paths) is recorded as up to date and nothing it
 * was checked with changed since: one `stat` per recorded file, nothing read. `rootDir`: the tsconfig's directory.
 */
export function isRecordedFresh(rootDir: string, source: string, generated: string): boolean {
  const stamp = stampsOf(rootDir)[rel(rootDir, source)];
  if (!stamp || stamp[rel(rootDir, generated)] === undefined) return false;
  return Object.entries(stamp).every(([file, seen]) => statOf(path.resolve(rootDir, file)) === seen);
}

/**
 * Records that each generated module is up to date with its source (absolute paths), as they are on disk now. The
 * cache file is read again first, so what another process recorded meanwhile is kept.
 */
export function recordFresh(rootDir: string, modules: readonly { source: string; generated: string }[]): void {
  if (modules.length === 0) return;
  const file = cacheFile(rootDir);
  const stamps = file ? readCache(rootDir) : stampsOf(rootDir);
  for (const m of modules) stamps[rel(rootDir, m.source)] = stampOf(rootDir, m.source, m.generated);
  memory.set(rootDir, stamps);
  if (!file) return;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(stamps, null, 2)}\n`);
    renameSync(tmp, file);
  } catch {
    // Read-only node_modules: the stamps stay in memory.
  }
}

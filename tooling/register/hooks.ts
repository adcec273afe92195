/**
 * The module hooks of `floxide/register` (they run on Node's hooks thread). `resolve` catches specifiers of
 * generated modules, brings the module up to date ({@link ensureGenerated}), and when it cannot, resolves to a
 * stand-in module (`floxide-stale:` and the module's path) that `load` answers with source that throws a
 * `StaleGeneratedModuleError` on the importing thread, so the error is floxide's own class (the same module instance
 * as the application's `floxide` import) with the build's diagnostics. The stand-in exports the names its importer
 * imports from it, so the importer links and the error is the one it sees.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureGenerated, GENERATED_SPECIFIER, importedNames, throwingModule } from '../regenerate.js';

interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
  importAttributes?: Record<string, string>;
}
type ResolveResult = { url: string; format?: string | null; shortCircuit?: boolean };
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;
type LoadResult = { format?: string | null; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean };
type NextLoad = (url: string, context: { format?: string | null; conditions?: string[] }) => Promise<LoadResult>;

let regenerate = true;
// The errors module of this very package: the application's `floxide` import loads the same file.
const ERRORS_URL = new URL('../../runtime/core/errors.js', import.meta.url).href;
const STALE_SCHEME = 'floxide-stale:';
/** Stand-in module URL -> its source. A short URL, so an uncaught error's stack reads cleanly. */
const standIns = new Map<string, string>();

export function initialize(data: { regenerate?: boolean } | undefined): void {
  regenerate = data?.regenerate !== false;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<ResolveResult> {
  const bare = specifier.split(/[?#]/)[0];
  if (!GENERATED_SPECIFIER.test(bare) || !context.parentURL?.startsWith('file:') || !(bare.startsWith('.') || bare.startsWith('/') || bare.startsWith('file:'))) {
    return nextResolve(specifier, context);
  }
  const generated = fileURLToPath(new URL(bare, context.parentURL));
  const fresh = await ensureGenerated(generated, { regenerate });
  if (!fresh.ok) {
    const names = importedNames(readFileSync(fileURLToPath(context.parentURL), 'utf8'), bare);
    // One stand-in per set of names: Node keeps one module per URL, and each importer needs its names exported.
    const url = `${STALE_SCHEME}${pathToFileURL(generated).pathname}${names.length > 0 ? `?${names.join(',')}` : ''}`;
    standIns.set(url, throwingModule(ERRORS_URL, fresh.message, names));
    return { url, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url: string, context: { format?: string | null; conditions?: string[] }, nextLoad: NextLoad): Promise<LoadResult> {
  const source = url.startsWith(STALE_SCHEME) ? standIns.get(url) : undefined;
  return source === undefined ? nextLoad(url, context) : { format: 'module', source, shortCircuit: true };
}

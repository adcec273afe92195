/**
 * The module hooks of `floxide/register` (they run on Node's hooks thread). `resolve` catches specifiers of
 * generated modules, brings the module up to date ({@link ensureGenerated}), and when it cannot, resolves to a
 * `data:` module that throws a `StaleGeneratedModuleError` on the importing thread, so the error is floxide's own
 * class (the same module instance as the application's `floxide` import) with the build's diagnostics. That module
 * exports the names its importer imports from it, so the importer links and the error is the one it sees.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureGenerated, GENERATED_SPECIFIER, importedNames, throwingModule } from '../regenerate.js';

interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
  importAttributes?: Record<string, string>;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

let regenerate = true;
// The errors module of this very package: the application's `floxide` import loads the same file.
const ERRORS_URL = new URL('../../runtime/core/errors.js', import.meta.url).href;

export function initialize(data: { regenerate?: boolean } | undefined): void {
  regenerate = data?.regenerate !== false;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<{ url: string; format?: string | null; shortCircuit?: boolean }> {
  const bare = specifier.split(/[?#]/)[0];
  if (!GENERATED_SPECIFIER.test(bare) || !context.parentURL?.startsWith('file:') || !(bare.startsWith('.') || bare.startsWith('/') || bare.startsWith('file:'))) {
    return nextResolve(specifier, context);
  }
  const generated = fileURLToPath(new URL(bare, context.parentURL));
  const fresh = await ensureGenerated(generated, { regenerate });
  if (!fresh.ok) {
    const module = throwingModule(ERRORS_URL, fresh.message, importedNames(readFileSync(fileURLToPath(context.parentURL), 'utf8'), bare));
    return { url: `data:text/javascript,${encodeURIComponent(module)}`, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

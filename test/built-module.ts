/**
 * A test's child-process module as the built package runs it: the `.ts` module (a `floxide worker` module, a child
 * that runs a checkpointed workflow) bundled by esbuild (tsx's, hoisted) into one ES module with every package left
 * out, in a temp folder whose `node_modules/floxide` links to the repository, so that it imports the built package
 * (dist/, which `npm test` builds first) as a compiled user module does. Node then runs it, or `dist/cli/cli.js worker
 * <bundle>`, without tsx: no TypeScript transform of the CLI and the runtime at each start.
 *
 * The module must reach floxide through its package names (`floxide`, `floxide/sqlite`...), not the sources' paths:
 * an inlined runtime would look for its SQL and Lua files beside the bundle. Bundled once per test file and module;
 * the folder is removed after the file.
 */
import { buildSync } from 'esbuild';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let dir: string | undefined;
const bundles = new Map<string, string>();
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  bundles.clear();
});

/** The bundle of `module` (a path, absolute or from the repository's root), made on first use. */
export function builtModule(module: string): string {
  const known = bundles.get(module);
  if (known) return known;
  if (!dir) {
    const made = mkdtempSync(path.join(tmpdir(), 'floxide-built-'));
    // readable by all: a test runs some children as another user
    chmodSync(made, 0o755);
    mkdirSync(path.join(made, 'node_modules'));
    symlinkSync(ROOT, path.join(made, 'node_modules/floxide'), 'dir');
    dir = made;
  }
  const outfile = path.join(dir, `${bundles.size}-${path.basename(module).replace(/\.[cm]?ts$/, '')}.mjs`);
  buildSync({
    entryPoints: [path.resolve(ROOT, module)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    // packages are imported, not inlined: the child modules import only floxide (the one package the temp folder
    // resolves) and node: modules
    packages: 'external',
    // the repository's tsconfig maps `floxide` to the sources: only its decorator settings apply
    tsconfigRaw: { compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false } },
    logLevel: 'error',
  });
  bundles.set(module, outfile);
  return outfile;
}

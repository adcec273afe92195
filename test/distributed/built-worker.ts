/**
 * A worker module of the test fixtures as the built bin loads it: the `.ts` module bundled by esbuild (tsx's, hoisted)
 * into one ES module with `floxide` left out, in a temp folder whose `node_modules/floxide` links to the repository, so
 * that it imports the built package (dist/, which `npm test` builds first), as a compiled user module does. Node then
 * runs `dist/cli/cli.js worker <bundle>` without tsx: no TypeScript transform of the CLI and the runtime at each start.
 *
 * Bundled once per test process and module; the folder is removed when the process exits.
 */
import { buildSync } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let dir: string | undefined;
const bundles = new Map<string, string>();

/** The bundle of `module` (a path from the repository's root `root`), made on first use. */
export function builtWorkerModule(root: string, module: string): string {
  const known = bundles.get(module);
  if (known) return known;
  if (!dir) {
    const made = mkdtempSync(path.join(tmpdir(), 'floxide-worker-'));
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    mkdirSync(path.join(made, 'node_modules'));
    symlinkSync(root, path.join(made, 'node_modules/floxide'), 'dir');
    dir = made;
  }
  const outfile = path.join(dir, `${bundles.size}-${path.basename(module).replace(/\.[cm]?ts$/, '')}.mjs`);
  buildSync({
    entryPoints: [path.resolve(root, module)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    // packages are imported, not inlined: the worker fixtures import only floxide (the one the temp folder resolves)
    // and node: modules
    packages: 'external',
    // the repository's tsconfig maps `floxide` to the sources: only its decorator settings apply
    tsconfigRaw: { compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false } },
    logLevel: 'error',
  });
  bundles.set(module, outfile);
  return outfile;
}

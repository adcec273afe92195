/**
 * Reading the package's own non-JavaScript files (the Redis backend's Lua scripts, the Postgres SQL, the SQLite
 * migrations), which lie next to the module that reads them, in the sources and in dist/ alike. A bundler that
 * inlines floxide into an application's single file leaves them behind: the read then fails with an error that says
 * so, not with a bare ENOENT under a connection error.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PackageFileMissingError } from './errors.js';

/** The text of the package file at `url` (relative to the calling module); `what` names it for the error. */
export function readPackageFile(url: URL, what: string): string {
  try {
    return readFileSync(url, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    throw new PackageFileMissingError(
      `floxide cannot find ${what} at ${fileURLToPath(url)}: floxide reads it from beside its own modules, so an application bundle must leave floxide out (esbuild --packages=external or --external:floxide; see "Bundling" in floxide's README)`,
      { cause: err },
    );
  }
}

/**
 * The package's own Lua and SQL files are read from beside the module that needs them; one missing (floxide inlined
 * into an application bundle leaves them behind) is a StoreError that says to leave floxide out of the bundle.
 */
import { describe, expect, it } from 'vitest';
import { PackageFileMissingError, StoreError } from '../../runtime/core/errors.js';
import { readPackageFile } from '../../runtime/core/package-file.js';

describe('readPackageFile', () => {
  it('reads a file of the package', () => {
    expect(readPackageFile(new URL('../../runtime/stores/migrations/001_init.sql', import.meta.url), 'the first migration')).toMatch(/CREATE TABLE/i);
  });

  it('a missing one is a StoreError naming it, where it was looked for, and what to do', () => {
    const url = new URL('./no-such-dir/x.lua', import.meta.url);
    expect(() => readPackageFile(url, 'the Redis script lua/x.lua')).toThrow(StoreError);
    expect(() => readPackageFile(url, 'the Redis script lua/x.lua')).toThrow(PackageFileMissingError);
    expect(() => readPackageFile(url, 'the Redis script lua/x.lua')).toThrow(
      `floxide cannot find the Redis script lua/x.lua at ${new URL(url).pathname}: floxide reads it from beside its own modules, so an application bundle must leave floxide out (esbuild --packages=external or --external:floxide; see "Bundling" in floxide's README)`,
    );
  });
});

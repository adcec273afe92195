/**
 * A missing optional driver is a MissingDependencyError that says what needs it and the commands that install it:
 * for pg also its types, which floxide/postgres's declarations use (README "Getting started in your own project").
 */
import { describe, expect, it } from 'vitest';
import { MissingDependencyError } from '../../runtime/core/errors.js';
import { importOptional, missingDependencyError, requireOptional } from '../../runtime/core/optional.js';

describe('optional drivers', () => {
  it('a package that is not installed is a MissingDependencyError naming it and its install command', async () => {
    const imported = importOptional('floxide-no-such-driver', 'SomeStore (floxide/some)');
    await expect(imported).rejects.toBeInstanceOf(MissingDependencyError);
    await expect(imported).rejects.toThrow('SomeStore (floxide/some) needs the package floxide-no-such-driver, which is not installed: run `npm install floxide-no-such-driver`');
    expect(() => requireOptional('floxide-no-such-driver', 'SomeStore')).toThrow(MissingDependencyError);
  });

  it('names the version range the stores are tested with, and @types/pg for pg only', () => {
    const pg = missingDependencyError('pg', 'PostgresBackend (floxide/postgres)');
    expect(pg.message).toBe(
      'PostgresBackend (floxide/postgres) needs the package pg, which is not installed: run `npm install pg@^8.23.1` (and `npm install -D @types/pg` to type-check code that imports it)',
    );
    expect(pg.code).toBe('FLOXIDE_MISSING_DEPENDENCY');
    expect(missingDependencyError('better-sqlite3', 'SqliteCheckpointStore (floxide/sqlite)').message).toBe(
      'SqliteCheckpointStore (floxide/sqlite) needs the package better-sqlite3, which is not installed: run `npm install better-sqlite3@^12.11.1`',
    );
    expect(missingDependencyError('@redis/client', 'RedisBackend (floxide/redis)').message).not.toContain('@types');
  });
});

/**
 * Loading the optional peer dependencies (database drivers, OpenTelemetry) when a store is opened or tracing is
 * turned on, not when `floxide` is imported, with a {@link MissingDependencyError} that names the package to
 * install when one is missing.
 */
import { createRequire } from 'node:module';
import { MissingDependencyError } from './errors.js';

/** The versions the stores (and tracing) are tested with (package.json `peerDependencies`). */
const RANGES: Readonly<Record<string, string>> = { 'better-sqlite3': '^12.11.1', pg: '^8.23.1', '@redis/client': '^6.3.1', '@opentelemetry/api': '^1.9.0' };

/**
 * The `@types` package a driver needs beside it: floxide's declarations use pg's types (`PostgresBackendOptions.pool`
 * is pg's `PoolConfig`), and pg ships none. better-sqlite3's types appear in no published declaration; @redis/client
 * and @opentelemetry/api ship their own.
 */
const TYPES: Readonly<Record<string, string>> = { pg: '@types/pg' };

const require = createRequire(import.meta.url);

/** The error for a driver that is not installed: what needs it, and the commands that install it (and its types). */
export function missingDependencyError(name: string, feature: string, cause?: unknown): MissingDependencyError {
  const range = RANGES[name];
  const types = TYPES[name];
  return new MissingDependencyError(
    `${feature} needs the package ${name}, which is not installed: run \`npm install ${name}${range ? `@${range}` : ''}\`` +
      (types ? ` (and \`npm install -D ${types}\` to type-check code that imports it)` : ''),
    { cause },
  );
}

/** True when `err` says that `name` itself (not something it depends on) could not be found. */
function isNotFound(err: unknown, name: string): boolean {
  const code = (err as { code?: unknown })?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  const message = (err as Error).message ?? '';
  return message.includes(`'${name}'`) || message.includes(`"${name}"`);
}

/** `require(name)` for a CommonJS driver needed synchronously; `feature` says what needs it (for the error). */
export function requireOptional<T>(name: string, feature: string): T {
  try {
    return require(name) as T;
  } catch (err) {
    throw isNotFound(err, name) ? missingDependencyError(name, feature, err) : err;
  }
}

/** `import(name)`; `feature` says what needs it (for the error). */
export async function importOptional<T>(name: string, feature: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    throw isNotFound(err, name) ? missingDependencyError(name, feature, err) : err;
  }
}

/**
 * Opens a distributed backend from a store URL, as the CLI's `--store` takes it:
 * - `redis://[user:pass@]host:port[/db][?prefix=floxide:][&events=100000]` (also `rediss://`): {@link RedisBackend}
 *   (`events`: how many events the stream keeps, `0` = publish none);
 * - `postgres://user@host:port/db[?schema=floxide][&events=0]` (also `postgresql://`): the Postgres backend (`events=0`:
 *   record no events).
 * The backend modules are imported lazily, so a Redis user never loads `pg` and the other way round.
 */
import { InvalidArgumentError, MissingDependencyError, PackageFileMissingError, SchemaMissingError, SchemaSetupError, StoreError } from '../core/errors.js';
import type { DistributedBackend } from './contracts.js';

/** Options that apply whatever the URL says (the URL's own `prefix` / `schema` parameters win). */
export interface ConnectOptions {
  /** Redis key prefix (default `floxide:`). */
  readonly keyPrefix?: string;
  /** Postgres schema (default the backend's). */
  readonly schema?: string;
  /** Postgres: create the schema when it does not exist (default true; see `PostgresBackendOptions.createSchema`). */
  readonly createSchema?: boolean;
}

/** The URL schemes {@link connectBackend} opens. */
export const DISTRIBUTED_SCHEMES: readonly string[] = ['redis', 'rediss', 'postgres', 'postgresql'];

/** The URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/**
 * The query parameters a postgres store URL may carry besides floxide's own (`schema`, `events`): what pg and its
 * connection-string parser read. Any other is refused, as a misspelling (pg would ignore it silently, and a
 * misspelt `schema` would act on another namespace's runs).
 */
const PG_URL_PARAMETERS: ReadonlySet<string> = new Set([
  'host', 'port', 'user', 'password', 'database', 'db', 'encoding', 'client_encoding', 'options', 'application_name',
  'fallback_application_name', 'ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslnegotiation', 'uselibpqcompat',
  'replication', 'binary', 'statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', 'query_timeout',
  'connect_timeout', 'keepalives', 'keepalives_idle',
]);

/** Refuses a query parameter of `url` that neither floxide (`own`) nor the driver (`driver`) reads. */
function checkParameters(parsed: URL, url: string, own: readonly string[], driver: ReadonlySet<string>): void {
  for (const name of new Set(parsed.searchParams.keys())) {
    if (own.includes(name) || driver.has(name)) continue;
    const reads = driver.size > 0 ? `${own.join(' and ')}, and the driver's connection parameters` : own.join(' and ');
    throw new InvalidArgumentError(`unknown parameter ${JSON.stringify(name)} in the store URL ${JSON.stringify(redactUrl(url))}: it reads ${reads}`);
  }
}

/**
 * The error for a `sqlite:<file>` URL given where a distributed store is needed (a worker, schedules): a checkpoint
 * file has no workers and keeps no schedules. Thrown by {@link connectBackend}; `floxide schedule` throws it before
 * opening anything, so a missing file says the same.
 */
export function notDistributedError(url: string): InvalidArgumentError {
  return new InvalidArgumentError(`${redactUrl(url)} is a SQLite checkpoint file, of local runs (runWithCheckpoint / resume): it has no workers and keeps no schedules; use a redis:// or postgres:// store`);
}

/**
 * Connects to the store at `url`. Throws {@link InvalidArgumentError} for a malformed URL or an unknown scheme,
 * {@link SchemaMissingError} for a Postgres schema that does not exist with `createSchema: false`,
 * {@link SchemaSetupError} for one the server refused to prepare (a privilege the role lacks: what to grant), and
 * {@link StoreError} (naming the URL, password hidden) when the store cannot be reached.
 */
export async function connectBackend(url: string, options: ConnectOptions = {}): Promise<DistributedBackend> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`invalid store URL ${JSON.stringify(redactUrl(url))}: expected redis://host:port or postgres://user@host:port/db`);
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  try {
    if (scheme === 'redis' || scheme === 'rediss') {
      // (node-redis reads no query parameter, and only a database number as the path)
      checkParameters(parsed, url, ['prefix', 'events'], new Set());
      if (!/^\/?([0-9]{1,5})?$/.test(parsed.pathname)) throw new InvalidArgumentError(`the path of a redis store URL is a database number (e.g. redis://127.0.0.1:6379/2), got ${JSON.stringify(parsed.pathname)} in ${JSON.stringify(redactUrl(url))}`);
      const keyPrefix = parsed.searchParams.get('prefix') ?? options.keyPrefix;
      const events = parsed.searchParams.get('events');
      parsed.searchParams.delete('prefix');
      parsed.searchParams.delete('events');
      if (events !== null && !/^[0-9]{1,12}$/.test(events)) throw new InvalidArgumentError(`the events parameter of a store URL must be a non-negative integer, got ${JSON.stringify(events)}`);
      const { RedisBackend } = await import('./redis/backend.js');
      // Fail fast when the server is not there at all; once connected, reconnect (with backoff) forever.
      let connected = false;
      const backend = await RedisBackend.connect({
        url: parsed.toString(),
        ...(keyPrefix === undefined ? {} : { keyPrefix }),
        ...(events === null ? {} : { eventRetention: Number(events) }),
        client: {
          socket: {
            connectTimeout: 5_000,
            reconnectStrategy: (retries: number, cause: Error) => (!connected && retries >= 2 ? cause : Math.min(25 * 2 ** retries, 1_000)),
          },
        },
      });
      connected = true;
      return backend;
    }
    if (scheme === 'postgres' || scheme === 'postgresql') {
      checkParameters(parsed, url, ['schema', 'events'], PG_URL_PARAMETERS);
      const schema = parsed.searchParams.get('schema') ?? options.schema;
      const events = parsed.searchParams.get('events');
      parsed.searchParams.delete('schema');
      parsed.searchParams.delete('events');
      if (events !== null && events !== '0' && events !== '1') throw new InvalidArgumentError(`the events parameter of a postgres store URL is 0 (record no events) or 1, got ${JSON.stringify(events)}`);
      const { PostgresBackend } = await import('./postgres/backend.js');
      return await PostgresBackend.connect({
        connectionString: parsed.toString(),
        ...(schema === undefined ? {} : { schema }),
        ...(events === null ? {} : { events: events === '1' }),
        ...(options.createSchema === undefined ? {} : { createSchema: options.createSchema }),
        pool: { connectionTimeoutMillis: 5_000 },
      });
    }
  } catch (err) {
    // (a missing schema: the store was reached, and the error says what is missing and how to make it; a missing
    // package file: floxide was bundled, whether or not the store can be reached, and the error says so)
    if (err instanceof InvalidArgumentError || err instanceof MissingDependencyError || err instanceof SchemaMissingError || err instanceof PackageFileMissingError) throw err;
    // the store was reached and refused to prepare its schema (a privilege, a newer Floxide's schema): say where
    if (err instanceof SchemaSetupError) {
      throw new SchemaSetupError(err.message.replace(/^(cannot prepare the Postgres schema \w+)/, `$1 at ${redactUrl(url)}`), { cause: err.cause });
    }
    if (err instanceof StoreError) throw new StoreError(`cannot reach the store at ${redactUrl(url)}: ${err.message}`, { cause: err });
    throw new StoreError(`cannot reach the store at ${redactUrl(url)}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  if (scheme === 'sqlite') throw notDistributedError(url);
  throw new InvalidArgumentError(`unsupported store URL scheme "${scheme}:" in ${redactUrl(url)}: use redis://, rediss://, postgres:// or postgresql://`);
}

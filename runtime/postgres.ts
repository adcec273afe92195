// `floxide/postgres`: the Postgres distributed backend. Needs the optional peer dependency `pg` (loaded when a
// backend connects). Named exports only.
export { PostgresBackend, type PostgresBackendOptions, type PurgeOptions } from './distributed/postgres/backend.js';
export { DEFAULT_POSTGRES_SCHEMA, POSTGRES_MIGRATIONS, assertSchemaName } from './distributed/postgres/migrate.js';

// `floxide/sqlite`: the SQLite checkpoint store, the embedded durable default for `runWithCheckpoint` and `resume`.
// Needs the optional peer dependency `better-sqlite3` (loaded when a store is opened). Named exports only.
export { SqliteCheckpointStore, SQLITE_MIGRATIONS, type SqliteCheckpointStoreOptions } from './stores/sqlite.js';

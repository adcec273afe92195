// `floxide/redis`: the Redis distributed backend. Needs the optional peer dependency `@redis/client` (loaded when
// a backend connects). Named exports only.
export { RedisBackend, DEFAULT_REDIS_KEY_PREFIX, DEFAULT_RETAIN_FINISHED_MS, type RedisBackendOptions } from './distributed/redis/backend.js';

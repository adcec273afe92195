/**
 * A scratch store for one bench run: a Redis key prefix or a Postgres schema of its own, with the cleanup that
 * removes it. Shared by bench/distributed.ts and bench/ui.ts.
 */

export interface ScratchStore {
  /** The store URL to connect to. */
  readonly url: string;
  /** The prefix or schema (tags the bench's Postgres connections through application_name). */
  readonly tag: string;
  cleanup(): Promise<void>;
}

/** `name` is `redis`, `postgres`, either with `-events-off` (no events: `?events=0`), or `redis-traced` (a plain Redis store). */
export function scratchStore(name: string, urls: { readonly redis: string; readonly postgres: string }, label = 'bench'): ScratchStore {
  const id = `${label}${Date.now().toString(36)}`;
  if (name.startsWith('redis')) {
    const prefix = `flxbench:${id}:`;
    return {
      url: `${urls.redis}?prefix=${encodeURIComponent(prefix)}${name === 'redis-events-off' ? '&events=0' : ''}`,
      tag: prefix,
      async cleanup() {
        const { createClient } = await import('@redis/client');
        const c = createClient({ url: urls.redis });
        await c.connect();
        let cursor = '0';
        do {
          const [next, keys] = (await c.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '5000'])) as [string, string[]];
          cursor = next;
          if (keys.length) await c.sendCommand(['UNLINK', ...keys]);
        } while (cursor !== '0');
        await c.close();
      },
    };
  }
  const schema = `flxbench_${id}`;
  return {
    // application_name tags the bench's connections (server CPU, see bench/distributed.ts serverCpuSeconds)
    url: `${urls.postgres}?schema=${schema}&application_name=${schema}${name === 'postgres-events-off' ? '&events=0' : ''}`,
    tag: schema,
    async cleanup() {
      const pg = (await import('pg')).default;
      const c = new pg.Client({ connectionString: urls.postgres });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

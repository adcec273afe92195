import { createClient } from '@redis/client';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import { describeBackendConformance } from './conformance.js';

const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const base = `flxtest-${process.pid}-${Date.now()}`;
let n = 0;

/** Deletes every key under the test prefixes. */
async function cleanup(): Promise<void> {
  const c = createClient({ url: URL });
  await c.connect();
  for await (const keys of c.scanIterator({ MATCH: `${base}*`, COUNT: 1000 })) if (keys.length > 0) await c.del(keys);
  await c.close();
}

afterAll(cleanup);

describeBackendConformance('redis', async () => RedisBackend.connect({ url: URL, keyPrefix: `${base}-c${++n}:` }));

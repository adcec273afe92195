/**
 * Server time per Redis script of the distributed backend, from the SLOWLOG of a PRIVATE Redis (never the shared
 * one: this changes its slowlog settings). Scripts are named by matching their SHA1 with the backend's scripts.
 *
 *   redis-server --port 6391 --save "" --daemonize yes
 *   redis-cli -p 6391 config set slowlog-log-slower-than 0; redis-cli -p 6391 config set slowlog-max-len 200000
 *   tsx bench/distributed.ts --backends redis --redis redis://127.0.0.1:6391
 *   tsx bench/distributed-redis-profile.ts [port]
 */
import { createClient } from '@redis/client';
import { allScripts } from '../runtime/distributed/redis/scripts.js';

const port = process.argv[2] ?? '6391';
const names = new Map(Object.values(allScripts()).map((s) => [s.sha, s.name]));
const c = createClient({ url: `redis://127.0.0.1:${port}` });
await c.connect();
type Entry = [number, number, number, string[], ...unknown[]];
const log = (await c.sendCommand(['SLOWLOG', 'GET', '-1'])) as unknown as Entry[];
const agg = new Map<string, number[]>();
for (const e of log) {
  const args = e[3];
  let k = args[0]!.toLowerCase();
  if (k === 'evalsha') k = `script:${names.get(args[1]!) ?? args[1]}`;
  const list = agg.get(k) ?? [];
  list.push(Number(e[2]));
  agg.set(k, list);
}
let total = 0;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
for (const [k, all] of [...agg].sort((x, y) => sum(y[1]) - sum(x[1]))) {
  all.sort((x, y) => x - y);
  const us = sum(all);
  total += us;
  console.log(
    `${k.padEnd(22)} n=${String(all.length).padStart(7)} total=${(us / 1000).toFixed(0).padStart(6)} ms avg=${(us / all.length).toFixed(1).padStart(7)} us p50=${all[Math.floor(all.length / 2)]} p99=${all[Math.floor(all.length * 0.99)]}`,
  );
}
console.log(`${log.length} entries (commands run inside scripts are listed too), ${(total / 1000).toFixed(0)} ms`);
await c.close();

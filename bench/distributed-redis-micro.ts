/**
 * Redis server time per script of the distributed hot path, measured in isolation (one client, no concurrency):
 * createRun, claim and the commit of each step of N runs of the 5-step chain, from INFO commandstats deltas.
 *   tsx bench/distributed-redis-micro.ts [--runs 500] [--redis redis://127.0.0.1:6379]
 */
import { createClient } from '@redis/client';
import { RedisBackend } from '../runtime/distributed/redis/backend.js';
import { ChainWorkflowDef } from '../test/fixtures/distributed/flows.floxide.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '500'));
const URL = arg('redis', 'redis://127.0.0.1:6379');
const prefix = `flxmicro:${Date.now().toString(36)}:`;
const raw = createClient({ url: URL });
await raw.connect();
const backend = await RedisBackend.connect({ url: URL, keyPrefix: prefix });

async function evalUsec(): Promise<{ calls: number; usec: number }> {
  const info = (await raw.sendCommand(['INFO', 'commandstats'])) as string;
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info);
  return m ? { calls: Number(m[1]), usec: Number(m[2]) } : { calls: 0, usec: 0 };
}
async function phase(name: string, fn: () => Promise<void>) {
  const a = await evalUsec();
  const t = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const b = await evalUsec();
  const calls = b.calls - a.calls;
  console.log(`${name.padEnd(26)} scripts=${String(calls).padStart(6)}  server ${(b.usec - a.usec) / 1000} ms  ${((b.usec - a.usec) / Math.max(1, calls)).toFixed(1)} us/script  wall ${ms.toFixed(0)} ms`);
}

await phase('createRun', async () => {
  for (let i = 0; i < RUNS; i++) {
    await backend.createRun({ runId: `r${i}`, workflow: ChainWorkflowDef.name, fingerprint: ChainWorkflowDef.fingerprint, input: 0, context: { count: 0 }, firstItem: { node: 's1', id: '0', input: 0 } });
  }
});
for (let s = 1; s <= 5; s++) {
  let leases: Awaited<ReturnType<typeof backend.claim>> = [];
  await phase(`claim step ${s} (64/claim)`, async () => {
    for (;;) {
      const got = await backend.claim('w1', 64, 30_000, { workflow: ChainWorkflowDef.name });
      if (got.length === 0) break;
      leases.push(...got);
    }
  });
  await phase(`commit step ${s}`, async () => {
    for (const l of leases) {
      const next = s < 5 ? [{ node: `s${s + 1}`, id: `${s}`, input: s }] : [];
      await backend.commitStep({
        runId: l.runId,
        itemId: l.item.id,
        leaseToken: l.leaseToken,
        outcome: s < 5 ? { type: 'continue', items: next, arrivals: [], delta: { count: 1 } } : { type: 'terminal', output: 5, items: [], arrivals: [], delta: { count: 1 } },
      } as never);
    }
  });
  leases = [];
}
let cursor = '0';
do {
  const [next, keys] = (await raw.sendCommand(['SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', '5000'])) as [string, string[]];
  cursor = next;
  if (keys.length) await raw.sendCommand(['DEL', ...keys]);
} while (cursor !== '0');
await backend.close();
await raw.close();

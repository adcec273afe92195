// Cross-mode equivalence, distributed modes (issue 8): every case of cases.ts runs on the memory, Redis and Postgres
// backends, served by a WorkerPool (real servers; one Redis key prefix and one Postgres schema for the file), and
// must give the case's expected result and the same result, final context and committed steps as the reference
// mode (`runWithCheckpoint` on memory unless the case says otherwise; see compare.ts for what parallel workers may
// legitimately change). The local modes are in local.test.ts. A known bug is an `it.fails` naming its issue item.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MemoryBackend, MemoryCheckpointStore } from 'floxide';
import { openTestBackend, type TestBackend } from '../distributed/helpers.js';
import { CASES, DISTRIBUTED_MODES, type EquivalenceCase, type ModeName } from './cases.js';
import { SHOW_KNOWN_BUGS, verify } from './compare.js';
import { KeyedLock, observeCheckpoint, observeDistributed, observeRun, type Observation } from './modes.js';

let redis: TestBackend;
let postgres: TestBackend;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([openTestBackend('redis', 'eq'), openTestBackend('postgres', 'eq')]);
});
afterAll(async () => {
  await Promise.all([redis?.dispose(), postgres?.dispose()]);
});

const locks = { redis: new KeyedLock(), postgres: new KeyedLock() };
const references = new Map<string, Promise<Observation>>();

function reference(c: EquivalenceCase): Promise<Observation> {
  let p = references.get(c.name);
  if (!p) {
    p = c.reference === 'run' ? observeRun(c) : observeCheckpoint(c, 'checkpoint-memory', new MemoryCheckpointStore());
    references.set(c.name, p);
  }
  return p;
}

function observe(c: EquivalenceCase, mode: ModeName): Promise<Observation> {
  switch (mode) {
    case 'distributed-memory':
      return observeDistributed(c, mode, new MemoryBackend(), new KeyedLock());
    case 'distributed-redis':
      return observeDistributed(c, mode, redis.backend, locks.redis);
    case 'distributed-postgres':
      return observeDistributed(c, mode, postgres.backend, locks.postgres);
    default:
      throw new Error(`${mode} is not a distributed mode`);
  }
}

describe.concurrent('cross-mode equivalence: distributed modes', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      for (const mode of DISTRIBUTED_MODES) {
        const bug = c.knownBugs?.[mode];
        (bug && !SHOW_KNOWN_BUGS ? it.fails : it)(bug ? `${mode} (known bug, ${bug})` : mode, async () => {
          verify(c, mode, await observe(c, mode), await reference(c));
        });
      }
    });
  }
});

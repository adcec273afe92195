// Cross-mode equivalence, local modes (issue 8): every case of cases.ts runs in `run`, `runWithCheckpoint` on the
// memory and SQLite stores, and `resume` after its SQLite run was killed (SIGKILL) at a random step; each must give
// the case's expected result and the same result, final context and committed steps as the reference mode
// (`runWithCheckpoint` on memory unless the case says otherwise). The distributed modes are in distributed.test.ts.
// A known bug is an `it.fails` naming its issue item: the fix flips it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryCheckpointStore } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { CASES, LOCAL_MODES, type EquivalenceCase, type ModeName } from './cases.js';
import { SHOW_KNOWN_BUGS, verify } from './compare.js';
import { crashRuns, planKills, prng, type CrashResult } from './crash.js';
import { observeCheckpoint, observeResume, observeRun, runIdOf, type Observation } from './modes.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-equivalence-'));
const sqlite = new SqliteCheckpointStore(join(dir, 'checkpoints.db'));
afterAll(async () => {
  await sqlite.close();
  await crashStore?.close();
  rmSync(dir, { recursive: true, force: true });
});

const memo = new Map<string, Promise<Observation>>();
function once(key: string, f: () => Promise<Observation>): Promise<Observation> {
  let p = memo.get(key);
  if (!p) memo.set(key, (p = f()));
  return p;
}

/** The checkpoint-memory observation (the reference of most cases, and the commit count the crash plan draws from). */
const checkpointMemory = (c: EquivalenceCase) => once(`checkpoint-memory:${c.name}`, () => observeCheckpoint(c, 'checkpoint-memory', new MemoryCheckpointStore()));

function observe(c: EquivalenceCase, mode: ModeName): Promise<Observation> {
  switch (mode) {
    case 'run':
      return once(`run:${c.name}`, () => observeRun(c));
    case 'checkpoint-memory':
      return checkpointMemory(c);
    case 'checkpoint-sqlite':
      return observeCheckpoint(c, mode, sqlite);
    case 'resume-after-kill':
      return resumeAfterKill(c);
    default:
      throw new Error(`${mode} is not a local mode`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// resume-after-kill

const SEED = Number(process.env.FLOXIDE_EQUIVALENCE_SEED ?? Date.now() % 2 ** 31);
let crashStore: SqliteCheckpointStore | undefined;
let crash: Promise<CrashResult> | undefined;

/** Kills one child running every crashable case at its own random step (once, for all tests of this file). */
function crashAll(): Promise<CrashResult> {
  crash ??= (async () => {
    const crashable = CASES.filter((c) => !c.noCrash);
    const commits = await Promise.all(crashable.map(async (c) => ({ name: c.name, commits: (await checkpointMemory(c)).commits ?? 0 })));
    const kills = planKills(commits.filter((x) => x.commits > 0), prng(SEED));
    const result = await crashRuns({ db: join(dir, 'crash.db'), seed: SEED, kills }, dir, 90_000);
    crashStore = new SqliteCheckpointStore(join(dir, 'crash.db'));
    return result;
  })();
  return crash;
}

async function resumeAfterKill(c: EquivalenceCase): Promise<Observation> {
  const crashed = await crashAll();
  const where = `seed ${SEED} (FLOXIDE_EQUIVALENCE_SEED)`;
  expect(crashed.signal, `the crash child was not killed (${where}): ${crashed.stderr}`).toBe('SIGKILL');
  const left = crashed.cases.get(c.name);
  expect(left, `${c.name} has no commit to kill it at`).toBeDefined();
  const at = `${where}, killed ${left!.kill.phase} commit ${left!.kill.commit}`;
  expect(left!.state, `${c.name} did not stop at its kill point (${at}): ${left!.error ?? ''} ${crashed.stderr}`).toBe('frozen');
  expect((await crashStore!.getRun(runIdOf(c)))?.status, `${c.name}: the killed run (${at})`).toBe('running');
  return observeResume(c, crashStore!, left!.records, at);
}

describe.concurrent('cross-mode equivalence: local modes', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      for (const mode of LOCAL_MODES) {
        if (mode === 'resume-after-kill' && c.noCrash) {
          it.skip(`${mode} (${c.noCrash})`, () => undefined);
          continue;
        }
        const bug = c.knownBugs?.[mode];
        // A resume test first waits for the one crash child that interrupts every case (crashAll).
        const timeout = mode === 'resume-after-kill' ? 120_000 : undefined;
        (bug && !SHOW_KNOWN_BUGS ? it.fails : it)(bug ? `${mode} (known bug, ${bug})` : mode, { timeout }, async () => {
          const reference = c.reference ? await observe(c, c.reference) : await checkpointMemory(c);
          verify(c, mode, await observe(c, mode), reference);
        });
      }
    });
  }
});

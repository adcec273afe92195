// Crash safety of the SQLite checkpoint store against a real process death: a child process (the built package, no
// tsx: test/built-module.ts) runs a checkpointed workflow and is killed with SIGKILL after a random number of steps;
// the run is then resumed in this process (the sources) and must finish with the same output as an uninterrupted run,
// with a context counter (that every step adds 1 to) equal to exactly the number of committed steps: no step's
// context effect lost, none applied twice.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { CrashCtx, CrashWorkflow, type CrashOutput } from '../fixtures/crash/flow.js';
import { CrashWorkflowDef } from '../fixtures/crash/flow.floxide.js';
import { prng } from '../equivalence/crash.js';
import { builtModule } from '../built-module.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../fixtures/crash/child.ts', import.meta.url));
const LIMIT = 150;
const ITERATIONS = 20;
const PARALLEL = 2;
const dir = mkdtempSync(join(tmpdir(), 'floxide-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Killed {
  /** Step lines the child printed before it died (its last steps may not have committed). */
  reported: number;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/** Spawns the child on `file` and SIGKILLs it once it has reported `killAfter` steps. */
function runAndKill(file: string, runId: string, exclusive: boolean, killAfter: number): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [builtModule(CHILD), file, runId, exclusive ? 'exclusive' : 'shared', String(LIMIT)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let reported = 0;
    let buffered = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.stdout.on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (/^\d+$/.test(line)) reported = Number(line);
        if (reported >= killAfter && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ reported, signal, code, stderr }));
  });
}

/** Σ count deltas over the initial context: the counter as the store will rebuild it. */
async function storedCount(store: SqliteCheckpointStore, runId: string): Promise<number> {
  const cp = (await store.load(runId))!;
  let count = (cp.context as { count: number }).count;
  for (const d of cp.deltas) count += typeof d.count === 'number' ? d.count : 0;
  return count;
}

describe('SIGKILL mid-run, then resume (SQLite)', () => {
  it(`${ITERATIONS} kills at random steps: same output as an uninterrupted run, counter == committed steps`, { timeout: 120_000 }, async () => {
    const wf = bindWorkflow(CrashWorkflowDef, new CrashWorkflow());
    const input = { round: 0, limit: LIMIT, acc: 1 };

    // The reference: the same workflow, uninterrupted, on its own file.
    const ref = new SqliteCheckpointStore(join(dir, 'reference.db'));
    const expected = (await wf.runWithCheckpoint(new CrashCtx(), input, ref, 'crash')) as CrashOutput;
    const totalSteps = (await ref.getRun('crash'))!.steps;
    expect(expected.count).toBe(totalSteps - 1);
    expect(await storedCount(ref, 'crash')).toBe(totalSteps);
    await ref.close();

    const seed = Number(process.env.FLOXIDE_CRASH_SEED ?? Date.now() % 2 ** 31);
    const random = prng(seed);
    const plans = Array.from({ length: ITERATIONS }, (_, i) => ({
      i,
      exclusive: i % 2 === 1,
      // Anywhere from the first step to well before the end, so the child is always killed mid-run.
      killAfter: 1 + Math.floor(random() * (totalSteps - 40)),
    }));
    const where = (p: (typeof plans)[number]) => `seed ${seed}, iteration ${p.i}, kill after step ${p.killAfter}${p.exclusive ? ', exclusive' : ''}`;

    const interrupted: number[] = [];
    let late = 0;
    const iteration = async (p: (typeof plans)[number], attempt = 0): Promise<void> => {
      const file = join(dir, `crash-${p.i}-${attempt}.db`);
      const killed = await runAndKill(file, 'crash', p.exclusive, p.killAfter);
      expect(killed.signal, `${where(p)}: the child was not killed (exit ${killed.code}): ${killed.stderr}`).toBe('SIGKILL');
      expect(killed.reported, where(p)).toBeGreaterThanOrEqual(p.killAfter);

      const store = new SqliteCheckpointStore(file);
      try {
        const before = await store.getRun('crash');
        if (before?.status === 'completed' && attempt < 2) {
          // On a loaded machine the kill can arrive after the child's last step: that is no crash, so try again.
          late++;
          return await iteration(p, attempt + 1);
        }
        expect(before?.status, where(p)).toBe('running');
        interrupted.push(before!.steps);
        const out = await wf.resume(store, 'crash');
        expect(out, where(p)).toEqual(expected);
        const after = (await store.getRun('crash'))!;
        expect(after.status).toBe('completed');
        expect(after.steps, where(p)).toBe(totalSteps);
        expect(await storedCount(store, 'crash'), where(p)).toBe(totalSteps);
      } finally {
        await store.close();
      }
    };
    for (let next = 0; next < plans.length; next += PARALLEL) {
      await Promise.all(plans.slice(next, next + PARALLEL).map(iteration));
    }
    // Every iteration crashed mid-run, at many different points of the run, not all at its start.
    expect(interrupted, `${late} kill(s) came after the last step and were retried`).toHaveLength(ITERATIONS);
    expect(new Set(interrupted).size).toBeGreaterThan(ITERATIONS / 2);
    expect(Math.max(...interrupted)).toBeGreaterThan(totalSteps / 4);
  });
});

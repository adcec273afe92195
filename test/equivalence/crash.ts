/**
 * The crash half of the `resume-after-kill` mode: one child process (crash-child.ts) runs every crashable case with
 * `runWithCheckpoint` on one SQLite file, each stopping for good at its own kill point: just before or just after
 * its n-th commit, n drawn at random (seeded) among the run's commits. Once every run stopped, the child is killed
 * with SIGKILL, so each run is interrupted mid-run at a known step boundary by a real process death; the suite then
 * resumes each run in this process. (The kill lands at a random instant in test/runtime/crash.test.ts, which checks
 * torn writes; here each run must stop at a chosen step so that every case is interrupted, however short.)
 * One child for all cases keeps the cost to one process start.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StepRecord } from './observe.js';

export interface KillPoint {
  readonly case: string;
  /** Stop at the `commit`-th commit of the run (1-based)... */
  readonly commit: number;
  /** ...before the store applies it (the step ran, its commit is lost), or right after. */
  readonly phase: 'before' | 'after';
}

export interface CrashPlan {
  readonly db: string;
  readonly seed: number;
  readonly kills: readonly KillPoint[];
}

/** What the child left behind for one case. */
export interface Interrupted {
  readonly kill: KillPoint;
  /** Steps the child committed before it died. */
  readonly records: StepRecord[];
  /** `frozen`: stopped at its kill point; `finished`: the run ended before it (a plan error for that case). */
  readonly state: 'frozen' | 'finished' | 'unknown';
  readonly error?: string;
}

export interface CrashResult {
  readonly plan: CrashPlan;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly cases: ReadonlyMap<string, Interrupted>;
}

/** A small seeded PRNG (mulberry32), so a failing plan can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Draws a kill point per case among its `commits` commits: before any of them (the step ran, its commit is lost),
 * or after any but the last (a completed run is not a crash).
 */
export function planKills(cases: ReadonlyArray<{ readonly name: string; readonly commits: number }>, random: () => number): KillPoint[] {
  return cases.map(({ name, commits }) => {
    const slots = 2 * commits - 1;
    const slot = Math.floor(random() * slots);
    return slot < commits ? { case: name, commit: slot + 1, phase: 'before' } : { case: name, commit: slot - commits + 1, phase: 'after' };
  });
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Runs the plan in a child process and SIGKILLs it once every run stopped (or after `timeoutMs`). */
export function crashRuns(plan: CrashPlan, dir: string, timeoutMs: number): Promise<CrashResult> {
  const planFile = join(dir, 'crash-plan.json');
  writeFileSync(planFile, JSON.stringify(plan));
  const cases = new Map<string, { records: StepRecord[]; state: Interrupted['state']; error?: string }>();
  for (const k of plan.kills) cases.set(k.case, { records: [], state: 'unknown' });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, planFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let stderr = '';
    const kill = () => {
      if (child.exitCode === null && !child.killed) child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const msg = JSON.parse(line) as { kind: string; case?: string; record?: StepRecord; error?: string };
        const entry = msg.case === undefined ? undefined : cases.get(msg.case);
        if (msg.kind === 'record' && entry) entry.records.push(msg.record!);
        else if ((msg.kind === 'frozen' || msg.kind === 'finished') && entry) {
          entry.state = msg.kind;
          if (msg.error !== undefined) entry.error = msg.error;
        } else if (msg.kind === 'stopped') kill();
      }
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      const out = new Map<string, Interrupted>();
      for (const k of plan.kills) out.set(k.case, { kill: k, ...cases.get(k.case)! });
      resolve({ plan, signal, stderr, cases: out });
    });
  });
}

/**
 * Who runs a checkpointed run: one process (one `runWithCheckpoint` or `resume` call) at a time. The store keeps the
 * owner with the run (`CheckpointStore.claim`); a second call for the same run, in another process or in this one,
 * is refused with {@link RunBusyError} while the owner lives, so no node runs twice and no process fails a run another
 * one is running. A dead owner is taken over at once on the same machine (host, boot and PID namespace) when its
 * process is gone (or a zombie), or when its call in this process ended (a simulated crash); an owner of another
 * machine (another host, a container with its own PIDs, a file shared over the network) once its heartbeat is older
 * than {@link OWNER_STALE_MS}; and one of this machine whose heartbeat stopped for {@link OWNER_SILENT_MS} although
 * its pid exists (reused by another process).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { RunBusyError, RunStateError } from '../core/errors.js';

/** One call's claim on a run, as the store keeps it. */
export interface RunOwner {
  /** Random, per call. */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /**
   * Where `pid` means this process: the host name, its boot and its PID namespace (Linux: a container of its own has
   * another). Only an owner of the same `machine` can be judged by its pid; any other by its heartbeat.
   */
  readonly machine: string;
}

/** How often a running call refreshes its claim (`owner_seen`). */
export const OWNER_HEARTBEAT_MS = 10_000;
/** A claim of another machine (host, boot or PID namespace) not refreshed for this long is taken over. */
export const OWNER_STALE_MS = 30_000;
/**
 * A claim of this machine whose pid exists but that was not refreshed for this long is taken over too: its pid
 * belongs to another process now (reused), or its event loop has been blocked for that long.
 */
export const OWNER_SILENT_MS = 120_000;

/** This process's `RunOwner.machine` (see there). */
const MACHINE = machineOf();

function machineOf(): string {
  const read = (f: string, link = false): string => {
    try {
      return (link ? readlinkSync(f) : readFileSync(f, 'utf8')).trim();
    } catch {
      return '';
    }
  };
  return `${hostname()}/${read('/proc/sys/kernel/random/boot_id')}/${read('/proc/self/ns/pid', true)}`;
}

/** This process as the step history and version moves of checkpointed runs name it: `<host>:<pid>`. */
export function processName(): string {
  return `${hostname()}:${process.pid}`;
}

/** The claims of calls running in this process (released when the call ends, however it ends). */
const running = new Set<string>();

/** A new claim for a call of this process (running until {@link endClaim}). */
export function newOwner(): RunOwner {
  const owner = { id: randomBytes(8).toString('hex'), host: hostname(), pid: process.pid, machine: MACHINE };
  running.add(owner.id);
  return owner;
}

/** The call that made `owner` ended: its claim no longer counts as live in this process. */
export function endClaim(owner: RunOwner): void {
  running.delete(owner.id);
}

/** The longest pause between two tries of a release that failed ({@link releaseClaim}), in ms. */
const RELEASE_RETRY_MAX_MS = 2_000;

/**
 * Clears `owner`'s claim on run `runId` at the end of its call (`store.release`, if the store has one). A release that fails (the file
 * locked by another connection past its busy timeout, a passing I/O error) is tried again in the background, after
 * 100 ms, then pauses doubling up to 2 s, for {@link OWNER_SILENT_MS}; without it, another process of this machine was
 * refused the run (`RunBusyError`) for those 2 minutes while this process lived on (a server), though its call had
 * ended. The retries never keep the process alive: a process that exits leaves a claim the next one takes over at once.
 * Resolves after the first try; never rejects.
 */
export async function releaseClaim(store: { release?(runId: string, owner: RunOwner): Promise<void> }, runId: string, owner: RunOwner): Promise<void> {
  if (!store.release) return;
  const release = store.release.bind(store);
  const end = Date.now() + OWNER_SILENT_MS;
  const attempt = (pause: number): Promise<void> =>
    release(runId, owner).catch(() => {
      if (Date.now() + pause > end) return;
      setTimeout(() => void attempt(Math.min(2 * pause, RELEASE_RETRY_MAX_MS)), pause).unref();
    });
  return attempt(100);
}

/**
 * Whether `mine` may take run `runId`, which `stored` (seen at `seenAt`) may hold: throws {@link RunBusyError} when a
 * live other owner holds it. `stored` undefined (nobody, or text that is no owner) or `mine` itself: yes.
 */
export function assertClaimable(runId: string, stored: RunOwner | undefined, seenAt: number | undefined, mine: RunOwner, now: number): void {
  if (stored === undefined || stored.id === mine.id) return;
  if (!claimLives(stored, seenAt, now)) return;
  const where = stored.pid === process.pid && stored.machine === mine.machine ? 'another call in this process' : `process ${stored.pid} on ${stored.host}`;
  const seen = seenAt === undefined ? '' : ` (its last sign of life ${Math.max(0, Math.round((now - seenAt) / 1000))} s ago)`;
  throw new RunBusyError(
    `run ${runId} is being run by ${where}${seen}: a second run of it would run its nodes again. Wait for it to end, or stop it; a process that died is taken over at once on its machine, after ${OWNER_STALE_MS / 1000} s without a sign of life from another (a host, or a container with its own PIDs)`,
  );
}

/**
 * Whether claim `o`, last refreshed at `seenAt`, still holds its run at `now`, as seen from this process: the one rule
 * a takeover follows ({@link assertClaimable}) and `floxide runs` / `floxide ui` show (a run whose claim does not live
 * is orphaned: nothing executes it until a `resume`).
 */
export function claimLives(o: RunOwner, seenAt: number | undefined, now: number): boolean {
  const age = seenAt === undefined ? Infinity : now - seenAt;
  if (o.machine !== MACHINE) return age < OWNER_STALE_MS;
  if (o.pid === process.pid) return running.has(o.id);
  return age < OWNER_SILENT_MS && processLives(o.pid);
}

function processLives(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // a process killed but not yet reaped by its parent (a zombie) runs nothing
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Whether `mine`, which claimed run `runId` before, holds it still (`stored`: its claim as stored now): throws
 * {@link takenOverError} when it does not. A heartbeat refreshes a claim only then, never takes a run back.
 */
export function assertHeld(runId: string, stored: RunOwner | undefined, mine: RunOwner): void {
  if (stored?.id !== mine.id) throw takenOverError(runId, stored);
}

/**
 * What a call that lost run `runId` gets when a write of it, or its heartbeat, is refused: `holder` holds the run now
 * (another call took it over once this one looked dead; undefined: nobody does). A {@link RunBusyError}; the write
 * changed nothing.
 */
export function takenOverError(runId: string, holder: RunOwner | undefined): RunBusyError {
  const who = holder ? `process ${holder.pid} on ${holder.host} took it over` : 'its claim is gone';
  return new RunBusyError(
    `run ${runId} is no longer this call's: ${who} (a call whose claim goes unrefreshed, its event loop or its host stalled, looks dead: after ${OWNER_STALE_MS / 1000} s to another machine, ${OWNER_SILENT_MS / 60_000} minutes to this one). This call stops and commits nothing more; the run goes on with its owner`,
  );
}

/**
 * Whether the heartbeat of `mine` may refresh its claim on run `runId` (`stored`: the claim as stored now, `status`: the
 * run's): {@link assertHeld}, and the run still open: one cancelled meanwhile (`floxide runs cancel`, another process)
 * is `RunStateError`, so that the call running it stops its node (`ctx.signal`) instead of finding out at its next commit.
 */
export function assertRefreshable(runId: string, stored: RunOwner | undefined, mine: RunOwner, status: string): void {
  assertHeld(runId, stored, mine);
  if (status === 'cancelled') throw new RunStateError(`run ${runId} is cancelled`);
}

const texts = new WeakMap<RunOwner, string>();

/** The stored text of a claim (made once per claim: every commit of a claimed run compares it). */
export function ownerText(o: RunOwner): string {
  let t = texts.get(o);
  if (t === undefined) texts.set(o, (t = JSON.stringify({ id: o.id, host: o.host, pid: o.pid, machine: o.machine })));
  return t;
}

/** A stored claim's text as an owner; undefined for none or for text that is not one (nobody holds the run then). */
export function ownerOf(text: unknown): RunOwner | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const o = JSON.parse(text) as Partial<RunOwner> | null;
    return o && typeof o.id === 'string' && typeof o.host === 'string' && typeof o.pid === 'number' && typeof o.machine === 'string' ? { id: o.id, host: o.host, pid: o.pid, machine: o.machine } : undefined;
  } catch {
    return undefined;
  }
}

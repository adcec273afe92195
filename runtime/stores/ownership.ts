/**
 * Who runs a checkpointed run: one process (one `runWithCheckpoint` or `resume` call) at a time. The store keeps the
 * owner with the run (`CheckpointStore.claim`); a second call for the same run, in another process or in this one,
 * is refused with {@link RunBusyError} while the owner lives, so no node runs twice and no process fails a run another
 * one is running. A dead owner is taken over at once: on the same host when its process is gone, or when its call
 * in this process ended (a simulated crash); from another host (a file shared over the network) once its heartbeat
 * is older than {@link OWNER_STALE_MS}.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { RunBusyError } from '../core/errors.js';

/** One call's claim on a run, as the store keeps it. */
export interface RunOwner {
  /** Random, per call. */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
}

/** How often a running call refreshes its claim (`owner_seen`). */
export const OWNER_HEARTBEAT_MS = 10_000;
/** A claim of another host not refreshed for this long is taken over. */
export const OWNER_STALE_MS = 30_000;

/** The claims of calls running in this process (released when the call ends, however it ends). */
const running = new Set<string>();

/** A new claim for a call of this process (running until {@link endClaim}). */
export function newOwner(): RunOwner {
  const owner = { id: randomBytes(8).toString('hex'), host: hostname(), pid: process.pid };
  running.add(owner.id);
  return owner;
}

/** The call that made `owner` ended: its claim no longer counts as live in this process. */
export function endClaim(owner: RunOwner): void {
  running.delete(owner.id);
}

/**
 * Whether `mine` may take run `runId`, which `stored` (seen at `seenAt`) may hold: throws {@link RunBusyError} when a
 * live other owner holds it. `stored` undefined (nobody, or text that is no owner) or `mine` itself: yes.
 */
export function assertClaimable(runId: string, stored: RunOwner | undefined, seenAt: number | undefined, mine: RunOwner, now: number): void {
  if (stored === undefined || stored.id === mine.id) return;
  if (!ownerLives(stored, seenAt, now)) return;
  const where = stored.pid === process.pid && stored.host === mine.host ? 'another call in this process' : `process ${stored.pid} on ${stored.host}`;
  const seen = seenAt === undefined ? '' : ` (its last sign of life ${Math.max(0, Math.round((now - seenAt) / 1000))} s ago)`;
  throw new RunBusyError(
    `run ${runId} is being run by ${where}${seen}: a second run of it would run its nodes again. Wait for it to end, or stop it; a process that died is taken over at once on its host, after ${OWNER_STALE_MS / 1000} s without a sign of life from another host`,
  );
}

function ownerLives(o: RunOwner, seenAt: number | undefined, now: number): boolean {
  if (o.host !== hostname()) return seenAt !== undefined && now - seenAt < OWNER_STALE_MS;
  if (o.pid === process.pid) return running.has(o.id);
  return processLives(o.pid);
}

function processLives(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The stored text of a claim. */
export function ownerText(o: RunOwner): string {
  return JSON.stringify({ id: o.id, host: o.host, pid: o.pid });
}

/** A stored claim's text as an owner; undefined for none or for text that is not one (nobody holds the run then). */
export function ownerOf(text: unknown): RunOwner | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const o = JSON.parse(text) as Partial<RunOwner> | null;
    return o && typeof o.id === 'string' && typeof o.host === 'string' && typeof o.pid === 'number' ? { id: o.id, host: o.host, pid: o.pid } : undefined;
  } catch {
    return undefined;
  }
}

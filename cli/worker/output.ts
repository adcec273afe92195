/**
 * What `floxide worker` prints while it runs: on a terminal, one live status line (steps/s, items in flight, done,
 * failures) rewritten every second; otherwise (or with `--json`) one JSON line per step, for log collectors.
 */
import type { StepCallbacks } from '../../runtime/distributed/execution.js';
import type { LeasedItem } from '../../runtime/distributed/contracts.js';

export type WorkerOutputMode = 'live' | 'json';

export interface WorkerOutput {
  /** The hooks to give the pool. */
  readonly callbacks: StepCallbacks;
  /** Writes a start/stop line (JSON, or text above the live line). */
  log(event: string, data: Record<string, unknown>): void;
  /**
   * Reports an error of the pool's loop (a claim, heartbeat or scheduler pass that failed): a JSON `error` line, or a
   * line on `err` on a terminal. The same message again within {@link REPEAT_MS} is only counted, and the next line
   * printed for it says how many were left out (`repeated`), so a store that is down for hours costs a few lines a
   * minute, not one per claim, heartbeat and scheduler pass (several a second).
   */
  error(message: string): void;
  /** Starts the live line (no-op in JSON mode). */
  start(): void;
  /** Stops the live line and leaves the terminal on a fresh line. */
  stop(): void;
}

const CLEAR = '\r\x1b[2K';
/** How long an error message, once printed, is only counted when it comes again (ms). */
export const REPEAT_MS = 60_000;
/** The most that may wait in stdout's buffer for its reader before step lines are left out (bytes). */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Distinct messages whose repeats are counted at once (the oldest is forgotten beyond). */
const MAX_REPEATED = 256;
const keyOf = (l: LeasedItem): string => `${l.runId}\n${l.item.id}`;

/** `out` is where lines go; `clock` reads time (ms); `err` is where a terminal's error lines go (default `out`). */
export function workerOutput(out: { write(text: string): unknown }, mode: WorkerOutputMode, clock: () => number = Date.now, err: { write(text: string): unknown } = out): WorkerOutput {
  const startedAt = new Map<string, number>();
  /** Each error message printed in the last REPEAT_MS: when, and how many times it came again since. */
  const printed = new Map<string, { at: number; repeated: number }>();
  let done = 0;
  let failures = 0;
  let inFlight = 0;
  let lastDone = 0;
  let lastAt = clock();
  let timer: NodeJS.Timeout | undefined;
  let line = '';

  /** Step lines left out since the last line written, while stdout held more than MAX_BUFFERED_BYTES. */
  let dropped = 0;
  const json = (event: string, data: Record<string, unknown>): void => {
    const at = new Date(clock()).toISOString();
    if (dropped > 0) {
      out.write(`${JSON.stringify({ event: 'dropped', at, lines: dropped })}\n`);
      dropped = 0;
    }
    out.write(`${JSON.stringify({ event, at, ...data })}\n`);
  };
  /**
   * A `step` or `released` line, unless stdout already holds more than {@link MAX_BUFFERED_BYTES} that its reader has
   * not taken (a stalled log collector): then it is counted instead, and the next line written says how many were left
   * out (`dropped`). The worker never waits for its log, and never grows without bound for it either.
   */
  const stepLine = (event: string, data: Record<string, unknown>): void => {
    if (((out as { writableLength?: number }).writableLength ?? 0) > MAX_BUFFERED_BYTES) dropped += 1;
    else json(event, data);
  };
  const render = (): void => {
    const now = clock();
    const rate = now > lastAt ? ((done - lastDone) * 1000) / (now - lastAt) : 0;
    lastDone = done;
    lastAt = now;
    line = `floxide worker: ${rate.toFixed(1)} steps/s  in flight ${inFlight}  done ${done}  failures ${failures}`;
    out.write(`${CLEAR}${line}`);
  };
  const ended = (lease: LeasedItem): number | undefined => {
    inFlight = Math.max(0, inFlight - 1);
    const key = keyOf(lease);
    const t = startedAt.get(key);
    startedAt.delete(key);
    return t === undefined ? undefined : clock() - t;
  };

  const log = (event: string, data: Record<string, unknown>): void => {
    if (mode === 'json') return json(event, data);
    const text = `floxide worker: ${event} ${Object.entries(data).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ')}\n`;
    out.write(line ? `${CLEAR}${text}${line}` : text);
  };

  const callbacks: StepCallbacks = {
    onStarted(lease) {
      inFlight++;
      startedAt.set(keyOf(lease), clock());
    },
    onCommitted(lease, outcome, result) {
      const ms = ended(lease);
      if (result.status === 'applied') done++;
      if (outcome.type === 'retry' || outcome.type === 'failed') failures++;
      if (mode === 'json') {
        const error = outcome.type === 'retry' || outcome.type === 'failed' ? { error: `${outcome.error.name}: ${outcome.error.message}` } : {};
        stepLine('step', { runId: lease.runId, itemId: lease.item.id, node: lease.item.node, attempt: lease.attempt, outcome: outcome.type, commit: result.status, ms, ...error });
      }
    },
    onMigrated(lease, to) {
      // (rare, once per run a deploy moves: never left out, and above the live line on a terminal)
      log('migrated', { runId: lease.runId, workflow: lease.workflow, from: lease.fingerprint, to });
    },
    onReleased(lease, reason, error) {
      const ms = ended(lease);
      if (mode === 'json') {
        const detail = error === undefined ? {} : { error: (error as Error)?.message ?? String(error) };
        stepLine('released', { runId: lease.runId, itemId: lease.item.id, node: lease.item.node, attempt: lease.attempt, reason, ms, ...detail });
      }
    },
  };

  return {
    callbacks,
    log,
    error(message) {
      const now = clock();
      const last = printed.get(message);
      if (last !== undefined && now - last.at < REPEAT_MS) {
        last.repeated += 1;
        return;
      }
      const repeated = last?.repeated ?? 0;
      printed.delete(message);
      printed.set(message, { at: now, repeated: 0 });
      if (printed.size > MAX_REPEATED) printed.delete(printed.keys().next().value!);
      if (mode === 'json') return json('error', { message, ...(repeated > 0 ? { repeated } : {}) });
      err.write(`floxide worker: ${message}${repeated > 0 ? ` (${repeated} more time(s) since it was last printed)` : ''}\n`);
    },
    start() {
      if (mode !== 'live' || timer) return;
      render();
      timer = setInterval(render, 1000);
      timer.unref?.();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (line) out.write(`${CLEAR}`);
      line = '';
    },
  };
}

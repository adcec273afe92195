/**
 * Background WAL checkpoints for {@link SqliteCheckpointStore}: a worker thread with its own better-sqlite3
 * connection to the same file runs `PRAGMA wal_checkpoint(PASSIVE)` when the store's writer asks, so a
 * checkpoint's fsyncs (100 ms and more on a busy disk) never run on the committing thread. In WAL mode a PASSIVE
 * checkpoint runs concurrently with the writer: commits do not wait for it.
 *
 * The store and the worker talk through a SharedArrayBuffer (Atomics), not messages: a checkpointed run is a
 * chain of promises that may not yield to the event loop for thousands of steps, and the writer must still be
 * able to request a checkpoint and read the WAL's length and the worker's health synchronously, per commit.
 *
 * A PASSIVE checkpoint cannot reset the WAL while the writer keeps appending (the log restarts only once a
 * checkpoint has copied every frame and the writer then begins a transaction), so the WAL of a long run keeps
 * growing; {@link WalCheckpointer.noteCommit} therefore asks the store for an inline checkpoint once the WAL
 * holds about `maxWalPages` frames (or the worker stopped answering), which bounds the WAL file.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { StoreError } from '../core/errors.js';

// Int32 cells of the shared state.
const REQ = 0; // checkpoint requests (the writer increments and notifies)
const COMMITS = 1; // write transactions committed by the writer
const LOG = 2; // WAL frames reported by the worker's last checkpoint
const LOG_AT = 3; // the writer's COMMITS value read just before that checkpoint started
const STATE = 4; // RUNNING, CLOSING (writer), FAILED (worker)
const ERR_LEN = 5; // bytes of the UTF-8 error message that follows the cells
const CELLS = 8;
const RUNNING = 0;
const CLOSING = 1;
const FAILED = 2;
const ERR_BYTES = 1024;

/** What the worker thread runs (CommonJS, `eval: true`: no loader or build step needed, under tsx or from dist/). */
const WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const s = new Int32Array(workerData.shared, 0, ${CELLS});
const errBytes = new Uint8Array(workerData.shared, ${CELLS * 4}, ${ERR_BYTES});
function fail(err) {
  const text = Buffer.from(String((err && err.message) || err) + (err && err.code ? ' (' + err.code + ')' : ''), 'utf8');
  const n = Math.min(text.length, errBytes.length);
  text.copy(errBytes, 0, 0, n);
  Atomics.store(s, ${ERR_LEN}, n);
  Atomics.store(s, ${STATE}, ${FAILED});
}
let db;
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.file, { fileMustExist: true });
  db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
  db.pragma('wal_autocheckpoint = 0');
  let seenReq = 0;
  let seenCommits = 0;
  while (Atomics.load(s, ${STATE}) === ${RUNNING}) {
    Atomics.wait(s, ${REQ}, seenReq, workerData.intervalMs);
    if (Atomics.load(s, ${STATE}) !== ${RUNNING}) break;
    const req = Atomics.load(s, ${REQ});
    const commits = Atomics.load(s, ${COMMITS});
    // Woken by a request, or by the timer while writes continue; idle otherwise.
    if (req === seenReq && commits === seenCommits) continue;
    seenReq = req;
    seenCommits = commits;
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    Atomics.store(s, ${LOG_AT}, commits);
    Atomics.store(s, ${LOG}, Math.max(0, r.log));
  }
} catch (err) {
  fail(err);
} finally {
  try { if (db && db.open) db.close(); } catch (err) { if (Atomics.load(s, ${STATE}) !== ${FAILED}) fail(err); }
}
`;

/** Tuning of {@link WalCheckpointer}. */
export interface WalCheckpointerOptions {
  /** The database file (not `:memory:`). */
  file: string;
  /** busy_timeout of the worker's connection, in milliseconds. */
  busyTimeoutMs: number;
  /** Committed write transactions between two checkpoint requests. */
  commitsPerCheckpoint: number;
  /** While writes continue, the worker also checkpoints at least this often (milliseconds). */
  intervalMs: number;
  /** WAL length (frames) at which the writer checkpoints inline instead of waiting for the worker. */
  maxWalPages: number;
  /** Called once, synchronously, when the worker has failed; the store then checkpoints inline. */
  onError: (err: StoreError) => void;
}

/**
 * Owns the checkpoint worker of one store. The store calls {@link noteCommit} after each committed write
 * transaction (a few shared-memory reads and writes) and runs an inline checkpoint when it returns true.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly s: Int32Array;
  private readonly errBytes: Uint8Array;
  private commits = 0;
  private commitsAtRequest = 0;
  /** COMMITS when the store last checkpointed inline: the WAL restarted right after. */
  private inlineAt = 0;
  private framesPerCommit = 2;
  private failed = false;
  private closing: Promise<void> | undefined;
  private readonly exited: Promise<void>;

  constructor(private readonly o: WalCheckpointerOptions) {
    const shared = new SharedArrayBuffer(CELLS * 4 + ERR_BYTES);
    this.s = new Int32Array(shared, 0, CELLS);
    this.errBytes = new Uint8Array(shared, CELLS * 4, ERR_BYTES);
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { shared, driver, file: o.file, busyTimeoutMs: o.busyTimeoutMs, intervalMs: o.intervalMs },
    });
    // Never keeps the process alive; a process that exits without close() leaves a WAL that the next opener recovers.
    this.worker.unref();
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    // Without this listener an exception in the worker would be an unhandled 'error' event in this process.
    this.worker.on('error', (err) => this.fail(`the WAL checkpoint worker crashed: ${err.message}`, err));
    this.worker.on('exit', (code) => {
      if (this.closing === undefined) this.fail(`the WAL checkpoint worker exited unexpectedly (code ${code})`);
    });
  }

  /** False once the worker failed or the checkpointer is closing: the store then checkpoints inline. */
  get active(): boolean {
    return !this.failed && this.closing === undefined;
  }

  /**
   * Counts one committed write transaction. Returns true when the store must checkpoint inline now: the WAL holds
   * about `maxWalPages` frames (a PASSIVE checkpoint never catches up with a writer that keeps appending, and only
   * a checkpoint by the writer itself lets its next transaction restart the log), or the worker has not reported
   * for that many commits (each commit appends at least one frame). Reports a failed worker to `onError` first.
   */
  noteCommit(): boolean {
    if (!this.active) return false;
    const n = ++this.commits;
    Atomics.store(this.s, COMMITS, n);
    if (Atomics.load(this.s, STATE) === FAILED) {
      this.fail(`background WAL checkpoint failed: ${Buffer.from(this.errBytes.subarray(0, Atomics.load(this.s, ERR_LEN))).toString('utf8')}`);
      return false;
    }
    if (n - this.commitsAtRequest >= this.o.commitsPerCheckpoint) {
      this.commitsAtRequest = n;
      Atomics.add(this.s, REQ, 1);
      Atomics.notify(this.s, REQ);
    }
    // Estimated WAL frames: the worker's last report plus the commits since, at the frames per commit observed
    // since the WAL last restarted (2 until a report comes in; a commit appends one frame per page it changed).
    const at = Atomics.load(this.s, LOG_AT);
    let wal: number;
    if (at > this.inlineAt) {
      const log = Atomics.load(this.s, LOG);
      if (log > 0) this.framesPerCommit = Math.max(1, log / (at - this.inlineAt));
      wal = log + this.framesPerCommit * (n - at);
    } else {
      wal = this.framesPerCommit * (n - this.inlineAt);
    }
    return wal >= this.o.maxWalPages;
  }

  /** The store has just checkpointed inline: its next write transaction restarts the WAL. */
  checkpointedInline(): void {
    this.inlineAt = this.commits;
  }

  /** Stops the worker after its current checkpoint (if any) and waits for its thread to end. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (!this.failed) Atomics.store(this.s, STATE, CLOSING);
    Atomics.notify(this.s, REQ);
    // Waiting for the exit must keep the event loop alive (the worker is unref'd), or an awaiting caller's
    // process would end with that promise unsettled.
    this.worker.ref();
    this.closing = this.exited;
    return this.closing;
  }

  private fail(message: string, cause?: unknown): void {
    if (this.failed || this.closing !== undefined) return;
    this.failed = true;
    Atomics.store(this.s, STATE, FAILED);
    Atomics.notify(this.s, REQ);
    this.o.onError(new StoreError(message, cause === undefined ? undefined : { cause }));
  }
}

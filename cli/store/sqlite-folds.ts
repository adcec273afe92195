/**
 * {@link SqliteFolds}: the journals of a SQLite checkpoint file's runs folded for {@link SqliteRunsStore} (every item
 * enqueued, which were consumed, the step history), kept between reads. A run's next read decodes only the journal
 * rows and history written after the ones its fold has seen (its position: the last seq read), so the page of a long
 * running run, which the dashboard re-reads on each of its commits, costs what changed, not the whole run (a run of
 * 170,000 steps: about 2 s of the server's one thread to fold whole).
 *
 * A kept fold is used only while the run's record shows no run-level write since (its number, status, version and
 * last update time): a cancel, a failure, a reopen, a completion, a migration (which rewrites stored items) or a purge
 * and re-creation makes the next read fold the run whole again.
 */
import type { CorruptStateError } from '../../runtime/core/errors.js';
import type { StepRecord } from '../../runtime/engine/events.js';
import type { EngineItem } from '../../runtime/engine/types.js';
import type { HistoryPosition, SqliteHistory } from '../../runtime/stores/sqlite-history.js';
import type { JournalStep, ListedRun, RunJournal, SqliteRunReader } from '../../runtime/stores/sqlite-inspect.js';

/**
 * A run's journal folded: every item ever enqueued, which were consumed, and the run's history. Items that cannot be
 * read are in `corrupt` by id: the start item, and for each step whose enqueued items are unreadable one stand-in
 * `{ node: '?', id: '(step <seq> items)', input: null }` (their ids are inside the unreadable JSON). `attempts`: each
 * item's last attempt in the history. Valid until the next fold of the run (a later one extends its lists).
 */
export interface Folded {
  readonly journal: RunJournal;
  readonly enqueued: readonly EngineItem[];
  readonly pending: readonly EngineItem[];
  readonly consumed: ReadonlySet<string>;
  readonly history: readonly StepRecord[];
  readonly attempts: ReadonlyMap<string, number>;
  readonly corrupt: ReadonlyMap<string, CorruptStateError>;
  /**
   * Per node, how many of the enqueued items were consumed; undefined when the journal is not regular (an item consumed
   * that was not pending, an id enqueued twice, a corrupt start item whose node the history names): count `enqueued`.
   */
  readonly completed: ReadonlyMap<string, number> | undefined;
}

/** Runs whose fold is kept at most (the least recently read is dropped first). */
const MAX_KEPT = 16;
/**
 * Journal steps the kept folds hold at most together (the least recently read run's fold is dropped first; the run just
 * read is kept whatever its length): a fold holds each step's decoded items and delta.
 */
const MAX_KEPT_STEPS = 500_000;

/** A fold kept between reads, with where its reads stopped. */
interface Kept {
  readonly run: ListedRun;
  readonly steps: JournalStep[];
  readonly enqueued: EngineItem[];
  readonly consumed: Set<string>;
  readonly history: StepRecord[];
  readonly attempts: Map<string, number>;
  readonly corrupt: Map<string, CorruptStateError>;
  /**
   * The items enqueued and not consumed, in enqueue order, and per node the count of those consumed, kept as steps are
   * added while the journal is regular ({@link Folded.completed}); undefined past the first irregular step.
   */
  open: { readonly items: Map<string, EngineItem>; readonly completed: Map<string, number> } | undefined;
  start: EngineItem;
  seq: number;
  position: HistoryPosition | undefined;
  contextCorrupt: CorruptStateError | undefined;
}

export class SqliteFolds {
  private readonly kept = new Map<string, Kept>();

  constructor(
    private readonly reader: SqliteRunReader,
    private readonly history: SqliteHistory,
  ) {}

  /** Whether a fold of run `runId` is kept (a read of it extends the fold by the rows written since). */
  has(runId: string): boolean {
    return this.kept.has(runId);
  }

  /** Run `runId` folded ({@link Folded}); undefined for an unknown run. Throws a corrupt history's `CorruptStateError`. */
  fold(runId: string): Folded | undefined {
    let k = this.kept.get(runId);
    this.kept.delete(runId);
    let journal = this.reader.journal(runId, k && { seq: k.seq, ...(k.contextCorrupt ? { contextCorrupt: k.contextCorrupt } : {}) });
    if (k && journal && !sameRun(k.run, journal.run)) {
      k = undefined;
      journal = this.reader.journal(runId);
    }
    if (!journal) return undefined;
    const run = journal.run;
    const read = this.history.read(run.runNo, runId, run.status === 'completed', k?.position);
    const kept: Kept = k ? { ...k, run } : startOf(journal);
    if (k) {
      // a delta found corrupt now: the context cannot be read, so no step shows its delta (RunJournal)
      if (journal.contextCorrupt && !k.contextCorrupt) for (let i = 0; i < kept.steps.length; i++) kept.steps[i] = { ...kept.steps[i]!, delta: undefined };
      kept.contextCorrupt = journal.contextCorrupt;
    }
    for (const s of journal.steps) {
      kept.steps.push(s);
      const it = kept.open?.items.get(s.itemId);
      if (it === undefined) kept.open = undefined;
      else {
        kept.open!.items.delete(s.itemId);
        kept.open!.completed.set(it.node, (kept.open!.completed.get(it.node) ?? 0) + 1);
      }
      kept.consumed.add(s.itemId);
      for (const it of s.items) enqueue(kept, it);
      if (s.itemsCorrupt) {
        const stand = { node: '?', id: `(step ${s.seq} items)`, input: null };
        enqueue(kept, stand);
        kept.corrupt.set(stand.id, s.itemsCorrupt);
      }
      kept.seq = s.seq;
    }
    for (const h of read.records) {
      kept.history.push(h);
      kept.attempts.set(h.itemId, h.attempt);
    }
    kept.position = read.position;
    // a corrupt start item: its node as the history names it (an attempt of it ran), else '?'
    if (journal.startCorrupt) kept.start = kept.enqueued[0] = { ...journal.start, node: kept.history.find((h) => h.itemId === journal.start.id)?.node ?? journal.start.node };
    this.keep(runId, kept);
    const done = run.status === 'completed';
    return {
      journal: { ...journal, start: kept.start, steps: kept.steps, ...(kept.contextCorrupt ? { contextCorrupt: kept.contextCorrupt } : {}) },
      enqueued: kept.enqueued,
      pending: done ? [] : kept.open ? [...kept.open.items.values()] : kept.enqueued.filter((it) => !kept.consumed.has(it.id)),
      consumed: kept.consumed,
      history: kept.history,
      attempts: kept.attempts,
      corrupt: kept.corrupt,
      completed: kept.open?.completed,
    };
  }

  /** Keeps `kept` as run `runId`'s fold, dropping the least recently read ones past {@link MAX_KEPT} or {@link MAX_KEPT_STEPS}. */
  private keep(runId: string, kept: Kept): void {
    let steps = kept.steps.length;
    for (const k of this.kept.values()) steps += k.steps.length;
    while (this.kept.size > 0 && (this.kept.size >= MAX_KEPT || steps > MAX_KEPT_STEPS)) {
      const [oldest, k] = this.kept.entries().next().value!;
      this.kept.delete(oldest);
      steps -= k.steps.length;
    }
    this.kept.set(runId, kept);
  }
}

/** A new fold of `journal` (read whole), its steps and history not yet added. */
function startOf(journal: RunJournal): Kept {
  const start = journal.start;
  return {
    run: journal.run,
    steps: [],
    enqueued: [start],
    consumed: new Set(),
    history: [],
    attempts: new Map(),
    corrupt: new Map(journal.startCorrupt ? [[start.id, journal.startCorrupt]] : []),
    open: journal.startCorrupt ? undefined : { items: new Map([[start.id, start]]), completed: new Map() },
    start,
    seq: -1,
    position: undefined,
    contextCorrupt: journal.contextCorrupt,
  };
}

/** Adds `it` to the items `kept` enqueued (its open items while the journal is regular: an id not seen before). */
function enqueue(kept: Kept, it: EngineItem): void {
  kept.enqueued.push(it);
  if (kept.open === undefined) return;
  if (kept.open.items.has(it.id) || kept.consumed.has(it.id)) kept.open = undefined;
  else kept.open.items.set(it.id, it);
}

/** The same run with no run-level write since `a` was read: a fold of `a` extends to `b` by its new rows. */
function sameRun(a: ListedRun, b: ListedRun): boolean {
  return a.runNo === b.runNo && a.status === b.status && a.fingerprint === b.fingerprint && Object.is(a.updatedAt, b.updatedAt);
}

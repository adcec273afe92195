/**
 * The observation conformance suite (step history and events, `RunObserver` in contracts.ts): one spec for every
 * backend that implements it. `make` returns a backend over fresh, empty state on every call.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, RunNotFoundError } from '../../runtime/core/errors.js';
import { supportsMigration, type DistributedBackend, type NewRun, type RunObserver } from '../../runtime/distributed/contracts.js';
import { isFinalEvent, type EventEnvelope, type SubscribeOptions, type WorkflowEvent } from '../../runtime/engine/events.js';

type Observed = DistributedBackend & RunObserver;

const run = (runId: string): NewRun => ({ runId, workflow: 'wf', fingerprint: 'fp', input: 1, context: {}, firstItem: { node: 'a', id: '0', input: 1 } });

/** Collects a subscription's envelopes until `stop` says so (or `max` arrived). */
async function collect(b: Observed, options: SubscribeOptions, stop: (e: EventEnvelope[]) => boolean, max = 10_000): Promise<EventEnvelope[]> {
  const ac = new AbortController();
  const out: EventEnvelope[] = [];
  const timer = setTimeout(() => ac.abort(), 20_000);
  try {
    for await (const e of b.subscribe({ ...options, signal: ac.signal })) {
      out.push(e);
      if (stop(out) || out.length >= max) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

const finalOf = (runId: string) => (es: EventEnvelope[]) => es.some((e) => e.event.runId === runId && isFinalEvent(e.event));

const shape = (e: WorkflowEvent): string => {
  switch (e.type) {
    case 'step.started':
      return `${e.type}:${e.node}:${e.itemId}:${e.attempt}:${e.workerId}`;
    case 'step.finished':
      return `${e.type}:${e.node}:${e.itemId}:${e.attempt}:${e.outcome}`;
    case 'step.retry':
      return `${e.type}:${e.node}:${e.itemId}:${e.attempt}:${e.delayMs}`;
    default:
      return e.type;
  }
};

export function describeObservation(name: string, make: () => Promise<Observed>): void {
  describe(`step history and events: ${name}`, () => {
    let b: Observed;
    beforeEach(async () => {
      b = await make();
    });
    afterEach(async () => {
      await b.close();
    });

    /** Runs `a` (one retry) -> `b` (terminal) by hand. */
    async function drive(runId: string): Promise<void> {
      await b.createRun(run(runId));
      const [l1] = await b.claim('w1', 1, 30_000);
      await b.commitStep({ runId, itemId: '0', leaseToken: l1!.leaseToken, outcome: { type: 'retry', attempt: 2, delayMs: 0, error: { name: 'Error', message: 'flaky' } } });
      const [l2] = await b.claim('w2', 1, 30_000);
      await b.commitStep({ runId, itemId: '0', leaseToken: l2!.leaseToken, outcome: { type: 'continue', items: [{ node: 'b', id: '1', input: 2 }], arrivals: [], delta: { n: 1 } } });
      const [l3] = await b.claim('w1', 1, 30_000);
      await b.commitStep({ runId, itemId: '1', leaseToken: l3!.leaseToken, outcome: { type: 'terminal', output: 'done', items: [], arrivals: [], delta: undefined } });
    }

    it('keeps every attempt in the step history, with worker, times, outcome and error', async () => {
      await drive('h1');
      const history = await b.stepHistory('h1');
      expect(history.map((h) => [h.node, h.itemId, h.attempt, h.workerId, h.outcome])).toEqual([
        ['a', '0', 1, 'w1', 'retry'],
        ['a', '0', 2, 'w2', 'continue'],
        ['b', '1', 1, 'w1', 'terminal'],
      ]);
      expect(history[0]).toMatchObject({ runId: 'h1', error: { name: 'Error', message: 'flaky' } });
      expect(history[1]?.error).toBeUndefined();
      for (const h of history) expect(h.finishedAt).toBeGreaterThanOrEqual(h.startedAt);
      await expect(b.stepHistory('nope')).rejects.toBeInstanceOf(RunNotFoundError);
      // with a limit: the newest attempts, oldest first
      expect(await b.stepHistory('h1', { limit: 2 })).toEqual(history.slice(-2));
      expect(await b.stepHistory('h1', { limit: 1 })).toEqual(history.slice(-1));
      expect(await b.stepHistory('h1', { limit: 10 })).toEqual(history);
      await expect(b.stepHistory('h1', { limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(b.stepHistory('nope', { limit: 1 })).rejects.toBeInstanceOf(RunNotFoundError);
    });

    it('publishes one ordered event stream: created, each attempt started and finished or retried, completed', async () => {
      const seen = collect(b, { runId: 'e1' }, finalOf('e1'));
      await drive('e1');
      const events = (await seen).map((e) => e.event);
      expect(events.map(shape)).toEqual([
        'run.created',
        'step.started:a:0:1:w1',
        'step.retry:a:0:1:0',
        'step.started:a:0:2:w2',
        'step.finished:a:0:2:continue',
        'step.started:b:1:1:w1',
        'step.finished:b:1:1:terminal',
        'run.completed',
      ]);
      expect(events.at(-1)).toMatchObject({ type: 'run.completed', runId: 'e1', output: 'done', dropped: [] });
      expect(events[0]).toMatchObject({ type: 'run.created', workflow: 'wf' });
      expect(events.every((e) => e.runId === 'e1' && typeof e.at === 'number')).toBe(true);
    });

    it("gives the completed run's output in its event as it was: a Date, a Map and a bigint stay what they were", async () => {
      const seen = collect(b, { runId: 'v1' }, finalOf('v1'));
      await b.createRun(run('v1'));
      const [l1] = await b.claim('w1', 1, 30_000);
      const output = { at: new Date(Date.UTC(2024, 1, 29)), index: new Map([['a', 1n]]) };
      await b.commitStep({ runId: 'v1', itemId: '0', leaseToken: l1!.leaseToken, outcome: { type: 'terminal', output, items: [], arrivals: [], delta: undefined } });
      const done = (await seen).map((e) => e.event).find((e) => e.type === 'run.completed');
      expect(done).toMatchObject({ type: 'run.completed', output });
      const got = (done as { output: typeof output }).output;
      expect(got.at).toBeInstanceOf(Date);
      expect(got.index.get('a')).toBe(1n);
    });

    it('resumes after a cursor with nothing lost or repeated, and filters by run', async () => {
      await drive('c1');
      await drive('c2');
      const all = await collect(b, {}, (es) => es.filter((e) => isFinalEvent(e.event)).length === 2);
      expect(all).toHaveLength(16);
      const cursors = all.map((e) => e.cursor);
      expect(new Set(cursors).size).toBe(16);
      // after every cursor, also one inside a store's batch of events (a terminal commit's step.finished, say)
      for (let i = 0; i < all.length - 1; i++) {
        const rest = await collect(b, { after: all[i]!.cursor }, (es) => es.length === all.length - 1 - i);
        expect(rest.map((e) => e.cursor), `after event ${i}`).toEqual(cursors.slice(i + 1));
      }
      const c2rest = await collect(b, { runId: 'c2', after: all[9]!.cursor }, finalOf('c2'));
      expect(c2rest.map((e) => e.cursor)).toEqual(cursors.slice(10).filter((_, k) => all[10 + k]!.event.runId === 'c2'));
      const c2 = await collect(b, { runId: 'c2' }, finalOf('c2'));
      expect(c2.map((e) => e.event.runId)).toEqual(Array(8).fill('c2'));
    });

    it("'now' skips what happened before the call", async () => {
      await drive('n1');
      const seen = collect(b, { after: 'now' }, finalOf('n2'));
      await drive('n2');
      const events = await seen;
      // all of n2 (its creation included: the position is taken when the iteration starts) and nothing of n1
      expect(events.map((e) => `${e.event.runId}:${e.event.type}`)).toEqual([
        'n2:run.created', 'n2:step.started', 'n2:step.retry', 'n2:step.started', 'n2:step.finished', 'n2:step.started', 'n2:step.finished', 'n2:run.completed',
      ]);
    });

    it('reports pause, resume, cancel and a failure, and nothing for a commit that applies nothing', async () => {
      const seen = collect(b, {}, (es) => es.filter((e) => isFinalEvent(e.event)).length === 2);
      await b.createRun(run('p1'));
      await b.pauseRun('p1');
      await b.pauseRun('p1');
      await b.resumeRun('p1');
      const [l] = await b.claim('w1', 1, 30_000);
      await b.cancelRun('p1', 'enough');
      expect((await b.commitStep({ runId: 'p1', itemId: '0', leaseToken: l!.leaseToken, outcome: { type: 'continue', items: [], arrivals: [], delta: undefined } })).status).toBe('run_finished');
      await b.createRun(run('f1'));
      const [f] = await b.claim('w1', 1, 30_000);
      await b.commitStep({ runId: 'f1', itemId: '0', leaseToken: f!.leaseToken, outcome: { type: 'failed', attempts: 1, error: { name: 'Error', message: 'fatal' } } });
      const events = (await seen).map((e) => e.event);
      expect(events.filter((e) => e.runId === 'p1').map(shape)).toEqual(['run.created', 'run.paused', 'run.resumed', 'step.started:a:0:1:w1', 'run.cancelled']);
      expect(events.find((e) => e.type === 'run.cancelled')).toMatchObject({ error: { name: 'CancelledError', message: 'enough' } });
      expect(events.filter((e) => e.runId === 'f1').map(shape)).toEqual(['run.created', 'step.started:a:0:1:w1', 'step.finished:a:0:1:failed', 'run.failed']);
      expect(await b.stepHistory('f1')).toMatchObject([{ outcome: 'failed', error: { message: 'fatal' } }]);
      expect(await b.stepHistory('p1')).toEqual([]);
    });

    it('reports each version move (run.migrated) in order with the run\'s events; the record keeps where the run started and when it moved', async () => {
      if (!supportsMigration(b)) throw new Error(`${name} cannot migrate`);
      const seen = collect(b, { runId: 'm1' }, finalOf('m1'));
      await b.createRun(run('m1'));
      expect(await b.getRun('m1')).not.toHaveProperty('startedOn');
      const [l1] = await b.claim('w1', 1, 30_000);
      await b.commitStep({ runId: 'm1', itemId: '0', leaseToken: l1!.leaseToken, outcome: { type: 'continue', items: [{ node: 'b', id: '1', input: 2 }], arrivals: [], delta: undefined } });
      // an operator's move with a rename, then a worker's (one whose build accepts fp2)
      await b.migrate('m1', { from: 'fp', to: 'fp2', renames: { b: 'c' } });
      const once = (await b.getRun('m1'))!;
      expect([once.fingerprint, once.startedOn, once.updatedAt]).toEqual(['fp2', 'fp', once.migratedAt]);
      await b.migrate('m1', { from: 'fp2', to: 'fp3', renames: {}, leases: 'keep', workerId: 'w9' });
      const twice = (await b.getRun('m1'))!;
      expect([twice.fingerprint, twice.startedOn, twice.updatedAt]).toEqual(['fp3', 'fp', twice.migratedAt]);
      expect(twice.migratedAt).toBeGreaterThanOrEqual(once.migratedAt!);
      const [l2] = await b.claim('w2', 1, 30_000, { workflow: 'wf', fingerprints: ['fp3'] });
      await b.commitStep({ runId: 'm1', itemId: '1', leaseToken: l2!.leaseToken, outcome: { type: 'terminal', output: 'done', items: [], arrivals: [], delta: undefined } });
      const events = (await seen).map((e) => e.event);
      expect(events.map(shape)).toEqual([
        'run.created',
        'step.started:a:0:1:w1',
        'step.finished:a:0:1:continue',
        'run.migrated',
        'run.migrated',
        'step.started:c:1:1:w2',
        'step.finished:c:1:1:terminal',
        'run.completed',
      ]);
      const moves = events.filter((e) => e.type === 'run.migrated');
      expect(moves).toEqual([
        { type: 'run.migrated', runId: 'm1', at: once.migratedAt, from: 'fp', to: 'fp2', renames: { b: 'c' }, workerId: undefined },
        { type: 'run.migrated', runId: 'm1', at: twice.migratedAt, from: 'fp2', to: 'fp3', renames: {}, workerId: 'w9' },
      ]);
      // a finished run keeps what it knew of its moves
      expect(await b.getRun('m1')).toMatchObject({ status: 'completed', startedOn: 'fp', migratedAt: twice.migratedAt });
    });

    it('refuses a cursor it did not make when subscribing, before any read', () => {
      for (const after of ['x', '1-2.', '1-2.x', ' 1-2', '1-2.0 ']) expect(() => b.subscribe({ after }), after).toThrow(InvalidArgumentError);
      // from JavaScript, or JSON that lost the cursor: no cursor is not `null` (Redis read null as "from the oldest")
      for (const after of [null, 0, {}]) expect(() => b.subscribe({ after: after as unknown as string }), String(after)).toThrow(InvalidArgumentError);
    });

    it('refuses a well-formed cursor ahead of every event it made (one it never issued) instead of skipping what comes', async () => {
      await drive('ahead-1');
      const [first] = await collect(b, {}, (es) => es.length > 0);
      // the same shape, its leading number (sequence, stream time or transaction) far ahead
      const ahead = first!.cursor.replace(/^\d+/, (d) => String(BigInt(d) + 10n ** 12n));
      const err = await collect(b, { after: ahead }, () => true).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(new RegExp(`^cursor ${ahead.replace(/[.]/g, '\\.')} is ahead of every event this store made \\(the newest is .+\\): it was not issued by this store$`));
    });

    it('ends the iteration when its signal aborts', async () => {
      const ac = new AbortController();
      const it = b.subscribe({ signal: ac.signal })[Symbol.asyncIterator]();
      const next = it.next();
      ac.abort();
      expect(await next).toEqual({ done: true, value: undefined });
    });
  });
}

import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { assertKeyPrefix, assertRunId, canonicalJson, childItemId, parseStoredJson } from '../../runtime/core/ids.js';
import { classifyLiveness, type DistributedBackend } from '../../runtime/distributed/contracts.js';
import { CorruptStateError, EventsLostError, InvalidArgumentError } from '../../runtime/core/errors.js';
import { describeObservation } from './observation.js';
import { describeBackendConformance } from './conformance.js';

/** The memory backend's stored JSON, reached through its private run table (what a corrupt store would hold). */
interface StoredRun {
  items: Map<string, { json: string }>;
  contextJson: string;
  deltas: Array<{ version: number; json: string }>;
  inputJson: string;
  error: unknown;
  createdAt: number;
}
function storedRun(b: DistributedBackend, runId: string): StoredRun {
  return (b as unknown as { runs: Map<string, StoredRun> }).runs.get(runId)!;
}

describeBackendConformance('memory', async () => new MemoryBackend(), {
  tamper: {
    itemJson: async (b, runId, itemId, text) => void (storedRun(b, runId).items.get(itemId)!.json = text),
    contextJson: async (b, runId, text) => void (storedRun(b, runId).contextJson = text),
    deltaJson: async (b, runId, version, text) => void (storedRun(b, runId).deltas.find((d) => d.version === version)!.json = text),
    // the record's fields as the run table holds them: input as JSON text, the error as a value, times as numbers
    runField: async (b, runId, field, text) => {
      const run = storedRun(b, runId);
      if (field === 'input') run.inputJson = text;
      else if (field === 'error') run.error = JSON.parse(text);
      else run.createdAt = Number(text);
    },
  },
});

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('memory backend with an injected clock', () => {
  const spec = (runId: string) => ({ runId, workflow: 'wf', fingerprint: 'fp', input: 1, context: {}, firstItem: { node: 'a', id: '0', input: 1 } });

  it('expires leases and releases delayed items exactly at their time', async () => {
    const clock = manualClock();
    const b = new MemoryBackend({ clock: clock.now });
    await b.createRun(spec('r'));
    const [l] = await b.claim('w1', 1, 1000);
    expect(l!.leaseExpiresAt).toBe(clock.now() + 1000);
    clock.advance(999);
    expect(await b.claim('w2', 1, 1000)).toEqual([]);
    expect(await b.extendLease('r', '0', l!.leaseToken, 1000)).toEqual({ status: 'extended', leaseExpiresAt: clock.now() + 1000, runStatus: 'running' });
    clock.advance(1000);
    const [again] = await b.claim('w2', 1, 1000);
    expect(again).toMatchObject({ deliveries: 2, attempt: 1 });
    const res = await b.commitStep({ runId: 'r', itemId: '0', leaseToken: again!.leaseToken, outcome: { type: 'retry', attempt: 1, delayMs: 500, error: { name: 'E', message: 'x' } } });
    expect(res.status).toBe('applied');
    expect(await b.itemState('r', '0')).toMatchObject({ status: 'waiting_retry', notBefore: clock.now() + 500, attempt: 2 });
    clock.advance(499);
    expect(await b.claim('w3', 1, 1000)).toEqual([]);
    clock.advance(1);
    expect(await b.claim('w3', 1, 1000)).toMatchObject([{ attempt: 2, deliveries: 3 }]);
  });

  it('records creation times from its clock and sorts runs by them', async () => {
    const clock = manualClock(5_000);
    const b = new MemoryBackend({ clock: clock.now });
    await b.createRun(spec('first'));
    clock.advance(10);
    await b.createRun(spec('second'));
    expect((await b.listRuns()).map((r) => [r.runId, r.createdAt])).toEqual([
      ['second', 5_010],
      ['first', 5_000],
    ]);
  });

  it('keeps rotating fairly after a run finishes', async () => {
    const b = new MemoryBackend();
    for (const id of ['a', 'b', 'c']) await b.createRun(spec(id));
    const starts = await b.claim('w', 3, 10_000);
    for (const l of starts) {
      const items = [0, 1, 2].map((i) => ({ node: 'a', id: childItemId('0', i), input: i }));
      await b.commitStep({ runId: l.runId, itemId: '0', leaseToken: l.leaseToken, outcome: { type: 'continue', items, arrivals: [], delta: undefined } });
    }
    const [fromA] = await b.claim('w', 1, 10_000);
    expect(fromA!.runId).toBe('a');
    await b.cancelRun('b');
    const next = await b.claim('w', 4, 10_000);
    expect(next.map((l) => l.runId)).toEqual(['c', 'a', 'c', 'a']);
  });
});

describe('ids', () => {
  it('derives deterministic, distinct child ids', () => {
    expect(childItemId('0', 0)).toBe(childItemId('0', 0));
    expect(childItemId('0', 0)).not.toBe(childItemId('0', 1));
    expect(childItemId('01', 0)).not.toBe(childItemId('0', 10));
    expect(childItemId('0', 3)).toMatch(/^[0-9a-f]{20}$/);
    expect(() => childItemId('0', -1)).toThrow(InvalidArgumentError);
  });

  it('validates run ids and key prefixes', () => {
    expect(() => assertRunId('run-1.a:b_c')).not.toThrow();
    expect(() => assertRunId('a b')).toThrow(InvalidArgumentError);
    expect(() => assertRunId(42)).toThrow(InvalidArgumentError);
    expect(() => assertKeyPrefix('floxide:')).not.toThrow();
    for (const bad of ['', 'a*', 'pre{fix}', 'x'.repeat(65), ':lead']) expect(() => assertKeyPrefix(bad)).toThrow(InvalidArgumentError);
  });

  it('encodes canonical JSON and parses stored JSON safely', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }], e: 'x' })).toBe('{"a":[{"d":2}],"b":1,"e":"x"}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(InvalidArgumentError);
    expect(canonicalJson(Infinity)).toBe('{"$number":"Infinity"}');
    // A __proto__ key is data: an own property, the prototype untouched (issue 8 item 5).
    const parsed = parseStoredJson<object>('{"__proto__":{"p":1},"k":2}', 'x');
    expect(Object.keys(parsed)).toEqual(['__proto__', 'k']);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect((parsed as { p?: unknown }).p).toBeUndefined();
    expect(() => parseStoredJson('{nope', 'run record')).toThrow(CorruptStateError);
  });

  it('classifies liveness by heartbeat age', () => {
    expect(classifyLiveness(100, 109, 10)).toBe('alive');
    expect(classifyLiveness(100, 110, 10)).toBe('stale');
    expect(classifyLiveness(100, 130, 10)).toBe('dead');
  });
});

describeObservation('memory', async () => new MemoryBackend());

describe('memory backend events retention', () => {
  it('refuses to resume after a cursor it no longer retains', async () => {
    const b = new MemoryBackend({ eventRetention: 1 });
    for (let i = 0; i < 1100; i++) await b.pauseRun((await b.createRun({ runId: `r${i}`, workflow: 'wf', fingerprint: 'fp', input: 1, context: {}, firstItem: { node: 'a', id: '0', input: 1 } })).run.runId);
    const it = b.subscribe({ after: '1' })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toBeInstanceOf(EventsLostError);
    expect(() => b.subscribe({ after: 'x' })).toThrow(InvalidArgumentError);
  });
});

describe('waiting for a run', () => {
  it('a poll period past the largest timer (2^31 - 1 ms) polls no faster than asked', async () => {
    const { Orchestrator } = await import('../../runtime/distributed/orchestrator.js');
    const backend = new MemoryBackend();
    await backend.createRun({ runId: 'slow', workflow: 'wf', fingerprint: 'fp', input: 0, context: {}, firstItem: { node: 'a', id: '0', input: 0 } });
    let reads = 0;
    const counted = new Proxy(backend, {
      get: (target, key, receiver) => {
        if (key === 'getRun') reads += 1;
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('enough')), 300);
    // (its own timer fired such a period after 1 ms: the wait read the run non-stop)
    await expect(new Orchestrator(counted).waitForCompletion('slow', { timeoutMs: 4e9, pollMs: 3e9, signal: stop.signal })).rejects.toThrow('enough');
    expect(reads).toBe(1);
  });
});

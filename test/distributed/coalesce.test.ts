import { describe, expect, it } from 'vitest';
import { Coalescer, type Settled } from '../../runtime/distributed/coalesce.js';
import { StoreError } from '../../runtime/core/errors.js';

/** A send that records its batches and answers when told to. */
function recorder() {
  const batches: string[][] = [];
  const pending: Array<(r: ReadonlyArray<Settled<string>>) => void> = [];
  const send = (inputs: string[]) => {
    batches.push([...inputs]);
    return new Promise<ReadonlyArray<Settled<string>>>((resolve) => pending.push(resolve));
  };
  const answer = (f: (x: string) => Settled<string> = (x) => ({ ok: true, value: x.toUpperCase() })) => pending.shift()!(batches[batches.length - pending.length - 1]!.map(f));
  return { batches, send, answer, pending };
}

describe('Coalescer', () => {
  it('sends an idle call at once and gathers the calls made meanwhile into the next request', async () => {
    const r = recorder();
    const c = new Coalescer(r.send, { maxBatch: 2 });
    const a = c.submit('a');
    const rest = ['b', 'c', 'd'].map((x) => c.submit(x));
    expect(r.batches).toEqual([['a']]);
    r.answer();
    expect(await a).toBe('A');
    await Promise.resolve();
    expect(r.batches).toEqual([['a'], ['b', 'c']]);
    r.answer();
    await new Promise((res) => setImmediate(res));
    expect(r.batches).toEqual([['a'], ['b', 'c'], ['d']]);
    r.answer();
    expect(await Promise.all(rest)).toEqual(['B', 'C', 'D']);
  });

  it('never puts two calls with the same key in one request, and settles each call on its own', async () => {
    const r = recorder();
    const c = new Coalescer(r.send, { maxBatch: 10, keyOf: (x: string) => x[0]! });
    const first = c.submit('x0');
    const later = Promise.allSettled([c.submit('y1'), c.submit('x2'), c.submit('x3'), c.submit('z4')]);
    r.answer();
    await first;
    await Promise.resolve();
    expect(r.batches[1]).toEqual(['y1', 'x2', 'z4']);
    r.answer((x) => (x === 'z4' ? { ok: false, error: new Error('bad z') } : { ok: true, value: x }));
    await new Promise((res) => setImmediate(res));
    expect(r.batches[2]).toEqual(['x3']);
    r.answer();
    const settled = await later;
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['y1', 'x2', 'X3', 'bad z']);
  });

  it('rejects every call of a failed request, and a call the answer leaves out with StoreError', async () => {
    const c = new Coalescer<string, string>(async (inputs) => {
      if (inputs.includes('boom')) throw new Error('connection lost');
      return inputs.slice(0, -1).map((x) => ({ ok: true as const, value: x }));
    }, { maxBatch: 5, gather: 'tick' });
    const [a, b] = await Promise.allSettled([c.submit('boom'), c.submit('other')]);
    expect(a).toMatchObject({ status: 'rejected', reason: { message: 'connection lost' } });
    expect(b).toMatchObject({ status: 'rejected', reason: { message: 'connection lost' } });
    const [x, y] = await Promise.allSettled([c.submit('p'), c.submit('q')]);
    expect(x).toMatchObject({ status: 'fulfilled', value: 'p' });
    expect(y.status === 'rejected' && y.reason).toBeInstanceOf(StoreError);
  });

  it('keeps at most maxInFlight requests on their way', async () => {
    const r = recorder();
    const c = new Coalescer(r.send, { maxBatch: 1, maxInFlight: 2, gather: 'tick' });
    const all = ['a', 'b', 'c'].map((x) => c.submit(x));
    await new Promise((res) => setImmediate(res));
    expect(r.batches).toEqual([['a'], ['b']]);
    r.answer();
    await new Promise((res) => setImmediate(res));
    await new Promise((res) => setImmediate(res));
    expect(r.batches).toEqual([['a'], ['b'], ['c']]);
    r.answer();
    r.answer();
    expect(await Promise.all(all)).toEqual(['A', 'B', 'C']);
  });
});

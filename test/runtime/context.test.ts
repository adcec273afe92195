import { describe, expect, it } from 'vitest';
import { createContextCodec, EventLog, Fixed, merge } from 'floxide';

class Ctx {
  @merge.sum() total = 0;
  @merge.max() high = 0;
  @merge.min() low = 100;
  @merge.append() log: string[] = [];
  @merge.union() tags = new Set<string>();
  @merge.fixed() config = new Fixed({ mode: 'a' });
  @merge.eventLog() events = new EventLog<string>();
  @merge.with<string[]>({
    merge: (cur, d) => [...cur, ...d].sort(),
    diff: (before, after) => {
      const added = after.filter((x) => !before.includes(x));
      return added.length ? added : undefined;
    },
  })
  sorted: string[] = [];
  name = 'start';
}

const codec = createContextCodec(Ctx, { total: 'sum', high: 'max', low: 'min', log: 'append', tags: 'union', config: 'fixed', events: 'eventLog', sorted: 'custom' });

describe('context codec', () => {
  it('records one step as a delta of touched fields only, and applying it reproduces the step', () => {
    const base = new Ctx();
    const work = codec.clone(base, 'item-7');
    work.total += 5;
    work.high = 9;
    work.low = 3;
    work.log.push('a');
    work.tags.add('x');
    work.events.append('e1');
    work.sorted.push('b');
    (work as { config: unknown }).config = new Fixed({ mode: 'z' });
    expect(base.log).toEqual([]);
    const delta = codec.diff(base, work)!;
    expect(delta).toEqual({ total: 5, high: 9, low: 3, log: ['a'], tags: ['x'], events: [{ id: 'item-7#000000', event: 'e1' }], sorted: ['b'] });
    expect(codec.diff(base, codec.clone(base))).toBeUndefined();
    codec.apply(base, delta);
    expect(base.total).toBe(5);
    expect(base.config.get()).toEqual({ mode: 'a' });
    expect([...base.tags]).toEqual(['x']);
  });

  it('deltas from parallel branches merge per strategy', () => {
    const base = new Ctx();
    const a = codec.clone(base, 'a');
    const b = codec.clone(base, 'b');
    a.total += 1;
    b.total += 2;
    a.high = 4;
    b.high = 7;
    a.sorted.push('z');
    b.sorted.push('c');
    a.name = 'from a';
    b.name = 'from b';
    const da = codec.diff(base, a)!;
    const db = codec.diff(base, b)!;
    codec.apply(base, da);
    codec.apply(base, db);
    expect(base.total).toBe(3);
    expect(base.high).toBe(7);
    expect(base.sorted).toEqual(['c', 'z']);
    expect(base.name).toBe('from b');
  });

  it('serialises to JSON and revives the class, sets, event logs and fixed values', () => {
    const ctx = new Ctx();
    ctx.tags.add('t');
    ctx.events.append('e', 'id-1');
    const revived = codec.revive(JSON.parse(JSON.stringify(codec.serialize(ctx))));
    expect(revived).toBeInstanceOf(Ctx);
    expect(revived.tags).toBeInstanceOf(Set);
    expect(revived.events).toBeInstanceOf(EventLog);
    expect(revived.events.iter()).toEqual([{ id: 'id-1', event: 'e' }]);
    expect(revived.config).toBeInstanceOf(Fixed);
  });

  it('ignores prototype-polluting keys in deltas and stored data', () => {
    const ctx = new Ctx();
    codec.apply(ctx, JSON.parse('{"__proto__": {"polluted": 1}}'));
    codec.revive(JSON.parse('{"__proto__": {"polluted": 1}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('EventLog', () => {
  it('is idempotent by id and ordered by step then id, with no wall clock', () => {
    const log = new EventLog<string>();
    log.append('a', 'k1');
    log.append('again', 'k1');
    expect(log.events()).toEqual(['a']);
    const step = log.cloneForStep('s2');
    step.append('y', 'b');
    step.append('x', 'a');
    log.applyEntries(step.entriesSince(log));
    log.applyEntries(step.entriesSince(log.cloneForStep(undefined))); // replaying a delta adds nothing new
    expect(log.iter().map((e) => e.id)).toEqual(['k1', 'a', 'b']);
    expect(log.applyAll(0, (n) => n + 1)).toBe(3);
  });
});

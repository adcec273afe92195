import { describe, expect, it } from 'vitest';
import { CorruptStateError, createContextCodec, EventLog, Fixed, merge } from 'floxide';
import { safeJsonParse, toJson } from '../../runtime/core/json.js';

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
    const revived = codec.revive(safeJsonParse(toJson(codec.serialize(ctx), 'ctx'), 'ctx'));
    expect(revived).toBeInstanceOf(Ctx);
    expect(revived.tags).toBeInstanceOf(Set);
    expect([...revived.tags]).toEqual(['t']);
    // A set field stored before Sets were tagged (an array of members) still revives as a Set.
    expect(codec.revive({ tags: ['old'] }).tags).toEqual(new Set(['old']));
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

  it('stored values of the wrong shape for their merge strategy are CorruptStateError, not silently dropped merges', () => {
    const stored = (over: Record<string, unknown>) => ({ ...(codec.serialize(new Ctx()) as object), ...over });
    for (const [field, value, expected] of [
      ['total', 'many', 'a number'],
      ['high', [1], 'a number'],
      ['low', {}, 'a number'],
      ['log', 'a', 'an array'],
      ['tags', 3, 'an array or a set'],
    ] as const) {
      const strategy = { total: 'sum', high: 'max', low: 'min', log: 'append', tags: 'union' }[field];
      expect(() => codec.revive(stored({ [field]: value }))).toThrow(new CorruptStateError(`stored context field "${field}" (@merge.${strategy}) holds ${JSON.stringify(value)}, not ${expected}`));
      expect(() => codec.apply(new Ctx(), { [field]: value })).toThrow(new CorruptStateError(`context delta of field "${field}" (@merge.${strategy}) holds ${JSON.stringify(value)}, not ${expected}`));
    }
    expect(() => codec.revive(42)).toThrow(new CorruptStateError('stored context is not an object: 42'));
    // null is a stored field's "no value yet"; other strategies take any value
    expect(codec.revive(stored({ total: null, name: 7 }))).toMatchObject({ total: null, name: 7 });
  });
});

describe('context frame (plain run: the context updated in place)', () => {
  type Write = (c: Ctx) => void;
  /** Steps a frame and the durable path (clone, diff, apply) through the same writes; each failed step throws after writing. */
  function both(steps: { write: Write; fails?: boolean }[]): { framed: Ctx; durable: Ctx } {
    const framed = new Ctx();
    const durable = new Ctx();
    const frame = codec.frame(framed);
    steps.forEach(({ write, fails }, i) => {
      const work = frame.begin(`s${i}`);
      write(work);
      if (fails) frame.rollback();
      else frame.commit();
      const copy = codec.clone(durable, `s${i}`);
      write(copy);
      const d = fails ? undefined : codec.diff(durable, copy);
      if (d) codec.apply(durable, d);
    });
    return { framed, durable };
  }
  const state = (c: Ctx) => JSON.parse(JSON.stringify(codec.serialize(c))) as unknown;

  it('gives the values of applying each step\'s delta, for every strategy', () => {
    const { framed, durable } = both([
      { write: (c) => ((c.total += 2), (c.high = 5), (c.low = 50), c.log.push('a'), c.tags.add('x'), c.events.append('e1'), c.sorted.push('m')) },
      // max/min keep the better value, union keeps one of each, fixed keeps its initial value, custom merges.
      { write: (c) => ((c.high = 1), (c.low = 80), c.tags.add('x'), c.tags.add('y'), ((c as { config: unknown }).config = new Fixed({ mode: 'z' })), c.sorted.push('b')) },
      { write: (c) => ((c.total = c.total + 0.1), (c.name = 'renamed'), c.log.push('b', 'c')) },
    ]);
    expect(state(framed)).toEqual(state(durable));
    expect(framed.high).toBe(5);
    expect(framed.low).toBe(50);
    expect([...framed.tags]).toEqual(['x', 'y']);
    expect(framed.config.get()).toEqual({ mode: 'a' });
    expect(framed.sorted).toEqual(['b', 'm']);
    expect(framed.events.iter()[0].id).toBe('s0#000000');
  });

  it('a union array: each step adds only what the committed array lacks, whether its copy only grew, was rewritten or the array changed outside the steps', () => {
    class Skus {
      @merge.union() skus: string[] = [];
    }
    const c = createContextCodec(Skus, { skus: 'union' });
    const base = new Skus();
    const step = (write: (s: Skus) => void) => {
      const work = c.clone(base);
      write(work);
      const d = c.diff(base, work);
      if (d) c.apply(base, d);
      return d;
    };
    // parallel steps from one committed value (a fan-out): each adds its own, a repeat is not added twice
    const a = c.clone(base);
    const b = c.clone(base);
    a.skus.push('x', 'y');
    b.skus.push('y', 'z');
    for (const d of [c.diff(base, a)!, c.diff(base, b)!]) c.apply(base, d);
    expect(base.skus).toEqual(['x', 'y', 'z']);
    for (let i = 0; i < 100; i++) step((s) => s.skus.push(`s${i % 50}`));
    expect(base.skus).toEqual(['x', 'y', 'z', ...Array.from({ length: 50 }, (_, i) => `s${i}`)]);
    // a copy rewritten (not only grown): only its members the committed array lacks are new
    expect(step((s) => (s.skus = ['new', 'x']))).toEqual({ skus: ['new'] });
    expect(step((s) => s.skus.reverse())).toBeUndefined();
    // the committed array changed by other code than a step's merge: its members are read again
    base.skus.push('outside');
    expect(step((s) => s.skus.push('outside', 'last'))).toEqual({ skus: ['last'] });
    expect(base.skus.slice(-3)).toEqual(['new', 'outside', 'last']);
  });

  it('discards every write of a failed step, in place and by reassignment', () => {
    const { framed, durable } = both([
      { write: (c) => ((c.total = 1), c.log.push('kept')) },
      { write: (c) => ((c.total = 99), c.log.push('lost'), c.tags.add('lost'), c.events.append('lost'), (c.name = 'lost'), ((c as unknown as Record<string, unknown>).extra = 1)), fails: true },
    ]);
    expect(state(framed)).toEqual(state(durable));
    expect(framed.total).toBe(1);
    expect(framed.log).toEqual(['kept']);
    expect(framed.events.size).toBe(0);
    expect('extra' in framed).toBe(false);
  });

  it('refuses a write no store keeps at commit, changing nothing: the fields committed before it are restored too', () => {
    const framed = new Ctx();
    const frame = codec.frame(framed);
    frame.begin('s0').total = 1;
    frame.commit();
    const writes: Array<[string, (c: Ctx) => void, RegExp]> = [
      // total (a primitive, committed first) then a function in a field after it
      ['a function', (c) => ((c.total = 5), (c.high = 7), (c.name = (() => 'x') as unknown as string)), /cannot store a function at \$\.name/],
      // an object field merged in place (an append pushes to the committed array) before a later field is refused
      ['an append, then a function', (c) => (c.log.push('lost'), c.tags.add('lost'), (c.name = (() => 'x') as unknown as string)), /cannot store a function at \$\.name/],
      // a class instance appended to an object field
      ['a class instance', (c) => ((c.total = 5), c.log.push(new URL('https://x.test') as unknown as string)), /cannot store an instance of URL at \$\.log\[0\]/],
      // an added field (the reshaped path)
      ['an added field', (c) => ((c.total = 5), ((c as unknown as Record<string, unknown>).extra = Symbol('s'))), /cannot store a symbol/],
    ];
    for (const [what, write, said] of writes) {
      write(frame.begin(`s-${what}`));
      expect(() => frame.commit(), what).toThrow(said);
      frame.rollback();
      expect([framed.total, framed.high, framed.name, framed.log, [...framed.tags], 'extra' in framed], what).toEqual([1, 0, 'start', [], [], false]);
    }
    // and the frame goes on as before
    const c = frame.begin('s9');
    c.total += 2;
    c.log.push('ok');
    frame.commit();
    expect([framed.total, framed.log]).toEqual([3, ['ok']]);
  });

  it('keeps added fields as a delta would, restores deleted ones and ignores prototype keys', () => {
    const { framed, durable } = both([
      { write: (c) => ((c as unknown as Record<string, unknown>).added = { n: 1 }) },
      { write: (c) => delete (c as Partial<Ctx>).name },
      { write: (c) => Object.defineProperty(c, 'constructor', { value: 'x', enumerable: true, writable: true, configurable: true }) },
      { write: (c) => (((c as unknown as Record<string, { n: number }>).added.n = 2), (c.total += 1)) },
    ]);
    expect(state(framed)).toEqual(state(durable));
    expect(framed.name).toBe('start');
    expect(Object.prototype.hasOwnProperty.call(framed, 'constructor')).toBe(false);
    expect((framed as unknown as Record<string, unknown>).added).toEqual({ n: 2 });
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

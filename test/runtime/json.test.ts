import { describe, expect, it } from 'vitest';
import { CorruptStateError, InvalidArgumentError } from '../../runtime/core/errors.js';
import { canonicalJson, safeJsonParse, toJson } from '../../runtime/core/json.js';
import { needsTags } from '../../runtime/core/tags.js';

describe('canonicalJson', () => {
  it('sorts keys at every level, honours toJSON, omits undefined properties, tags undefined elsewhere', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ t: { toJSON: () => ({ y: 1, x: 2 }) }, u: undefined, f: () => 1, arr: [undefined, 1] })).toBe('{"arr":[{"$undefined":null},1],"t":{"x":2,"y":1}}');
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
  });

  it('reads undefined back as undefined where JSON has no place for it (not as null), in both encoders', () => {
    const value = { list: [1, undefined, 3], holes: [1, , 3], set: new Set([undefined, null]), map: new Map<unknown, unknown>([[undefined, 1], ['k', undefined]]), gone: undefined };
    for (const text of [canonicalJson(value), toJson(value, 'the value'), toJson(undefined, 'nothing'), canonicalJson(undefined)]) {
      const back = safeJsonParse<typeof value | undefined>(text, 'the value');
      if (back === undefined) continue;
      expect(back.list).toEqual([1, undefined, 3]);
      expect(back.list[1]).toBeUndefined();
      expect(back.holes[1]).toBeUndefined();
      expect([...back.set]).toEqual([undefined, null]);
      expect([...back.map]).toEqual([[undefined, 1], ['k', undefined]]);
      expect('gone' in back).toBe(false);
    }
    expect(safeJsonParse(toJson(undefined, 'nothing'), 'nothing')).toBeUndefined();
    expect(needsTags([1, undefined])).toBe(true);
    expect(needsTags({ a: undefined })).toBe(false);
  });

  it('encodes a value shared by several properties (not a cycle) every time', () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: [shared, shared] })).toBe('{"a":{"k":1},"b":[{"k":1},{"k":1}]}');
  });

  it('refuses what JSON cannot represent, naming where', () => {
    const cyclic: Record<string, unknown> = { a: [1, { b: 2 }] };
    (cyclic.a as Array<Record<string, unknown>>)[1]!.c = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(new InvalidArgumentError('cannot store a cyclic value (at $.a[1].c)'));
    expect(() => canonicalJson({ s: Symbol('x'), list: [1, Symbol('y')] })).toThrow(/cannot store a symbol at \$\.list\[1\]/);
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/nests too deeply/);
  });
});

describe('values JSON cannot carry (runtime/core/tags.ts)', () => {
  const when = new Date(Date.UTC(2024, 1, 29, 12));
  const value = {
    when,
    invalid: new Date(NaN),
    big: -(2n ** 70n),
    index: new Map<unknown, unknown>([
      ['a', [when]],
      [1n, new Set([1, 2])],
    ]),
    tags: new Set(['b', 'a']),
    nested: [{ at: when }],
  };
  const text =
    '{"big":{"$bigint":"-1180591620717411303424"},"index":{"$map":[["a",[{"$date":"2024-02-29T12:00:00.000Z"}]],[{"$bigint":"1"},{"$set":[1,2]}]]},' +
    '"invalid":{"$date":null},"nested":[{"at":{"$date":"2024-02-29T12:00:00.000Z"}}],"tags":{"$set":["b","a"]},"when":{"$date":"2024-02-29T12:00:00.000Z"}}';

  it('writes Date, Map, Set and bigint as tags, in canonicalJson and toJson alike', () => {
    expect(canonicalJson(value)).toBe(text);
    expect(JSON.parse(toJson(value, 'v'))).toEqual(JSON.parse(text));
    expect(canonicalJson(5n)).toBe('{"$bigint":"5"}');
  });

  it('writes NaN, the infinities and -0 as tags (JSON.stringify would write null, or 0) and reads them back, at every depth', () => {
    const numbers = { avg: NaN, hi: Infinity, lo: -Infinity, list: [1, NaN], zero: -0 };
    const tagged = '{"avg":{"$number":"NaN"},"hi":{"$number":"Infinity"},"list":[1,{"$number":"NaN"}],"lo":{"$number":"-Infinity"},"zero":{"$number":"-0"}}';
    expect(canonicalJson(numbers)).toBe(tagged);
    expect(needsTags(numbers)).toBe(true);
    expect(needsTags([1, 2, Infinity])).toBe(true);
    expect(needsTags(NaN)).toBe(true);
    // toJson keeps the object's own key order (canonicalJson sorts it)
    expect(toJson(numbers, 'v')).toBe('{"avg":{"$number":"NaN"},"hi":{"$number":"Infinity"},"lo":{"$number":"-Infinity"},"list":[1,{"$number":"NaN"}],"zero":{"$number":"-0"}}');
    expect(toJson(-Infinity, 'v')).toBe('{"$number":"-Infinity"}');
    expect(safeJsonParse(tagged, 'v')).toEqual({ avg: NaN, hi: Infinity, lo: -Infinity, list: [1, NaN], zero: -0 });
    expect(Object.is(safeJsonParse<{ zero: number }>(tagged, 'v').zero, -0)).toBe(true);
    // a plain zero stays plain JSON
    expect([toJson({ n: 0 }, 'v'), needsTags([0, 1.5])]).toEqual(['{"n":0}', false]);
    expect(() => safeJsonParse('{"$number":"12"}', 'v')).toThrow(/v: malformed \$number value "12"/);
    // data that looks like the tag is escaped, as for every tag
    expect(safeJsonParse(canonicalJson({ $number: 'NaN' }), 'v')).toEqual({ $number: 'NaN' });
  });

  it('toJson keeps the native encoder for plain data only: a tag anywhere, even a leaf of an array or a field, is found', () => {
    // plain data (leaves of every kind, nulls, nested arrays and objects): JSON.stringify's text, key order kept
    const plain = { b: [1, 'x', null, true, [{ c: null }]], a: { n: 0, s: '' } };
    expect(needsTags(plain)).toBe(false);
    expect(toJson(plain, 'v')).toBe(JSON.stringify(plain));
    for (const v of [[1, 2n], { a: 1, b: 2n }, [[{ x: [new Date(0)] }]], { a: { b: new Set() } }, { $date: 'x' }, [{ a: 1, $set: [] }], 2n]) {
      expect(needsTags(v), JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))).toBe(true);
      expect(safeJsonParse(toJson(v, 'v'), 'v')).toEqual(safeJsonParse(canonicalJson(v), 'v'));
    }
    // a value with a tag keeps its keys in their own order too (canonicalJson sorts them: text to compare)
    const ordered = { z: new Date(0), a: { y: 1n, b: [{ d: NaN, c: 1 }] }, '01': 1, '1': 2 };
    expect(toJson(ordered, 'v')).toBe('{"1":2,"z":{"$date":"1970-01-01T00:00:00.000Z"},"a":{"y":{"$bigint":"1"},"b":[{"d":{"$number":"NaN"},"c":1}]},"01":1}');
    expect(Object.keys(safeJsonParse<object>(toJson(ordered, 'v'), 'v'))).toEqual(Object.keys(ordered));
    expect(canonicalJson(ordered)).toBe('{"01":1,"1":2,"a":{"b":[{"c":1,"d":{"$number":"NaN"}}],"y":{"$bigint":"1"}},"z":{"$date":"1970-01-01T00:00:00.000Z"}}');
  });

  it('reads them back as what they were, at every depth', () => {
    const back = safeJsonParse<typeof value>(text, 'v');
    expect(back.when).toBeInstanceOf(Date);
    expect(back.when.getTime()).toBe(when.getTime());
    expect(Number.isNaN(back.invalid.getTime())).toBe(true);
    expect(back.big).toBe(-(2n ** 70n));
    expect(back.index).toBeInstanceOf(Map);
    expect(back.index.get('a')).toEqual([when]);
    expect(back.index.get(1n)).toEqual(new Set([1, 2]));
    expect([...back.tags]).toEqual(['b', 'a']);
    expect(back.nested[0]!.at).toEqual(when);
    expect(canonicalJson(back)).toBe(text);
  });

  it('keeps plain data that looks like a tag plain (escaped as $object)', () => {
    const lookalikes = [{ $date: '2024-01-01' }, { $object: { $set: [1] } }, { $map: 1, other: undefined }, { $bigint: '1', other: 2 }, { $weird: 1 }];
    for (const v of lookalikes) {
      const stored = canonicalJson(v);
      expect(safeJsonParse(stored, 'v'), stored).toEqual(JSON.parse(JSON.stringify(v)));
      expect(safeJsonParse(toJson(v, 'v'), 'v'), stored).toEqual(JSON.parse(JSON.stringify(v)));
    }
    expect(canonicalJson({ $date: 'x' })).toBe('{"$object":{"$date":"x"}}');
    expect(canonicalJson({ $bigint: '1', other: 2 })).toBe('{"$bigint":"1","other":2}');
  });

  it('keeps __proto__, constructor and prototype keys as own data inside tagged values', () => {
    const doc = JSON.parse('{"__proto__": {"admin": true}, "constructor": {"prototype": 1}}') as Record<string, unknown>;
    const back = safeJsonParse<{ m: Map<string, Record<string, unknown>>; o: Record<string, unknown> }>(canonicalJson({ m: new Map([['k', doc]]), o: { ...doc, at: when } }), 'v');
    for (const o of [back.m.get('k')!, back.o]) {
      expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
      expect(Object.keys(o)).toContain('__proto__');
      expect((o as { admin?: unknown }).admin).toBeUndefined();
      expect(Object.getOwnPropertyDescriptor(o, '__proto__')!.value).toEqual({ admin: true });
    }
    expect(back.o.at).toEqual(when);
  });

  it('refuses a malformed tag as corrupt stored data', () => {
    for (const bad of ['{"$date":"yesterday"}', '{"$date":5}', '{"$bigint":"1.5"}', '{"$set":{}}', '{"$map":[[1]]}', '{"$object":[1]}', '[{"a":{"$map":7}}]']) {
      expect(() => safeJsonParse(bad, 'run r context'), bad).toThrow(CorruptStateError);
    }
    expect(() => safeJsonParse('{"$date":5}', 'run r context')).toThrow('run r context: malformed $date value 5');
  });

  it('leaves plain JSON to JSON.parse (no walk) and reads it back unchanged', () => {
    const plain = { a: [1, { b: 'x' }], s: '{"$date":"in a string"}' };
    expect(safeJsonParse(canonicalJson(plain), 'v')).toEqual(plain);
  });
});

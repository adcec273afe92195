import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../runtime/core/errors.js';
import { canonicalJson } from '../../runtime/core/json.js';

describe('canonicalJson', () => {
  it('sorts keys at every level, honours toJSON, writes Sets as arrays, omits undefined properties', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ t: { toJSON: () => ({ y: 1, x: 2 }) }, s: new Set([2, 1]), u: undefined, f: () => 1, arr: [undefined, 1] })).toBe(
      '{"arr":[null,1],"s":[2,1],"t":{"x":2,"y":1}}',
    );
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
  });

  it('encodes a value shared by several properties (not a cycle) every time', () => {
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: [shared, shared] })).toBe('{"a":{"k":1},"b":[{"k":1},{"k":1}]}');
  });

  it('refuses what JSON cannot represent, naming where', () => {
    const cyclic: Record<string, unknown> = { a: [1, { b: 2 }] };
    (cyclic.a as Array<Record<string, unknown>>)[1]!.c = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(new InvalidArgumentError('cannot store a cyclic value (at $.a[1].c)'));
    expect(() => canonicalJson({ a: [1, { b: NaN }] })).toThrow(new InvalidArgumentError('cannot store non-finite number at $.a[1].b'));
    expect(() => canonicalJson({ n: 1n })).toThrow(/cannot store a bigint at \$\.n/);
    expect(() => canonicalJson(undefined)).toThrow(/cannot store a undefined at \$/);
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/nests too deeply/);
  });
});

/** How `runs list` and `runs show` print a value in a cell (`short` of cli/commands/runs.ts). */
import { describe, expect, it } from 'vitest';
import { short } from '../../cli/commands/runs.js';

describe('a value in a runs table cell', () => {
  it('prints a string as itself, an empty one as "" (not as nothing), anything else as JSON, and - for none', () => {
    expect(short('Hello, Ada!')).toBe('Hello, Ada!');
    expect(short('')).toBe('""');
    expect(short(42)).toBe('42');
    expect(short(null)).toBe('null');
    expect(short({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(short(undefined)).toBe('-');
  });

  it('cuts a long value to the width asked, ending in ...', () => {
    expect(short('x'.repeat(100), 10)).toBe('xxxxxxx...');
    expect(short({ list: Array.from({ length: 50 }, (_, i) => i) }, 20)).toBe('{"list":[0,1,2,3,...');
  });
});

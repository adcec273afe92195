// The CLI's tables (cli/commands/runs.ts formatTable): columns as wide as their widest cell, however many rows.
import { expect, it } from 'vitest';
import { formatTable } from '../../cli/commands/runs.js';

it('formats a table of 300,000 rows (a long run\'s history): no call with a spread of every row, which overflowed the stack', () => {
  const rows = Array.from({ length: 300_000 }, (_, i) => [String(i), i === 299_999 ? 'widest cell' : 'x', 'last']);
  const lines = formatTable(['STEP', 'NODE', 'END'], rows).trimEnd().split('\n');
  expect(lines).toHaveLength(300_001);
  expect(lines[0]).toBe('STEP    NODE         END');
  expect(lines[1]).toBe('0       x            last');
  expect(lines.at(-1)).toBe('299999  widest cell  last');
});

/**
 * The suite's start order (test/file-order.ts) names files the suite has: a long file renamed or moved would drop out
 * of the list without a word, and CI would start it last again.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { LONGEST_FILES } from '../file-order.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

it('lists each file once, every one a test file of the suite', () => {
  expect(new Set(LONGEST_FILES).size).toBe(LONGEST_FILES.length);
  for (const file of LONGEST_FILES) {
    expect(file, file).toMatch(/^test\/.+\.test\.ts$/);
    expect(existsSync(path.join(repo, file)), `${file} does not exist`).toBe(true);
  }
});

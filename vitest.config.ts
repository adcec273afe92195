import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/file-order.js';

export default defineConfig({
  resolve: {
    alias: [
      { find: /^floxide$/, replacement: fileURLToPath(new URL('./runtime/index.ts', import.meta.url)) },
      { find: /^floxide\/sqlite$/, replacement: fileURLToPath(new URL('./runtime/sqlite.ts', import.meta.url)) },
      { find: /^floxide\/redis$/, replacement: fileURLToPath(new URL('./runtime/redis.ts', import.meta.url)) },
      { find: /^floxide\/postgres$/, replacement: fileURLToPath(new URL('./runtime/postgres.ts', import.meta.url)) },
      { find: /^floxide\/testing$/, replacement: fileURLToPath(new URL('./runtime/testing.ts', import.meta.url)) },
      { find: /^floxide\/compiler$/, replacement: fileURLToPath(new URL('./compiler/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most long files wait on child processes and servers, not the CPU: three at once on 2 cores (measured on the
    // 2-core CI machine, 106 files: 698 s with two, 605 s with three).
    maxWorkers: 3,
    // The longest files first, also on a fresh clone (no durations of an earlier run): test/file-order.ts.
    sequence: { sequencer: LongestFirstSequencer },
    // The type tests alone (and what they import): `npm test` type-checks the whole project with tsc just before, and
    // vitest's tsc on ./tsconfig.json checked all of it a second time.
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './test/tsconfig.type-tests.json' },
  },
});

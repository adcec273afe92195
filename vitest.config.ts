import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

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
    // Most long files wait on child processes and servers, not the CPU: two at once halves the wall time on 2 cores.
    maxWorkers: 2,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});

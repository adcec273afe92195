/**
 * The layer rules of docs/ARCHITECTURE.md ("Layers"), checked on the real import graph (madge, type imports
 * included): no import circles, nothing imports a higher floor, siblings on one floor do not import each other, and
 * the compiler depends on the runtime only for the graph shape and the decorators (and the core types they use).
 */
import { fileURLToPath } from 'node:url';
import madge from 'madge';
import { describe, expect, it } from 'vitest';
import { checkLayers, FLOORS, floorOf } from './layers.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

async function graphOf(): Promise<{ deps: Record<string, string[]>; circular: string[][]; skipped: string[] }> {
  const res = await madge(['runtime', 'compiler', 'cli', 'tooling'], {
    baseDir: repo,
    fileExtensions: ['ts'],
    tsConfig: `${repo}/tsconfig.json`,
    detectiveOptions: { ts: { skipTypeImports: false }, es6: { skipTypeImports: false } },
  });
  return { deps: res.obj(), circular: res.circular(), skipped: res.warnings().skipped };
}

describe('layers', () => {
  it('the import graph has no circle, no upward import and no unresolved relative import', async () => {
    const { deps, circular, skipped } = await graphOf();
    expect(Object.keys(deps).length).toBeGreaterThan(60);
    expect(circular).toEqual([]);
    expect(skipped.filter((s) => s.startsWith('.'))).toEqual([]);
    expect(checkLayers(deps)).toEqual([]);
  });

  it('no distributed backend imports another (memory, Redis and Postgres share only what lies below them)', async () => {
    const { deps } = await graphOf();
    const backendOf = (f: string) =>
      f === 'runtime/distributed/memory.ts' ? 'memory' : f.startsWith('runtime/distributed/redis/') ? 'redis' : f.startsWith('runtime/distributed/postgres/') ? 'postgres' : undefined;
    const crossings = Object.entries(deps).flatMap(([file, imports]) =>
      imports.filter((d) => backendOf(file) !== undefined && backendOf(d) !== undefined && backendOf(d) !== backendOf(file)).map((d) => `${file} imports ${d}`),
    );
    expect(crossings).toEqual([]);
  });

  it('every source file sits on a floor', async () => {
    const { deps } = await graphOf();
    const homeless = Object.keys(deps).filter((f) => floorOf(f) === undefined);
    expect(homeless).toEqual([]);
  });

  it('the checker catches what it is for (planted violations)', () => {
    const violations = checkLayers({
      'runtime/core/json.ts': ['runtime/engine/core.ts'],
      'runtime/stores/sqlite.ts': ['runtime/distributed/memory.ts'],
      'runtime/engine/core.ts': ['runtime/workflow/bind.ts'],
      'compiler/analyze/extract.ts': ['runtime/engine/core.ts', 'runtime/graph/shape.ts'],
      'runtime/distributed/worker.ts': ['cli/cli.ts'],
      'runtime/graph/shape.ts': ['runtime/core/errors.ts'],
    });
    expect(violations).toEqual([
      'runtime/core/json.ts imports runtime/engine/core.ts: core (floor 0) may not import engine (floor 3)',
      'runtime/stores/sqlite.ts imports runtime/distributed/memory.ts: stores and distributed are siblings on floor 4',
      'runtime/engine/core.ts imports runtime/workflow/bind.ts: engine (floor 3) may not import workflow (floor 5)',
      'compiler/analyze/extract.ts imports runtime/engine/core.ts: the compiler may use only runtime/core and runtime/graph',
      'runtime/distributed/worker.ts imports cli/cli.ts: distributed (floor 4) may not import cli (floor 8)',
    ]);
    expect(FLOORS.map((f) => f.name)).toContain('engine');
  });
});

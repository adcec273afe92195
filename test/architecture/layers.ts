/**
 * The floors of the code base (docs/ARCHITECTURE.md "Layers"), lowest first. A file may import files on its own
 * floor (same folder) or on lower floors; folders that share a floor are siblings and may not import each other.
 * The compiler is a wing beside the runtime: it may import `runtime/core` and `runtime/graph` only.
 */
export interface Floor {
  readonly name: string;
  readonly level: number;
  /** Path prefixes (relative to the repository) of the files on this floor. */
  readonly prefixes: readonly string[];
}

export const FLOORS: readonly Floor[] = [
  { name: 'core', level: 0, prefixes: ['runtime/core/'] },
  { name: 'graph', level: 1, prefixes: ['runtime/graph/'] },
  { name: 'context', level: 2, prefixes: ['runtime/context/'] },
  { name: 'nodes', level: 2, prefixes: ['runtime/nodes/'] },
  { name: 'engine', level: 3, prefixes: ['runtime/engine/'] },
  { name: 'stores', level: 4, prefixes: ['runtime/stores/'] },
  { name: 'distributed', level: 4, prefixes: ['runtime/distributed/'] },
  { name: 'workflow', level: 5, prefixes: ['runtime/workflow/'] },
  { name: 'entry', level: 6, prefixes: ['runtime/index.ts', 'runtime/sqlite.ts', 'runtime/redis.ts', 'runtime/postgres.ts', 'runtime/testing.ts', 'runtime/testing/'] },
  { name: 'compiler', level: 7, prefixes: ['compiler/'] },
  { name: 'cli', level: 8, prefixes: ['cli/'] },
  { name: 'tooling', level: 8, prefixes: ['tooling/'] },
];

/** The runtime floors the compiler may import. */
const COMPILER_MAY_USE = new Set(['core', 'graph']);

export function floorOf(file: string): Floor | undefined {
  return FLOORS.find((f) => f.prefixes.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

/** Every import that breaks a rule, as one sentence each (empty when the graph obeys the floors). */
export function checkLayers(deps: Readonly<Record<string, readonly string[]>>): string[] {
  const out: string[] = [];
  for (const [file, imports] of Object.entries(deps)) {
    const from = floorOf(file);
    if (!from) continue;
    for (const dep of imports) {
      const to = floorOf(dep);
      if (!to || to === from) continue;
      if (from.name === 'compiler') {
        if (to.level < 7 && !COMPILER_MAY_USE.has(to.name)) out.push(`${file} imports ${dep}: the compiler may use only runtime/core and runtime/graph`);
        else if (to.level > from.level) out.push(`${file} imports ${dep}: compiler (floor ${from.level}) may not import ${to.name} (floor ${to.level})`);
        continue;
      }
      if (to.level > from.level) out.push(`${file} imports ${dep}: ${from.name} (floor ${from.level}) may not import ${to.name} (floor ${to.level})`);
      else if (to.level === from.level) out.push(`${file} imports ${dep}: ${from.name} and ${to.name} are siblings on floor ${from.level}`);
    }
  }
  return out;
}

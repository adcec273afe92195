/**
 * Imports cost what they use: importing `floxide` or a generated module loads no database driver, no ts-morph, no
 * Graphviz and no OpenTelemetry; `floxide/sqlite` loads better-sqlite3 only when a store is opened, `floxide` loads
 * `@opentelemetry/api` only when a run turns tracing on. Checked in a child process that
 * records every module it loads (test/fixtures/loads/record.mjs), against the built package (dist/), as users run it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const HEAVY = ['better-sqlite3', 'pg', '@redis/client', 'ts-morph', '@viz-js/viz', 'typescript', '@opentelemetry/api'];

/** The modules (paths or URLs) a child process loaded while importing `specs`. */
function modulesLoaded(specs: string[], extra: string[] = []): string[] {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', pathToFileURL(path.join(repo, 'test/fixtures/loads/record.mjs')).href, path.join(repo, 'test/fixtures/loads/import.ts'), ...specs, ...extra],
    { cwd: repo, encoding: 'utf8', env: { ...process.env, TSX_TSCONFIG_PATH: path.join(repo, 'bench/tsconfig.dist.json') }, timeout: 60_000 },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as string[]).map((u) => (u.startsWith('file:') ? fileURLToPath(u) : u));
}

/** The packages (under node_modules) a child process loaded while importing `specs`. */
function packagesLoaded(specs: string[], extra: string[] = []): Set<string> {
  const out = new Set<string>();
  for (const p of modulesLoaded(specs, extra)) {
    const m = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(p);
    if (m) out.add(m[1]!.replace(/\\/g, '/'));
  }
  return out;
}

const heavyIn = (pkgs: Set<string>) => HEAVY.filter((h) => pkgs.has(h));

describe('imports cost what they use', () => {
  it('dist/ is built (npm test builds it first)', () => {
    expect(existsSync(path.join(repo, 'dist/runtime/index.js'))).toBe(true);
  });

  it('`floxide` and a generated module load no driver, ts-morph or Graphviz', () => {
    const pkgs = packagesLoaded(['floxide', pathToFileURL(path.join(repo, 'examples/article.floxide.ts')).href]);
    expect(heavyIn(pkgs)).toEqual([]);
  });

  it('the test kit loads only through `floxide/testing`', () => {
    const kit = (specs: string[]) => modulesLoaded(specs).filter((m) => /[\\/]runtime[\\/]testing/.test(m));
    expect(kit(['floxide'])).toEqual([]);
    expect(kit(['floxide/testing']).length).toBeGreaterThan(0);
  });

  it('`floxide/sqlite`, `floxide/redis` and `floxide/postgres` load their drivers only when a store opens', () => {
    expect(heavyIn(packagesLoaded(['floxide/sqlite', 'floxide/redis', 'floxide/postgres']))).toEqual([]);
    // The recorder sees a driver when one is loaded: opening a SQLite store loads better-sqlite3.
    expect(heavyIn(packagesLoaded(['floxide/sqlite'], ['--open-sqlite']))).toEqual(['better-sqlite3']);
  });

  it('`floxide` loads @opentelemetry/api only when a run turns tracing on', () => {
    expect(heavyIn(packagesLoaded(['floxide'], ['--traced-run']))).toEqual(['@opentelemetry/api']);
  });
});

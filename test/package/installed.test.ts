/**
 * The package as installed (issue 8): `npm pack`, `npm ci --offline` into a fresh project (see install.ts) with only
 * the packages and the tsconfig of the README's "Getting started in your own project" (no skipLibCheck: every
 * published declaration the project reaches is type-checked, with no `@types` package the README does not name), then
 * the workflows of `project/` are built with the installed `floxide` bin and run in memory, durably on SQLite and on
 * the distributed memory backend: with tsx, with `tsc && node` (also on Redis and Postgres), bundled by esbuild as the
 * README's "Bundling" says (and inlined, which must say why a store cannot open), and inside vitest.
 * `words.ts` has a class context with merge strategies, the helper nodes SplitNode and BatchNode, a fan-out and a
 * join; `journal.ts` has an interface context (inferred from its nodes) holding a Date. Nothing here resolves
 * `floxide` to the sources.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@redis/client';
import pg from 'pg';
import { installedProject, pack, readmePackages, readmeScripts, readmeTsconfig, repo } from './install.js';

const dirs: string[] = [];
let project: string;

/** The environment of a user's shell: nothing of this vitest run leaks into the project's tools. */
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'NODE_ENV' && k !== 'TEST'));

function sh(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd: project, encoding: 'utf8', env: { ...userEnv, NO_COLOR: '1', CI: '1', ...env }, timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}
const bin = (name: string) => path.join(project, 'node_modules/.bin', name);

const EVERY_MODE = { output: 'A BB CCC: 1 2 3', words: 3, seen: ['a', 'bb', 'ccc'] };
/** The interface-context workflow: its Date field is a Date in every mode. */
const JOURNAL_EVERY_MODE = { output: 'x+x! since 2024-01-02', entries: ['x', 'x!'], started: 'Date 2024-01-02T00:00:00.000Z' };
const MODES = ['run', 'sqlite', 'sqliteResumed', 'distributed'];

const REDIS_URL = process.env.FLOXIDE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_URL = process.env.FLOXIDE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const serverId = `pkg${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
/** What the project's modes.ts reads to run on the real servers too, under this file's own key prefix and schema. */
const SERVERS = { FLOXIDE_REDIS_URL: REDIS_URL, FLOXIDE_KEY_PREFIX: `flxt:${serverId}:`, FLOXIDE_POSTGRES_URL: PG_URL, FLOXIDE_SCHEMA: `flxt_${serverId}` };

/** The output of `main` (tsx or node): each workflow's result in each mode. */
function expectEveryMode(stdout: string, modeNames = MODES): void {
  const modes = JSON.parse(stdout) as { words: Record<string, unknown>; journal: Record<string, unknown> };
  expect(Object.keys(modes.words).sort()).toEqual([...modeNames].sort());
  for (const mode of modeNames) {
    expect(modes.words[mode], `words in ${mode}`).toEqual(EVERY_MODE);
    expect(modes.journal[mode], `journal in ${mode}`).toEqual(JOURNAL_EVERY_MODE);
  }
}

beforeAll(() => {
  const packDir = mkdtempSync(path.join(tmpdir(), 'floxide-pack-'));
  dirs.push(packDir);
  const { tarball, integrity } = pack(packDir);
  project = installedProject(tarball, integrity);
  dirs.push(project);
  cpSync(path.join(repo, 'test/package/project'), project, { recursive: true });
  writeFileSync(path.join(project, 'tsconfig.json'), readmeTsconfig());
  const build = sh(bin('floxide'), ['build']);
  expect(build.code, build.out).toBe(0);
}, 600_000);

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${SERVERS.FLOXIDE_KEY_PREFIX}*`, COUNT: 1000 })) if (keys.length > 0) await redis.del(keys);
  await redis.close();
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`drop schema if exists ${SERVERS.FLOXIDE_SCHEMA} cascade`);
  await admin.end();
});

describe('the installed package', () => {
  it('is the packed tarball, not a link to the repository', () => {
    const installed = path.join(project, 'node_modules/floxide');
    expect(existsSync(path.join(installed, 'dist/runtime/index.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'runtime/index.ts'))).toBe(false);
    expect(JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')).version).toBe(JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version);
  });

  it('ships every doc that an error hint or a --help of the package names', () => {
    const installed = path.join(project, 'node_modules/floxide');
    const named = new Set<string>();
    for (const file of readdirSync(path.join(installed, 'dist'), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.js')) continue;
      for (const [, doc] of readFileSync(path.join(installed, 'dist', file), 'utf8').matchAll(/\bdocs\/([\w-]+\.md)\b/g)) named.add(doc!);
    }
    expect(named).toContain('diagnostics.md');
    for (const doc of named) expect(existsSync(path.join(installed, 'docs', doc)), `docs/${doc}`).toBe(true);
  });

  it('floxide build wrote the generated modules, and --check finds them fresh', () => {
    expect(readFileSync(path.join(project, 'src/words.floxide.ts'), 'utf8')).toContain('export const WordsWorkflowDef');
    const journal = readFileSync(path.join(project, 'src/journal.floxide.ts'), 'utf8');
    expect(journal).toContain('export const JournalWorkflowDef');
    // The interface context is imported as a type only: the caller supplies its value.
    expect(journal).toMatch(/import \{[^}]*type Journal[^}]*\} from '\.\/journal\.js'/);
    expect(journal).toContain('contextClass: undefined');
    const check = sh(bin('floxide'), ['build', '--check']);
    expect(check.code, check.out).toBe(0);
  });

  it('runs with tsx: the same output and context in memory, on SQLite (run and resume) and distributed', () => {
    const r = sh(bin('tsx'), ['src/main.ts', 'a bb ccc', 'x']);
    expect(r.code, r.out).toBe(0);
    expectEveryMode(r.stdout);
  });

  it('has only the packages the README tells a user to install: no @types of a driver it does not name', () => {
    const manifest = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['floxide', ...readmePackages()].sort());
    expect(existsSync(path.join(project, 'node_modules/better-sqlite3/package.json'))).toBe(true);
    // The repository type-checks with it; a user's project, as the README sets it up, has none.
    expect(existsSync(path.join(project, 'node_modules/@types/better-sqlite3'))).toBe(false);
  });

  it("type-checks with the README's tsconfig (declarations of every entry point included), compiles, then runs with node, also on Redis and Postgres", { timeout: 240_000 }, () => {
    const tsconfig = JSON.parse(readFileSync(path.join(project, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(tsconfig.compilerOptions.skipLibCheck).toBeUndefined();
    const tsc = sh(bin('tsc'), ['-p', 'tsconfig.json', '--listFiles']);
    expect(tsc.code, tsc.out).toBe(0);
    for (const entry of ['index', 'sqlite', 'redis', 'postgres', 'testing']) expect(tsc.stdout).toContain(`node_modules/floxide/dist/runtime/${entry}.d.ts`);
    expect(tsc.stdout).toContain('node_modules/floxide/dist/runtime/stores/sqlite.d.ts');
    const r = sh(process.execPath, ['dist/main.js', 'a bb ccc', 'x'], SERVERS);
    expect(r.code, r.out).toBe(0);
    expectEveryMode(r.stdout, [...MODES, 'redis', 'postgres']);
  });

  it('runs bundled with esbuild, its own code minified (classes renamed) and floxide left out as the README says, also on Redis and Postgres', { timeout: 240_000 }, () => {
    // (esbuild is tsx's, hoisted: a user who bundles installs it)
    const esbuild = sh(bin('esbuild'), ['src/main.ts', '--bundle', '--platform=node', '--format=esm', '--packages=external', '--minify', '--outfile=bundle/main.mjs', '--log-level=warning']);
    expect(esbuild.code, esbuild.out).toBe(0);
    const r = sh(process.execPath, ['bundle/main.mjs', 'a bb ccc', 'x'], SERVERS);
    expect(r.code, r.out).toBe(0);
    expectEveryMode(r.stdout, [...MODES, 'redis', 'postgres']);
  });

  it('bundled with floxide inlined: opening a store says to leave floxide out of the bundle', { timeout: 240_000 }, () => {
    const esbuild = sh(bin('esbuild'), ['src/main.ts', '--bundle', '--platform=node', '--format=esm', '--outfile=inlined/main.mjs', '--log-level=warning']);
    expect(esbuild.code, esbuild.out).toBe(0);
    const r = sh(process.execPath, ['inlined/main.mjs', 'a bb ccc', 'x']);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`PackageFileMissingError: floxide cannot find the SQLite migration migrations/001_init.sql at ${path.join(project, 'inlined/migrations/001_init.sql')}: floxide reads it from beside its own modules, so an application bundle must leave floxide out`);
    // through connectBackend too: the store is reachable, so the error does not say it cannot be reached
    const connect = sh(bin('esbuild'), ['src/connect.ts', '--bundle', '--platform=node', '--format=esm', '--external:pg', '--outfile=inlined/connect.mjs', '--log-level=warning']);
    expect(connect.code, connect.out).toBe(0);
    const pg = sh(process.execPath, ['inlined/connect.mjs', `${PG_URL}?schema=${SERVERS.FLOXIDE_SCHEMA}`]);
    expect(pg.code).toBe(1);
    expect(pg.out).toMatch(/PackageFileMissingError: floxide cannot find the Postgres file sql\/\S+ at \S+: floxide reads it from beside its own modules, so an application bundle must leave floxide out/);
    expect(pg.out).not.toContain('cannot reach the store');
  });

  it("floxide worker given a .ts module says how to load it with tsx, and that way loads it", () => {
    const plain = sh(bin('floxide'), ['worker', 'src/words.ts', '--store', REDIS_URL]);
    expect(plain.code).toBe(1);
    expect(plain.out).toContain(`floxide worker: cannot import src/words.ts: Node cannot load .ts files by itself; compile it (tsc) and point the worker at the .js file, or load tsx into the CLI: NODE_OPTIONS='--import tsx' npx floxide worker src/words.ts ...`);
    // (words.ts exports the workflow class, not a bound workflow: loaded, the module is refused for that)
    const withTsx = sh(bin('floxide'), ['worker', 'src/words.ts', '--store', REDIS_URL], { NODE_OPTIONS: '--import tsx' });
    expect(withTsx.code).toBe(1);
    expect(withTsx.out).toContain('src/words.ts exports no bound workflow');
  });

  it("runs inside vitest as the README's test script runs it (a crash test in fresh processes among them), not the compiled copies tsc left in dist/", { timeout: 240_000 }, () => {
    expect(existsSync(path.join(project, 'dist/words.spec.js'))).toBe(true);
    const vitest = readmeScripts().test!.split('&&').map((command) => command.trim().split(/\s+/)).find(([cmd]) => cmd === 'vitest');
    const r = sh(bin('vitest'), vitest!.slice(1));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/4 passed/);
  });
});

/**
 * The package as a user gets it: `npm pack` of the repository (dist/ as `npm run build:dist` built it), installed
 * with `npm ci --offline` into a fresh project in a temp folder, beside exactly the packages the README's "Getting
 * started in your own project" tells a user to install (the dev tools, each store's driver and the `@types` it needs).
 *
 * Offline: the project's lockfile is written from the repository's own (same versions, same integrity hashes), so
 * `npm ci` takes every tarball from the machine's npm cache and resolves nothing on the network. Install scripts are
 * skipped and the repository's compiled better-sqlite3 binding is copied in (compiling it again takes minutes on a
 * loaded machine); everything else is what npm installs for the tarball's own `dependencies`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_DEPENDENCIES } from '../../cli/init/scaffold.js';

export const repo = fileURLToPath(new URL('../..', import.meta.url));

interface LockEntry {
  version?: string;
  integrity?: string;
  resolved?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

interface PackageJson {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  license?: string;
}

/** The README's "Getting started in your own project" section: what a user follows to set up a project by hand. */
function gettingStarted(): string {
  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Getting started in your own project\n');
  if (start < 0) throw new Error('README.md has no "## Getting started in your own project" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/**
 * What the README tells a user to install beside floxide: every name after `npm install` in the section's `sh` block
 * (dev tools and every store's driver, with the `@types` packages it says they need), with the version range given
 * (`typescript@~6.0.3`), flags and comments left out.
 */
export function readmeInstalls(): Array<{ name: string; range?: string }> {
  const block = /```sh\n([\s\S]*?)```/.exec(gettingStarted())?.[1];
  if (!block) throw new Error('README.md "Getting started in your own project" has no sh block');
  const installs: Array<{ name: string; range?: string }> = [];
  for (const line of block.split('\n')) {
    for (const command of line.replace(/#.*/, '').split('&&')) {
      const words = command.trim().split(/\s+/);
      if (words[0] !== 'npm' || words[1] !== 'install') continue;
      for (const w of words.slice(2)) {
        if (w.startsWith('-') || w === 'floxide') continue;
        const at = w.indexOf('@', 1);
        installs.push(at < 0 ? { name: w } : { name: w.slice(0, at), range: w.slice(at + 1) });
      }
    }
  }
  return installs;
}

/**
 * The names of `readmeInstalls()`. A name given with a version must give the range `floxide init` writes for it
 * (DEV_DEPENDENCIES), or for a package init does not write, the range the repository's package.json has (what the
 * installed project gets).
 */
export function readmePackages(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as PackageJson;
  const pinned: Record<string, string | undefined> = { ...pkg.dependencies, ...pkg.devDependencies, ...DEV_DEPENDENCIES };
  return readmeInstalls().map(({ name, range }) => {
    if (range !== undefined && pinned[name] !== range) throw new Error(`README.md installs ${name}@${range}, floxide init or the repository's package.json has ${name}@${String(pinned[name])}`);
    return name;
  });
}

/** The scripts of the README's "**Scripts**" item (`"prebuild": "floxide build", "build": "tsc", ...`), by name. */
export function readmeScripts(): Record<string, string> {
  const item = /^- \*\*Scripts\*\*[^`]*`([^`]*)`/m.exec(gettingStarted())?.[1];
  if (!item) throw new Error('README.md "Getting started in your own project" has no "**Scripts**" item');
  return JSON.parse(`{${item}}`) as Record<string, string>;
}

/** The tsconfig.json the README shows (its `json` block), as text. */
export function readmeTsconfig(): string {
  const block = /```json\n([\s\S]*?)```/.exec(gettingStarted())?.[1];
  if (!block) throw new Error('README.md "Getting started in your own project" has no json block (the tsconfig)');
  const text = block.replace(/^ {2}/gm, '');
  JSON.parse(text);
  return text;
}

/** The packages a user's project adds beside floxide (as the README says), at the versions the repository uses. */
export const USER_TOOLS: readonly string[] = readmePackages();

/** Packs the repository into `dir` and returns the tarball's path and its integrity hash. */
export function pack(dir: string): { tarball: string; integrity: string } {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out) as Array<{ filename: string; integrity: string }>;
  return { tarball: path.join(dir, info.filename), integrity: info.integrity };
}

/** Where Node would find `name` when `from` (a lockfile location) requires it, among the lockfile's locations. */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let at = from; ; ) {
    const candidate = at ? `${at}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!at) return undefined;
    const cut = at.lastIndexOf('/node_modules/');
    at = cut < 0 ? '' : at.slice(0, cut);
  }
}

/** The registry's tarball URL of a lockfile entry (`name` as installed; an alias names the real package). */
function registryTarball(name: string, entry: LockEntry): string {
  const real = typeof entry.name === 'string' ? entry.name : name;
  return `https://registry.npmjs.org/${real}/-/${real.slice(real.lastIndexOf('/') + 1)}-${entry.version}.tgz`;
}

/**
 * A lockfile for a project whose dependencies are floxide (the tarball) and `tools`: the repository's entries for
 * everything they need, found by Node's resolution over the repository's lockfile.
 */
function lockfileFor(tarballRef: string, integrity: string, tools: readonly string[]): { manifest: Record<string, unknown>; lock: Record<string, unknown> } {
  const repoLock = JSON.parse(readFileSync(path.join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as PackageJson;
  const repoPkgs = repoLock.packages;
  const versions = { ...pkg.dependencies, ...pkg.devDependencies };
  const deps: Record<string, string> = { floxide: tarballRef };
  for (const tool of tools) {
    const range = versions[tool];
    if (!range) throw new Error(`the repository's package.json does not depend on ${tool}`);
    deps[tool] = range;
  }
  const packages: Record<string, LockEntry> = {
    '': { name: 'user-project', dependencies: deps },
    'node_modules/floxide': {
      version: pkg.version,
      resolved: tarballRef,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  const queue: Array<[string, LockEntry]> = [['node_modules/floxide', packages['node_modules/floxide']], ...tools.map((t): [string, LockEntry] => ['', { dependencies: { [t]: deps[t] } }])];
  while (queue.length > 0) {
    const [from, entry] = queue.shift()!;
    const wanted = { ...entry.dependencies, ...entry.optionalDependencies };
    for (const [name, meta] of Object.entries(entry.peerDependencies ?? {})) if (meta && !entry.peerDependenciesMeta?.[name]?.optional) wanted[name] = meta;
    for (const name of Object.keys(wanted)) {
      // floxide's own dependencies resolve from the repository's root, as they are hoisted there.
      const at = resolveIn(repoPkgs, from === 'node_modules/floxide' ? '' : from, name);
      if (!at) {
        if (entry.optionalDependencies?.[name] || entry.peerDependencies?.[name]) continue;
        throw new Error(`the repository's lockfile has no ${name} for ${from || 'the project'}`);
      }
      if (packages[at]) continue;
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...rest } = repoPkgs[at];
      // Without `resolved`, npm looks the version up in the registry's metadata; with it, the tarball comes from the cache.
      if (!rest.resolved && !rest.link) rest.resolved = registryTarball(at.slice(at.lastIndexOf('node_modules/') + 'node_modules/'.length), rest);
      packages[at] = rest;
      queue.push([at, rest]);
    }
  }
  return {
    manifest: { name: 'user-project', version: '1.0.0', private: true, type: 'module', dependencies: deps },
    lock: { name: 'user-project', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { ...packages, '': { ...packages[''], version: '1.0.0' } } },
  };
}

/**
 * A fresh project in a temp folder with the packed floxide and the user tools installed (`npm ci --offline`), its
 * `package.json` of `type: module`, no tsconfig and no sources (the caller writes those). Returns its path.
 */
export function installedProject(tarball: string, integrity: string, prefix = 'package'): string {
  const dir = mkdtempSync(path.join(tmpdir(), `floxide-${prefix}-`));
  const { manifest, lock } = lockfileFor(`file:${path.relative(dir, tarball)}`, integrity, USER_TOOLS);
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(path.join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  execFileSync('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const binding = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  mkdirSync(path.dirname(path.join(dir, binding)), { recursive: true });
  copyFileSync(path.join(repo, binding), path.join(dir, binding));
  return dir;
}

/**
 * `floxide init`: in an empty folder it scaffolds a project in which, once the packed package is installed, the two
 * commands of the project's README pass (`npm start`, `npm test`); in an existing project it adds only what is
 * missing and never overwrites a file silently.
 *
 * The install is offline: the tarball of `npm pack` (dist/ as `npm test` built it) is unpacked into the project's
 * node_modules, and its dependencies (and the dev tools: typescript, tsx, vitest) are links to the repository's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCaptured } from './run-cli.js';
import { pack } from '../package/install.js';
import { formatInitResult } from '../../cli/init/scaffold.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
let tarball: string;

beforeAll(() => {
  const packDir = mkdtempSync(path.join(tmpdir(), 'floxide-pack-'));
  dirs.push(packDir);
  tarball = pack(packDir).tarball;
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function init(args: string[], cwd: string) {
  const r = await cliCaptured(['init', ...args], { cwd });
  return { code: r.code, stdout: r.out, stderr: r.err };
}

/** Installs the tarball as node_modules/floxide and links every other package (and bin) from the repository. */
function install(dir: string): void {
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, 'floxide'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', path.join(modules, 'floxide'), '--strip-components=1']);
  for (const pkg of readdirSync(path.join(repo, 'node_modules'))) {
    if (pkg === '.bin' || pkg === 'floxide' || pkg.startsWith('.')) continue;
    symlinkSync(path.join(repo, 'node_modules', pkg), path.join(modules, pkg), 'dir');
  }
  const bin = path.join(modules, '.bin');
  mkdirSync(bin);
  for (const name of readdirSync(path.join(repo, 'node_modules/.bin'))) {
    symlinkSync(path.resolve(repo, 'node_modules/.bin', readlinkSync(path.join(repo, 'node_modules/.bin', name))), path.join(bin, name));
  }
  symlinkSync('../floxide/dist/cli/cli.js', path.join(bin, 'floxide'));
}

function npm(dir: string, script: string) {
  const r = spawnSync('npm', ['run', '--silent', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '1' }, timeout: 240_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('floxide init', () => {
  it('scaffolds an empty folder in which `npm start` and `npm test` pass with the installed package', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-'));
    dirs.push(dir);
    const r = await init([], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('created     src/hello.ts');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type: string; scripts: Record<string, string>; dependencies: Record<string, string>; allowScripts: Record<string, boolean> };
    expect(pkg.type).toBe('module');
    expect(pkg.scripts.prebuild).toBe('floxide build');
    expect(pkg.dependencies.floxide).toBe('^0.1.0');
    // npm 11 runs (and does not warn about) the install scripts of esbuild (tsx's) and better-sqlite3 (floxide/sqlite)
    expect(pkg.allowScripts).toEqual({ esbuild: true, 'better-sqlite3': true });
    expect(JSON.parse(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')).compilerOptions).toMatchObject({ experimentalDecorators: true, plugins: [{ name: 'floxide/ts-plugin' }] });
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).not.toMatch(/^[^#]*floxide/m);
    expect(readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain('npm install && npm start');

    install(dir);
    const start = npm(dir, 'start');
    expect(start.out).toContain('Hello, world!');
    expect(start.code, start.out).toBe(0);
    expect(existsSync(path.join(dir, 'src/hello.floxide.ts'))).toBe(true);
    const test = npm(dir, 'test');
    expect(test.out).toContain('2 passed');
    expect(test.code, test.out).toBe(0);
  }, 600_000);

  it('adds to an existing project without overwriting anything silently', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-existing-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'mine', type: 'module', scripts: { build: 'my-build' }, dependencies: { tsx: '^4.0.0' } }, null, 2));
    writeFileSync(path.join(dir, 'tsconfig.json'), '{ "compilerOptions": { "strict": true } }\n');
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules\n.env\n');
    const r = await init([], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('skipped     tsconfig.json: exists and differs; left as it is (--force replaces it)');
    expect(r.stdout).toContain('kept yours: scripts.build ("my-build"; floxide init would use "tsc"); devDependencies.tsx ("^4.0.0"; floxide init would use "^4.23.15")');
    expect(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')).toBe('{ "compilerOptions": { "strict": true } }\n');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; scripts: Record<string, string>; dependencies: Record<string, string> };
    expect(pkg.name).toBe('mine');
    expect(pkg.scripts).toMatchObject({ build: 'my-build', prebuild: 'floxide build', test: 'tsc --noEmit && vitest run' });
    expect(pkg.dependencies).toEqual({ tsx: '^4.0.0', floxide: '^0.1.0' });
    // `node_modules` already ignores node_modules/: only dist/ and the note are added.
    expect(r.stdout).toContain('updated     .gitignore: added dist/\n');
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toMatch(/^node_modules\n\.env\ndist\/\n# The generated/);

    const forced = await init(['--force'], dir);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('overwritten tsconfig.json');
    expect(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')).toContain('"experimentalDecorators": true');
  });

  it('replaces what `npm init -y` leaves ("type": "commonjs", the failing test script) in a package with nothing in it yet', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-npm-'));
    dirs.push(dir);
    // What npm 11's `npm init -y` writes.
    const npmInit = { name: 'fresh', version: '1.0.0', description: '', main: 'index.js', scripts: { test: 'echo "Error: no test specified" && exit 1' }, keywords: [], author: '', license: 'ISC', type: 'commonjs' };
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(npmInit, null, 2));
    const r = await init([], dir);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`added "type": "module" (instead of npm init's "commonjs"), scripts.prebuild`);
    expect(r.stdout).toContain(`scripts.test (instead of npm init's placeholder)`);
    expect(r.stdout).toContain('npm install && npm start');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; type: string; scripts: Record<string, string> };
    expect(pkg.name).toBe('fresh');
    expect(pkg.type).toBe('module');
    expect(pkg.scripts.test).toBe('tsc --noEmit && vitest run');
  });

  it('replaces npm init\'s "type": "commonjs" after `npm i floxide` too (floxide its only dependency), keeping the installed spec', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-npm-i-'));
    dirs.push(dir);
    // `npm init -y && npm i ./floxide-0.1.0.tgz`, then `npx floxide init`.
    const installed = { name: 'fresh', version: '1.0.0', main: 'index.js', scripts: { test: 'echo "Error: no test specified" && exit 1' }, license: 'ISC', type: 'commonjs', dependencies: { floxide: 'file:../floxide-0.1.0.tgz' } };
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(installed, null, 2));
    const r = await init([], dir);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`added "type": "module" (instead of npm init's "commonjs")`);
    expect(r.stdout).toContain('kept yours: dependencies.floxide ("file:../floxide-0.1.0.tgz"');
    expect(r.stdout).not.toContain('which floxide init left as it was');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type: string; dependencies: Record<string, string> };
    expect(pkg.type).toBe('module');
    expect(pkg.dependencies).toEqual({ floxide: 'file:../floxide-0.1.0.tgz' });
  });

  it('run by npx from a tarball (`npx file:./floxide-0.1.0.tgz init`: a floxide the registry does not have), makes the project depend on that file; from the registry, on its version', async () => {
    const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    for (const [given, wanted] of [
      [(npx: string) => `file:${path.relative(npx, tarball)}`, (project: string) => `file:${path.relative(project, tarball)}`],
      [() => version, () => `^${version}`],
    ] as const) {
      // npx's cache: <hash>/node_modules/floxide, beside a package.json depending on what npx was given
      const npx = mkdtempSync(path.join(tmpdir(), 'floxide-init-npx-'));
      const project = mkdtempSync(path.join(tmpdir(), 'floxide-init-from-npx-'));
      dirs.push(npx, project);
      install(npx);
      writeFileSync(path.join(npx, 'package.json'), JSON.stringify({ dependencies: { floxide: given(npx) }, _npx: { packages: [given(npx)] } }, null, 2));
      const r = spawnSync(process.execPath, [path.join(npx, 'node_modules/floxide/dist/cli/cli.js'), 'init'], { cwd: project, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const pkg = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
      expect(pkg.dependencies).toEqual({ floxide: wanted(project) });
    }
  });

  it('gives its next steps in the commands of the package manager that ran it (pnpm dlx, yarn dlx), npm otherwise', () => {
    const result = { dir: '/p/flows', files: [], skipped: 0, blockers: [] };
    expect(formatInitResult(result, '/p', 'pnpm/10.4.1 npm/? node/v20.20.2 linux x64')).toContain('  cd flows\n  pnpm install && pnpm start\n  pnpm test\n');
    expect(formatInitResult(result, '/p', 'yarn/1.22.22 npm/? node/v20.20.2 linux x64')).toContain('  yarn install && yarn start\n  yarn test\n');
    expect(formatInitResult(result, '/p', 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false')).toContain('  npm install && npm start\n  npm test\n');
    expect(formatInitResult(result, '/p', undefined)).toContain('  npm install && npm start\n');
    expect(formatInitResult(result, '/p', 'bun/1.2.0')).toContain('  npm install && npm start\n');
  });

  it('keeps "type": "commonjs" of a package that has code, and says (exit 1) that npm start needs "module"', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-cjs-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'old', type: 'commonjs', dependencies: { express: '^4.0.0' } }, null, 2));
    const r = await init([], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('kept yours: "type": "commonjs"');
    expect(r.stdout).toContain('package.json has "type": "commonjs", which floxide init left as it was');
    expect(r.stdout).not.toContain('npm install && npm start');
    expect(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).type).toBe('commonjs');
  });

  it('refuses (exit 2, writing nothing) a dir that is a file, and a --name npm would refuse', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-usage-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'file.txt'), 'x');
    const onFile = await init(['file.txt'], dir);
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toBe(`floxide init: ${path.join(dir, 'file.txt')} is a file, not a folder: give a folder (created when missing)\n`);
    const below = await init(['file.txt/sub'], dir);
    expect(below.code).toBe(2);
    expect(below.stderr).toMatch(/^floxide init: cannot create the folder .*ENOTDIR/);
    expect(below.stderr).not.toContain('internal error');
    for (const [name, problem] of [
      ['Bad Name!', 'may hold only lowercase letters, digits and . _ ~ - (with one @scope/ in front)'],
      ['', 'is empty'],
      ['_private', 'may not start with . or _'],
      ['@acme/', 'has an empty scope or name'],
    ]) {
      const r = await init(['p6', '--name', name!], dir);
      expect(r.code, name).toBe(2);
      expect(r.stderr).toBe(`floxide init: --name ${JSON.stringify(name)} is not a valid npm package name: it ${problem}, e.g. --name my-flows or --name @acme/flows\n`);
    }
    expect(existsSync(path.join(dir, 'p6'))).toBe(false);
    const scoped = await init(['p7', '--name', '@acme/flows.v2'], dir);
    expect(scoped.code, scoped.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'p7/package.json'), 'utf8')).name).toBe('@acme/flows.v2');
  });

  it('skips a package.json that is JSON but not an object (or whose scripts are not one), and says --force does not replace it', async () => {
    for (const [text, what] of [
      ['[1,2]', 'its content'],
      ['{ "name": "x", "scripts": ["build"] }', 'scripts'],
    ]) {
      const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-not-object-'));
      dirs.push(dir);
      writeFileSync(path.join(dir, 'package.json'), text);
      for (const args of [[], ['--force']]) {
        const r = await init(args, dir);
        expect(r.code).toBe(1);
        expect(r.stdout).toContain(`skipped     package.json: ${what} is not a JSON object; add floxide yourself\n`);
        expect(r.stdout).toContain('package.json was left as it was (--force does not replace it): fix it and rerun floxide init, or add floxide to it yourself.');
        expect(r.stdout).not.toContain('rerun with --force');
        expect(readFileSync(path.join(dir, 'package.json'), 'utf8')).toBe(text);
      }
    }
  });

  it('adds no prestart before your own start script, and says which floxide build hooks now run before your scripts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'floxide-init-start-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'svc', type: 'module', scripts: { start: 'node build/index.js', dev: 'node --watch src/index.js' } }, null, 2));
    const r = await init([], dir);
    expect(r.stdout).toContain('no scripts.prestart ("npm run build"): it would change what your start script does');
    expect(r.stdout).toContain('scripts.predev (floxide build now runs before your dev script, so it sees fresh generated modules)');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prestart).toBeUndefined();
    expect(pkg.scripts).toMatchObject({ start: 'node build/index.js', prebuild: 'floxide build', build: 'tsc', predev: 'floxide build' });
  });

  it('--help explains every option', async () => {
    const r = await init(['--help'], repo);
    expect(r.code).toBe(0);
    for (const option of ['[dir]', '--name <name>', '--force', 'Exit codes']) expect(r.stdout).toContain(option);
  });
});

/**
 * `floxide init` as a function: the files of a new floxide project (from the static frames in `templates/init/`),
 * or the additions to an existing one. Nothing is overwritten silently: an existing `package.json` gets only the
 * keys it lacks (its own scripts and versions win, and are reported), an existing `.gitignore` gets only the lines
 * it lacks, and any other existing file that differs is left alone and reported (or replaced with `force`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillTemplate, readTemplate } from '../../compiler/render.js';
import { InvalidArgumentError } from '../../runtime/core/errors.js';

export interface InitOptions {
  /** The project folder (created when missing). */
  dir: string;
  /** The package name of a new package.json (default: the folder's name). */
  name?: string;
  /** Replace existing files that differ (package.json and .gitignore are still only added to). */
  force?: boolean;
}

/** What happened to one file. */
export interface InitFileResult {
  /** Relative to the project folder. */
  file: string;
  action: 'created' | 'updated' | 'unchanged' | 'overwritten' | 'skipped';
  /** For `updated` and `skipped`: what was added, or why the file was left alone. */
  detail?: string;
}

export interface InitResult {
  dir: string;
  files: InitFileResult[];
  /** Existing files that differ and were left alone (exit code 1 unless `force`). */
  skipped: number;
  /** What the user must change before `npm start` can work (exit code 1): an existing package kept `"type": "commonjs"`. */
  blockers: string[];
}

/** This package's name (what `npm i` adds to the user's dependencies). */
const OWN_NAME = 'floxide';

/** The test script `npm init` writes: a placeholder that fails, which `floxide init` replaces. */
const NPM_INIT_TEST = 'echo "Error: no test specified" && exit 1';

/**
 * A package.json as `npm init` left it: no dependency but floxide itself (`npm init -y && npm i floxide && npx
 * floxide init` is the usual way in), and no script but the placeholder test.
 */
function fromNpmInit(pkg: Record<string, unknown>): boolean {
  const scripts = (pkg.scripts ?? {}) as Record<string, string>;
  const keys = Object.keys(scripts);
  const onlyFloxide = (deps: unknown) => deps === undefined || Object.keys(deps as Record<string, string>).every((name) => name === OWN_NAME);
  return (
    onlyFloxide(pkg.dependencies) &&
    onlyFloxide(pkg.devDependencies) &&
    pkg.peerDependencies === undefined &&
    (keys.length === 0 || (keys.length === 1 && scripts.test === NPM_INIT_TEST))
  );
}

/**
 * The install scripts npm may run (npm 11's `allowScripts`: without an entry it warns, and may refuse): esbuild's,
 * under tsx, and better-sqlite3's, which builds the native module `floxide/sqlite` needs (the scaffolded README
 * says to install it for checkpointed runs).
 */
const ALLOW_SCRIPTS: Record<string, boolean> = { esbuild: true, 'better-sqlite3': true };

/** The versions a new project depends on: this package's, and the toolchain it is tested with. */
export const DEV_DEPENDENCIES: Readonly<Record<string, string>> = {
  '@types/node': '^20.19.0',
  tsx: '^4.23.15',
  typescript: '~6.0.3',
  vitest: '~4.1.12',
};

/** The hook that keeps generated modules fresh before a script runs (the README's "Getting started"). */
const FLOXIDE_BUILD = 'floxide build';

/** Scripts as the README's "Getting started" advises, plus `start` and `test` for the two commands of the project's README. */
const SCRIPTS: Record<string, string> = {
  prebuild: FLOXIDE_BUILD,
  build: 'tsc',
  prestart: 'npm run build',
  start: 'node dist/main.js',
  predev: FLOXIDE_BUILD,
  dev: 'tsx src/main.ts',
  pretest: FLOXIDE_BUILD,
  test: 'tsc --noEmit && vitest run',
};

/** Template (under templates/init/) -> project file. */
const FILES: ReadonlyArray<readonly [string, string]> = [
  ['tsconfig.json.txt', 'tsconfig.json'],
  ['vitest.config.ts.txt', 'vitest.config.ts'],
  ['hello.ts.txt', 'src/hello.ts'],
  ['hello.test.ts.txt', 'src/hello.test.ts'],
  ['main.ts.txt', 'src/main.ts'],
  ['README.md.txt', 'README.md'],
];

/** The folder and version of the floxide package this code belongs to. */
function ownPackage(): { dir: string; version: string } {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      const json = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
      if (json.name === OWN_NAME && json.version) return { dir, version: json.version };
    }
    if (path.dirname(dir) === dir) return { dir, version: '0.0.0' };
  }
}

/**
 * The dependency on floxide that a new project's package.json gets: `^<version>`, from the registry; but when this
 * floxide runs from npx's cache after `npx <tarball or folder> init` (a build not published, or not yet), the
 * registry has no such package to install, so it is that file, as `npm install <file>` records it (relative to the
 * project). npx installs what it was given as `<cache>/_npx/<hash>/node_modules/floxide`, beside a package.json that
 * depends on it and says it is npx's (`_npx`).
 */
function floxideDependency(ownDir: string, projectDir: string, version: string): string {
  const npxManifest = path.join(ownDir, '..', '..', 'package.json');
  if (path.basename(path.dirname(ownDir)) === 'node_modules' && existsSync(npxManifest)) {
    try {
      const json = JSON.parse(readFileSync(npxManifest, 'utf8')) as { _npx?: unknown; dependencies?: Record<string, unknown> };
      const spec = json.dependencies?.[OWN_NAME];
      if (json._npx !== undefined && typeof spec === 'string' && spec.startsWith('file:')) {
        const file = path.resolve(path.dirname(npxManifest), spec.slice('file:'.length));
        return `file:${path.relative(projectDir, file) || '.'}`;
      }
    } catch {
      // (not npx's manifest after all: the registry's version)
    }
  }
  return `^${version}`;
}

/** Characters npm does not allow in a package name (or its scope). */
const NOT_NAME_CHARS = /[^a-z0-9._~-]+/g;

/** An npm package name from a folder name. */
function packageName(dir: string): string {
  const name = path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(NOT_NAME_CHARS, '-')
    .replace(/^[._-]+|-+$/g, '');
  return name || 'floxide-project';
}

/** Why npm would refuse `name` (`name` or `@scope/name`), or undefined when it is a valid package name. */
function packageNameProblem(name: string): string | undefined {
  const parts = /^@([^/]*)\/([^/]*)$/.exec(name)?.slice(1) ?? [name];
  if (name.length > 214) return 'is longer than 214 characters';
  for (const part of parts) {
    if (part === '') return name === '' ? 'is empty' : 'has an empty scope or name';
    if (part.replace(NOT_NAME_CHARS, '') !== part) return 'may hold only lowercase letters, digits and . _ ~ - (with one @scope/ in front)';
    if (/^[._]/.test(part)) return 'may not start with . or _';
  }
  return undefined;
}

function writeFile(abs: string, text: string): void {
  mkdirSync(path.dirname(abs), { recursive: true });
  writeFileSync(abs, text);
}

/** The objects of a package.json that floxide init adds entries to. */
const MERGED_KEYS = ['scripts', 'dependencies', 'devDependencies', 'allowScripts'] as const;

/** Adds what a package.json lacks; its own values win and are reported. */
function mergePackageJson(abs: string, name: string, dependency: string, blockers: string[]): InitFileResult {
  const wanted = {
    type: 'module',
    scripts: SCRIPTS,
    dependencies: { floxide: dependency },
    devDependencies: DEV_DEPENDENCIES,
    allowScripts: ALLOW_SCRIPTS,
  };
  if (!existsSync(abs)) {
    writeFile(abs, `${JSON.stringify({ name, version: '0.1.0', private: true, ...wanted }, null, 2)}\n`);
    return { file: 'package.json', action: 'created' };
  }
  const text = readFileSync(abs, 'utf8');
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return { file: 'package.json', action: 'skipped', detail: `not valid JSON (${(err as Error).message}); add floxide yourself` };
  }
  // (keys are added to these objects in place: an array or a string would take none, silently)
  const notObject = !isPlainObject(pkg) ? 'its content' : MERGED_KEYS.find((key) => pkg[key] !== undefined && !isPlainObject(pkg[key]));
  if (notObject) return { file: 'package.json', action: 'skipped', detail: `${notObject} is not a JSON object; add floxide yourself` };
  const added: string[] = [];
  const kept: string[] = [];
  if (pkg.type === undefined) {
    pkg.type = 'module';
    added.push('"type": "module"');
  } else if (pkg.type === 'commonjs' && fromNpmInit(pkg)) {
    // npm 11's `npm init` writes "type": "commonjs" by default: a package with nothing in it yet can switch.
    pkg.type = 'module';
    added.push('"type": "module" (instead of npm init\'s "commonjs")');
  } else if (pkg.type !== 'module') {
    kept.push(`"type": ${JSON.stringify(pkg.type)}`);
    blockers.push(
      `package.json has "type": ${JSON.stringify(pkg.type)}, which floxide init left as it was: floxide and the modules it generates are ES modules, so set "type": "module" (or rename src/*.ts to .mts) before npm start.`,
    );
  }
  const placeholderTest = (pkg.scripts as Record<string, string> | undefined)?.test === NPM_INIT_TEST;
  if (placeholderTest) delete (pkg.scripts as Record<string, string>).test;
  // The user's own scripts, before any is added: a `pre` hook changes what its script does.
  const ownScripts = { ...(pkg.scripts as Record<string, string> | undefined) };
  for (const key of MERGED_KEYS) {
    const want = wanted[key] as Record<string, string | boolean>;
    const have = (pkg[key] ?? {}) as Record<string, string | boolean>;
    const other = key === 'dependencies' ? ((pkg.devDependencies ?? {}) as Record<string, string>) : key === 'devDependencies' ? ((pkg.dependencies ?? {}) as Record<string, string>) : {};
    for (const [k, v] of Object.entries(want)) {
      if (have[k] !== undefined || other[k] !== undefined) {
        if ((have[k] ?? other[k]) !== v) kept.push(`${key}.${k} (${JSON.stringify(have[k] ?? other[k])}; floxide init would use ${JSON.stringify(v)})`);
        continue;
      }
      // a `pre` hook of a script the user wrote
      const hooked = key === 'scripts' && k.startsWith('pre') ? k.slice('pre'.length) : undefined;
      const yours = hooked !== undefined && ownScripts[hooked] !== undefined && ownScripts[hooked] !== SCRIPTS[hooked];
      if (yours && v !== FLOXIDE_BUILD) {
        // (`prestart` compiles for floxide init's own `start`; before yours it would only change what it does)
        kept.push(`no scripts.${k} (${JSON.stringify(v)}): it would change what your ${hooked} script does`);
        continue;
      }
      have[k] = v;
      if (key === 'scripts' && k === 'test' && placeholderTest) added.push('scripts.test (instead of npm init\'s placeholder)');
      else if (yours) added.push(`scripts.${k} (${v} now runs before your ${hooked} script, so it sees fresh generated modules)`);
      else added.push(`${key}.${k}`);
    }
    if (Object.keys(have).length > 0) pkg[key] = have;
  }
  if (added.length > 0) writeFile(abs, `${JSON.stringify(pkg, null, 2)}\n`);
  const detail = [added.length > 0 ? `added ${added.join(', ')}` : '', kept.length > 0 ? `kept yours: ${kept.join('; ')}` : ''].filter(Boolean).join('; ');
  return { file: 'package.json', action: added.length > 0 ? 'updated' : 'unchanged', ...(detail ? { detail } : {}) };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Appends the lines a .gitignore lacks. */
function mergeGitignore(abs: string): InitFileResult {
  const wanted = readTemplate('init/gitignore.txt');
  if (!existsSync(abs)) {
    writeFile(abs, wanted);
    return { file: '.gitignore', action: 'created' };
  }
  const text = readFileSync(abs, 'utf8');
  // `node_modules` and `node_modules/` ignore the same folder: either form counts.
  const pattern = (line: string) => line.trim().replace(/\/$/, '');
  const have = new Set(text.split(/\r?\n/).map(pattern));
  const missing = wanted.split('\n').filter((l) => l.trim() !== '' && !have.has(pattern(l)));
  if (missing.length === 0) return { file: '.gitignore', action: 'unchanged' };
  writeFile(abs, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n`);
  return { file: '.gitignore', action: 'updated', detail: `added ${missing.filter((l) => !l.startsWith('#')).join(', ') || 'the note on generated modules'}` };
}

/**
 * Scaffolds (or completes) a floxide project in `opts.dir`. Throws an `InvalidArgumentError`, having written nothing,
 * when `dir` is not a folder or `name` is not a valid package name.
 */
export function initProject(opts: InitOptions): InitResult {
  const dir = path.resolve(opts.dir);
  const problem = opts.name === undefined ? undefined : packageNameProblem(opts.name);
  if (problem) throw new InvalidArgumentError(`--name ${JSON.stringify(opts.name)} is not a valid npm package name: it ${problem}, e.g. --name my-flows or --name @acme/flows`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    if (code === undefined) throw err;
    throw new InvalidArgumentError(code === 'EEXIST' ? `${dir} is a file, not a folder: give a folder (created when missing)` : `cannot create the folder ${dir}: ${message}`);
  }
  const name = opts.name ?? packageName(dir);
  const blockers: string[] = [];
  const own = ownPackage();
  const files: InitFileResult[] = [mergePackageJson(path.join(dir, 'package.json'), name, floxideDependency(own.dir, dir, own.version), blockers), mergeGitignore(path.join(dir, '.gitignore'))];
  for (const [template, file] of FILES) {
    const abs = path.join(dir, file);
    const text = fillTemplate(readTemplate(`init/${template}`), template === 'README.md.txt' ? { name } : {});
    if (!existsSync(abs)) {
      writeFile(abs, text);
      files.push({ file, action: 'created' });
    } else if (readFileSync(abs, 'utf8') === text) {
      files.push({ file, action: 'unchanged' });
    } else if (opts.force) {
      writeFile(abs, text);
      files.push({ file, action: 'overwritten' });
    } else {
      files.push({ file, action: 'skipped', detail: 'exists and differs; left as it is (--force replaces it)' });
    }
  }
  return { dir, files, skipped: files.filter((f) => f.action === 'skipped').length, blockers };
}

/**
 * The package manager that ran `floxide init` (`npx`, `pnpm dlx`/`pnpm exec`, `yarn dlx`/`yarn`), from the user agent
 * each of them sets for the commands it runs (`npm_config_user_agent`, e.g. `pnpm/10.4.1 npm/? node/v20.20.2
 * linux x64`): npm when unknown.
 */
export function packageManagerOf(userAgent: string | undefined): 'npm' | 'pnpm' | 'yarn' {
  const name = /^(npm|pnpm|yarn)\//.exec(userAgent ?? '')?.[1];
  return name === 'pnpm' || name === 'yarn' ? name : 'npm';
}

/**
 * The report `floxide init` prints; its next steps in the commands of the package manager that ran it
 * ({@link packageManagerOf}).
 */
export function formatInitResult(result: InitResult, cwd: string, userAgent = process.env.npm_config_user_agent): string {
  const pm = packageManagerOf(userAgent);
  const where = path.relative(cwd, result.dir) || '.';
  const lines = result.files.map((f) => `  ${f.action.padEnd(11)} ${f.file}${f.detail ? `: ${f.detail}` : ''}`);
  // --force replaces the scaffolded files, never package.json: each hint says what does help
  const differing = result.files.filter((f) => f.action === 'skipped' && f.file !== 'package.json').length;
  const todo = [
    ...(differing > 0 ? [`${differing} existing file(s) were left as they were; compare them with what floxide init writes, or rerun with --force to replace them.`] : []),
    ...(result.files.some((f) => f.action === 'skipped' && f.file === 'package.json')
      ? ['package.json was left as it was (--force does not replace it): fix it and rerun floxide init, or add floxide to it yourself.']
      : []),
    ...result.blockers,
  ];
  const next = todo.length > 0 ? todo.join('\n') : `Next:\n${where === '.' ? '' : `  cd ${where}\n`}  ${pm} install && ${pm} start\n  ${pm} test`;
  return `floxide init in ${where}:\n${lines.join('\n')}\n${next}\n`;
}

/**
 * The packages the code of the README and docs/ imports are ones the reader was told to install: by the document's
 * own `npm install` lines, or by the README's "Getting started in your own project" (the dev tools and drivers every
 * project has). A snippet that imports a package nobody installs works only when another package happens to hoist it.
 * And every value a snippet imports from floxide's entry points is exported there (a renamed export leaves no snippet
 * behind).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEV_DEPENDENCIES } from '../../cli/init/scaffold.js';
import { readmeInstalls, readmePackages, repo } from '../package/install.js';

const docs = ['README.md', ...readdirSync(path.join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The package of an import specifier (`@scope/name/sub` -> `@scope/name`), or undefined for a relative or built-in one. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) return undefined;
  return specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
}

/** The code of the document's ts/js blocks. */
function codeOf(text: string): string[] {
  return [...text.matchAll(/```(?:ts|js|typescript|javascript)\n([\s\S]*?)```/g)].map(([, code]) => code!);
}

/** The source module of a floxide entry point (`floxide/sqlite` -> runtime/sqlite.ts), from package.json's exports. */
const entryPoints = new Map(
  Object.entries((JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> }).exports)
    .map(([sub, target]) => [sub === '.' ? 'floxide' : `floxide/${sub.slice(2)}`, typeof target === 'string' ? target : target.default] as const)
    .filter(([, target]) => target.endsWith('.js') && target.startsWith('./dist/'))
    .map(([name, target]) => [name, path.join(repo, target.slice('./dist/'.length).replace(/\.js$/, '.ts'))]),
);

/** The packages the document's `npm install` commands name (versions and flags left out). */
function installedBy(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, args] of text.matchAll(/npm install([^\n`#&]*)/g)) {
    for (const word of args!.trim().split(/\s+/)) if (word && !word.startsWith('-')) names.add(word.replace(/(.)@[\^~\d].*$/, '$1'));
  }
  return names;
}

describe('the packages imported by the code of the docs', () => {
  const everyProject = new Set(['floxide', ...readmePackages()]);
  it.each(docs)('%s: installed by it or by the README', (doc) => {
    const text = readFileSync(path.join(repo, doc), 'utf8');
    const told = new Set([...everyProject, ...installedBy(text)]);
    const imported = new Set<string>();
    for (const code of codeOf(text)) {
      for (const [, specifier] of code.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const pkg = packageOf(specifier!);
        if (pkg) imported.add(pkg);
      }
    }
    expect([...imported].filter((p) => !told.has(p)), `imported by ${doc} but never installed`).toEqual([]);
  });
});

describe('the names the code of the docs imports from floxide', () => {
  it.each(docs)('%s: each value is an export of its entry point', async (doc) => {
    const missing: string[] = [];
    for (const code of codeOf(readFileSync(path.join(repo, doc), 'utf8'))) {
      for (const [, names, specifier] of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(floxide(?:\/[\w-]+)?)'/g)) {
        const source = entryPoints.get(specifier!);
        expect(source, `${specifier} is no entry point of package.json`).toBeDefined();
        const exported = Object.keys((await import(source!)) as object);
        for (const name of names!.split(',').map((n) => n.trim().split(/\s+as\s+/)[0]!)) {
          if (name && !name.startsWith('type ') && !exported.includes(name)) missing.push(`${name} from '${specifier}'`);
        }
      }
    }
    expect(missing, `imported by ${doc} but not exported`).toEqual([]);
  });
});

describe("the README's setup by hand", () => {
  it('installs each dev tool at the range `floxide init` pins (a bare `vitest` is vitest 5, which needs Node 22)', () => {
    const ranges = new Map(readmeInstalls().map((i) => [i.name, i.range]));
    for (const [name, range] of Object.entries(DEV_DEPENDENCIES)) expect(ranges.get(name), name).toBe(range);
  });
});

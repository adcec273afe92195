/**
 * The docs stand on their own: every relative link in README.md and docs/*.md leads to a file of the repository,
 * and no doc names a path outside it (a sibling checkout, an absolute path of some machine).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const docs = ['README.md', ...readdirSync(path.join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe.each(docs)('%s', (doc) => {
  const text = readFileSync(path.join(repo, doc), 'utf8');

  it('links only to files of the repository', () => {
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!) || target!.startsWith('#')) continue;
      const file = path.resolve(repo, path.dirname(doc), target!.split('#')[0]!);
      expect(path.relative(repo, file).startsWith('..'), `${target} leaves the repository`).toBe(false);
      expect(existsSync(file), `${target} does not exist`).toBe(true);
    }
  });

  it('names no path outside the repository', () => {
    expect(text).not.toMatch(/\.\.\/shared|\/work\/|\/home\/|\/root\/|[A-Z]:\\\\/);
  });
});

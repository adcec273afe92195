/**
 * Where compiled output comes from: `dist/x.floxide.js` is tsc's output of `src/x.floxide.ts` when the tsconfig says
 * `"rootDir": "src", "outDir": "dist"`. Read from the tsconfig text (comments, trailing commas and relative
 * `extends` understood) without loading TypeScript, since the import hooks run this on every start.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** JSON with comments and trailing commas (a tsconfig) as JSON text. */
function jsoncToJson(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = /"(?:[^"\\]|\\.)*"/y;
      end.lastIndex = i;
      const m = end.exec(text);
      const s = m ? m[0] : text.slice(i);
      out += s;
      i += s.length - 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? text.length : close + 1;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

interface OutputDirs {
  outDir?: string;
  rootDir?: string;
}

/** `outDir` and `rootDir` of a tsconfig (absolute), following relative `extends`; empty when it cannot be read. */
function outputDirs(config: string, depth = 0): OutputDirs {
  let parsed: { extends?: unknown; compilerOptions?: { outDir?: unknown; rootDir?: unknown } };
  try {
    parsed = JSON.parse(jsoncToJson(readFileSync(config, 'utf8'))) as typeof parsed;
  } catch {
    return {};
  }
  const dir = path.dirname(config);
  const bases = (Array.isArray(parsed.extends) ? parsed.extends : [parsed.extends]).filter((e): e is string => typeof e === 'string' && e.startsWith('.'));
  const dirs: OutputDirs = {};
  if (depth < 8) for (const base of bases) Object.assign(dirs, outputDirs(path.resolve(dir, base.endsWith('.json') ? base : `${base}.json`), depth + 1));
  const { outDir, rootDir } = parsed.compilerOptions ?? {};
  if (typeof outDir === 'string') dirs.outDir = path.resolve(dir, outDir);
  if (typeof rootDir === 'string') dirs.rootDir = path.resolve(dir, rootDir);
  return dirs;
}

/**
 * The file tsc compiled `compiled` (absolute) from under the tsconfig `project`: the same path under `rootDir`
 * (default: the tsconfig's directory) as `compiled` has under `outDir`, with a TypeScript extension
 * (`dist/x.floxide.js` -> `src/x.floxide.ts`). Undefined when `compiled` is not under the `outDir`.
 */
export function compiledFrom(project: string, compiled: string): string | undefined {
  const { outDir, rootDir = path.dirname(project) } = outputDirs(project);
  if (!outDir) return undefined;
  const under = path.relative(outDir, compiled);
  if (under.startsWith('..') || path.isAbsolute(under)) return undefined;
  const base = path.join(rootDir, under).replace(/\.([cm]?)jsx?$/, '');
  const ext = /\.([cm]?)jsx?$/.exec(compiled)?.[1] ?? '';
  return [`${base}.${ext}ts`, `${base}.tsx`].find((c) => existsSync(c)) ?? `${base}.${ext}ts`;
}

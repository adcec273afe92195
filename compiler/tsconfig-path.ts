/**
 * Which tsconfig a command loads, found as tsc finds it: `--project` names a tsconfig file or a folder holding
 * `tsconfig.json`; without it, the nearest `tsconfig.json` from the working folder upward. No TypeScript import (the
 * same walk as `ts.findConfigFile`): `floxide/register` and `floxide/vite` look one up before deciding whether the
 * compiler needs loading at all.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

/** The tsconfig `project` names (relative to `cwd`), or the nearest one above `cwd`; absolute, possibly missing. */
export function resolveTsconfig(cwd: string, project?: string): string {
  if (project === undefined) return findTsconfig(cwd) ?? path.join(path.resolve(cwd), 'tsconfig.json');
  const abs = path.resolve(cwd, project);
  return existsSync(abs) && statSync(abs).isDirectory() ? path.join(abs, 'tsconfig.json') : abs;
}

/** The nearest `tsconfig.json` in `dir` or a folder above it. */
export function findTsconfig(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, 'tsconfig.json');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * Loading and calling the Redis backend's Lua scripts. Each atomic operation is one file `lua/<name>-<numKeys>.lua`
 * that opens with a comment listing its KEYS, ARGV and return values (STYLE.md rule 12). A line
 * `--! include <file>` inlines `lua/includes/<file>` (shared helpers), so no helper is written twice.
 * Scripts are registered with SCRIPT LOAD and called with EVALSHA; when the server answers NOSCRIPT (it restarted,
 * or someone ran SCRIPT FLUSH) the call is repeated once with EVAL, which also caches the script again.
 */
import { createHash } from 'node:crypto';
import { CorruptStateError } from '../../core/errors.js';
import { readPackageFile } from '../../core/package-file.js';

/** The scripts of the Redis backend, by name. The number after the dash in each file name is its KEYS count. */
export const SCRIPT_FILES = {
  createRun: 'create-run-2.lua',
  claim: 'claim-4.lua',
  commit: 'commit-2.lua',
  transition: 'transition-10.lua',
  extendLease: 'extend-lease-3.lua',
  release: 'release-4.lua',
  recordError: 'record-error-2.lua',
  heartbeat: 'heartbeat-1.lua',
  readContext: 'read-context-1.lua',
  itemCounts: 'item-counts-3.lua',
  outstandingItems: 'outstanding-items-4.lua',
  listRuns: 'list-runs-1.lua',
  forgetRuns: 'forget-runs-1.lua',
  schedulePut: 'schedule-put-3.lua',
  scheduleState: 'schedule-state-1.lua',
  scheduleAdvance: 'schedule-advance-1.lua',
  scheduleRemove: 'schedule-remove-2.lua',
  readSchedules: 'read-schedules-1.lua',
  signal: 'signal-1.lua',
  migrate: 'migrate-3.lua',
} as const;

export type ScriptName = keyof typeof SCRIPT_FILES;

/** A script ready to run: its expanded source, SHA1 and declared number of keys. */
export interface LoadedScript {
  readonly name: ScriptName;
  readonly file: string;
  readonly source: string;
  readonly sha: string;
  readonly numKeys: number;
}

const INCLUDE = /^--! include ([A-Za-z0-9_.-]+\.lua)\s*$/gm;

function readLua(relative: string): string {
  return readPackageFile(new URL(`./lua/${relative}`, import.meta.url), `the Redis script lua/${relative}`);
}

/** Reads a script file and inlines its `--! include` lines (one level: includes do not include). */
export function loadScript(name: ScriptName): LoadedScript {
  const file = SCRIPT_FILES[name];
  const match = /-(\d+)\.lua$/.exec(file);
  if (!match) throw new CorruptStateError(`script file ${file} does not end with -<numKeys>.lua`);
  const source = readLua(file).replace(INCLUDE, (_line, inc: string) => readLua(`includes/${inc}`));
  return { name, file, source, sha: createHash('sha1').update(source).digest('hex'), numKeys: Number(match[1]) };
}

/** Every script of the backend, loaded once per process. */
let cache: Record<ScriptName, LoadedScript> | undefined;
export function allScripts(): Record<ScriptName, LoadedScript> {
  if (!cache) {
    const out = {} as Record<ScriptName, LoadedScript>;
    for (const name of Object.keys(SCRIPT_FILES) as ScriptName[]) out[name] = loadScript(name);
    cache = out;
  }
  return cache;
}

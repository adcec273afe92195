/**
 * `floxide build --watch`: builds, then rebuilds on every change of a TypeScript file of the project, reusing the
 * analysis (`Analyzer.refresh`) so a one-file edit rebuilds incrementally.
 */
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { Analyzer } from './analyze/index.js';
import { analyzeOptions, buildFromAnalysis, projectFileTest, resolveOptions, usageResult, type BuildOptions, type BuildResult } from './build.js';
import type { RenderCache } from './render.js';

/** A running `--watch`. */
export interface WatchHandle {
  /** Resolves once the first build has finished. */
  readonly ready: Promise<BuildResult>;
  close(): void;
}

/**
 * Builds, then rebuilds whenever a TypeScript file under the project root changes (edited, created, deleted, or
 * saved by renaming a temporary file over it), reusing the analysis (`Analyzer.refresh`) so a one-file edit rebuilds
 * incrementally. `onBuild` gets every result.
 */
export function watchProject(opts: BuildOptions, onBuild: (result: BuildResult, changed: string[]) => void): WatchHandle {
  const resolved = resolveOptions(opts);
  if ('error' in resolved) {
    const r = usageResult(resolved.error, performance.now());
    onBuild(r, []);
    return { ready: Promise.resolve(r), close() {} };
  }
  const analyzer = new Analyzer(analyzeOptions(opts, resolved));
  const outDir = opts.outDir ? path.resolve(resolved.cwd, opts.outDir) : undefined;
  const docsDir = opts.docs ? path.resolve(resolved.cwd, opts.docs) : undefined;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let closed = false;
  const cache: RenderCache = new Map();

  const run = (changed: string[]) =>
    (running = running.then(async () => {
      const started = performance.now();
      let result: BuildResult;
      try {
        const analysis = changed.length === 0 ? analyzer.analyze() : analyzer.refresh(changed);
        result = await buildFromAnalysis(analysis, opts, started, cache, (file, pairs) => analyzer.probeAssignable(file, pairs));
      } catch (err) {
        result = usageResult(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, started);
      }
      if (!closed) onBuild(result, changed);
      return result;
    }));

  // Watch before the first build: changes made while it runs are queued, none is missed.
  const root = path.dirname(resolved.project);
  const ignored = (abs: string) =>
    !/\.(m|c)?tsx?$/.test(abs) ||
    /\.floxide\.(m|c)?tsx?$/.test(abs) ||
    abs.split(path.sep).some((part) => part === 'node_modules' || part === '.git') ||
    (outDir !== undefined && abs.startsWith(outDir + path.sep)) ||
    (docsDir !== undefined && abs.startsWith(docsDir + path.sep));
  const onChange = (abs: string) => {
    if (ignored(abs)) return;
    pending.add(abs);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const changed = [...pending].sort();
      pending = new Set();
      void run(changed);
    }, 30);
  };
  // The root itself (not recursively), and recursively each top-level directory holding project files: never
  // node_modules or dist, whose size would make the watch slow to set up.
  const isProjectFile = projectFileTest(root, opts);
  const topDirs = new Set<string>();
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || ['node_modules', 'dist', '.git'].includes(entry.name)) continue;
    topDirs.add(entry.name);
  }
  const watched = [...topDirs].filter((d) => hasProjectFile(path.join(root, d), isProjectFile)).sort();
  const tree = new DirectoryWatch(onChange, (dir) => ['node_modules', '.git'].includes(path.basename(dir)) || dir === outDir || dir === docsDir);
  tree.add(root, false);
  for (const d of watched) tree.add(path.join(root, d), true);
  const ready = run([]) as Promise<BuildResult>;
  return {
    ready,
    close() {
      closed = true;
      clearTimeout(timer);
      tree.close();
    },
  };
}

/** True when `dir` (recursively, skipping node_modules) holds a file of the project. */
function hasProjectFile(dir: string, isProjectFile: (abs: string) => boolean): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory() ? e.name !== 'node_modules' && hasProjectFile(abs, isProjectFile) : isProjectFile(abs)) return true;
  }
  return false;
}


/**
 * Watches directories, each on its own: `fs.watch(dir, { recursive: true })` on Linux (Node 20) watches each file,
 * and a file's watcher dies when an editor saves by writing a temporary file and renaming it over the original, so
 * every later save went unseen. A directory's watcher reports each entry created, changed, renamed into it or
 * deleted. A directory created later under a recursively watched one is watched from then on, its files reported.
 */
class DirectoryWatch {
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(
    private readonly onPath: (abs: string) => void,
    private readonly skip: (dir: string) => boolean,
  ) {}

  /** Watches `dir` (and, when `recursive`, every directory under it that `skip` does not leave out). */
  add(dir: string, recursive: boolean): void {
    if (this.watchers.has(dir) || this.skip(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => {
        if (name) this.changed(path.join(dir, name.toString()), recursive);
      });
    } catch {
      return; // gone already
    }
    watcher.on('error', () => {
      watcher.close();
      this.watchers.delete(dir);
    });
    this.watchers.set(dir, watcher);
    if (recursive) for (const sub of entries(dir)) if (sub.isDirectory()) this.add(path.join(dir, sub.name), true);
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private changed(abs: string, recursive: boolean): void {
    if (recursive && !this.watchers.has(abs) && isDirectory(abs) && !this.skip(abs)) {
      this.add(abs, true);
      for (const file of filesUnder(abs, this.skip)) this.onPath(file);
      return;
    }
    this.onPath(abs);
  }
}

function entries(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function isDirectory(abs: string): boolean {
  try {
    return statSync(abs).isDirectory();
  } catch {
    return false;
  }
}

function filesUnder(dir: string, skip: (dir: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of entries(dir)) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip(abs)) out.push(...filesUnder(abs, skip));
    } else out.push(abs);
  }
  return out;
}

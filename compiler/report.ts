/** How a build is reported on the terminal: diagnostics, stale files and errors on stderr, the summary on stdout. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, type BuildResult } from './build.js';
import { formatDiagnostics } from './diagnostics.js';
import type { VersionNote } from './versions/check.js';

/** How a build is reported on the terminal. */
export interface BuildReport {
  /** For stdout (the JSON model with `--json`, else the summary). */
  stdout: string;
  /** For stderr (diagnostics, stale files, errors). */
  stderr: string;
}

/** Formats a build result for the terminal (paths relative to `cwd`). */
export function formatBuildResult(result: BuildResult, opts: { cwd: string; color: boolean; check?: boolean; json?: boolean }): BuildReport {
  const rel = (p: string) => path.relative(opts.cwd, p).split(path.sep).join('/') || '.';
  let out = '';
  let err = '';
  for (const e of result.errors) err += `floxide: ${e}\n`;
  if (result.diagnostics.length > 0) err += formatDiagnostics(result.diagnostics, { color: opts.color, cwd: opts.cwd, rootDir: result.rootDir || undefined }).replace(/\n?$/, '\n');
  for (const s of result.stranded) {
    err += `floxide: warning: ${s.workflow}: version(s) ${s.versions.join(', ')} are on record in ${rel(s.from)}, whose module is orphaned (its source renamed or gone), not in ${rel(s.to)}: runs in flight on them are not judged; move its entries into ${rel(s.to)} (then delete the old file) and build again\n`;
  }
  const stale = [...result.modules.stale, ...result.versions.stale, ...result.docs.stale];
  const orphans = opts.check ? result.orphans : [];
  if (stale.length + orphans.length > 0) {
    err += `${stale.length + orphans.length} generated file(s) are stale, missing or orphaned; run \`floxide build\`:\n`;
    for (const f of stale) err += `  ${rel(f)}${existsSync(f) ? ' (stale)' : ' (missing)'}\n`;
    for (const f of orphans) err += `  ${rel(f)} (orphaned: its source declares no workflow; a build deletes it)\n`;
  }
  if (opts.json && result.json !== undefined) out += `${result.json}\n`;
  else if (result.exitCode === ExitCode.Ok && result.model) {
    const n = result.model.workflows.length;
    const files = result.modules.written.length + result.modules.unchanged.length;
    const docs = result.docs.written.length + result.docs.unchanged.length;
    if (opts.check) {
      out += `floxide: ${n} workflow(s) in ${files} module(s) up to date`;
      if (docs > 0) out += `; ${docs} docs file(s) up to date`;
    } else {
      out += `floxide: ${n} workflow(s) in ${files} module(s): ${result.modules.written.length} written, ${result.modules.unchanged.length} unchanged`;
      if (docs > 0) out += `; docs: ${result.docs.written.length} written, ${result.docs.unchanged.length} unchanged`;
      if (result.versions.written.length > 0) out += `; versions: ${result.versions.written.length} file(s) written`;
      if (result.orphans.length > 0) out += `; removed ${result.orphans.length} orphaned module(s): ${result.orphans.map(rel).join(', ')}`;
    }
    out += ` (${Math.round(result.durationMs)} ms)\n`;
    if (!opts.check) for (const v of result.newVersions) if (v.previous) out += `floxide: ${formatNewVersion(v)}\n`;
  }
  return { stdout: out, stderr: err };
}

/** `Flow: new version 9bc1... (from 3f2a...: node polish added; safe for runs in flight)`. */
export function formatNewVersion(v: VersionNote): string {
  if (!v.previous) return `${v.workflow}: version ${v.id} recorded (the first)`;
  const unsafe = v.changes.filter((c) => !c.safe);
  // The record holds no retry or timeout policy, nor the branch discriminant, which the version id covers too: a new
  // id with nothing else changed is one of them.
  const what = v.changes.length === 0 ? "same nodes and edges; a node's retry or timeout policy, or the branch discriminant, changed" : v.changes.map((c) => c.text).join(', ');
  const verdict = unsafe.length === 0 ? 'safe for runs in flight' : `${unsafe.length} change(s) break runs in flight on ${v.previous}`;
  return `${v.workflow}: new version ${v.id} (from ${v.previous}: ${what}; ${verdict})`;
}


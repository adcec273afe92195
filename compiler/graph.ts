/** `floxide graph <workflow>`: analyses the project and renders one workflow's graph as DOT, Mermaid or SVG. */
import path from 'node:path';
import { analyzeProject, type AnalysisResult } from './analyze/index.js';
import { analyzeOptions, ExitCode, resolveOptions } from './build.js';
import { formatDiagnostics } from './diagnostics.js';
import { renderSvg } from './docs.js';
import { dotOf } from './emit/dot.js';
import { mermaidOf } from './emit/mermaid.js';

export interface GraphOptions {
  /** The workflow class name, or `<file>:<name>` (file relative to the project root) when the name is not unique. */
  workflow: string;
  format: 'dot' | 'mermaid' | 'svg';
  project?: string;
  cwd?: string;
  color?: boolean;
}

/** `floxide graph`: analyses the project and renders one workflow's graph. */
export async function graphOf(opts: GraphOptions): Promise<{ exitCode: ExitCode; stdout: string; stderr: string }> {
  const resolved = resolveOptions({ project: opts.project, cwd: opts.cwd });
  if ('error' in resolved) return { exitCode: ExitCode.Usage, stdout: '', stderr: `floxide: ${resolved.error}\n` };
  let analysis: AnalysisResult;
  try {
    analysis = analyzeProject(analyzeOptions({}, resolved));
  } catch (err) {
    return { exitCode: ExitCode.Usage, stdout: '', stderr: `floxide: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n` };
  }
  const errors = analysis.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { exitCode: ExitCode.Failed, stdout: '', stderr: formatDiagnostics(analysis.diagnostics, { color: opts.color ?? false, cwd: resolved.cwd, rootDir: analysis.rootDir }) };
  const sep = opts.workflow.lastIndexOf(':');
  const [file, name] = sep > 0 ? [opts.workflow.slice(0, sep).split(path.sep).join('/'), opts.workflow.slice(sep + 1)] : [undefined, opts.workflow];
  const matches = analysis.model.workflows.filter((wf) => wf.name === name && (file === undefined || wf.class.file === file));
  if (matches.length !== 1) {
    const known = analysis.model.workflows.map((wf) => `${wf.class.file}:${wf.name}`).join(', ') || 'none';
    const why = matches.length === 0 ? `no workflow named ${JSON.stringify(opts.workflow)}` : `${matches.length} workflows are named ${JSON.stringify(name)}: use <file>:<name>`;
    return { exitCode: ExitCode.Failed, stdout: '', stderr: `floxide: ${why} (workflows: ${known})\n` };
  }
  const wf = matches[0];
  const stdout = opts.format === 'mermaid' ? mermaidOf(wf) : opts.format === 'svg' ? await renderSvg(dotOf(wf), wf.fingerprint) : dotOf(wf);
  return { exitCode: ExitCode.Ok, stdout, stderr: '' };
}

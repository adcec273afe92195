/**
 * The docs graphs of `floxide build --docs <dir>`: per workflow `<stem>.dot`, `.svg` (Graphviz compiled to WASM,
 * offline) and `.mmd`, and the SVG rendering `floxide graph --format svg` shares.
 */
import path from 'node:path';
import type { FlowModel, WorkflowModel } from './model.js';
import { dotOf } from './emit/dot.js';
import { mermaidOf } from './emit/mermaid.js';
import type { OutputFile } from './render.js';

/** Docs file stems: the workflow name, or `<source path>.<name>` when two workflows share a name. */
export function docsStems(workflows: readonly WorkflowModel[]): Map<WorkflowModel, string> {
  const count = new Map<string, number>();
  for (const wf of workflows) count.set(wf.name, (count.get(wf.name) ?? 0) + 1);
  return new Map(
    workflows.map((wf) => [wf, count.get(wf.name)! > 1 ? `${wf.class.file.replace(/\.[cm]?tsx?$/, '').replace(/[\\/]/g, '_')}.${wf.name}` : wf.name]),
  );
}

let vizInstance: Promise<{ renderString(dot: string, opts: { format: string }): string }> | undefined;

/**
 * Renders DOT to SVG offline (Graphviz compiled to WASM). With `version` (the graph fingerprint of what the DOT
 * draws), the SVG names it in a comment before its `<svg>` element: `floxide ui` reads it ({@link svgVersion}) so
 * that it never colours a run's items on the graph of another version. Every SVG of a workflow's graph is made so.
 */
export async function renderSvg(dot: string, version?: string): Promise<string> {
  let svg = svgCache.get(dot);
  if (svg === undefined) {
    vizInstance ??= import('@viz-js/viz').then((m) => m.instance());
    const raw = (await vizInstance).renderString(dot, { format: 'svg' });
    svg = raw.endsWith('\n') ? raw : `${raw}\n`;
    // Rendering is pure, so `--watch` reuses the SVG of graphs that did not change (bounded: a long session stays small).
    if (svgCache.size >= 2000) svgCache.clear();
    svgCache.set(dot, svg);
  }
  return version === undefined ? svg : markVersion(svg, version);
}
const svgCache = new Map<string, string>();

/** The docs files of a model: `<dir>/<stem>.dot`, `.svg`, `.mmd` per workflow. */
export async function renderDocs(model: FlowModel, docsDir: string): Promise<OutputFile[]> {
  const files: OutputFile[] = [];
  for (const [wf, stem] of docsStems(model.workflows)) {
    const dot = dotOf(wf);
    files.push({ path: path.join(docsDir, `${stem}.dot`), content: dot });
    files.push({ path: path.join(docsDir, `${stem}.svg`), content: await renderSvg(dot, wf.fingerprint) });
    files.push({ path: path.join(docsDir, `${stem}.mmd`), content: mermaidOf(wf) });
  }
  return files;
}

/** The comment that names the graph version (fingerprint) an SVG of `floxide build --docs` draws. */
const VERSION_MARK = /<!-- floxide graph version ([0-9a-f]{16}) -->/;

/** `svg` with the comment naming the graph version it draws (see {@link renderSvg}). */
function markVersion(svg: string, version: string): string {
  const at = svg.indexOf('<svg');
  return at < 0 ? svg : `${svg.slice(0, at)}<!-- floxide graph version ${version} -->\n${svg.slice(at)}`;
}

/** The graph version an SVG of `floxide build --docs` draws (see {@link renderSvg}); undefined when unmarked. */
export function svgVersion(svg: string): string | undefined {
  return VERSION_MARK.exec(svg.slice(0, 2048))?.[1];
}

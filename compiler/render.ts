/**
 * Rendering: turns the FlowModel into one generated module per source file with workflows (merging the emitters'
 * imports, adding the banner, filling the static templates from `templates/`). Pure: the same model gives the
 * same bytes; `./writer.ts` puts them on disk.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlowModel, WorkflowModel } from './model.js';
import { emitWorkflow } from './emit/index.js';
import { ModuleScope, type ImportSpec, type ModuleRef } from './emit/scope.js';
import { tsString } from './emit/literals.js';

/** Where generated modules go. */
export interface OutputLayout {
  /** Absolute project root: model paths are relative to it. */
  rootDir: string;
  /** Absolute directory for generated modules (mirroring the sources' paths under the root); default: next to each source. */
  outDir?: string;
  /** The module generated code imports the runtime from. Default `floxide`. */
  runtimeModule?: string;
}

/** One file to write. */
export interface OutputFile {
  /** Absolute path. */
  path: string;
  content: string;
}

/** A rendered generated module. */
export interface GeneratedModule extends OutputFile {
  /** The source file it is generated from, relative to the project root. */
  source: string;
}

const TEMPLATE_DIRS = [new URL('../templates/', import.meta.url), new URL('../../templates/', import.meta.url)];
const templateCache = new Map<string, string>();

/** Reads a static frame from `templates/` (found from both `compiler/` and `dist/compiler/`). */
export function readTemplate(name: string): string {
  let text = templateCache.get(name);
  if (text === undefined) {
    const dir = TEMPLATE_DIRS.map((u) => fileURLToPath(u)).find((d) => existsSync(path.join(d, name)));
    if (!dir) throw new Error(`floxide: template ${name} not found (looked in ${TEMPLATE_DIRS.map((u) => fileURLToPath(u)).join(', ')})`);
    text = readFileSync(path.join(dir, name), 'utf8').replace(/\r\n/g, '\n');
    templateCache.set(name, text);
  }
  return text;
}

/**
 * Fills `{{slot}}`s in one pass (values are never re-scanned, so user text containing `{{x}}` stays as is).
 * Every slot must have a value and every value a slot.
 */
export function fillTemplate(template: string, slots: Readonly<Record<string, string>>): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(slots, name)) throw new Error(`template slot {{${name}}} has no value`);
    used.add(name);
    return slots[name];
  });
  for (const name of Object.keys(slots)) if (!used.has(name)) throw new Error(`template has no slot {{${name}}}`);
  return out;
}

const toPosix = (p: string) => p.split(path.sep).join('/');

/** `a/b.ts` gives `a/b.floxide.ts` (`.mts` gives `.floxide.mts`, `.cts` gives `.floxide.cts`). */
export function generatedFileName(source: string): string {
  const m = /\.(m|c)?tsx?$/.exec(source);
  if (!m) return `${source}.floxide.ts`;
  return `${source.slice(0, m.index)}.floxide.${m[1] ?? ''}ts`;
}

/** Absolute path of the module generated for project-relative `source`. */
export function generatedPathFor(source: string, layout: OutputLayout): string {
  return path.resolve(layout.outDir ?? layout.rootDir, generatedFileName(source));
}

/** The ESM specifier of a TypeScript file as imported from `fromFile` (`./x.js`, `../y.mjs`). */
export function moduleSpecifier(fromFile: string, toFile: string): string {
  let rel = toPosix(path.relative(path.dirname(fromFile), toFile));
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel.replace(/\.(m|c)?tsx?$/, (_m, mc: string | undefined) => `.${mc ?? ''}js`);
}

function specifierOf(ref: ModuleRef, generatedFile: string, layout: OutputLayout): string {
  switch (ref.kind) {
    case 'runtime':
      return layout.runtimeModule ?? 'floxide';
    case 'source':
      return moduleSpecifier(generatedFile, path.resolve(layout.rootDir, ref.file));
    case 'generated':
      return moduleSpecifier(generatedFile, generatedPathFor(ref.file, layout));
  }
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Merges import specs into sorted import declarations: runtime first, then by specifier; values, then types. */
export function formatImports(specs: readonly ImportSpec[], generatedFile: string, layout: OutputLayout): string {
  const modules = new Map<string, { runtime: boolean; names: Map<string, { local: string; typeOnly: boolean }> }>();
  for (const s of specs) {
    const spec = specifierOf(s.module, generatedFile, layout);
    let m = modules.get(spec);
    if (!m) modules.set(spec, (m = { runtime: s.module.kind === 'runtime', names: new Map() }));
    const prev = m.names.get(s.name);
    if (prev && prev.local !== s.local) throw new Error(`internal: ${s.name} imported from ${spec} under two local names`);
    m.names.set(s.name, { local: s.local, typeOnly: (prev?.typeOnly ?? true) && s.typeOnly });
  }
  const ordered = [...modules].sort(([a, ma], [b, mb]) => Number(mb.runtime) - Number(ma.runtime) || byCodeUnit(a, b));
  return ordered
    .map(([spec, m]) => {
      const entries = [...m.names].sort(([a], [b]) => byCodeUnit(a, b));
      const one = (name: string, local: string) => (name === local ? name : `${name} as ${local}`);
      const allTypes = entries.every(([, e]) => e.typeOnly);
      const parts = allTypes
        ? entries.map(([n, e]) => one(n, e.local))
        : [
            ...entries.filter(([, e]) => !e.typeOnly).map(([n, e]) => one(n, e.local)),
            ...entries.filter(([, e]) => e.typeOnly).map(([n, e]) => `type ${one(n, e.local)}`),
          ];
      return `import ${allTypes ? 'type ' : ''}{ ${parts.join(', ')} } from ${tsString(spec)};`;
    })
    .join('\n');
}

/** The generated module for the workflows of one source file (pure: same model, same bytes). */
export function renderModule(source: string, workflows: readonly WorkflowModel[], layout: OutputLayout): string {
  const scope = new ModuleScope(source, workflows);
  const file = generatedPathFor(source, layout);
  const imports: ImportSpec[] = [];
  const sections = workflows.map((wf) => {
    const parts = emitWorkflow(wf, scope);
    for (const p of parts) imports.push(...p.imports);
    return fillTemplate(readTemplate('workflow-section.txt'), {
      workflow: wf.name,
      sections: parts.map((p) => p.content).join('\n').trimEnd(),
    }).trimEnd();
  });
  const text = fillTemplate(readTemplate('module.txt'), {
    banner: fillTemplate(readTemplate('banner.txt'), { source }).trimEnd(),
    imports: formatImports(imports, file, layout),
    body: sections.join('\n\n'),
  });
  return text.trimEnd() + '\n';
}

/**
 * Remembers rendered modules between builds (`--watch`): a module whose workflows and layout did not change is
 * not rendered again. Keyed by source file.
 */
export type RenderCache = Map<string, { key: string; content: string }>;

/** One generated module per source file with workflows, sorted by source path. */
export function renderModules(model: FlowModel, layout: OutputLayout, cache?: RenderCache): GeneratedModule[] {
  const bySource = new Map<string, WorkflowModel[]>();
  for (const wf of model.workflows) {
    const list = bySource.get(wf.class.file) ?? [];
    list.push(wf);
    bySource.set(wf.class.file, list);
  }
  return [...bySource]
    .sort(([a], [b]) => byCodeUnit(a, b))
    .map(([source, wfs]) => {
      const sorted = [...wfs].sort((a, b) => byCodeUnit(a.name, b.name));
      const key = cache ? JSON.stringify([layout.rootDir, layout.outDir ?? null, layout.runtimeModule ?? null, sorted]) : '';
      const hit = cache?.get(source);
      const content = hit && hit.key === key ? hit.content : renderModule(source, sorted, layout);
      cache?.set(source, { key, content });
      return { source, path: generatedPathFor(source, layout), content };
    });
}

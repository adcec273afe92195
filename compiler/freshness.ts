/**
 * Whether the generated module of one source file is up to date, without writing anything: the module the build
 * would write now (the same {@link renderModule}) against the one on disk or in the editor. Used by the
 * `floxide/ts-plugin` (FLX040 on the workflow class); `floxide build --check` makes the same byte comparison for
 * the whole project.
 */
import { FLOW_MODEL_VERSION, type Diagnostic, type WorkflowModel } from './model.js';
import { checkVersions, type VersionCheckOptions } from './versions/check.js';
import { generatedNames } from './emit/scope.js';
import { generatedPathFor, renderModule, type OutputLayout } from './render.js';

export interface ModuleFreshness {
  /** Absolute path of the generated module. */
  path: string;
  /** What `floxide build` would write. */
  expected: string;
  state: 'fresh' | 'stale' | 'missing';
  /** Per workflow of the file that differs: the node names whose spec differs (empty when only other parts do). */
  changed: Map<string, string[]>;
  /** The versions file the build would write beside the module (undefined: the one on disk cannot be read, FLX054). */
  versions: { path: string; expected: string } | undefined;
  /** What the build's versions check reports for these workflows (FLX050-FLX056, as warnings). */
  diagnostics: Diagnostic[];
}

/**
 * The node spec lines of `XNodes` in a generated module, by node name (`undefined` when the block is absent): the
 * value block after its written-out type (`export const XNodes: { ... } = {`), or, in a module of an earlier
 * version, right after `export const XNodes = {`.
 */
function nodeSpecLines(text: string, workflow: string): Map<string, string> | undefined {
  const name = generatedNames(workflow).nodes;
  let from: number;
  const typed = text.indexOf(`export const ${name}: {\n`);
  if (typed >= 0) {
    const value = text.indexOf('\n} = {\n', typed);
    if (value < 0) return undefined;
    from = value + '\n} = {\n'.length;
  } else {
    const head = `export const ${name} = {\n`;
    const start = text.indexOf(head);
    if (start < 0) return undefined;
    from = start + head.length;
  }
  const end = text.indexOf('\n}', from);
  const lines = new Map<string, string>();
  for (const line of text.slice(from, end < 0 ? undefined : end).split('\n')) {
    const m = /^\s+(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([\w$]+)): /.exec(line);
    if (m) lines.set(m[1] ?? m[2] ?? m[3], line.trim());
  }
  return lines;
}

/**
 * The workflows with the version lists `floxide build` puts in their definitions, from the versions on record next
 * to the module (its versions check, `checkVersions`): `supersedes` (every other version on record) and `accepts`.
 * Which older versions a graph accepts may take the type checker (an input type whose text changed): `check.probe`
 * answers that (without it such a change counts as narrowed); for an unchanged fingerprint the list of the module on disk
 * stands (the build made it with the type checker), so a module is not called stale (nor "fixed" by dropping the
 * list) only because it accepts older versions.
 */
function withVersionLists(
  workflows: readonly WorkflowModel[],
  layout: OutputLayout,
  current: string | undefined,
  options: VersionCheckOptions,
): { workflows: WorkflowModel[]; versions: ModuleFreshness['versions']; diagnostics: Diagnostic[] } {
  const copies = workflows.map((wf) => ({ ...wf }));
  const checked = checkVersions({ version: FLOW_MODEL_VERSION, workflows: copies }, layout, options);
  const [versions] = checked.files;
  return { workflows: copies.map((wf) => withRecordedAccepts(wf, current)), versions: versions && { path: versions.path, expected: versions.content }, diagnostics: checked.diagnostics };
}

/** The model with the `accepts` list the module on disk carries for the same graph, when it carries one. */
function withRecordedAccepts(wf: WorkflowModel, current: string | undefined): WorkflowModel {
  if (current === undefined) return wf;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`name: '${escape(wf.name)}',\\n\\s*fingerprint: '${escape(wf.fingerprint)}',\\n\\s*accepts: \\[([^\\]]*)\\],`).exec(current.replace(/\r\n/g, '\n'));
  if (!m) return wf;
  const compatible = [...m[1]!.matchAll(/'([0-9a-f]+)'/g)].map((x) => x[1]!);
  return compatible.length ? { ...wf, compatible } : wf;
}

/**
 * Compares the module `workflows` (all of one source file) generate with `current` (undefined: no such file), and
 * checks them against their versions on record as the build does (`check`: the type probe and the nested workflows of
 * other files that the build has from its whole project; warnings only).
 */
export function generatedModuleFreshness(source: string, workflows: readonly WorkflowModel[], layout: OutputLayout, current: string | undefined, check: Omit<VersionCheckOptions, 'strict'> = {}): ModuleFreshness {
  const listed = withVersionLists(workflows, layout, current, check);
  const sorted = listed.workflows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const expected = renderModule(source, sorted, layout);
  const path = generatedPathFor(source, layout);
  const changed = new Map<string, string[]>();
  const { versions, diagnostics } = listed;
  if (current === undefined) return { path, expected, state: 'missing', changed, versions, diagnostics };
  if (current.replace(/\r\n/g, '\n') === expected) return { path, expected, state: 'fresh', changed, versions, diagnostics };
  for (const wf of sorted) {
    const want = nodeSpecLines(expected, wf.name)!;
    const have = nodeSpecLines(current, wf.name);
    const fingerprint = new RegExp(`name: '${wf.name.replace(/\$/g, '\\$')}',\\n\\s*fingerprint: '${wf.fingerprint}'`);
    if (have && fingerprint.test(current) && [...want].every(([k, v]) => have.get(k) === v) && have.size === want.size) continue;
    const names = new Set([...want.keys(), ...(have?.keys() ?? [])]);
    changed.set(wf.name, [...names].filter((n) => want.get(n) !== have?.get(n)));
  }
  return { path, expected, state: 'stale', changed, versions, diagnostics };
}

/**
 * The versions on record: per source file with workflows, `floxide build` keeps next to the generated module a
 * `<stem>.floxide.versions.json` listing, per workflow, every graph version it has built, oldest first. A version is
 * identified by the graph fingerprint (what runs and checkpoints carry, `RunRecord.fingerprint`) and keeps what the
 * compatibility check needs to judge in-flight runs of that version: its nodes and their input types, its edges,
 * its joins and its context fields' merge strategies; and what `floxide ui` needs to draw a run of that version as
 * the build drew it: which nodes are nested workflows (of which class and graph version, and whether their runs can
 * park), waits (and for which signal) and sleeps. The file is
 * byte-deterministic and meant to be committed.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { GraphVersion, VersionNode, VersionNodeKind } from './graph-version.js';
import type { NodeModel, WorkflowModel } from '../model.js';
import { shapeOfModel } from '../analyze/shape.js';
import { generatedFileName, type OutputLayout } from '../render.js';

export type { GraphVersion, VersionNode, VersionNodeKind } from './graph-version.js';

/** The format of the versions file; bump on an incompatible change. */
export const VERSIONS_FORMAT = 1 as const;

/** The node kinds a versions file may name (what {@link parseRecord} accepts). */
const NODE_KINDS: readonly unknown[] = ['workflow', 'wait', 'sleep'] satisfies VersionNodeKind[];

/** The contents of a versions file. */
export interface VersionsRecord {
  format: typeof VERSIONS_FORMAT;
  /** Workflow name -> its versions, oldest first. Keys sorted. */
  workflows: Record<string, GraphVersion[]>;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `a/b.ts` gives `a/b.floxide.versions.json`. */
export function versionsFileName(source: string): string {
  return versionsFileOfModule(generatedFileName(source));
}

/** The versions file next to generated module `module`: `a/b.floxide.ts` gives `a/b.floxide.versions.json`. */
export function versionsFileOfModule(module: string): string {
  return module.replace(/\.floxide\.[cm]?ts$/, '.floxide.versions.json');
}

/** Absolute path of the versions file of project-relative `source` (next to its generated module). */
export function versionsPathFor(source: string, layout: OutputLayout): string {
  return path.resolve(layout.outDir ?? layout.rootDir, versionsFileName(source));
}

/** A recorded node with its fields in the order the file writes them, the absent ones left out. */
function canonicalNode({ name, input, shape, file, kind, workflow, version, parks, signal, join }: VersionNode): VersionNode {
  return {
    name,
    input,
    ...(shape === undefined ? {} : { shape }),
    file,
    ...(kind === undefined ? {} : { kind }),
    ...(workflow === undefined ? {} : { workflow }),
    ...(version === undefined ? {} : { version }),
    ...(parks ? { parks } : {}),
    ...(signal === undefined ? {} : { signal }),
    ...(join ? { join } : {}),
  };
}

/** A node of the model as a version records it. */
function versionNodeOf(n: NodeModel): VersionNode {
  const nested = n.kind === 'workflow';
  return canonicalNode({
    name: n.name,
    input: n.inputType,
    shape: n.inputShape,
    file: n.class.file,
    kind: nested ? 'workflow' : n.wait ? 'wait' : n.sleep ? 'sleep' : undefined,
    workflow: nested ? n.class.name : undefined,
    version: n.nestedVersion,
    parks: n.parks,
    signal: n.wait?.signal,
    join: n.join ? true : undefined,
  });
}

/** The version a workflow model is now. */
export function versionOf(wf: WorkflowModel): GraphVersion {
  return {
    id: wf.fingerprint,
    start: wf.start,
    nodes: [...wf.nodes].sort((a, b) => cmp(a.name, b.name)).map(versionNodeOf),
    edges: shapeOfModel(wf).edges,
    context: [...wf.contextFields].sort((a, b) => cmp(a.name, b.name)).map((f) => ({ name: f.name, strategy: f.strategy })),
  };
}

/** An empty record. */
export function emptyRecord(): VersionsRecord {
  return { format: VERSIONS_FORMAT, workflows: {} };
}

/** Thrown when a versions file cannot be read as one. */
export class VersionsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionsFileError';
  }
}

/** Reads a versions file; an absent file is an empty record. Throws {@link VersionsFileError} for a malformed one. */
export function readRecord(file: string): VersionsRecord {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyRecord();
    throw err;
  }
  return parseRecord(text, file);
}

/** Parses the text of a versions file (`file` names it in errors). */
export function parseRecord(text: string, file: string): VersionsRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new VersionsFileError(`${file} is not valid JSON (${(err as Error).message}): fix it or restore it from version control`);
  }
  const r = raw as Partial<VersionsRecord> | null;
  if (!r || typeof r !== 'object' || r.format !== VERSIONS_FORMAT || !r.workflows || typeof r.workflows !== 'object') {
    throw new VersionsFileError(`${file} is not a floxide versions file of format ${VERSIONS_FORMAT}`);
  }
  for (const [name, versions] of Object.entries(r.workflows)) {
    if (!Array.isArray(versions) || versions.some((v) => !v || typeof v.id !== 'string' || !Array.isArray(v.nodes) || !Array.isArray(v.edges) || !Array.isArray(v.context) || v.nodes.some(malformedNode))) {
      throw new VersionsFileError(`${file}: the versions of ${name} are malformed`);
    }
  }
  return r as VersionsRecord;
}

function malformedNode(n: Partial<VersionNode> | null): boolean {
  return (
    !n ||
    typeof n.name !== 'string' ||
    (n.shape !== undefined && typeof n.shape !== 'string') ||
    (n.kind !== undefined && !NODE_KINDS.includes(n.kind)) ||
    (n.workflow !== undefined && typeof n.workflow !== 'string') ||
    (n.version !== undefined && typeof n.version !== 'string') ||
    (n.parks !== undefined && n.parks !== true) ||
    (n.signal !== undefined && typeof n.signal !== 'string')
  );
}

/** The text of a record: keys in a fixed order, one line per node, edge and field, one trailing newline. */
export function renderRecord(record: VersionsRecord): string {
  const line = (o: object) => `{ ${Object.entries(o).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')} }`;
  const list = (items: object[], indent: string) => (items.length === 0 ? '[]' : `[\n${items.map((o) => `${indent}  ${line(o)}`).join(',\n')}\n${indent}]`);
  const version = (v: GraphVersion) =>
    [
      '      {',
      `        "id": ${JSON.stringify(v.id)},`,
      `        "start": ${JSON.stringify(v.start)},`,
      `        "nodes": ${list(v.nodes.map(canonicalNode), '        ')},`,
      `        "edges": ${list(v.edges.map((e) => ({ from: e.from, to: e.to, kind: e.kind, ...(e.tag === undefined ? {} : { tag: e.tag }) })), '        ')},`,
      `        "context": ${list(v.context.map((f) => ({ name: f.name, strategy: f.strategy })), '        ')}`,
      '      }',
    ].join('\n');
  const names = Object.keys(record.workflows).sort(cmp);
  const workflows = names.map((name) => `    ${JSON.stringify(name)}: [\n${record.workflows[name].map(version).join(',\n')}\n    ]`);
  return `{\n  "format": ${record.format},\n  "workflows": {${workflows.length === 0 ? '' : `\n${workflows.join(',\n')}\n  `}}\n}\n`;
}

/** True when two versions record the same thing. */
export function sameVersion(a: GraphVersion, b: GraphVersion): boolean {
  return renderRecord({ format: VERSIONS_FORMAT, workflows: { x: [a] } }) === renderRecord({ format: VERSIONS_FORMAT, workflows: { x: [b] } });
}

/**
 * The record after building `workflows` (the workflows of one source file, now): each workflow's current version
 * is the last of its list, so the newest on record is always the one built last: a new version is appended, one on
 * record already (a change that keeps the graph, e.g. an input type, or a change reverted to an older graph) leaves
 * its place for the end. Versions of workflows the file no longer declares are kept: their runs may still be in flight.
 */
export function recordVersions(record: VersionsRecord, workflows: readonly WorkflowModel[]): VersionsRecord {
  const next: Record<string, GraphVersion[]> = { ...record.workflows };
  for (const wf of workflows) {
    const now = versionOf(wf);
    next[wf.name] = [...(next[wf.name] ?? []).filter((v) => v.id !== now.id), now];
  }
  return { format: VERSIONS_FORMAT, workflows: next };
}

/** How deep below a folder the commands that look for a run's version (`floxide ui`, `runs signal`) search for versions files (a source tree, not a whole disk). */
export const VERSIONS_SEARCH_DEPTH = 4;

/**
 * Version `id` of `workflow` in the first versions file under `dirs` (each searched {@link VERSIONS_SEARCH_DEPTH}
 * levels down, in order) that records it; an unreadable file is passed over.
 */
export async function findRecordedVersion(dirs: readonly string[], workflow: string, id: string): Promise<{ file: string; version: GraphVersion } | undefined> {
  for await (const { file, versions } of recordsOf(dirs, workflow)) {
    const version = versions.find((v) => v.id === id);
    if (version) return { file, version };
  }
  return undefined;
}

/** The versions files under `dirs` (as {@link findRecordedVersion} searches them) that record any version of `workflow`. */
export async function filesRecording(dirs: readonly string[], workflow: string): Promise<string[]> {
  const files: string[] = [];
  for await (const { file } of recordsOf(dirs, workflow)) files.push(file);
  return files;
}

/** Each readable versions file under `dirs` that records `workflow`, with its versions of it, in search order. */
async function* recordsOf(dirs: readonly string[], workflow: string): AsyncGenerator<{ file: string; versions: GraphVersion[] }> {
  for (const dir of dirs) {
    for (const file of await findVersionsFiles(dir, VERSIONS_SEARCH_DEPTH)) {
      let versions: GraphVersion[] | undefined;
      try {
        const { workflows } = parseRecord(await readFile(file, 'utf8'), file);
        // (a stored workflow name is data: `constructor` names no version list)
        versions = Object.hasOwn(workflows, workflow) ? workflows[workflow] : undefined;
      } catch {
        continue;
      }
      if (versions) yield { file, versions };
    }
  }
}

/** The `*.floxide.versions.json` files in `dir` and its subfolders, `depth` levels down (not node_modules, not dot folders). */
export async function findVersionsFiles(dir: string, depth: number): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files = entries.filter((e) => e.isFile() && e.name.endsWith('.floxide.versions.json')).map((e) => path.join(dir, e.name)).sort();
  if (depth === 0) return files;
  const subdirs = entries.filter((e) => e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.')).map((e) => e.name).sort();
  for (const sub of subdirs) files.push(...(await findVersionsFiles(path.join(dir, sub), depth - 1)));
  return files;
}

/**
 * The versions step of `floxide build`: for each source file with workflows, read its versions file, compare each
 * workflow's graph with every version on record (FLX050-FLX053, FLX055 and FLX056 for the changes that break runs
 * in flight on it), and give back the updated record to write. Warnings by default; errors with `strict`
 * (`--strict-versions`, CI).
 */
import path from 'node:path';
import type { Diagnostic, FlowModel, Position, WorkflowModel } from '../model.js';
import { diagnostic, type DiagnosticCode } from '../diagnostics.js';
import type { OutputFile, OutputLayout } from '../render.js';
import { compareVersions, isCompatible, nestedJudge, type NestedVersions, type VersionChange } from './compare.js';
import { parseRecord, readRecord, recordVersions, renderRecord, sameVersion, versionOf, versionsFileOfModule, versionsPathFor, VersionsFileError, type GraphVersion, type VersionNode, type VersionsRecord } from './record.js';
import { inputDiffers, inputText } from './graph-version.js';

/** `pairs[i]` = [old, new] type texts: is old assignable to new, with the names of `file` (project-relative) in scope? */
export type TypeProbe = (file: string, pairs: ReadonlyArray<readonly [string, string]>) => boolean[];

export interface VersionCheckOptions {
  /** Unsafe changes are errors, not warnings. */
  strict?: boolean;
  /** Input type assignability; without it, a changed input type counts as narrowed. */
  probe?: TypeProbe;
  /**
   * The current model of a workflow the checked model does not hold (its class `name` in project-relative `file`):
   * for a check of one file's workflows (the editor's), the nested workflows they run from other files.
   */
  workflowOf?: (name: string, file: string) => WorkflowModel | undefined;
}

/** A new version and how it differs from the previous one on record. */
export interface VersionNote {
  workflow: string;
  /** The version built now. */
  id: string;
  /** The latest other version on record, if any. */
  previous?: string;
  changes: VersionChange[];
}

export interface VersionCheck {
  diagnostics: Diagnostic[];
  /** One versions file per source file with workflows. */
  files: OutputFile[];
  /** Versions that are not on record yet (the build records them). */
  notes: VersionNote[];
}

const DIAGNOSTIC_OF: Partial<Record<VersionChange['kind'], DiagnosticCode>> = {
  'node-removed': 'FLX050',
  'input-changed': 'FLX051',
  'join-changed': 'FLX052',
  'merge-changed': 'FLX053',
  'wait-changed': 'FLX055',
  'nested-changed': 'FLX056',
};

/** Memoised {@link TypeProbe}: one probe per node file for all the pairs a comparison needs. */
function inputCompatibility(pairsNeeded: Array<{ file: string; from: string; to: string }>, probe: TypeProbe | undefined, alsoIn?: string): (file: string, from: string, to: string) => boolean {
  const known = new Map<string, boolean>();
  const key = (file: string, from: string, to: string) => `${file}\0${from}\0${to}`;
  const byFile = new Map<string, Array<[string, string]>>();
  for (const p of pairsNeeded) {
    if (known.has(key(p.file, p.from, p.to))) continue;
    known.set(key(p.file, p.from, p.to), false);
    byFile.set(p.file, [...(byFile.get(p.file) ?? []), [p.from, p.to]]);
  }
  if (probe) {
    for (const [file, pairs] of byFile) {
      const answers = probe(file, pairs);
      pairs.forEach(([from, to], i) => known.set(key(file, from, to), answers[i] === true));
      // A type written where the node is used (a generic node's type argument in the workflow's file) has names in
      // scope there, not in the node class's file: a pair that does not check in one is asked in the other.
      const again = alsoIn === undefined || alsoIn === file ? [] : pairs.filter((_, i) => answers[i] !== true);
      if (again.length > 0) probe(alsoIn!, again).forEach((ok, i) => ok && known.set(key(file, again[i]![0], again[i]![1]), true));
    }
  }
  return (file, from, to) => known.get(key(file, from, to)) ?? false;
}

/** The pairs of input types a comparison of `from` and `to` will ask about. */
function typePairs(from: GraphVersion, to: GraphVersion): Array<{ file: string; from: string; to: string }> {
  const old = new Map(from.nodes.map((n) => [n.name, n]));
  const out: Array<{ file: string; from: string; to: string }> = [];
  for (const n of to.nodes) {
    const o = old.get(n.name);
    if (o && inputDiffers(o, n)) out.push({ file: n.file, from: inputText(o), to: inputText(n) });
  }
  return out;
}

/**
 * Where a change is reported: the context field or the node it is about (or its guessed new name), else the workflow
 * class. A context field declared in another file than the workflow is reported at the workflow class (the editor
 * plugin shows a workflow's version diagnostics in the workflow's file).
 */
function positionOf(wf: WorkflowModel, c: VersionChange): Position {
  if (c.field !== undefined) {
    const at = wf.contextFields.find((f) => f.name === c.field)?.position;
    return at?.file === wf.position.file ? at : wf.position;
  }
  const name = c.kind === 'node-removed' ? c.renameGuess : c.node;
  return wf.nodes.find((n) => n.name === name)?.position ?? wf.position;
}

/**
 * How the diagnostic about `old` goes away once its runs are gone: the record keeps a version until it is pruned, so
 * without this a drained deploy kept failing `--strict-versions` with nothing saying what to do.
 */
function pruneHint(old: GraphVersion): string {
  return `; once no run of version ${old.id} is left, \`floxide versions prune\` drops it from the record (docs/deploying.md)`;
}

/**
 * How runs of `old` that hold items at `node` are kept from the new code: by workers serving `old` when the change
 * made a new version; when it kept the version id (input types, signal names, node kinds and nested graphs are not
 * part of the graph fingerprint), workers of this build take those runs too, so only waiting for them helps.
 */
function drainHint(old: GraphVersion, now: GraphVersion, node: string | undefined): string {
  if (old.id !== now.id) return `keep workers serving version ${old.id} until its runs drain${pruneHint(old)}`;
  return `deploy this once no run holds items at ${node} (\`floxide runs show\`): the version id stays ${old.id}, so workers of this build take its runs too (docs/deploying.md)`;
}

/**
 * The `floxide runs migrate` command that moves the open runs of `versionsFile`'s workflows (project-relative) to its
 * newest version, renaming `renames`: whole but the store's URL, so that it works pasted once that is filled in.
 */
function migrateCommand(versionsFile: string, renames: string): string {
  return `floxide runs migrate --all --store <url> --versions ${versionsFile}${renames}`;
}

function diagnosticOf(wf: WorkflowModel, old: GraphVersion, now: GraphVersion, c: VersionChange, versionsFile: string, strict: boolean): Diagnostic | undefined {
  const code = DIAGNOSTIC_OF[c.kind];
  if (!code || c.safe) return undefined;
  let message: string;
  let hint: string;
  switch (c.kind) {
    case 'node-removed':
      message = `${wf.name}: node ${c.node} of version ${old.id} is gone${c.renameGuess ? ` (renamed to ${c.renameGuess}?)` : ''}: runs of that version with items queued for ${c.node} cannot continue on version ${now.id}`;
      hint = `keep workers serving version ${old.id} until its runs drain, or move them to this version (\`${migrateCommand(versionsFile, c.renameGuess ? ` --rename ${c.node}=${c.renameGuess}` : '')}\`)${pruneHint(old)}`;
      break;
    case 'input-changed':
      message = `${wf.name}: ${c.text.replace(/ changed from /, ' narrowed from ')} since version ${old.id}: items queued by runs of that version may not fit the new type`;
      hint = `accept the old type too (widen the input), or ${drainHint(old, now, c.node)}`;
      break;
    case 'join-changed':
      message = `${wf.name}: ${c.text} since version ${old.id}: join arrivals parked by runs of that version count the old fan-out`;
      hint = `keep workers serving version ${old.id} until its runs drain, and do not migrate them${pruneHint(old)}`;
      break;
    case 'merge-changed':
      message = `${wf.name}: ${c.text} since version ${old.id}: the stored context deltas of its runs follow the old strategy`;
      hint = `keep workers serving version ${old.id} until its runs drain, and do not migrate them${pruneHint(old)}`;
      break;
    case 'wait-changed':
      message = `${wf.name}: ${c.text} since version ${old.id}: items of its runs parked at ${c.node} wait for the old signal, which this definition's signal() refuses`;
      hint = `keep the old signal name until no run waits at ${c.node} (\`floxide runs show\` lists a run's waits), or ${drainHint(old, now, c.node)}`;
      break;
    case 'nested-changed':
      message = `${wf.name}: ${c.text} since version ${old.id}: items of its runs parked at ${c.node} hold a nested run begun there (waiting for a signal or a timer), which this definition cannot continue`;
      hint = `${drainHint(old, now, c.node)}; do not migrate them`;
      break;
    default:
      return undefined;
  }
  const d = diagnostic(code, message, positionOf(wf, c), hint);
  if (strict) d.severity = 'error';
  return d;
}

/** Reads each source's versions file once: its record, or the error that makes it FLX054. */
function recordReader(layout: OutputLayout): (source: string) => VersionsRecord | VersionsFileError {
  const read = new Map<string, VersionsRecord | VersionsFileError>();
  return (source) => {
    let r = read.get(source);
    if (r === undefined) {
      try {
        r = readRecord(versionsPathFor(source, layout));
      } catch (err) {
        if (!(err instanceof VersionsFileError)) throw err;
        r = err;
      }
      read.set(source, r);
    }
    return r;
  };
}

/**
 * The {@link NestedVersions} judge of a build: a nested workflow's versions are its current model (built now) and its
 * versions on record next to its source (a file that cannot be read knows none: FLX054 is reported for it where its
 * own workflows are checked). Input types are asked of the type checker one pair at a time: this is only asked when
 * a nested workflow that can park changed its graph.
 */
function buildNestedJudge(model: FlowModel, recordOf: (source: string) => VersionsRecord | VersionsFileError, opts: VersionCheckOptions): NestedVersions {
  const accepts = (o: VersionNode, n: VersionNode) => opts.probe?.(n.file, [[inputText(o), inputText(n)]])[0] === true;
  return nestedJudge((workflow, file, id) => {
    const current = model.workflows.find((w) => w.name === workflow && w.class.file === file) ?? opts.workflowOf?.(workflow, file);
    if (current?.fingerprint === id) return versionOf(current);
    const record = recordOf(file);
    return record instanceof VersionsFileError ? undefined : record.workflows[workflow]?.find((v) => v.id === id);
  }, accepts);
}

/** Compares every workflow of `model` with its versions on record. Never throws for a bad versions file (FLX054). */
export function checkVersions(model: FlowModel, layout: OutputLayout, opts: VersionCheckOptions = {}): VersionCheck {
  const result: VersionCheck = { diagnostics: [], files: [], notes: [] };
  const recordOf = recordReader(layout);
  const nested = buildNestedJudge(model, recordOf, opts);
  const bySource = new Map<string, WorkflowModel[]>();
  for (const wf of model.workflows) bySource.set(wf.class.file, [...(bySource.get(wf.class.file) ?? []), wf]);
  for (const [source, workflows] of [...bySource].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const file = versionsPathFor(source, layout);
    const rel = path.relative(layout.rootDir, file).split(path.sep).join('/');
    const record = recordOf(source);
    if (record instanceof VersionsFileError) {
      result.diagnostics.push(diagnostic('FLX054', record.message.replace(file, rel), { file: rel, line: 1, column: 1 }));
      continue;
    }
    for (const wf of workflows) {
      const now = versionOf(wf);
      const recorded = (record.workflows[wf.name] ?? []).filter((v) => !sameVersion(v, now));
      const inputs = inputCompatibility(recorded.flatMap((v) => typePairs(v, now)), opts.probe, wf.class.file);
      const options = { accepts: (o: VersionNode, n: VersionNode) => inputs(n.file, inputText(o), inputText(n)), nested };
      const compatible: string[] = [];
      for (const old of recorded) {
        const changes = compareVersions(old, now, options);
        if (old.id !== now.id && isCompatible(changes)) compatible.push(old.id);
        for (const c of changes) {
          const d = diagnosticOf(wf, old, now, c, rel, opts.strict ?? false);
          if (d) result.diagnostics.push(d);
        }
      }
      if (compatible.length > 0) wf.compatible = compatible;
      else delete wf.compatible;
      // every other version on record: this one is recorded last, the newest (recordVersions), newest first
      const before = (record.workflows[wf.name] ?? []).filter((v) => v.id !== now.id).map((v) => v.id).reverse();
      if (before.length > 0) wf.superseded = before;
      else delete wf.superseded;
      if (!(record.workflows[wf.name] ?? []).some((v) => v.id === now.id)) {
        const previous = recorded[recorded.length - 1];
        result.notes.push({
          workflow: wf.name,
          id: now.id,
          ...(previous ? { previous: previous.id } : {}),
          changes: previous ? compareVersions(previous, now, options) : [],
        });
      }
    }
    result.files.push({ path: file, content: renderRecord(recordVersions(record, workflows)) });
  }
  return result;
}

/** Versions on record that a build leaves behind (see {@link strandedRecords}). */
export interface StrandedRecord {
  workflow: string;
  /** The versions file of the orphaned module that holds them (absolute). */
  from: string;
  /** The versions file this build records the workflow in (absolute). */
  to: string;
  /** The version ids `to` does not hold. */
  versions: string[];
}

/**
 * The versions on record in the versions files of orphaned modules (`orphans`: their source was renamed or lost its
 * workflows) of workflows this build records in another file (`files`, what it writes) without them: a renamed
 * source starts a new record, and runs in flight on the old versions would no longer be judged.
 */
export function strandedRecords(orphans: readonly string[], files: readonly OutputFile[]): StrandedRecord[] {
  const now = new Map<string, { file: string; ids: Set<string> }>();
  for (const f of files) {
    for (const [workflow, versions] of Object.entries(parseRecord(f.content, f.path).workflows)) now.set(workflow, { file: f.path, ids: new Set(versions.map((v) => v.id)) });
  }
  const out: StrandedRecord[] = [];
  for (const orphan of orphans) {
    const from = versionsFileOfModule(orphan);
    let record: VersionsRecord;
    try {
      record = readRecord(from);
    } catch {
      continue; // an unreadable file: nothing to carry over
    }
    for (const [workflow, versions] of Object.entries(record.workflows)) {
      const target = now.get(workflow);
      const missing = versions.map((v) => v.id).filter((id) => !target?.ids.has(id));
      if (target && target.file !== from && missing.length > 0) out.push({ workflow, from, to: target.file, versions: missing });
    }
  }
  return out;
}

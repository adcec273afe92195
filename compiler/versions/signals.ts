/**
 * The signal names a recorded graph version takes, read from the versions files: what `floxide runs signal` checks a
 * name against when it has no workflow code to ask (a misspelt name would otherwise wait in the run's mailbox for a
 * wait that never comes). The names are those of the generated signal map (compiler/signals.ts `signalsOf`): each
 * `WaitFor` node's signal, and a nested workflow's as `<node>.<signal>`, at every level.
 */
import { findRecordedVersion, type GraphVersion } from './record.js';

/** The signal names of a recorded version, and the versions file that records it. */
export interface RecordedSignals {
  readonly file: string;
  /** Sorted. */
  readonly names: readonly string[];
}

/**
 * The signal names version `id` of `workflow` takes, as recorded in the versions files under `dirs`; undefined when
 * no file records that version, or a nested workflow of it whose version is not on record (its names are unknown).
 */
export async function recordedSignalNames(dirs: readonly string[], workflow: string, id: string): Promise<RecordedSignals | undefined> {
  const found = await findRecordedVersion(dirs, workflow, id);
  if (!found) return undefined;
  const names = await signalNamesOf(dirs, found.version, new Set([`${workflow}@${id}`]));
  return names && { file: found.file, names: [...new Set(names)].sort() };
}

async function signalNamesOf(dirs: readonly string[], version: GraphVersion, seen: ReadonlySet<string>): Promise<string[] | undefined> {
  const names: string[] = [];
  for (const n of version.nodes) {
    if (n.kind === 'wait' && n.signal !== undefined) names.push(n.signal);
    if (n.kind !== 'workflow') continue;
    // (a record written before nested versions were recorded names no class or version: the names are unknown)
    if (n.workflow === undefined || n.version === undefined) return undefined;
    const key = `${n.workflow}@${n.version}`;
    // (nested workflows form no cycle, FLX027: a record that says otherwise names no signals we can trust)
    if (seen.has(key)) return undefined;
    const nested = await findRecordedVersion(dirs, n.workflow, n.version);
    const inner = nested && (await signalNamesOf(dirs, nested.version, new Set([...seen, key])));
    if (!inner) return undefined;
    names.push(...inner.map((s) => `${n.name}.${s}`));
  }
  return names;
}

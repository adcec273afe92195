/**
 * Pruning versions on record (`floxide versions prune`): a version no run needs any more leaves its versions file, so
 * the build stops judging changes against it (its FLX050-FLX056 warnings go) and stops listing it in the generated
 * definition (`accepts`, `supersedes`). Kept, per workflow: the newest version on record (the one the module runs,
 * `recordVersions`), every version the caller says is in use (open runs in a store, live workers serving it), and
 * every version a kept version nests (a nested workflow's graph version, when that workflow is in one of the files).
 */
import { VERSIONS_FORMAT, type GraphVersion, type VersionsRecord } from './record.js';

/** What the pruning decided for one version on record. */
export interface PrunedVersion {
  file: string;
  workflow: string;
  version: string;
  kept: boolean;
  /** Why it is kept (empty for a dropped version). */
  reasons: string[];
}

/** The records after pruning, and the decision for every version, in file, workflow and record order. */
export interface PrunePlan {
  records: Map<string, VersionsRecord>;
  versions: PrunedVersion[];
}

/** Why a version is still needed (`[]`: nothing needs it). */
export type VersionUse = (workflow: string, version: string) => readonly string[];

/** Decides, for the versions files `records` (file -> record), which versions to keep (see the module comment). */
export function planPrune(records: ReadonlyMap<string, VersionsRecord>, inUse: VersionUse): PrunePlan {
  const reasons = new Map<string, string[]>();
  const key = (workflow: string, version: string) => `${workflow}\n${version}`;
  const keep = (workflow: string, version: string, why: string) => {
    const k = key(workflow, version);
    const list = reasons.get(k);
    if (list) {
      if (!list.includes(why)) list.push(why);
      return false;
    }
    reasons.set(k, [why]);
    return true;
  };
  const all: Array<{ file: string; workflow: string; v: GraphVersion }> = [];
  for (const [file, record] of records) {
    for (const [workflow, versions] of Object.entries(record.workflows)) {
      versions.forEach((v, i) => {
        all.push({ file, workflow, v });
        if (i === versions.length - 1) keep(workflow, v.id, 'the newest on record (the version the generated module runs)');
        for (const why of inUse(workflow, v.id)) keep(workflow, v.id, why);
      });
    }
  }
  // the nested graphs of kept versions, transitively (a nested run of an open run runs that graph)
  const byKey = new Map(all.map((e) => [key(e.workflow, e.v.id), e]));
  const queue = all.filter((e) => reasons.has(key(e.workflow, e.v.id)));
  for (let next = queue.shift(); next; next = queue.shift()) {
    for (const n of next.v.nodes) {
      if (n.kind !== 'workflow' || n.workflow === undefined || n.version === undefined) continue;
      const nested = byKey.get(key(n.workflow, n.version));
      if (nested && keep(n.workflow, n.version, `nested at ${n.name} of ${next.workflow} version ${next.v.id}, which is kept`)) queue.push(nested);
    }
  }
  const pruned = new Map<string, VersionsRecord>();
  for (const [file, record] of records) {
    const workflows: Record<string, GraphVersion[]> = {};
    for (const [workflow, versions] of Object.entries(record.workflows)) workflows[workflow] = versions.filter((v) => reasons.has(key(workflow, v.id)));
    pruned.set(file, { format: VERSIONS_FORMAT, workflows });
  }
  return {
    records: pruned,
    versions: all.map(({ file, workflow, v }) => {
      const why = reasons.get(key(workflow, v.id)) ?? [];
      return { file, workflow, version: v.id, kept: why.length > 0, reasons: why };
    }),
  };
}

/**
 * Moving an open run from the graph version it is on to another one on record (issue 10, migration). The versions
 * are compared with {@link compareVersions} under the renames given (`old -> new`); what blocks is what the run
 * holds that would not mean the same in the target:
 *
 * - a pending item whose node (renamed) is not in the target, or whose input type the target node does not accept
 *   (the old type is not assignable to the new one);
 * - a pending item or parked arrival of a `@join()` whose fan-out changed (parked arrivals count the old one);
 * - a parked join arrival for a renamed node (arrivals stay as they were parked: let the group settle first);
 * - a pending item at a `WaitFor` whose signal changed or that no longer waits, or at a nested workflow node (whose
 *   workflow can park) that runs another workflow or none, or whose workflow's graph changed unsafely (judged when
 *   that workflow's versions are in the same versions file): parked, it waits for the old signal or holds a nested
 *   run begun there;
 * - a context field whose merge strategy changed (the stored deltas follow the old one): blocks every run.
 *
 * {@link planMigration} is the pure judgement; {@link migrateRun} applies it to a run of a checkpoint store
 * (SQLite, memory) with the store's one atomic `migrate`.
 */
import { InvalidArgumentError, MigrationBlockedError, MigrationChangedError, RunNotFoundError, RunStateError, leasedReason, type MigrationBlocker } from '../../runtime/core/errors.js';
import type { TypeProbe } from './check.js';
import { compareVersions, nestedJudge, type NestedVersions, type VersionChange } from './compare.js';
import type { GraphVersion, VersionsRecord } from './record.js';
import { inputDiffers, inputsShown, inputText } from './graph-version.js';

/** What a run holds: its pending items and its parked join arrivals (structurally, a checkpoint's). */
export interface PendingWork {
  readonly items: readonly { readonly id: string; readonly node: string }[];
  readonly arrivals: readonly { readonly group: string; readonly node: string | undefined }[];
}

/** One thing that keeps a run from moving. */
export type BlockingItem = MigrationBlocker;

export interface MigrationPlan {
  workflow: string;
  from: string;
  to: string;
  /** Old node name -> new node name. */
  renames: Record<string, string>;
  /** Every difference between the two versions, judged under the renames. */
  changes: VersionChange[];
  /** Empty when the run can move. */
  blocking: BlockingItem[];
}

/** Input type assignability: `(file of the new node, old type, new type)`; only asked when the texts differ. */
export type Accepts = (file: string, oldType: string, newType: string) => boolean;

/** Checks that every rename maps a node of `from` to a node of `to` (`InvalidArgumentError` otherwise). */
function checkRenames(from: GraphVersion, to: GraphVersion, renames: Readonly<Record<string, string>>): void {
  for (const [o, n] of Object.entries(renames)) {
    if (!from.nodes.some((x) => x.name === o)) throw new InvalidArgumentError(`--rename ${o}=${n}: version ${from.id} has no node ${o}`);
    if (!to.nodes.some((x) => x.name === n)) throw new InvalidArgumentError(`--rename ${o}=${n}: version ${to.id} has no node ${n}`);
  }
  checkRenameTargets(renames);
  // each node of the old version keeps a name of its own: a rename onto a node that keeps its name merges two nodes
  const kept = new Set(from.nodes.map((x) => x.name).filter((name) => !Object.hasOwn(renames, name)));
  for (const [o, n] of Object.entries(renames)) {
    if (kept.has(n)) throw new InvalidArgumentError(`--rename ${o}=${n}: version ${from.id} has a node ${n} that keeps its name: two nodes cannot become one (rename ${n} too)`);
  }
}

/** Throws `InvalidArgumentError` when two `old=new` pairs name one new node (two nodes cannot become one). */
function checkRenameTargets(renames: Readonly<Record<string, string>>): void {
  const by = new Map<string, string>();
  for (const [o, n] of Object.entries(renames)) {
    const other = by.get(n);
    if (other !== undefined) throw new InvalidArgumentError(`--rename ${o}=${n}: node ${other} is renamed to ${n} too: two nodes cannot become one`);
    by.set(n, o);
  }
}

/**
 * Checks renames and a target version before any run is judged (`floxide runs migrate --all` moves runs of several
 * versions, each judged with its own): `to`, when given, is a version on record, and every `old=new` names a node
 * `new` of a target version (`to`, or the newest of its workflow) whose workflow has a version with a node `old`,
 * and no two name the same `new`. `InvalidArgumentError` otherwise.
 */
export function checkRenamesOnRecord(record: VersionsRecord, renames: Readonly<Record<string, string>>, to?: string): void {
  checkRenameTargets(renames);
  const workflows = Object.values(record.workflows).filter((vs) => vs.length > 0);
  if (to !== undefined && !workflows.some((vs) => vs.some((v) => v.id === to))) {
    throw new InvalidArgumentError(`--to ${to}: no version ${to} on record (on record: ${workflows.flatMap((vs) => vs.map((v) => v.id)).join(', ')})`);
  }
  const targets = workflows.flatMap((vs) => {
    const target = to === undefined ? vs[vs.length - 1] : vs.find((v) => v.id === to);
    return target ? [{ versions: vs, target }] : [];
  });
  for (const [o, n] of Object.entries(renames)) {
    const into = targets.filter((t) => t.target.nodes.some((x) => x.name === n));
    if (into.length === 0) throw new InvalidArgumentError(`--rename ${o}=${n}: version ${targets.map((t) => t.target.id).join(', ')} has no node ${n}`);
    if (!into.some((t) => t.versions.some((v) => v.nodes.some((x) => x.name === o)))) throw new InvalidArgumentError(`--rename ${o}=${n}: no version on record has a node ${o}`);
  }
}

/**
 * What blocks moving a run holding `pending` from `from` to `to` under `renames`. Pure. `nested` judges the changed
 * graph of a nested workflow that can park (see `CompareOptions.nested`); without it such a change is not judged.
 */
export function planMigration(
  workflow: string,
  from: GraphVersion,
  to: GraphVersion,
  renames: Readonly<Record<string, string>>,
  pending: PendingWork,
  accepts: Accepts,
  nested?: NestedVersions,
): MigrationPlan {
  checkRenames(from, to, renames);
  const renamed = (n: string) => (Object.hasOwn(renames, n) ? renames[n]! : n);
  const oldNodes = new Map(from.nodes.map((n) => [n.name, n]));
  const newNodes = new Map(to.nodes.map((n) => [n.name, n]));
  const changes = compareVersions(from, to, { renames: new Map(Object.entries(renames)), accepts: (o, n) => accepts(n.file, inputText(o), inputText(n)), ...(nested ? { nested } : {}) });
  const changedJoins = new Set(changes.filter((c) => c.kind === 'join-changed').map((c) => c.node));
  // (queued or parked: a pending item does not say which; parked, it waits for the old signal, or holds a nested
  // run of the old workflow)
  const changedParks = new Map(changes.filter((c) => c.kind === 'wait-changed' || c.kind === 'nested-changed').map((c) => [c.node, c]));
  const blocking: BlockingItem[] = [];
  for (const it of pending.items) {
    const target = newNodes.get(renamed(it.node));
    const old = oldNodes.get(it.node);
    if (!target) {
      const guess = changes.find((c) => c.kind === 'node-removed' && c.node === it.node)?.renameGuess;
      blocking.push({ item: it.id, node: it.node, reason: `node ${it.node} is not in version ${to.id}${guess ? ` (renamed? --rename ${it.node}=${guess})` : ''}` });
    } else if (old && inputDiffers(old, target) && !accepts(target.file, inputText(old), inputText(target))) {
      const [was, is] = inputsShown(old, target);
      blocking.push({ item: it.id, node: it.node, reason: `node ${target.name} of version ${to.id} takes ${is}, not ${was}` });
    } else if (changedJoins.has(target.name)) {
      blocking.push({ item: it.id, node: it.node, reason: `the fan-out into @join() ${target.name} changed` });
    } else if (changedParks.has(target.name)) {
      const c = changedParks.get(target.name)!;
      const parked = c.kind === 'wait-changed' ? 'waits for the old signal' : 'holds a nested run begun there';
      blocking.push({ item: it.id, node: it.node, reason: `${c.text} in version ${to.id}: an item parked there ${parked}` });
    }
  }
  // (one line per parked group, not per arrival)
  const groups = new Set<string>();
  for (const a of pending.arrivals) {
    if (a.node === undefined || groups.has(a.group)) continue;
    groups.add(a.group);
    if (changedJoins.has(renamed(a.node))) blocking.push({ item: a.group, node: a.node, reason: `join arrivals parked in group ${a.group} count the old fan-out into ${a.node}` });
    else if (renamed(a.node) !== a.node) blocking.push({ item: a.group, node: a.node, reason: `join arrivals parked in group ${a.group} are for ${a.node}: let the group settle before renaming it` });
  }
  for (const c of changes) if (c.kind === 'merge-changed') blocking.push({ field: c.field, reason: `${c.text}: the stored context deltas follow the old strategy` });
  return { workflow, from: from.id, to: to.id, renames: { ...renames }, changes, blocking };
}

/** The blocking items, one per line, for messages. */
export function blockingLines(plan: MigrationPlan): string {
  return plan.blocking.map((b) => `  ${b.item !== undefined ? `${b.item}: ` : ''}${b.reason}`).join('\n');
}

/**
 * A store as {@link migrateRun} uses it: a checkpoint store (`CheckpointStore` is one), or a distributed backend
 * through `migratableBackend(backend)` (runtime/distributed/migratable.ts).
 */
export interface MigratableStore {
  /** The statuses of a run that can be moved (default `running` and `failed`, a checkpoint's open ones). */
  readonly openStatuses?: readonly string[];
  load(runId: string): Promise<
    | {
        readonly run: { readonly workflow: string; readonly fingerprint: string; readonly status: string };
        /** Every pending item; `leasedBy`: the worker holding its lease right now (distributed stores). */
        readonly items: ReadonlyArray<{ readonly id: string; readonly node: string; readonly leasedBy?: string }>;
        readonly arrivals: PendingWork['arrivals'];
      }
    | undefined
  >;
  /**
   * Moves the run atomically. `expect`: the pending item ids judged (a store that can change meanwhile refuses with
   * `MigrationChangedError` when they are not the run's any more); `leases`: whether a leased item blocks the move.
   */
  migrate(
    runId: string,
    migration: { from: string; to: string; renames: Readonly<Record<string, string>>; expect: readonly string[]; leases: 'keep' | 'block' },
  ): Promise<void>;
}

export interface MigrateRunOptions {
  /** The versions on record (the workflow's `<file>.floxide.versions.json`, read with `readRecord`). */
  record: VersionsRecord;
  /** The target version id; default the newest version on record. */
  to?: string;
  /** Old node name -> new node name. */
  rename?: Readonly<Record<string, string>>;
  /** Input type assignability (the `Analyzer`'s `probeAssignable`); without it a changed input type blocks. */
  probe?: TypeProbe;
  /** Judge only; write nothing. */
  dryRun?: boolean;
}

/** The versions of `workflow` on record, or `InvalidArgumentError`. */
function versionsOf(record: VersionsRecord, workflow: string): GraphVersion[] {
  const versions = Object.hasOwn(record.workflows, workflow) ? record.workflows[workflow] : undefined;
  if (!versions?.length) throw new InvalidArgumentError(`no versions of ${workflow} on record`);
  return versions;
}

/** Looks a version up by id, or `InvalidArgumentError` naming the ones on record. */
export function findVersion(record: VersionsRecord, workflow: string, id: string): GraphVersion {
  const versions = versionsOf(record, workflow);
  const v = versions.find((x) => x.id === id);
  if (!v) throw new InvalidArgumentError(`version ${id} of ${workflow} is not on record (on record: ${versions.map((x) => x.id).join(', ')})`);
  return v;
}

/** How often {@link migrateRun} judges a run again that changed while it was judged. */
const MIGRATE_ATTEMPTS = 5;

/**
 * Whether the commit of a step of `plan.from` that is in flight while the run moves stays valid on `plan.to`: no
 * rename and no unsafe change, so every item such a commit can enqueue is for a node `to` has, with an input it
 * accepts. Otherwise a leased item blocks the move.
 */
export function keepsLeases(plan: MigrationPlan): boolean {
  return Object.keys(plan.renames).length === 0 && plan.changes.every((c) => c.safe);
}

/**
 * Moves the open run `runId` to version `to` (default: the newest on record) when that is type-safe: rewrites its
 * pending items' node names and its fingerprint in one store operation. Otherwise throws `MigrationBlockedError`
 * listing the blocking items, and writes nothing. Returns the plan (nothing to do when the run already is on `to`).
 * Unknown run: `RunNotFoundError`; finished run: `RunStateError`; a version or rename not on record:
 * `InvalidArgumentError`.
 *
 * On a distributed store (`migratableBackend(backend)`) an item leased to a worker blocks the move unless
 * {@link keepsLeases} (the old version's commit of it would not fit the target); a run whose items changed between
 * the judgement and the move (`MigrationChangedError`) is judged again, up to 5 times.
 */
export async function migrateRun(store: MigratableStore, runId: string, opts: MigrateRunOptions): Promise<MigrationPlan> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(store, runId, opts);
    } catch (err) {
      if (!(err instanceof MigrationChangedError) || attempt >= MIGRATE_ATTEMPTS) throw err;
    }
  }
}

/**
 * Judges nested workflows' graph changes by the versions in `record` (the migrated workflow's versions file: the
 * nested workflows declared in the same source file); a nested workflow recorded elsewhere is not judged.
 */
function nestedIn(record: VersionsRecord, accepts: Accepts): NestedVersions {
  return nestedJudge((workflow, _file, id) => (Object.hasOwn(record.workflows, workflow) ? record.workflows[workflow] : undefined)?.find((v) => v.id === id), (o, n) => accepts(n.file, inputText(o), inputText(n)));
}

async function migrateOnce(store: MigratableStore, runId: string, opts: MigrateRunOptions): Promise<MigrationPlan> {
  const cp = await store.load(runId);
  if (!cp) throw new RunNotFoundError(`no run ${runId} in the store`);
  const open = store.openStatuses ?? ['running', 'failed'];
  if (!open.includes(cp.run.status)) throw new RunStateError(`run ${runId} is ${cp.run.status}; only an open (${open.join(' or ')}) run can be migrated`);
  const workflow = cp.run.workflow;
  const versions = versionsOf(opts.record, workflow);
  const to = opts.to === undefined ? versions[versions.length - 1]! : findVersion(opts.record, workflow, opts.to);
  const renames = opts.rename ?? {};
  // already there: nothing to judge (renames are of the versions it left, or of other runs')
  if (cp.run.fingerprint === to.id) return { workflow, from: to.id, to: to.id, renames: { ...renames }, changes: [], blocking: [] };
  const from = findVersion(opts.record, workflow, cp.run.fingerprint);
  const probe = opts.probe;
  const accepts: Accepts = (file, a, b) => (probe ? probe(file, [[a, b]])[0] === true : false);
  const plan = planMigration(workflow, from, to, renames, cp, accepts, nestedIn(opts.record, accepts));
  const keep = keepsLeases(plan);
  if (!keep) {
    for (const it of cp.items) {
      if (it.leasedBy !== undefined) plan.blocking.push({ item: it.id, node: it.node, reason: leasedReason(it.leasedBy, from.id) });
    }
  }
  if (plan.blocking.length > 0) {
    const err = new MigrationBlockedError(`run ${runId} cannot move from ${workflow} version ${from.id} to ${to.id}:\n${blockingLines(plan)}`);
    err.blocking = plan.blocking;
    throw err;
  }
  if (!opts.dryRun) {
    await store.migrate(runId, { from: from.id, to: to.id, renames: plan.renames, expect: cp.items.map((it) => it.id), leases: keep ? 'keep' : 'block' });
  }
  return plan;
}


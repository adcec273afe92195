/**
 * Checks of what the options and edge decorators name: the start is declared and is a node field (FLX017, FLX010,
 * FLX021), every edge target is a node field (FLX010, with a fix for a misspelt name; FLX021), no edge or branch arm
 * is declared twice (FLX016), and no node has both success edges and branch arms (FLX025).
 */
import type { ts } from 'ts-morph';
import { renameTargetFixes } from '../fixes.js';
import type { ResolvedWorkflow } from '../resolve.js';
import type { CheckContext } from './report.js';

export function checkTargets(w: ResolvedWorkflow, { report, rootDir }: CheckContext): void {
  const { raw, fieldsByName, nodes, notNodes, start, duplicateEdges } = w;
  const wfName = raw.name;
  const exists = (name: string) => fieldsByName.has(name) || raw.otherMembers.has(name);
  // a field with edge decorators that is not a node has its own FLX021 (checks/nodes.ts): the root cause, said once
  const notNodeUnreported = (name: string) => !nodes.has(name) && fieldsByName.get(name)?.decorated !== true;
  const unknownTarget = (node: ts.Node, what: string, name: string) => {
    const fields = [...fieldsByName.keys()];
    const close = closeNames(name, fields);
    report('FLX010', node, `${what} ${JSON.stringify(name)} is not a field of ${wfName}`, suggestion(close, fields), renameTargetFixes(node, close, rootDir));
  };

  if (!raw.start) {
    if (!raw.startUnreadable) report('FLX017', raw.decorator, `workflow ${wfName} declares no start`, "add start: '<field>' to @workflow({...})");
  } else if (!exists(start)) unknownTarget(raw.start.node, 'start', start);
  else if (raw.otherMembers.has(start)) report('FLX017', raw.start.node, `start ${JSON.stringify(start)} of ${wfName} is not a field`, 'the start must name a node field');
  else if (notNodeUnreported(start)) report('FLX021', raw.start.node, `start ${JSON.stringify(start)} of ${wfName} is not a node: ${notNodes.get(start) ?? 'not a node'}`);

  for (const f of raw.fields) {
    const tags = new Set<string>();
    for (const arm of f.arms) {
      if (tags.has(arm.tag)) report('FLX016', arm.tagNode, `branch arm ${JSON.stringify(arm.tag)} of ${f.name} is declared twice`, 'list all the targets of a tag in one @edge.when');
      tags.add(arm.tag);
    }
    for (const e of f.edges) {
      const label = e.kind === 'branch' ? `branch ${JSON.stringify(e.tag)} edge` : `${e.kind} edge`;
      if (duplicateEdges.has(e)) report('FLX016', e.targetNode, `duplicate ${label} ${f.name} -> ${e.to}`);
      else if (!exists(e.to)) unknownTarget(e.targetNode, `${label} target`, e.to);
      else if (notNodeUnreported(e.to)) report('FLX021', e.targetNode, `${label} target ${JSON.stringify(e.to)} of ${wfName} is not a node: ${notNodes.get(e.to) ?? 'it is a method or accessor'}`);
    }
    if (f.edges.some((e) => e.kind === 'success') && (f.arms.length > 0 || f.hasOtherwise)) report('FLX025', f.nameNode, `node ${f.name} has both success edges and branch arms`);
  }
}

/** The field names close to a misspelt one. */
function closeNames(name: string, fields: readonly string[]): string[] {
  return fields.filter((f) => distance(f.toLowerCase(), name.toLowerCase()) <= Math.max(1, Math.floor(name.length / 3)));
}

/** "did you mean" hint for a misspelt field name. */
function suggestion(close: readonly string[], fields: readonly string[]): string {
  return close.length > 0 ? `did you mean ${close.map((f) => JSON.stringify(f)).join(' or ')}?` : `the fields are ${fields.map((f) => JSON.stringify(f)).join(', ') || '(none)'}`;
}

/**
 * Optimal-string-alignment distance: Levenshtein plus the swap of two adjacent letters as one edit, so `shuot` is
 * as close to `shout` as `shou` is (plain Levenshtein counts a swap as two, beyond the limit of a short name).
 */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

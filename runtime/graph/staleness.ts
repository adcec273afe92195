/**
 * What differs between a generated definition and the decorators of its workflow class, node by node: what a
 * `StaleGeneratedModuleError` says beyond "the fingerprints differ". The generated `XNodes` table carries each node's
 * edges and options; the decorator registry carries the source's.
 */
import { mergeStrategiesOf, type FieldMeta, type WorkflowMeta } from './decorators.js';
import type { AnyWorkflowDef, NodeSpec } from './definition.js';
import { normalizeRetry } from './shape.js';

/** One node's comparable parts, canonical (sorted where order does not make another graph). */
interface NodeParts {
  edges: string;
  retry: string;
  timeout: string;
  join: string;
}

const sorted = (xs: readonly string[]) => JSON.stringify([...xs].sort());

function partsOfSpec(spec: NodeSpec, discriminant: string): NodeParts {
  const arms = spec.branch ? Object.entries(spec.branch.arms).map(([tag, to]) => `${tag}:${sorted(to)}`) : [];
  return {
    edges: JSON.stringify([sorted(spec.successors), sorted(spec.fallbacks), sorted(arms), sorted(spec.branch?.otherwise ?? []), spec.branch ? spec.branch.discriminant : discriminant]),
    retry: JSON.stringify(spec.retry ?? null),
    timeout: String(spec.timeoutMs ?? ''),
    join: String(spec.join),
  };
}

function partsOfField(f: FieldMeta | undefined, discriminant: string): NodeParts {
  const arms = (f?.arms ?? []).map((a) => `${a.tag}:${sorted(a.targets)}`);
  return {
    edges: JSON.stringify([sorted(f?.success ?? []), sorted(f?.fallbacks ?? []), sorted(arms), sorted(f?.otherwise ?? []), discriminant]),
    retry: JSON.stringify(f?.retry ? normalizeRetry(f.retry) : null),
    timeout: String(f?.timeoutMs ?? ''),
    join: String(f?.join ?? false),
  };
}

const targetsOfSpec = (s: NodeSpec) => [...s.successors, ...s.fallbacks, ...Object.values(s.branch?.arms ?? {}).flat(), ...(s.branch?.otherwise ?? [])];
const targetsOfField = (f: FieldMeta) => [...f.success, ...f.fallbacks, ...f.arms.flatMap((a) => a.targets), ...f.otherwise];

/**
 * The differences, one phrase each (`node draft: edges, retry changed`, `node summary is not in the generated
 * module`, `start: outline -> plan`), in a stable order; empty when only the fingerprint differs.
 */
export function describeGraphChanges(def: AnyWorkflowDef, meta: WorkflowMeta): string[] {
  const out: string[] = [];
  const discriminant = meta.options.discriminant ?? 'kind';
  if (def.start !== meta.options.start) out.push(`start: ${def.start} -> ${meta.options.start}`);
  const specs = def.nodes as Record<string, NodeSpec>;
  // The nodes the decorators know: the start, decorated fields and edge targets (undecorated terminals show up as targets).
  const known = new Set<string>([meta.options.start]);
  for (const [name, f] of meta.fields) {
    known.add(name);
    for (const t of targetsOfField(f)) known.add(t);
  }
  const referenced = new Set<string>([def.start, ...Object.values(specs).flatMap(targetsOfSpec)]);
  const names = [...new Set([...Object.keys(specs), ...known])].sort();
  for (const name of names) {
    const spec = specs[name];
    if (!spec) {
      out.push(`node ${name} is not in the generated module`);
      continue;
    }
    if (!known.has(name)) {
      // Undecorated and unreferenced now: the field may still exist, but nothing reaches it any more.
      if (referenced.has(name)) out.push(`node ${name} is no longer in the source's graph`);
      continue;
    }
    const a = partsOfSpec(spec, discriminant);
    const b = partsOfField(meta.fields.get(name), discriminant);
    const what = (Object.keys(a) as Array<keyof NodeParts>).filter((k) => a[k] !== b[k]);
    if (what.length > 0) out.push(`node ${name}: ${what.join(', ')} changed`);
  }
  out.push(...describeContextChanges(def, meta));
  return out;
}

/** The context class whose `@merge.*` decorators are the source's strategies: the `context:` option's, else the inferred one the module names. */
export function contextClassOf(def: AnyWorkflowDef, meta: WorkflowMeta): WorkflowMeta['options']['context'] {
  return meta.options.context ?? def.contextClass;
}

/**
 * The context fields whose merge strategy in the generated module (`contextFields`) differs from the source's
 * `@merge.*` decorators (`context field low: max -> min`), sorted by field; a field missing on one side is
 * `lastWrite`. The fingerprint covers the strategies too, but a module's `contextFields` are what its runs merge by,
 * so they are compared as well.
 */
export function describeContextChanges(def: AnyWorkflowDef, meta: WorkflowMeta): string[] {
  const context = contextClassOf(def, meta);
  const source = context ? mergeStrategiesOf(context) : new Map();
  const generated = (def.contextFields ?? {}) as Record<string, string>;
  const out: string[] = [];
  for (const name of [...new Set([...Object.keys(generated), ...source.keys()])].sort()) {
    const was = generated[name] ?? 'lastWrite';
    const now = source.get(name)?.strategy ?? 'lastWrite';
    if (was !== now) out.push(`context field ${name}: ${was} -> ${now}`);
  }
  return out;
}

/**
 * A generated workflow definition compiled once into lookup tables (node table with resolved edges, context codec,
 * start), checked against its decorated class, and the check that a workflow instance has every node.
 */
import { contextCodecOf, type ContextCodec } from '../context/codec.js';
import { workflowMetaOf } from '../graph/decorators.js';
import type { AnyWorkflowDef, NodeSpec, NormalizedRetry } from '../graph/definition.js';
import { InvalidArgumentError, StaleGeneratedModuleError } from '../core/errors.js';
import { fingerprintOf, graphShapeOf } from '../graph/shape.js';
import { contextClassOf, describeContextChanges, describeGraphChanges } from '../graph/staleness.js';

export interface Target {
  readonly name: string;
  /** A `@join()` node: items inside a fan-out become arrivals instead of running. */
  readonly join: boolean;
}

/** One node with its edges resolved. */
export interface CompiledNode {
  readonly name: string;
  readonly spec: NodeSpec;
  readonly successors: readonly Target[];
  readonly fallbacks: readonly Target[];
  readonly arms: ReadonlyMap<string, readonly Target[]> | undefined;
  readonly otherwise: readonly Target[] | undefined;
  readonly discriminant: string;
  readonly terminal: boolean;
  readonly retry: NormalizedRetry | undefined;
  readonly timeoutMs: number | undefined;
}

/** A workflow definition resolved once: node table, codec, start. */
export interface CompiledWorkflow {
  readonly def: AnyWorkflowDef;
  readonly codec: ContextCodec<unknown>;
  readonly nodes: ReadonlyMap<string, CompiledNode>;
  readonly start: string;
}

/** What the engine reports while a run progresses (`onEvent`). */
const compiled = new WeakMap<object, CompiledWorkflow>();

/**
 * Resolves a generated definition once (cached). Throws {@link StaleGeneratedModuleError} when the definition's
 * fingerprint differs from what the decorators of its workflow class describe now.
 */
export function compiledOf(def: AnyWorkflowDef): CompiledWorkflow {
  const hit = compiled.get(def);
  if (hit) return hit;
  if (!def || typeof def !== 'object' || typeof def.processWorkItem !== 'function' || !def.nodes) {
    throw new InvalidArgumentError('expected a generated workflow definition (the XDef export of a .floxide.ts module)');
  }
  const from = def.source ? ` (generated from ${def.source})` : '';
  const meta = workflowMetaOf(def.workflowClass);
  if (!meta) {
    throw new StaleGeneratedModuleError(
      `the generated definition ${def.name}${from} points at a class that is not decorated with @workflow: run floxide build`,
    );
  }
  // The class is the definition's by reference (the generated module imports it by its source name), so its runtime
  // name is not compared: a bundler renames classes (esbuild's `let Flow = class Flow2`), a minifier shortens them.
  const actual = fingerprintOf(graphShapeOf({ ...meta, name: def.name }, contextClassOf(def, meta)));
  if (actual !== def.fingerprint || describeContextChanges(def, meta).length > 0) {
    const changes = describeGraphChanges(def, meta);
    throw new StaleGeneratedModuleError(
      `the generated module of ${def.name}${from} is stale: ${changes.length > 0 ? changes.join('; ') : `its graph changed (fingerprint ${def.fingerprint}, source ${actual})`}; run floxide build`,
    );
  }
  const specs = def.nodes as Record<string, NodeSpec>;
  const targetOf = (from: string, name: string): Target => {
    const s = specs[name];
    if (!s) throw new StaleGeneratedModuleError(`${def.name}.${from} has an edge to unknown node "${name}": run floxide build`);
    return Object.freeze({ name, join: s.join });
  };
  const nodes = new Map<string, CompiledNode>();
  for (const name of Object.keys(specs)) {
    const spec = specs[name];
    const arms = spec.branch
      ? new Map(Object.entries(spec.branch.arms).map(([tag, ts]) => [tag, ts.map((t) => targetOf(name, t))] as const))
      : undefined;
    nodes.set(
      name,
      Object.freeze({
        name,
        spec,
        successors: spec.successors.map((t) => targetOf(name, t)),
        fallbacks: spec.fallbacks.map((t) => targetOf(name, t)),
        arms,
        otherwise: spec.branch?.otherwise?.map((t) => targetOf(name, t)),
        discriminant: spec.branch?.discriminant ?? 'kind',
        terminal: spec.terminal,
        retry: spec.retry,
        timeoutMs: spec.timeoutMs,
      }),
    );
  }
  if (!nodes.has(def.start)) throw new StaleGeneratedModuleError(`${def.name}: start node "${def.start}" is missing: run floxide build`);
  const wf: CompiledWorkflow = Object.freeze({ def, codec: contextCodecOf(def), nodes, start: def.start });
  compiled.set(def, wf);
  return wf;
}

const checkedInstances = new WeakMap<object, CompiledWorkflow>();

/** Checks that every node field of `instance` exists and is a node (has `process`) or a nested workflow. */
export function checkInstance(wf: CompiledWorkflow, instance: object): void {
  if (checkedInstances.get(instance) === wf) return;
  if (!instance || typeof instance !== 'object') throw new InvalidArgumentError(`${wf.def.name}: expected a workflow instance`);
  if (!(instance instanceof wf.def.workflowClass)) {
    throw new InvalidArgumentError(`${wf.def.name}: the instance is not a ${wf.def.workflowClass.name}`);
  }
  for (const node of wf.nodes.values()) {
    const v = (instance as Record<string, unknown>)[node.name];
    if (node.spec.workflow) {
      if (!v || typeof v !== 'object') throw new InvalidArgumentError(`${wf.def.name}.${node.name}: the nested workflow instance is missing`);
    } else if (!v || typeof (v as { process?: unknown }).process !== 'function') {
      throw new InvalidArgumentError(`${wf.def.name}.${node.name}: expected a node with a process() method (assign it in the constructor)`);
    }
  }
  checkedInstances.set(instance, wf);
}


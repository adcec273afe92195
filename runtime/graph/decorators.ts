/**
 * The authoring decorators. They are inert markers: `floxide build` reads the decorated classes statically and
 * is the source of truth. At run time they only fill a small registry (kept with reflect-metadata) that the
 * engine uses to detect a generated module that no longer matches its source (see {@link graphShapeOf}).
 *
 * Supported mode: `experimentalDecorators: true`. Under standard (TC39) decorators they do not throw; the
 * registry is then filled when the first instance is constructed.
 */
import 'reflect-metadata';
import { InvalidArgumentError } from '../core/errors.js';

/** How a node's failures are retried (durably, in distributed mode). */
export interface RetryOptions {
  /** Total attempts including the first (>= 1). */
  maxAttempts: number;
  /** `linear`: initial*attempt; `exponential`: initial*2^(attempt-1). Default `exponential`. */
  backoff?: 'linear' | 'exponential';
  /** Delay before the 2nd attempt, in ms. Default 100. */
  initialDelayMs?: number;
  /** Cap on any delay, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Random jitter: a uniform 0..jitterMs added to each delay. Default 0. */
  jitterMs?: number;
  /**
   * Which failures to retry: error `name`s or `code`s. Default: every failure except cancellation, deadline
   * and `UnrecoverableError`, which are never retried.
   */
  retryOn?: string[];
}

export interface WorkflowOptions {
  /** The field name of the start node. */
  start: string;
  /** The context class (its fields declare their merge strategy with `@merge.*`). */
  context?: abstract new (...args: any[]) => unknown;
  /** Discriminant property for `@edge.when` branches. Default `kind`. */
  discriminant?: string;
}

/** What the decorators recorded for one workflow field. */
export interface FieldMeta {
  success: string[];
  fallbacks: string[];
  arms: Array<{ tag: string; targets: string[] }>;
  otherwise: string[];
  retry?: RetryOptions;
  timeoutMs?: number;
  join?: boolean;
}

/** What the decorators recorded for one workflow class. */
export interface WorkflowMeta {
  name: string;
  options: WorkflowOptions;
  fields: Map<string, FieldMeta>;
}

export type MergeStrategyName = 'sum' | 'max' | 'min' | 'append' | 'union' | 'lastWrite' | 'fixed' | 'eventLog' | 'custom';

/** A user-defined merge for a context field: combine the stored value with one step's delta. */
export interface CustomMerge<T = unknown> {
  /** Apply a delta to the current value (must not mutate `delta`). */
  merge(current: T, delta: T): T;
  /** The delta a step produced (`before` is the value the step started from), or `undefined` for none. */
  diff(before: T, after: T): T | undefined;
}

const WORKFLOW = Symbol.for('floxide:workflow');
const FIELDS = Symbol.for('floxide:fields');
const NODE = Symbol.for('floxide:node');
const MERGE = Symbol.for('floxide:merge');

type Ctor = abstract new (...args: any[]) => unknown;

function isStandardContext(x: unknown): x is { kind: string; name: string | symbol; addInitializer?(f: (this: unknown) => void): void } {
  return typeof x === 'object' && x !== null && 'kind' in x && 'name' in x;
}

function fieldsOf(ctor: Ctor): Map<string, FieldMeta> {
  let m: Map<string, FieldMeta> | undefined = Reflect.getOwnMetadata(FIELDS, ctor);
  if (!m) {
    m = new Map();
    Reflect.defineMetadata(FIELDS, m, ctor);
  }
  return m;
}

function fieldMeta(ctor: Ctor, name: string): FieldMeta {
  const fields = fieldsOf(ctor);
  let f = fields.get(name);
  if (!f) {
    f = { success: [], fallbacks: [], arms: [], otherwise: [] };
    fields.set(name, f);
  }
  return f;
}

/** Builds a field decorator that works in both decorator modes and records into the field's metadata. */
function fieldDecorator(record: (meta: FieldMeta) => void): PropertyDecorator & ((value: undefined, context: unknown) => void) {
  return ((target: object | undefined, key: unknown) => {
    if (isStandardContext(key)) {
      const name = String(key.name);
      key.addInitializer?.(function (this: unknown) {
        const ctor = (this as object).constructor as Ctor;
        if (!Reflect.hasOwnMetadata(`floxide:seen:${name}`, ctor)) {
          Reflect.defineMetadata(`floxide:seen:${name}`, true, ctor);
          record(fieldMeta(ctor, name));
        }
      });
      return;
    }
    record(fieldMeta((target as object).constructor as Ctor, String(key)));
  }) as PropertyDecorator & ((value: undefined, context: unknown) => void);
}

function classDecorator(record: (ctor: Ctor) => void) {
  return (target: Ctor, context?: unknown): void => {
    void context;
    record(target);
  };
}

/** Marks a class as a workflow node. The class must implement {@link Node} (`process(ctx, input)`). */
export function node(): (target: Ctor, context?: unknown) => void {
  return classDecorator((ctor) => Reflect.defineMetadata(NODE, true, ctor));
}

/** Marks a class as a workflow: its node-typed fields are the nodes, wired with `@edge` decorators. */
export function workflow(options: WorkflowOptions): (target: Ctor, context?: unknown) => void {
  if (!options || typeof options.start !== 'string') throw new InvalidArgumentError('@workflow needs { start: "<field name>" }');
  return classDecorator((ctor) => {
    const meta: WorkflowMeta = { name: ctor.name, options, fields: fieldsOf(ctor) };
    Reflect.defineMetadata(WORKFLOW, meta, ctor);
  });
}

// Decorators apply bottom-up; unshift keeps the source order of stacked `@edge`s.
function edgeImpl(...targets: string[]) {
  return fieldDecorator((m) => m.success.unshift(...targets));
}

/**
 * Success edges: the node's output goes to each target, in order.
 * @example `@edge('review') draft: Draft;`
 */
export const edge = Object.assign(edgeImpl, {
  /** Fallback edges: when the node fails (after retries) each target gets the node's *input*; `ctx.failure` says why. */
  onFailure(...targets: string[]) {
    return fieldDecorator((m) => m.fallbacks.unshift(...targets));
  },
  /** Branch arm: when the output's discriminant equals `tag`, the narrowed value goes to the targets. */
  when(tag: string, ...targets: string[]) {
    return fieldDecorator((m) => m.arms.unshift({ tag, targets }));
  },
  /** Default arm for the tags no `@edge.when` names. */
  otherwise(...targets: string[]) {
    return fieldDecorator((m) => m.otherwise.unshift(...targets));
  },
});

/** Retries the node's failures with backoff before its fallbacks (or the run) see them. */
export function retry(options: RetryOptions) {
  return fieldDecorator((m) => {
    m.retry = options;
  });
}

/** Per-attempt time limit for the node, in ms: the node's `ctx.signal` aborts and the attempt fails with `NodeTimeoutError`. */
export function timeout(ms: number) {
  return fieldDecorator((m) => {
    m.timeoutMs = ms;
  });
}

/**
 * Makes the node a join: it runs once per fan-out, with the values of all the fan-out's branches (in fan-out
 * order) as an array, once every branch has arrived or held. Its input type is `T[]` for incoming payloads `T`.
 */
export function join() {
  return fieldDecorator((m) => {
    m.join = true;
  });
}

function mergeDecorator(strategy: MergeStrategyName, custom?: CustomMerge) {
  return ((target: object | undefined, key: unknown) => {
    const apply = (ctor: Ctor, name: string) => {
      let m: Map<string, { strategy: MergeStrategyName; custom?: CustomMerge }> | undefined = Reflect.getOwnMetadata(MERGE, ctor);
      if (!m) {
        m = new Map();
        Reflect.defineMetadata(MERGE, m, ctor);
      }
      m.set(name, custom ? { strategy, custom } : { strategy });
    };
    if (isStandardContext(key)) {
      const name = String(key.name);
      key.addInitializer?.(function (this: unknown) {
        apply((this as object).constructor as Ctor, name);
      });
      return;
    }
    apply((target as object).constructor as Ctor, String(key));
  }) as PropertyDecorator & ((value: undefined, context: unknown) => void);
}

/**
 * Context field merge strategies: how one step's change to a field combines with the stored value when steps run
 * in parallel branches, on several workers, or are replayed. A field without one is `lastWrite`.
 */
export const merge = {
  /** Numbers: each step's increase is added (a counter). */
  sum: () => mergeDecorator('sum'),
  /** Numbers: the largest value wins. */
  max: () => mergeDecorator('max'),
  /** Numbers: the smallest value wins. */
  min: () => mergeDecorator('min'),
  /** Arrays: each step's appended elements are appended. */
  append: () => mergeDecorator('append'),
  /** Arrays or Sets of primitives: set union, first-seen order. */
  union: () => mergeDecorator('union'),
  /** The last committed write wins (the default). */
  lastWrite: () => mergeDecorator('lastWrite'),
  /** Set once at the start of the run; later writes are ignored (Floxide's `Fixed<T>`). */
  fixed: () => mergeDecorator('fixed'),
  /** An {@link EventLog}: appended events, idempotent by event id, in deterministic order. */
  eventLog: () => mergeDecorator('eventLog'),
  /** A user-defined merge and diff. */
  with: <T>(custom: CustomMerge<T>) => mergeDecorator('custom', custom as CustomMerge),
};

/** The workflow metadata the decorators recorded, or undefined when the class is not a `@workflow`. */
export function workflowMetaOf(ctor: Ctor): WorkflowMeta | undefined {
  return Reflect.getOwnMetadata(WORKFLOW, ctor);
}

/** True when the class was decorated with `@node()`. */
export function isNodeClass(ctor: Ctor): boolean {
  return Reflect.getOwnMetadata(NODE, ctor) === true;
}

/** The merge strategies recorded on a context class (field name to strategy). */
export function mergeStrategiesOf(ctor: Ctor): ReadonlyMap<string, { strategy: MergeStrategyName; custom?: CustomMerge }> {
  const own: Map<string, { strategy: MergeStrategyName; custom?: CustomMerge }> | undefined = Reflect.getMetadata(MERGE, ctor);
  return own ?? new Map();
}

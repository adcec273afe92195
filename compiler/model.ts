/**
 * The FlowModel: the one plain, serialisable description of every workflow that analysis produces and every
 * emitter consumes. No ts-morph objects inside; `floxide build --json` prints it; emitter tests build it by hand.
 * Bump {@link FLOW_MODEL_VERSION} on any incompatible change.
 */
import type { RetryOptions, MergeStrategyName } from '../runtime/graph/decorators.js';
import type { EdgeKind } from '../runtime/graph/shape.js';

export const FLOW_MODEL_VERSION = 1 as const;

/** A source position. `file` is relative to the project root, with `/` separators; line and column are 1-based. */
export interface Position {
  file: string;
  line: number;
  column: number;
}

/** How generated code refers to a class: its exported name in its source file. */
export interface ClassRef {
  /** The class's exported name (what the generated module imports). */
  name: string;
  /** The source file declaring it, relative to the project root. */
  file: string;
}

/**
 * The workflow's context type: a class (`kind: 'class'`: generated code imports it as a value, `new` creates a fresh
 * context and its `@merge.*` fields merge as declared) or an interface / type alias (`kind: 'type'`: imported as a
 * type only; the caller supplies the value and every field merges by last write).
 */
export interface ContextRef extends ClassRef {
  kind: 'class' | 'type';
}

export interface NodeModel {
  /** The workflow field name: the node's id and its work item tag. */
  name: string;
  /** `node` for a `@node` class, `workflow` for a nested `@workflow` class. */
  kind: 'node' | 'workflow';
  class: ClassRef;
  /**
   * Types as display text (never used to emit code), every union's members in sorted order (`canonicalTypeText`): the
   * same whichever files the build checked first.
   */
  inputType: string;
  /**
   * The input's structure, named types spelt out (`TypeTools.shape`): present when a named type is in the input, so
   * the versions file sees a change inside it (see compiler/versions/compare.ts).
   */
  inputShape?: string;
  outputType: string;
  contextType: string;
  retry?: RetryOptions;
  timeoutMs?: number;
  join: boolean;
  /**
   * A `WaitFor` node (floxide's, or a subclass): the signal it waits for. Its payload type is the node's output;
   * the workflow's signal map is built from these and from its nested workflows' {@link signals}.
   */
  wait?: { signal: string };
  /**
   * A nested workflow: the names of its signal map. They are the outer workflow's signals too, as
   * `<this node>.<name>` (a nested run that waits parks its outer item, which waits for that name).
   */
  signals?: string[];
  /**
   * A nested workflow whose runs can park (a wait or a sleep in it, at any depth): items of the outer run may then
   * hold a parked nested run of it (see compiler/versions/compare.ts, `nested-changed`).
   */
  parks?: true;
  /**
   * A nested workflow's graph version (fingerprint), kept on record to judge the nested runs parked in the outer items
   * when its graph changes (a nested workflow that could park may have stopped parking: its version is kept anyway).
   */
  nestedVersion?: string;
  /** A `Sleep` node (floxide's, or a subclass): a durable timer. */
  sleep?: true;
  position: Position;
}

export interface EdgeModel {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The branch tag, for `branch` edges. */
  tag?: string;
  /** The decorator that declared the edge. */
  position: Position;
}

export interface ContextFieldModel {
  name: string;
  strategy: MergeStrategyName;
  /** Where the field is declared (its name): what a diagnostic about it, such as a changed merge strategy, points at. */
  position?: Position;
}

export interface WorkflowModel {
  /** The workflow class name. */
  name: string;
  class: ClassRef;
  position: Position;
  start: string;
  /** Discriminant property for branches (default `kind`). */
  discriminant: string;
  /**
   * The context type: the class `@workflow({ context })` names, else the one context type every node declares
   * (a class, an interface or a type alias); absent when no node needs a context.
   */
  context?: ContextRef;
  contextType: string;
  /** Context fields with their merge strategy, in declaration order. */
  contextFields: ContextFieldModel[];
  /** Display text of the workflow's input (the start node's input) and output (the terminals' outputs), unions sorted. */
  inputType: string;
  outputType: string;
  /** Nodes in field declaration order. */
  nodes: NodeModel[];
  /** Edges in declaration order (field order, then decorator order). */
  edges: EdgeModel[];
  /** Nodes with no success edge and no branch, in declaration order. */
  terminals: string[];
  /** The graph fingerprint ({@link ../runtime/graph/shape.ts}). */
  fingerprint: string;
  /**
   * Older versions on record whose runs this graph can continue as they are (no unsafe change: docs/deploying.md);
   * set by the versions check of `floxide build`, emitted as the definition's `accepts`.
   */
  compatible?: string[];
  /**
   * The other versions on record before this one (newest first): a newer build than theirs. Set by the versions
   * check of `floxide build`, emitted as the definition's `supersedes` (which build's workers start scheduled runs).
   */
  superseded?: string[];
}

export interface FlowModel {
  version: typeof FLOW_MODEL_VERSION;
  /** Sorted by (file, name). */
  workflows: WorkflowModel[];
}

export type Severity = 'error' | 'warning';

/** A 1-based line and column (as in {@link Position}, without the file). */
export interface LineColumn {
  line: number;
  column: number;
}

/** Replace `start`..`end` (end exclusive) of `file` with `newText`; an insertion when they are equal. */
export interface TextEdit {
  /** Relative to the project root, `/` separators. */
  file: string;
  start: LineColumn;
  end: LineColumn;
  newText: string;
}

/** A fix that can be applied mechanically (the `floxide/ts-plugin` offers it as a code fix). */
export interface DiagnosticFix {
  /** What the fix does, e.g. `Change "reviw" to "review"`. */
  description: string;
  edits: TextEdit[];
}

/** One problem found by analysis. */
export interface Diagnostic {
  /** `FLX001`...; `TS####` codes are passed through from TypeScript. */
  code: string;
  severity: Severity;
  message: string;
  /** How to fix it. */
  hint?: string;
  position?: Position;
  /** Edits that fix it, when the check knows them (best first). */
  fixes?: DiagnosticFix[];
}

/**
 * The shape of a recorded graph version (one entry of a `*.floxide.versions.json`, compiler/versions/record.ts), in a
 * module of its own: the DOT emitter draws recorded versions (`dotOfVersion`) and record.ts imports the emitters.
 */
import type { EdgeShape } from '../../runtime/graph/shape.js';

/** One node of a recorded version. */
export interface VersionNode {
  name: string;
  /** The input type as display text (as `NodeModel.inputType`). */
  input: string;
  /**
   * The input's structure when a named type is in it (as `NodeModel.inputShape`): the display text `Order` stays the
   * same when `interface Order` changes; this does not.
   */
  shape?: string;
  /** The node's class (file relative to the project root), where the input type's names are in scope. */
  file: string;
  /** Present (true) for `@join()` nodes. */
  join?: true;
  /** What the node is when it is not a plain `@node` class: a nested workflow, a `WaitFor` or a `Sleep` node. */
  kind?: VersionNodeKind;
  /** The nested workflow's class a `kind: 'workflow'` node runs. */
  workflow?: string;
  /** A nested workflow's graph version when this version was recorded (what nested runs parked here were begun on). */
  version?: string;
  /** Present (true) for a nested workflow whose runs can park (a wait or a sleep in it): the outer items may hold one. */
  parks?: true;
  /** The signal a `WaitFor` node (`kind: 'wait'`) waits for. */
  signal?: string;
}

/**
 * A recorded node's input as type text the type checker can be asked about in any scope: its structure when a named
 * type is in it (the name would resolve to the type as it is now, not as it was), else its display text.
 */
export function inputText(n: VersionNode): string {
  return n.shape ?? n.input;
}

/** Whether two recorded nodes' inputs differ: by display text, or by structure when both record it. */
export function inputDiffers(old: VersionNode, now: VersionNode): boolean {
  return old.input !== now.input || (old.shape !== undefined && now.shape !== undefined && old.shape !== now.shape);
}

/**
 * Two recorded inputs as a message shows them (old, new): their display texts, or, when those are the same name
 * and only the structure changed, the name with each structure (`Order { id: string }`), so the two differ.
 */
export function inputsShown(old: VersionNode, now: VersionNode): [string, string] {
  return old.input === now.input ? [`${old.input} ${old.shape}`, `${now.input} ${now.shape}`] : [old.input, now.input];
}

/** The kinds of node a version records (a plain node records none). */
export type VersionNodeKind = 'workflow' | 'wait' | 'sleep';

/** One graph version of a workflow: what in-flight runs of that version depend on. */
export interface GraphVersion {
  /** The graph fingerprint (16 hex digits): the version id runs carry. */
  id: string;
  start: string;
  /** Sorted by name. */
  nodes: VersionNode[];
  /** The canonical edges (`canonicalShape` order). */
  edges: EdgeShape[];
  /** Context fields and their merge strategies, sorted by name. */
  context: Array<{ name: string; strategy: string }>;
}

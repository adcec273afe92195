/**
 * The DOT emitter. Keeps Floxide's `to_dot()` header and edge styles, deterministically: node lines in declaration
 * order, then edge lines in declaration order. Success edges are plain; fallbacks dotted red labelled `fallback`;
 * branch arms labelled with their tag; `otherwise` arms dashed and labelled `otherwise`. `@join` nodes are drawn as
 * diamonds and nested workflows as 3-D boxes. A `WaitFor` node is a rounded blue box labelled with the signal it
 * waits for, a `Sleep` node a rounded yellow one labelled as sleeping; the fallback of a wait is its timeout route, dashed red and
 * labelled `timeout`. Every id and label is escaped.
 */
import type { EdgeModel, NodeModel, WorkflowModel } from '../model.js';
import type { GraphVersion, VersionNode } from '../versions/graph-version.js';
import { CodeWriter } from './code-writer.js';
import { dotId, dotString, tsMultilineString } from './literals.js';
import { generatedNames, type Emitted } from './scope.js';
import { isTimeoutRoute, parkingLabel } from './types.js';

/** What the DOT text of a node depends on: a node of the model, or of a recorded version ({@link drawnOfRecorded}). */
type DrawnNode = Pick<NodeModel, 'name' | 'kind' | 'join' | 'wait' | 'sleep'>;

function nodeAttributes(n: DrawnNode): string {
  if (n.join) return ' [shape=diamond]';
  if (n.kind === 'workflow') return ' [shape=box3d]';
  const parking = parkingLabel(n);
  if (parking !== undefined) return ` [style="filled,rounded" color=${n.wait ? 'lightblue' : 'lightyellow'} label=${dotString(`${n.name}\n${parking}`)}]`;
  return '';
}

/** `timeout`: a fallback edge that is a wait's timeout route. */
function edgeAttributes(e: Pick<EdgeModel, 'kind' | 'tag'>, timeout: boolean): string {
  switch (e.kind) {
    case 'success':
      return '';
    case 'fallback':
      return timeout ? ' [style="dashed" color="red" label="timeout"]' : ' [style="dotted" color="red" label="fallback"]';
    case 'branch':
      return ` [label=${dotString(e.tag ?? '')}]`;
    case 'otherwise':
      return ' [style="dashed" label="otherwise"]';
  }
}

/** The workflow graph as DOT text (what `docs/X.dot` and `floxide graph X` contain). */
export function dotOf(wf: WorkflowModel): string {
  return dotText(
    wf.name,
    wf.nodes.map((n) => `${dotId(n.name)}${nodeAttributes(n)};`),
    wf.edges.map((e) => `${dotId(e.from)} -> ${dotId(e.to)}${edgeAttributes(e, isTimeoutRoute(wf, e))};`),
  );
}

/** A node of a recorded graph version, as the node of the model it was recorded from is drawn. */
function drawnOfRecorded(n: VersionNode): DrawnNode {
  return {
    name: n.name,
    kind: n.kind === 'workflow' ? 'workflow' : 'node',
    join: n.join === true,
    ...(n.kind === 'wait' ? { wait: { signal: n.signal ?? '' } } : {}),
    ...(n.kind === 'sleep' ? { sleep: true as const } : {}),
  };
}

/**
 * A recorded graph version (a `*.floxide.versions.json` entry) as DOT text: the graph {@link dotOf} drew of that
 * version, but for the node order (the record sorts nodes by name). `floxide ui` draws a run of an older version
 * with it.
 */
export function dotOfVersion(workflow: string, v: Pick<GraphVersion, 'nodes' | 'edges'>): string {
  const nodes = v.nodes.map(drawnOfRecorded);
  return dotText(
    workflow,
    nodes.map((n) => `${dotId(n.name)}${nodeAttributes(n)};`),
    v.edges.map((e) => `${dotId(e.from)} -> ${dotId(e.to)}${edgeAttributes(e, isTimeoutRoute({ nodes }, e))};`),
  );
}

function dotText(name: string, nodes: readonly string[], edges: readonly string[]): string {
  const w = new CodeWriter();
  w.writeLine(`digraph ${dotId(name)} {`);
  w.indent(() => {
    w.writeLine('rankdir=LR;');
    w.writeLine('node [shape=box style=filled fontname="Helvetica" color=lightgray];');
    w.writeLine('edge [fontname="Helvetica" arrowhead=vee];');
    for (const line of nodes) w.writeLine(line);
    for (const line of edges) w.writeLine(line);
  });
  w.writeLine('}');
  return w.toString();
}

/** `export const XDot = '...' + ...;` */
export function emitDot(wf: WorkflowModel): Emitted {
  const w = new CodeWriter();
  w.writeLine(`export const ${generatedNames(wf.name).dot}: string =`);
  w.writeJoined(tsMultilineString(dotOf(wf)), '', ';');
  return { content: w.toString(), imports: [] };
}

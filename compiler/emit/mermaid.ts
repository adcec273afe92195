/**
 * The Mermaid emitter: a `flowchart LR` with the nodes in declaration order, then the edges in declaration order.
 * Fallbacks are dotted with a `fallback` label, branch arms carry their tag, `otherwise` arms are dotted and
 * labelled. `@join` nodes are hexagons, nested workflows subroutine boxes, `WaitFor` and `Sleep` nodes stadiums
 * labelled with the signal they wait for or as sleeping; the fallback of a wait is its timeout route, dotted and
 * labelled `timeout`. Node ids are the field names when Mermaid can take them as is (otherwise every node gets
 * `n<index>`); labels are always quoted and escaped.
 */
import type { EdgeModel, NodeModel, WorkflowModel } from '../model.js';
import { CodeWriter } from './code-writer.js';
import { isMermaidSafeId, mermaidString, tsMultilineString } from './literals.js';
import { generatedNames, type Emitted } from './scope.js';
import { isTimeoutRoute, parkingLabel } from './types.js';

function shape(n: NodeModel, id: string): string {
  if (n.join) return `${id}{{${mermaidString(n.name)}}}`;
  if (n.kind === 'workflow') return `${id}[[${mermaidString(n.name)}]]`;
  const parking = parkingLabel(n);
  if (parking !== undefined) return `${id}([${mermaidString(`${n.name} \u00b7 ${parking}`)}])`;
  return `${id}[${mermaidString(n.name)}]`;
}

function arrow(wf: WorkflowModel, e: EdgeModel): string {
  switch (e.kind) {
    case 'success':
      return '-->';
    case 'fallback':
      return isTimeoutRoute(wf, e) ? '-. timeout .->' : '-. fallback .->';
    case 'branch':
      return `-->|${mermaidString(e.tag ?? '')}|`;
    case 'otherwise':
      return '-.->|"otherwise"|';
  }
}

/** The workflow graph as Mermaid text (what `docs/X.mmd` and `floxide graph X --format mermaid` contain). */
export function mermaidOf(wf: WorkflowModel): string {
  const names = new Set<string>(wf.nodes.map((n) => n.name));
  for (const e of wf.edges) names.add(e.from).add(e.to);
  const plain = [...names].every(isMermaidSafeId);
  const index = new Map([...names].map((n, i) => [n, i]));
  const id = (name: string) => (plain ? name : `n${index.get(name)}`);
  const w = new CodeWriter();
  w.writeLine('flowchart LR');
  w.indent(() => {
    for (const n of wf.nodes) w.writeLine(shape(n, id(n.name)));
    for (const e of wf.edges) w.writeLine(`${id(e.from)} ${arrow(wf, e)} ${id(e.to)}`);
  });
  return w.toString();
}

/** `export const XMermaid = '...' + ...;` */
export function emitMermaid(wf: WorkflowModel): Emitted {
  const w = new CodeWriter();
  w.writeLine(`export const ${generatedNames(wf.name).mermaid}: string =`);
  w.writeJoined(tsMultilineString(mermaidOf(wf)), '', ';');
  return { content: w.toString(), imports: [] };
}

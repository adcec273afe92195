/**
 * The Mermaid emitter: a `flowchart LR` with the nodes in declaration order, then the edges in declaration order.
 * Fallbacks are dotted with a `fallback` label, branch arms carry their tag, `otherwise` arms are dotted and
 * labelled. `@join` nodes are hexagons, nested workflows subroutine boxes. Node ids are the field names when
 * Mermaid can take them as is (otherwise every node gets `n<index>`); labels are always quoted and escaped.
 */
import type { EdgeModel, WorkflowModel } from '../model.js';
import { CodeWriter } from './code-writer.js';
import { isMermaidSafeId, mermaidString, tsMultilineString } from './literals.js';
import { generatedNames, type Emitted } from './scope.js';

function arrow(e: EdgeModel): string {
  switch (e.kind) {
    case 'success':
      return '-->';
    case 'fallback':
      return '-. fallback .->';
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
    for (const n of wf.nodes) {
      const label = mermaidString(n.name);
      w.writeLine(n.join ? `${id(n.name)}{{${label}}}` : n.kind === 'workflow' ? `${id(n.name)}[[${label}]]` : `${id(n.name)}[${label}]`);
    }
    for (const e of wf.edges) w.writeLine(`${id(e.from)} ${arrow(e)} ${id(e.to)}`);
  });
  return w.toString();
}

/** `export const XMermaid = '...' + ...;` */
export function emitMermaid(wf: WorkflowModel): Emitted {
  const w = new CodeWriter();
  w.writeLine(`export const ${generatedNames(wf.name).mermaid} =`);
  w.writeJoined(tsMultilineString(mermaidOf(wf)), '', ';');
  return { content: w.toString(), imports: [] };
}

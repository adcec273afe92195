/**
 * The work-item emitter: the exact `XWorkItem` discriminated union, `XInput` (the start node's input), `XOutput`
 * (the union of the terminals' outputs) and `XContext`.
 */
import type { WorkflowModel } from '../model.js';
import { CodeWriter } from './code-writer.js';
import { tsString } from './literals.js';
import { generatedNames, type Emitted, type ModuleScope } from './scope.js';
import { nodeInputType, nodeOrThrow, nodeOutputType } from './types.js';

export function emitWorkItems(wf: WorkflowModel, scope: ModuleScope): Emitted {
  const imports = scope.imports();
  const names = generatedNames(wf.name);
  const w = new CodeWriter();
  w.writeLine(`export type ${names.workItem} =`);
  w.indent(() => {
    if (wf.nodes.length === 0) w.writeLine('never;');
    const arms = wf.nodes.map((n) => `| { node: ${tsString(n.name)}; id: string; input: ${nodeInputType(wf, n, imports)} }`);
    w.writeJoined(arms, '', ';');
  });
  w.writeLine();
  w.writeLine(`export type ${names.input} = ${nodeInputType(wf, nodeOrThrow(wf, wf.start), imports)};`);
  const outputs = wf.terminals.map((t) => nodeOutputType(wf, nodeOrThrow(wf, t), imports));
  w.writeLine(`export type ${names.output} = ${outputs.length === 0 ? 'never' : outputs.join(' | ')};`);
  w.writeLine(`export type ${names.context} = ${wf.context ? imports.userClass(wf.context, true) : 'undefined'};`);
  return { content: w.toString(), imports: imports.list() };
}

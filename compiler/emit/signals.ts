/**
 * The signals emitter: `XSignals`, the workflow's signal map (each name its `WaitFor` nodes wait for, to the payload
 * type they deliver: the node's output; the intersection when several wait for one name, as each checks it; a nested
 * workflow's signals as `<node>.<name>`, typed by the nested module's own map), and
 * `XSignalNames`. `WorkflowOf<typeof XDef>`, the start handle and `Orchestrator` type their `signal()` with it, so an
 * unknown name or a wrong payload does not compile. Nothing is emitted for a workflow that waits for no signal.
 */
import type { WorkflowModel } from '../model.js';
import { CodeWriter } from './code-writer.js';
import { objectKey, tsString } from './literals.js';
import { generatedNames, type Emitted, type ModuleScope } from './scope.js';
import { signalsOf } from '../signals.js';
import { signalPayloadType } from './types.js';

export function emitSignals(wf: WorkflowModel, scope: ModuleScope): Emitted {
  const signals = signalsOf(wf);
  if (signals.length === 0) return { content: '', imports: [] };
  const imports = scope.imports();
  const names = generatedNames(wf.name);
  const w = new CodeWriter();
  w.writeLine(`export type ${names.signals} = {`);
  w.indent(() => {
    for (const s of signals) w.writeLine(`${objectKey(s.name)}: ${s.nodes.map((n) => signalPayloadType(wf, n, imports)).join(' & ')};`);
  });
  w.writeLine('};');
  w.writeLine();
  const list = signals.map((s) => tsString(s.name)).join(', ');
  w.writeLine(`export const ${names.signalNames}: readonly [${list}] = [${list}] as const satisfies readonly (keyof ${names.signals})[];`);
  return { content: w.toString(), imports: imports.list() };
}

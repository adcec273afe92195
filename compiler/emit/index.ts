/** The emitters: pure functions of one workflow's model, each returning `{ content, imports }`. */
import type { WorkflowModel } from '../model.js';
import { emitDefinition, emitDispatch, emitNodeSpecs } from './dispatch.js';
import { emitDot } from './dot.js';
import { emitMermaid } from './mermaid.js';
import type { Emitted, ModuleScope } from './scope.js';
import { emitSignals } from './signals.js';
import { emitWorkItems } from './work-items.js';

export { CodeWriter } from './code-writer.js';
export { emitWorkItems } from './work-items.js';
export { emitSignals } from './signals.js';
export { emitNodeSpecs, emitDispatch, emitDefinition } from './dispatch.js';
export { dotOf, dotOfVersion, emitDot } from './dot.js';
export { mermaidOf, emitMermaid } from './mermaid.js';
export { ModuleScope, ImportList, generatedNames, RUNTIME_NAMES, type Emitted, type ImportSpec, type ModuleRef, type RuntimeName } from './scope.js';

/** Every artifact of one workflow, in the order they appear in the generated module (empty ones left out). */
export function emitWorkflow(wf: WorkflowModel, scope: ModuleScope): Emitted[] {
  return [
    emitWorkItems(wf, scope),
    emitSignals(wf, scope),
    emitNodeSpecs(wf, scope),
    emitDispatch(wf, scope),
    emitDot(wf),
    emitMermaid(wf),
    emitDefinition(wf, scope),
  ].filter((e) => e.content !== '');
}

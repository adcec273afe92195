/**
 * The dispatch emitters: `XNodes` (one `NodeSpec` per node, declaration order), `processXWorkItem` (an exhaustive
 * `switch` over the work-item union), `isXTerminal`, and the `XDef` definition that ties them together.
 */
import type { EdgeModel, NodeModel, WorkflowModel } from '../model.js';
import { normalizeRetry } from '../../runtime/graph/shape.js';
import { CodeWriter } from './code-writer.js';
import { objectKey, propertyAccess, tsConstType, tsLiteral, tsString } from './literals.js';
import { generatedNames, type Emitted, type ImportList, type ModuleScope } from './scope.js';
import { signalsOf } from '../signals.js';

const targets = (edges: readonly EdgeModel[], from: string, kind: EdgeModel['kind']) => edges.filter((e) => e.from === from && e.kind === kind).map((e) => e.to);

/**
 * A value as generated code prints it, and its type under `as const` (written out for `isolatedDeclarations`).
 */
interface Printed {
  readonly value: string;
  readonly type: string;
}

/** A JSON-like value: {@link tsLiteral} and {@link tsConstType}. */
const printed = (v: unknown): Printed => ({ value: tsLiteral(v), type: tsConstType(v) });

/** An object literal from ordered entries (keys escaped; no `__proto__` pitfall), and its `as const` type. */
function objectLiteral(entries: ReadonlyArray<readonly [string, Printed]>): Printed {
  if (entries.length === 0) return { value: '{}', type: '{}' };
  return {
    value: `{ ${entries.map(([k, v]) => `${objectKey(k)}: ${v.value}`).join(', ')} }`,
    type: `{ ${entries.map(([k, v]) => `readonly ${objectKey(k)}: ${v.type}`).join('; ')} }`,
  };
}

function branchLiteral(wf: WorkflowModel, n: NodeModel): Printed {
  const arms = new Map<string, string[]>();
  for (const e of wf.edges) {
    if (e.from !== n.name || e.kind !== 'branch') continue;
    const tag = e.tag ?? '';
    const list = arms.get(tag) ?? [];
    list.push(e.to);
    arms.set(tag, list);
  }
  const otherwise = targets(wf.edges, n.name, 'otherwise');
  if (arms.size === 0 && otherwise.length === 0) return printed(undefined);
  return objectLiteral([
    ['discriminant', printed(wf.discriminant)],
    ['arms', objectLiteral([...arms].map(([tag, to]) => [tag, printed(to)] as const))],
    ['otherwise', printed(otherwise.length === 0 ? undefined : otherwise)],
  ]);
}

function nodeSpecLiteral(wf: WorkflowModel, n: NodeModel, imports: ImportList): Printed {
  const inner = n.kind === 'workflow' ? imports.workflowDef(n.class, false) : undefined;
  return objectLiteral([
    ['name', printed(n.name)],
    ['successors', printed(targets(wf.edges, n.name, 'success'))],
    ['fallbacks', printed(targets(wf.edges, n.name, 'fallback'))],
    ['branch', branchLiteral(wf, n)],
    ['retry', printed(n.retry ? normalizeRetry(n.retry) : undefined)],
    ['timeoutMs', printed(n.timeoutMs)],
    ['join', printed(n.join)],
    ['terminal', printed(wf.terminals.includes(n.name))],
    ['workflow', inner === undefined ? printed(undefined) : { value: `() => ${inner}`, type: `() => typeof ${inner}` }],
  ]);
}

/**
 * `export const XNodes: { ... } = { ... } as const satisfies Record<XWorkItem['node'], NodeSpec>;` (its type
 * written out: a declaration a reader of this file alone can emit, as `isolatedDeclarations` asks).
 */
export function emitNodeSpecs(wf: WorkflowModel, scope: ModuleScope): Emitted {
  const imports = scope.imports();
  const names = generatedNames(wf.name);
  const w = new CodeWriter();
  const specs = wf.nodes.map((n) => [n.name, nodeSpecLiteral(wf, n, imports)] as const);
  w.writeLine(`export const ${names.nodes}: {`);
  w.indent(() => {
    for (const [name, spec] of specs) w.writeLine(`readonly ${objectKey(name)}: ${spec.type};`);
  });
  w.writeLine('} = {');
  w.indent(() => {
    for (const [name, spec] of specs) w.writeLine(`${objectKey(name)}: ${spec.value},`);
  });
  w.writeLine(`} as const satisfies Record<${names.workItem}['node'], ${imports.runtime('NodeSpec', true)}>;`);
  return { content: w.toString(), imports: imports.list() };
}

/** `processXWorkItem` (exhaustive switch, `default: unknownWorkItem(item)`) and `isXTerminal`. */
export function emitDispatch(wf: WorkflowModel, scope: ModuleScope): Emitted {
  const imports = scope.imports();
  const names = generatedNames(wf.name);
  const w = new CodeWriter();
  const wfType = imports.userClass(wf.class, true);
  const executor = imports.runtime('NodeExecutor', true);
  const transition = imports.runtime('Transition', true);
  w.writeLine(`export function ${names.process}(wf: ${wfType}, item: ${names.workItem}, exec: ${executor}): Promise<${transition}<unknown>> {`);
  w.indent(() => {
    w.writeLine('switch (item.node) {');
    w.indent(() => {
      for (const n of wf.nodes) {
        w.writeLine(`case ${tsString(n.name)}:`);
        const field = propertyAccess('wf', n.name);
        const spec = propertyAccess(names.nodes, n.name);
        w.indent(() =>
          w.writeLine(
            n.kind === 'workflow'
              ? `return exec.runWorkflow(${imports.workflowDef(n.class, false)}, ${field}, item.input, ${spec});`
              : `return exec.run(${field}, item.input, ${spec});`,
          ),
        );
      }
      w.writeLine('default:');
      w.indent(() => {
        const unknown = imports.runtime('unknownWorkItem', false);
        if (wf.nodes.length > 1) return void w.writeLine(`return ${unknown}(item);`);
        // `switch` does not narrow a one-member union to `never`; its tag still is, which keeps the check exhaustive.
        w.writeLine('item.node satisfies never;');
        w.writeLine(`return ${unknown}(item as never);`);
      });
    });
    w.writeLine('}');
  });
  w.writeLine('}');
  w.writeLine();
  w.writeLine(`export function ${names.isTerminal}(item: ${names.workItem}): boolean {`);
  w.indent(() => {
    const checks = wf.terminals.map((t) => `item.node === ${tsString(t)}`);
    w.writeLine(`return ${checks.length === 0 ? 'false' : checks.join(' || ')};`);
  });
  w.writeLine('}');
  return { content: w.toString(), imports: imports.list() };
}

/** `export const XDef = defineWorkflow<...>({ ... });` */
export function emitDefinition(wf: WorkflowModel, scope: ModuleScope): Emitted {
  const imports = scope.imports();
  const names = generatedNames(wf.name);
  const wfClass = imports.userClass(wf.class, false);
  const w = new CodeWriter();
  const signals = signalsOf(wf);
  const typeArgs = [wfClass, names.workItem, names.input, names.output, names.context, ...(signals.length > 0 ? [names.signals] : [])].join(', ');
  w.writeLine(`export const ${names.def}: ${imports.runtime('WorkflowDef', true)}<${typeArgs}> = ${imports.runtime('defineWorkflow', false)}<${typeArgs}>({`);
  w.indent(() => {
    w.writeLine(`name: ${tsString(wf.name)},`);
    w.writeLine(`fingerprint: ${tsString(wf.fingerprint)},`);
    if (wf.compatible?.length) w.writeLine(`accepts: [${wf.compatible.map(tsString).join(', ')}],`);
    if (wf.superseded?.length) w.writeLine(`supersedes: [${wf.superseded.map(tsString).join(', ')}],`);
    w.writeLine(`source: ${tsString(wf.class.file)},`);
    // Getters, read when the workflow is bound: a source that binds its own workflow (`export default bindWorkflow(XDef,
    // new X())`, a `floxide worker` module) and this module import each other, and whichever is imported first runs
    // before the other's classes exist (`Cannot access 'X' before initialization` if this read them now).
    w.writeLine(`get workflowClass() { return ${wfClass}; },`);
    if (wf.context?.kind === 'class') w.writeLine(`get contextClass() { return ${imports.userClass(wf.context, false)}; },`);
    else w.writeLine('contextClass: undefined,');
    w.writeLine(`contextFields: ${objectLiteral(wf.contextFields.map((f) => [f.name, printed(f.strategy)] as const)).value},`);
    w.writeLine(`start: ${tsString(wf.start)},`);
    w.writeLine(`nodes: ${names.nodes},`);
    w.writeLine(`processWorkItem: ${names.process},`);
    w.writeLine(`isTerminal: ${names.isTerminal},`);
    w.writeLine(`dot: ${names.dot},`);
    w.writeLine(`mermaid: ${names.mermaid},`);
    if (signals.length > 0) w.writeLine(`signals: ${names.signalNames},`);
  });
  w.writeLine('});');
  return { content: w.toString(), imports: imports.list() };
}

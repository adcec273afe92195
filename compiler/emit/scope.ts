/**
 * Names inside one generated module. Every emitter asks the scope for the local name of what it references
 * (a floxide export, a user class, an inner workflow's definition) and records the import it needs; the scope
 * picks the names once, from the model alone, so output does not depend on emitter call order and never
 * shadows a user class that happens to be called `Transition` or `XNodes`.
 */
import type { ClassRef, WorkflowModel } from '../model.js';
import { isBindingName } from './literals.js';

/** Where an import comes from. The writer turns it into a module specifier. */
export type ModuleRef =
  | { kind: 'runtime' }
  /** A user source file (project-relative path). */
  | { kind: 'source'; file: string }
  /** The generated module of a user source file (project-relative path of the source). */
  | { kind: 'generated'; file: string };

/** One imported name. */
export interface ImportSpec {
  module: ModuleRef;
  /** The exported name. */
  name: string;
  /** The local name (equal to `name` unless it had to be aliased). */
  local: string;
  /** Used only in type positions. */
  typeOnly: boolean;
}

/** What every emitter returns: text plus the imports the text needs. */
export interface Emitted {
  content: string;
  imports: ImportSpec[];
}

/** The floxide exports generated modules may reference. */
export const RUNTIME_NAMES = [
  'defineWorkflow',
  'unknownWorkItem',
  'InputOf',
  'OutputOf',
  'SignalPayloadOf',
  'NodeExecutor',
  'NodeSpec',
  'Transition',
  'WorkflowInputOf',
  'WorkflowOutputOf',
  'WorkflowDef',
  'WorkflowSignalsOf',
] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** The names a generated module exports for workflow `name`. */
export function generatedNames(name: string) {
  return {
    workItem: `${name}WorkItem`,
    input: `${name}Input`,
    output: `${name}Output`,
    context: `${name}Context`,
    signals: `${name}Signals`,
    signalNames: `${name}SignalNames`,
    nodes: `${name}Nodes`,
    process: `process${name}WorkItem`,
    isTerminal: `is${name}Terminal`,
    dot: `${name}Dot`,
    mermaid: `${name}Mermaid`,
    def: `${name}Def`,
  };
}

const refKey = (kind: string, file: string, name: string) => `${kind}\u0000${file}\u0000${name}`;

/** The local names of one generated module (the module generated for `sourceFile`). */
export class ModuleScope {
  private readonly taken = new Set<string>();
  private readonly locals = new Map<string, string>();

  /**
   * @param sourceFile project-relative path of the source file the module is generated from
   * @param workflows the workflows declared in that file (the module's content)
   */
  constructor(
    readonly sourceFile: string,
    workflows: readonly WorkflowModel[],
  ) {
    for (const wf of workflows) for (const n of Object.values(generatedNames(wf.name))) this.taken.add(n);
    // Claim names in a fixed order: the module's own workflow classes, then other user classes sorted, then
    // inner definitions, then floxide's names (which yield to user names: they get a `Floxide` prefix).
    const classes = new Map<string, ClassRef>();
    const defs = new Map<string, ClassRef>();
    for (const wf of workflows) this.claim(refKey('class', wf.class.file, wf.class.name), wf.class.name);
    for (const wf of workflows) {
      if (wf.context) classes.set(refKey('class', wf.context.file, wf.context.name), wf.context);
      for (const n of wf.nodes) {
        if (n.kind !== 'workflow') continue;
        if (n.class.file === sourceFile) this.locals.set(refKey('def', n.class.file, n.class.name), generatedNames(n.class.name).def);
        else defs.set(refKey('def', n.class.file, n.class.name), n.class);
      }
    }
    const byRef = (a: [string, ClassRef], b: [string, ClassRef]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    for (const [key, ref] of [...classes].sort(byRef)) this.claim(key, ref.name);
    for (const [key, ref] of [...defs].sort(byRef)) this.claim(key, generatedNames(ref.name).def);
    for (const name of RUNTIME_NAMES) this.claim(refKey('runtime', '', name), name, `Floxide${name[0].toUpperCase()}${name.slice(1)}`);
  }

  private claim(key: string, wanted: string, alternative?: string): void {
    if (this.locals.has(key)) return;
    let local = wanted;
    if (this.taken.has(local) || !isBindingName(local)) {
      local = alternative ?? `${wanted}_`;
      for (let i = 2; this.taken.has(local); i++) local = `${alternative ?? wanted}_${i}`;
    }
    this.taken.add(local);
    this.locals.set(key, local);
  }

  private localOf(key: string): string {
    const local = this.locals.get(key);
    if (local === undefined) throw new Error(`internal: no local name planned for ${key.replaceAll('\u0000', ' ')}`);
    return local;
  }

  /** Starts an import list for one emitter. */
  imports(): ImportList {
    return new ImportList(this);
  }

  /** @internal */
  runtimeLocal(name: RuntimeName): string {
    return this.localOf(refKey('runtime', '', name));
  }
  /** @internal */
  classLocal(ref: ClassRef): string {
    return this.localOf(refKey('class', ref.file, ref.name));
  }
  /** @internal */
  defLocal(ref: ClassRef): string {
    return this.localOf(refKey('def', ref.file, ref.name));
  }
}

/** Collects the imports one emitter uses, returning the local names to print. */
export class ImportList {
  private readonly specs: ImportSpec[] = [];
  constructor(private readonly scope: ModuleScope) {}

  /** A floxide export. */
  runtime(name: RuntimeName, typeOnly: boolean): string {
    const local = this.scope.runtimeLocal(name);
    this.specs.push({ module: { kind: 'runtime' }, name, local, typeOnly });
    return local;
  }

  /** A user class, from its source file. */
  userClass(ref: ClassRef, typeOnly: boolean): string {
    const local = this.scope.classLocal(ref);
    this.specs.push({ module: { kind: 'source', file: ref.file }, name: ref.name, local, typeOnly });
    return local;
  }

  /** The generated definition `XDef` of workflow class `ref` (no import when it lives in this module). */
  workflowDef(ref: ClassRef, typeOnly: boolean): string {
    const local = this.scope.defLocal(ref);
    if (ref.file !== this.scope.sourceFile) {
      this.specs.push({ module: { kind: 'generated', file: ref.file }, name: generatedNames(ref.name).def, local, typeOnly });
    }
    return local;
  }

  list(): ImportSpec[] {
    return [...this.specs];
  }
}

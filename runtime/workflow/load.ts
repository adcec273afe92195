/**
 * Loading the workflow a `floxide worker` serves from a user module. The convention (docs/distributed.md):
 * the module exports a **bound workflow** (`bindWorkflow(XDef, new X(...))`) or a **factory** returning one
 * (sync or async, called with no arguments). `exportName` picks the export; without it: `default`, else
 * `createWorkflow`, else the only export that is a bound workflow.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Workflow } from './bind.js';

/** The module could not be imported or exports nothing a worker can serve. */
export class ModuleLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModuleLoadError';
  }
}

type AnyWorkflow = Workflow<unknown, unknown, unknown>;

/** True for the object `bindWorkflow` returns. */
export function isBoundWorkflow(v: unknown): v is AnyWorkflow {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as AnyWorkflow).stepDistributed === 'function' &&
    typeof (v as AnyWorkflow).def === 'object' &&
    typeof (v as AnyWorkflow).instance === 'object'
  );
}

function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** Imports `modulePath` (relative to `cwd`) and returns the bound workflow it provides. */
export async function loadWorkflowModule(modulePath: string, cwd: string, exportName?: string): Promise<AnyWorkflow> {
  const file = resolve(cwd, modulePath);
  if (!existsSync(file)) throw new ModuleLoadError(`cannot find module ${modulePath} (looked at ${file})`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string })?.code;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new ModuleLoadError(
        `cannot import ${modulePath}: Node cannot load .ts files by itself; compile it (tsc) and point the worker at the .js file, or load tsx into the CLI: NODE_OPTIONS='--import tsx' npx floxide worker ${modulePath} ...`,
        { cause: err },
      );
    }
    throw new ModuleLoadError(`cannot import ${modulePath}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  let name = exportName;
  if (name === undefined) {
    if ('default' in mod && mod.default !== undefined) name = 'default';
    else if (typeof mod.createWorkflow === 'function') name = 'createWorkflow';
    else {
      const bound = Object.keys(mod).filter((k) => isBoundWorkflow(mod[k]));
      if (bound.length !== 1) {
        throw new ModuleLoadError(
          bound.length === 0
            ? `${modulePath} exports no bound workflow: export default bindWorkflow(XDef, new X(...)), or a factory returning one`
            : `${modulePath} exports several bound workflows (${bound.join(', ')}): pick one with --export <name>`,
        );
      }
      name = bound[0]!;
    }
  }
  if (!(name in mod)) throw new ModuleLoadError(`${modulePath} has no export named ${JSON.stringify(name)} (it exports: ${Object.keys(mod).join(', ') || 'nothing'})`);
  let value = mod[name];
  if (typeof value === 'function' && !isClass(value)) {
    try {
      value = await (value as () => unknown)();
    } catch (err) {
      throw new ModuleLoadError(`export ${JSON.stringify(name)} of ${modulePath} failed to create the workflow: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
  }
  if (!isBoundWorkflow(value)) {
    throw new ModuleLoadError(`export ${JSON.stringify(name)} of ${modulePath} is not a bound workflow (or a factory returning one): use bindWorkflow(XDef, new X(...))`);
  }
  return value;
}

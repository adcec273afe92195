/**
 * Temporary user projects for the tooling tests: the repository linked in as the installed `floxide` package (its
 * exports map, the ts-plugin folder and dist/, which `npm test` builds first), Node's types, and a tsconfig as
 * `floxide init` writes it.
 */
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../..', import.meta.url));

/** `links`: packages of the repository's node_modules to link in too; `'*'` links all of them (for vitest). */
export function makeProject(prefix: string, files: Record<string, string>, opts: { plugin?: boolean; links?: string[] | '*' } = {}): string {
  const root = mkdtempSync(path.join(tmpdir(), `floxide-${prefix}-`));
  mkdirSync(path.join(root, 'node_modules'), { recursive: true });
  symlinkSync(repo, path.join(root, 'node_modules/floxide'), 'dir');
  const links = opts.links === '*' ? readdirSync(path.join(repo, 'node_modules')).filter((p) => p !== '.cache' && p !== 'floxide') : ['@types', 'reflect-metadata', ...(opts.links ?? [])];
  for (const pkg of links) symlinkSync(path.join(repo, 'node_modules', pkg), path.join(root, 'node_modules', pkg), 'dir');
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    types: ['node'],
    strict: true,
    experimentalDecorators: true,
    useDefineForClassFields: false,
    skipLibCheck: true,
    noEmit: true,
    ...(opts.plugin ? { plugins: [{ name: 'floxide/ts-plugin' }] } : {}),
  };
  writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2));
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(root, name), text);
  return root;
}

/** Two nodes and a workflow `Flow` (parse -> show), valid; `flow(edge)` plants another edge target. */
export const NODES = `import { node, Transition, type Node, type WorkflowCtx } from 'floxide';

@node()
export class Parse implements Node<string, number> {
  process(_ctx: WorkflowCtx, s: string): Transition<number> {
    return Transition.next(Number(s));
  }
}

@node()
export class Show implements Node<number, string> {
  process(_ctx: WorkflowCtx, n: number): Transition<string> {
    return Transition.next(\`got \${n}\`);
  }
}

@node()
export class Shout implements Node<string, string> {
  process(_ctx: WorkflowCtx, s: string): Transition<string> {
    return Transition.next(s.toUpperCase());
  }
}
`;

export const flow = (target = 'show', name = 'show') => `import { edge, workflow } from 'floxide';
import { Parse, Show, Shout } from './nodes.js';

@workflow({ start: 'parse' })
export class Flow {
  @edge('${target}') parse = new Parse();
  ${name} = new Show();
  shout = new Shout();
}
`;

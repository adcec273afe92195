/**
 * The compiler on the package as users install it: `npm pack`, the tarball unpacked as the project's
 * node_modules/floxide, so `floxide` resolves to the published `.d.ts` files (which carry no decorators), the
 * project's tsconfig the one `floxide init` writes. The helper nodes the package exports (`BatchNode`, `SplitNode`,
 * `WaitFor`, `Sleep`) must build, type-check and run there, exactly as the examples use them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_CLASS_TAG } from '../../compiler/analyze/decorator-files.js';
import { pack, repo } from '../package/install.js';

let dir: string;

/** Runs a command in the project; returns its exit code and its whole output. */
function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '1' }, timeout: 240_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const floxide = (...args: string[]) => run(process.execPath, [path.join(dir, 'node_modules/floxide/dist/cli/cli.js'), ...args]);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'floxide-installed-'));
  const { tarball } = pack(dir);
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, 'floxide'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', path.join(modules, 'floxide'), '--strip-components=1']);
  rmSync(tarball);
  for (const pkg of readdirSync(path.join(repo, 'node_modules'))) {
    if (pkg === '.bin' || pkg === 'floxide' || pkg.startsWith('.')) continue;
    symlinkSync(path.join(repo, 'node_modules', pkg), path.join(modules, pkg), 'dir');
  }
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }, null, 2));
  copyFileSync(path.join(repo, 'templates/init/tsconfig.json.txt'), path.join(dir, 'tsconfig.json'));
  mkdirSync(path.join(dir, 'src'));
  for (const f of ['batch.ts', 'split.ts', 'approval.ts', 'reminder.ts']) copyFileSync(path.join(repo, 'examples', f), path.join(dir, 'src', f));
  writeFileSync(
    path.join(dir, 'src/main.ts'),
    `import { bindWorkflow } from 'floxide';
import { BatchWorkflow } from './batch.js';
import { BatchWorkflowDef } from './batch.floxide.js';
import { SplitWorkflow } from './split.js';
import { SplitWorkflowDef } from './split.floxide.js';

console.log(await bindWorkflow(BatchWorkflowDef, new BatchWorkflow()).run(undefined, [1, 2, 3, 4, 5]));
console.log(await bindWorkflow(SplitWorkflowDef, new SplitWorkflow()).run(undefined, 10));
`,
  );
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('floxide build with the installed package', () => {
  it(`every @node() class the package ships carries the @${NODE_CLASS_TAG} tag into its .d.ts`, () => {
    const found: string[] = [];
    for (const file of readdirSync(path.join(repo, 'runtime'), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
      const text = readFileSync(path.join(repo, 'runtime', file), 'utf8');
      for (const m of text.matchAll(/^@node\(\)\s*export class (\w+)/gm)) {
        found.push(m[1]);
        const dts = readFileSync(path.join(dir, 'node_modules/floxide/dist/runtime', file.replace(/\.ts$/, '.d.ts')), 'utf8');
        expect(dts, `${file}: ${m[1]}`).toMatch(new RegExp(`@${NODE_CLASS_TAG}\\b[^]*?\\*/\\s*export declare class ${m[1]}\\b`));
      }
    }
    expect(found).toEqual(expect.arrayContaining(['BatchNode', 'SplitNode']));
  });


  it('recognises the helper nodes (BatchNode, SplitNode, WaitFor, Sleep) from their .d.ts; the modules type-check and run', () => {
    const build = floxide('build');
    expect(build.out).not.toContain('FLX');
    expect(build.code, build.out).toBe(0);
    expect(existsSync(path.join(dir, 'src/batch.floxide.ts'))).toBe(true);
    expect(readFileSync(path.join(dir, 'src/split.floxide.ts'), 'utf8')).toContain('InputOf<SplitWorkflow[\'split\']>');
    // WaitFor and Sleep are recognised from their .d.ts: the signal map is generated and the graphs draw them.
    const approval = readFileSync(path.join(dir, 'src/approval.floxide.ts'), 'utf8');
    expect(approval).toContain("export type ApprovalWorkflowSignals = {\n  approval: SignalPayloadOf<ApprovalWorkflow['approval']>;\n};");
    expect(approval).toContain('label="timeout"');
    expect(readFileSync(path.join(dir, 'src/reminder.floxide.ts'), 'utf8')).toContain('sleeps on a durable timer');
    const tsc = run(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', '.', '--noEmit', '--traceResolution']);
    expect(tsc.out).toMatch(/Module name 'floxide' was successfully resolved to '[^']*\/node_modules\/floxide\/dist\/runtime\/index\.d\.ts'/);
    expect(tsc.out).not.toMatch(/error TS/);
    expect(tsc.code).toBe(0);
    const main = run(process.execPath, [path.join(repo, 'node_modules/tsx/dist/cli.mjs'), 'src/main.ts']);
    expect(main.out).toBe('large batch: 30\n9\n');
    expect(main.code).toBe(0);
  }, 600_000);

  it('trusts the helper-node marker only in floxide\'s own declarations', () => {
    writeFileSync(
      path.join(dir, 'src/impostor.ts'),
      `import { edge, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';

/** Looks like a helper node's declaration, but is the user's own class without @node(). @floxideNode */
export class Impostor implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n);
  }
}

@workflow({ start: 'a' })
export class ImpostorFlow {
  @edge('b') a = new Impostor();
  b = new Impostor();
}
`,
    );
    try {
      const build = floxide('build', 'src/impostor.ts');
      expect(build.out).toContain('FLX021');
      expect(build.out).toContain('class Impostor is not decorated with @node()');
      expect(build.code).toBe(1);
    } finally {
      rmSync(path.join(dir, 'src/impostor.ts'));
    }
  }, 300_000);
});

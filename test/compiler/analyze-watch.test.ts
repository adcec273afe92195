import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Analyzer } from '../../compiler/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const nodes = `import { node, Transition, type WorkflowCtx } from 'floxide';
@node() export class Inc { process(_c: WorkflowCtx, n: number): Transition<number> { return Transition.next(n + 1); } }
@node() export class Shout { process(_c: WorkflowCtx, s: string): Transition<string> { return Transition.next(s); } }
`;
const flow = (target: string) => `import { edge, workflow } from 'floxide';
import { Inc, Shout } from './nodes.js';
@workflow({ start: 'a' })
export class Flow {
  @edge('${target}') a = new Inc();
  b = new Inc();
  s = new Shout();
}
`;
const other = `import { workflow } from 'floxide';
import { Inc } from './nodes.js';
@workflow({ start: 'x' })
export class Other { x = new Inc(); }
`;

describe('Analyzer.refresh (watch mode)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floxide-analyze-'));
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, experimentalDecorators: true,
          skipLibCheck: true, noEmit: true, types: ['node'], typeRoots: [path.join(repo, 'node_modules/@types')],
          paths: { floxide: [path.join(repo, 'runtime/index.ts')] },
        },
        include: ['*.ts'],
      }),
    );
    fs.writeFileSync(path.join(dir, 'nodes.ts'), nodes);
    fs.writeFileSync(path.join(dir, 'flow.ts'), flow('b'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('re-analyses edited, created and deleted files, and the files importing them', () => {
    const analyzer = new Analyzer({ cwd: dir });
    let r = analyzer.analyze();
    expect(r.diagnostics.filter((d) => d.code !== 'FLX030')).toEqual([]);
    expect(r.model.workflows.map((w) => w.name)).toEqual(['Flow']);
    const before = r.model.workflows[0].fingerprint;

    // Edit: a type mismatch appears.
    fs.writeFileSync(path.join(dir, 'flow.ts'), flow('s'));
    r = analyzer.refresh([path.join(dir, 'flow.ts')]);
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.code, d.position?.file, d.position?.line])).toEqual([['FLX011', 'flow.ts', 5]]);
    expect(r.model.workflows[0].fingerprint).not.toBe(before);

    // A change in an imported file re-checks its importers: Shout now takes numbers.
    fs.writeFileSync(path.join(dir, 'nodes.ts'), nodes.replace('s: string): Transition<string>', 's: number): Transition<string>').replace('Transition.next(s)', 'Transition.next(String(s))'));
    r = analyzer.refresh([path.join(dir, 'nodes.ts')]);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);

    // Create, then delete, a workflow file.
    fs.writeFileSync(path.join(dir, 'other.ts'), other);
    r = analyzer.refresh([path.join(dir, 'other.ts')]);
    expect(r.model.workflows.map((w) => w.name)).toEqual(['Flow', 'Other']);
    fs.rmSync(path.join(dir, 'other.ts'));
    r = analyzer.refresh([path.join(dir, 'other.ts')]);
    expect(r.model.workflows.map((w) => w.name)).toEqual(['Flow']);

    // Same answer as a cold analysis.
    const cold = new Analyzer({ cwd: dir }).analyze();
    expect(r).toEqual(cold);
  });
});

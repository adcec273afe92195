/**
 * Generated modules compile under `isolatedDeclarations` (each exported `const` declares its type: a declaration
 * emitter that reads one file at a time, as oxc's or swc's, can emit theirs). Checked with tsc on every committed
 * generated module of the repository; the user sources they import are the repository's business, not theirs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('every generated module of the repository compiles under isolatedDeclarations', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'floxide-isolated-'));
  try {
    const config = path.join(dir, 'tsconfig.json');
    const dirs = ['examples', 'test/fixtures/equivalence', 'test/fixtures/rules', 'test/fixtures/distributed', 'test/fixtures/signals', 'test/runtime/flows', 'bench/flows'];
    writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(root, 'tsconfig.json'),
        compilerOptions: { isolatedDeclarations: true, declaration: true, noEmit: true, typeRoots: [path.join(root, 'node_modules/@types')] },
        // test/fixtures/migrate keeps modules written before (hand-kept version history): the witness that the check fails
        include: [...dirs, 'test/fixtures/migrate'].map((d) => path.join(root, d, '*.floxide.ts')),
      }),
    );
    const out = await new Promise<string>((resolve) =>
      execFile(process.execPath, [path.join(root, 'node_modules/typescript/lib/tsc.js'), '-p', config], { cwd: root, maxBuffer: 64 * 1024 * 1024 }, (_err, stdout) => resolve(stdout)),
    );
    // the generated modules' errors, and the configuration's (the user sources they import are not checked here)
    const generated = out.split('\n').filter((l) => /\.floxide\.ts\(\d+,\d+\): error|^error TS/.test(l));
    expect(generated.filter((l) => !l.startsWith('test/fixtures/migrate/'))).toEqual([]);
    // the modules of the shape before (a const without its type: XNodes, XDot, XMermaid, XDef) are refused
    expect(generated.filter((l) => l.startsWith('test/fixtures/migrate/v1.floxide.ts')).map((l) => l.replace(/^.*error /, ''))).toEqual(
      Array.from({ length: 4 }, () => 'TS9010: Variable must have an explicit type annotation with --isolatedDeclarations.'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

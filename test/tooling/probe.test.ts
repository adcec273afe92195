/**
 * The ts-plugin's type probe (tooling/ts-plugin/probe.ts) on a plain TypeScript program, as tsserver hands one to the
 * plugin: its answers are the build's (a recorded input type assignable to the current one, with the names of the
 * node's file in scope), and typing inside a method asks nothing again (no throwaway program is built).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { TypeProbe } from '../../tooling/ts-plugin/probe.js';

const dir = mkdtempSync(path.join(tmpdir(), 'floxide-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TYPES = `export interface Order { id: string }
export interface Refund { id: string; amount: number }
`;
const NODES = (body: string) => `import type { Order, Refund } from './types.js';
type Local = { note: string };
export class Handle {
  process(input: Order | Refund | Local): string {
    return ${body};
  }
}
`;

const file = path.join(dir, 'nodes.ts').split(path.sep).join('/');
writeFileSync(path.join(dir, 'types.ts'), TYPES);
const options: ts.CompilerOptions = { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, types: [] };

/** A program with nodes.ts as `text` (the others from disk), built on `old` as tsserver builds one per edit. */
function programWith(text: string, old?: ts.Program): ts.Program {
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile;
  host.getSourceFile = (name, lang, onError, fresh) => (name === file ? ts.createSourceFile(name, text, lang, true) : (old?.getSourceFile(name) ?? read(name, lang, onError, fresh)));
  return ts.createProgram({ rootNames: [file, path.join(dir, 'types.ts').split(path.sep).join('/')], options, host, oldProgram: old });
}

describe('the ts-plugin type probe', () => {
  let built = 0;
  const counting = { ...ts, createProgram: ((...args: Parameters<typeof ts.createProgram>) => (built++, ts.createProgram(...args))) as typeof ts.createProgram };
  const probe = new TypeProbe(counting as typeof ts, dir);

  it('answers as the build: widened types fit, narrowed ones and unknown names do not, with the file\'s names in scope', () => {
    const program = programWith(NODES("'a'"));
    expect(
      probe.assignable(program, file, [
        ['Order', 'Order | Refund'],
        ['Order | Refund', 'Refund'],
        ['Local', 'Order | Local'],
        ['Gone', 'Order'],
      ]),
    ).toEqual([true, false, true, false]);
    expect(probe.assignable(program, file, [['string', 'string | number']])).toEqual([true]);
    expect(built).toBe(2);
  });

  it('keeps its answers while only a function body changes; a declaration change asks again', () => {
    let program = programWith(NODES("'a'"));
    expect(probe.assignable(program, file, [['Local', 'Order | { note: string }']])).toEqual([true]);
    const before = built;
    program = programWith(NODES("'ab'"), program);
    expect(probe.assignable(program, file, [['Order', 'Order | Refund'], ['Local', 'Order | { note: string }']])).toEqual([true, true]);
    // a pair that names no type is the same in any file and any version of it
    expect(probe.assignable(programWith('export {};\n', program), file, [['string', 'string | number']])).toEqual([true]);
    expect(built).toBe(before);
    program = programWith(NODES("'ab'").replace('type Local = { note: string };', 'type Local = { note: number };'), program);
    expect(probe.assignable(program, file, [['Local', 'Order | { note: string }']])).toEqual([false]);
    expect(built).toBe(before + 1);
  });
});

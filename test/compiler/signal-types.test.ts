/**
 * Compile-fail fixtures for signals (issue 11): `signal()` calls typed by the signal map `floxide build` generated
 * (test/fixtures/signals/flows.floxide.ts) do not compile with an unknown name or a wrong payload. Each fixture is
 * type-checked by TypeScript with the repository's compiler options; the test asserts the error, its line and what
 * it names, and that the same calls with the right name and payload compile.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
// The project's TypeScript (what `tsc` runs), with its lib files: ts-morph's bundled copy has no lib on disk.
import ts from 'typescript';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = path.join(repo, 'test/fixtures/signal-types');
const fixtures = ['ok.ts', 'wrong-name.ts', 'wrong-payload.ts', 'nested-wrong-name.ts', 'nested-wrong-payload.ts'];

let program: ts.Program;
beforeAll(() => {
  const config = ts.readConfigFile(path.join(repo, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, repo);
  program = ts.createProgram(
    fixtures.map((f) => path.join(dir, f)),
    { ...parsed.options, noEmit: true },
  );
}, 120_000);

function errorsOf(file: string): Array<{ code: number; line: number; message: string }> {
  const sf = program.getSourceFile(path.join(dir, file))!;
  return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => ({
    code: d.code,
    line: sf.getLineAndCharacterOfPosition(d.start!).line + 1,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
}

describe('signals typed by floxide build', () => {
  it('the right name and payload compile (start handle, Workflow.signal, Orchestrator.signal)', () => {
    expect(errorsOf('ok.ts')).toEqual([]);
  });

  it('a wrong signal name does not compile', () => {
    const errors = errorsOf('wrong-name.ts');
    expect(errors.map((e) => [e.code, e.line])).toEqual([[2345, 7]]);
    expect(errors[0].message).toContain('"aproval"');
    expect(errors[0].message).toContain('"approval"');
  });

  it('a wrong payload type does not compile', () => {
    const errors = errorsOf('wrong-payload.ts');
    expect(errors.map((e) => [e.code, e.line])).toEqual([[2322, 7]]);
    expect(errors[0].message).toMatch(/string.*not assignable to type 'boolean'/);
  });

  it('a nested workflow\'s wait is typed under its qualified name: the bare name does not compile', () => {
    const errors = errorsOf('nested-wrong-name.ts');
    expect(errors.map((e) => [e.code, e.line])).toEqual([[2345, 7]]);
    expect(errors[0].message).toContain('"approval"');
    expect(errors[0].message).toContain('"review.approval"');
  });

  it('a wrong payload for a wait two nested workflows down does not compile', () => {
    const errors = errorsOf('nested-wrong-payload.ts');
    expect(errors.map((e) => [e.code, e.line])).toEqual([[2322, 7]]);
    expect(errors[0].message).toMatch(/string.*not assignable to type 'boolean'/);
  });
});

import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fillTemplate, generatedFileName, moduleSpecifier, renderModules, writeOutputs } from '../../compiler/writer.js';
import { articleWorkflow, branchWorkflow, flowModel, innerWorkflow, outerWorkflow } from './emit-models.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'floxide-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const model = flowModel(articleWorkflow, innerWorkflow, outerWorkflow, branchWorkflow);

describe('renderModules', () => {
  it('groups workflows by source file, sorted, next to the source or under outDir', () => {
    const next = renderModules(model, { rootDir: dir });
    expect(next.map((m) => path.relative(dir, m.path))).toEqual(['examples/article.floxide.ts', 'examples/nested.floxide.ts', 'src/flows/branch.floxide.ts']);
    const out = renderModules(model, { rootDir: dir, outDir: path.join(dir, 'gen') });
    expect(out.map((m) => path.relative(dir, m.path))).toEqual(['gen/examples/article.floxide.ts', 'gen/examples/nested.floxide.ts', 'gen/src/flows/branch.floxide.ts']);
    expect(out[0].content).toContain("from '../../examples/article.js';");
  });

  it('is deterministic whatever the model order', () => {
    const a = renderModules(model, { rootDir: dir });
    const b = renderModules(flowModel(branchWorkflow, outerWorkflow, articleWorkflow, innerWorkflow), { rootDir: dir });
    expect(b).toEqual(a);
  });

  it('names generated files and specifiers per extension', () => {
    expect(generatedFileName('a/b.ts')).toBe('a/b.floxide.ts');
    expect(generatedFileName('a/b.mts')).toBe('a/b.floxide.mts');
    expect(generatedFileName('a/b.tsx')).toBe('a/b.floxide.ts');
    expect(moduleSpecifier('/p/gen/a.floxide.ts', '/p/src/a.ts')).toBe('../src/a.js');
    expect(moduleSpecifier('/p/a.floxide.ts', '/p/a.mts')).toBe('./a.mjs');
  });
});

describe('writeOutputs', () => {
  it('writes new files, leaves unchanged files untouched (mtime) and rewrites changed ones', () => {
    const files = renderModules(model, { rootDir: dir });
    expect(writeOutputs(files).written).toHaveLength(3);
    const p = files[0].path;
    const old = new Date('2001-01-01T00:00:00Z');
    utimesSync(p, old, old);
    const again = writeOutputs(files);
    expect(again.written).toEqual([]);
    expect(again.unchanged).toHaveLength(3);
    expect(statSync(p).mtimeMs).toBe(old.getTime());
    writeFileSync(p, 'edited by hand\n');
    expect(writeOutputs(files).written).toEqual([p]);
    expect(readFileSync(p, 'utf8')).toBe(files[0].content);
  });

  it('in check mode writes nothing and lists stale and missing files', () => {
    const files = renderModules(model, { rootDir: dir });
    writeOutputs(files.slice(0, 2));
    writeFileSync(files[1].path, 'stale\n');
    const r = writeOutputs(files, { check: true });
    expect(r).toEqual({ written: [], unchanged: [files[0].path], stale: [files[1].path, files[2].path] });
    expect(readFileSync(files[1].path, 'utf8')).toBe('stale\n');
    expect(existsSync(files[2].path)).toBe(false);
  });
});

describe('fillTemplate', () => {
  it('fills slots in one pass and rejects missing or unused slots', () => {
    expect(fillTemplate('a {{x}} b', { x: '{{y}}' })).toBe('a {{y}} b');
    expect(() => fillTemplate('{{x}}', {})).toThrow(/no value/);
    expect(() => fillTemplate('x', { y: '1' })).toThrow(/no slot/);
  });
});

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fillTemplate, generatedFileName, moduleSpecifier, renderModules, type RenderCache } from '../../compiler/render.js';
import { findOrphanedModules, writeOutputs } from '../../compiler/writer.js';
import { emptyRecord, recordVersions, renderRecord } from '../../compiler/versions/record.js';
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

  it('reuses cached modules whose workflows did not change and re-renders the others', () => {
    const cache: RenderCache = new Map();
    const first = renderModules(model, { rootDir: dir }, cache);
    expect(first).toEqual(renderModules(model, { rootDir: dir }));
    const changed = { ...articleWorkflow, fingerprint: 'ffffffffffffffff' };
    const second = renderModules(flowModel(changed, innerWorkflow, outerWorkflow, branchWorkflow), { rootDir: dir }, cache);
    expect(second[0].content).toContain("fingerprint: 'ffffffffffffffff',");
    expect(second[1].content).toBe(first[1].content);
    expect(renderModules(model, { rootDir: dir, outDir: path.join(dir, 'gen') }, cache)[0].content).toContain("from '../../examples/article.js';");
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
  it("takes a file checked out with CRLF line ends (git's core.autocrlf on Windows) as unchanged, in check mode too, and leaves it as it is", () => {
    const record = { path: path.join(dir, 'flow.floxide.versions.json'), content: renderRecord(recordVersions(emptyRecord(), [articleWorkflow])) };
    const files = [...renderModules(model, { rootDir: dir }), record];
    for (const f of files) {
      mkdirSync(path.dirname(f.path), { recursive: true });
      writeFileSync(f.path, f.content.replace(/\n/g, '\r\n'));
    }
    expect(writeOutputs(files, { check: true })).toEqual({ written: [], unchanged: files.map((f) => f.path), stale: [] });
    expect(writeOutputs(files).written).toEqual([]);
    expect(readFileSync(record.path, 'utf8')).toBe(record.content.replace(/\n/g, '\r\n'));
    // a real change still shows
    writeFileSync(record.path, record.content.replace(/\n/g, '\r\n').replace('"format": 1', '"format": 2'));
    expect(writeOutputs(files, { check: true }).stale).toEqual([record.path]);
  });
});

describe('fillTemplate', () => {
  it('fills slots in one pass and rejects missing or unused slots', () => {
    expect(fillTemplate('a {{x}} b', { x: '{{y}}' })).toBe('a {{y}} b');
    expect(() => fillTemplate('{{x}}', {})).toThrow(/no value/);
    expect(() => fillTemplate('x', { y: '1' })).toThrow(/no slot/);
  });
});

describe('findOrphanedModules', () => {
  it('reports only banner-bearing project modules whose source is gone or declares no workflow', () => {
    const banner = (src: string) => `// Generated by floxide build from ${src}. Do not edit: change the decorated classes and run \`floxide build\`.\n`;
    const f = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    f('a.ts', 'export const a = 1;\n');
    const a = f('a.floxide.ts', banner('a.ts'));
    f('b.ts', 'export const b = 1;\n');
    const b = f('b.floxide.ts', banner('b.ts'));
    const c = f('c.floxide.ts', '// written by hand\n');
    const d = f('d.floxide.ts', banner('d.ts'));
    f('e.ts', 'export const e = 1;\n');
    const e = f('e.floxide.ts', banner('e.ts'));
    const project = new Set([a, path.join(dir, 'a.ts'), c, d, e, path.join(dir, 'e.ts')]);
    const found = findOrphanedModules({ dirs: [dir], rootDir: dir, expected: new Set([e]), isProjectFile: (x) => project.has(x), inScope: () => true });
    // a: source without workflows; d: source deleted. b is not a project file, c is not ours, e is expected.
    expect(found).toEqual([a, d]);
    expect(findOrphanedModules({ dirs: [dir], rootDir: dir, expected: new Set(), isProjectFile: (x) => project.has(x), inScope: () => false })).toEqual([d]);
    void b;
  });
});

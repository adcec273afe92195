import { describe, expect, it } from 'vitest';
import { crashAtEveryStep } from 'floxide/testing';
import { MODES, runAllModes, runJournalInAllModes } from './modes.js';
import { wordsCrash } from './words-crash.js';

describe('the installed floxide inside vitest', () => {
  it('gives the same output and context in every mode', async () => {
    const modes = await runAllModes('a bb ccc');
    for (const mode of MODES) {
      expect(modes[mode], mode).toEqual({ output: 'A BB CCC: 1 2 3', words: 3, seen: ['a', 'bb', 'ccc'] });
    }
  });

  it('runs a workflow with an interface context in every mode, its Date still a Date', async () => {
    const modes = await runJournalInAllModes('x');
    for (const mode of MODES) {
      expect(modes[mode], mode).toEqual({ output: 'x+x! since 2024-01-02', entries: ['x', 'x!'], started: 'Date 2024-01-02T00:00:00.000Z' });
    }
  });

  it('resumes to the same result after a crash at every step boundary (floxide/testing)', async () => {
    const report = await crashAtEveryStep(wordsCrash);
    expect(report.reference.output).toBe('A BB CCC: 1 2 3');
    expect(report.crashes.length).toBe(2 * report.commits - 1);
  });

  it('and in fresh processes killed with SIGKILL at every step boundary (the package\'s child script, tsx for this module)', { timeout: 200_000 }, async () => {
    const report = await crashAtEveryStep(wordsCrash, { process: { module: new URL('./words-crash.ts', import.meta.url), export: 'wordsCrash' } });
    expect(report.reference.output).toBe('A BB CCC: 1 2 3');
    expect(report.reference.context.seen).toEqual(['a', 'bb', 'ccc']);
    expect(report.crashes.length).toBe(2 * report.commits - 1);
  });
});

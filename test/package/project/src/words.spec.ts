import { describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { crashAtEveryStep } from 'floxide/testing';
import { MODES, runAllModes, runJournalInAllModes } from './modes.js';
import { Tally, WordsWorkflow } from './words.js';
import { WordsWorkflowDef } from './words.floxide.js';

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
    const report = await crashAtEveryStep({ workflow: () => bindWorkflow(WordsWorkflowDef, new WordsWorkflow()), context: () => new Tally(), input: 'a bb ccc' });
    expect(report.reference.output).toBe('A BB CCC: 1 2 3');
    expect(report.crashes.length).toBe(2 * report.commits - 1);
  });
});

import { describe, expect, it } from 'vitest';
import { bindWorkflow } from 'floxide';
import { crashAtEveryStep } from 'floxide/testing';
import { runAllModes } from './modes.js';
import { Tally, WordsWorkflow } from './words.js';
import { WordsWorkflowDef } from './words.floxide.js';

describe('the installed floxide inside vitest', () => {
  it('gives the same output and context in every mode', async () => {
    const modes = await runAllModes('a bb ccc');
    for (const mode of ['run', 'sqlite', 'sqliteResumed', 'distributed']) {
      expect(modes[mode], mode).toEqual({ output: 'A BB CCC: 1 2 3', words: 3, seen: ['a', 'bb', 'ccc'] });
    }
  });

  it('resumes to the same result after a crash at every step boundary (floxide/testing)', async () => {
    const report = await crashAtEveryStep({ workflow: () => bindWorkflow(WordsWorkflowDef, new WordsWorkflow()), context: () => new Tally(), input: 'a bb ccc' });
    expect(report.reference.output).toBe('A BB CCC: 1 2 3');
    expect(report.crashes.length).toBe(2 * report.commits - 1);
  });
});

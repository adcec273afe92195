import { describe, expect, it } from 'vitest';
import { runAllModes } from './modes.js';

describe('the installed floxide inside vitest', () => {
  it('gives the same output and context in every mode', async () => {
    const modes = await runAllModes('a bb ccc');
    for (const mode of ['run', 'sqlite', 'sqliteResumed', 'distributed']) {
      expect(modes[mode], mode).toEqual({ output: 'A BB CCC: 1 2 3', words: 3, seen: ['a', 'bb', 'ccc'] });
    }
  });
});

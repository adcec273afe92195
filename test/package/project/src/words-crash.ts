// The crash test of the words workflow, in its own module (no vitest import) so that floxide/testing's fresh
// processes can import it too: words.spec.ts runs it in this process and in processes killed with SIGKILL.
import { bindWorkflow } from 'floxide';
import type { CrashTest } from 'floxide/testing';
import { Tally, WordsWorkflow } from './words.js';
import { WordsWorkflowDef } from './words.floxide.js';

export const wordsCrash: CrashTest<string, string, Tally> = {
  workflow: () => bindWorkflow(WordsWorkflowDef, new WordsWorkflow()),
  context: () => new Tally(),
  input: 'a bb ccc',
};

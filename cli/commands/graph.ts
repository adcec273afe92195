/** `floxide graph <Workflow>`: print one workflow's graph as DOT, Mermaid or SVG. */
import { Command, Option } from 'commander';
import type { CliIo, CommandFactory } from './types.js';
import { withHelp, type CommandHelp } from '../help.js';

const HELP: CommandHelp = {
  examples: [
    { run: 'floxide graph ArticleWorkflow', note: 'DOT on stdout' },
    { run: 'floxide graph ArticleWorkflow --format svg > docs/ArticleWorkflow.svg', note: 'SVG, rendered offline' },
    { run: 'floxide graph examples/article.ts:ArticleWorkflow --format mermaid', note: 'one of two workflows with the same name' },
    { run: 'floxide graph Router --project app', note: 'a workflow of another project' },
  ],
  exitCodes: {
    0: 'the graph is printed',
    1: 'the workflows have errors, or no workflow has that name, or more than one (the message lists them)',
    2: 'bad usage (unknown --format, tsconfig not found) or an internal error',
  },
};

const graphCommand: CommandFactory = (io: CliIo) =>
  withHelp(new Command('graph'), HELP)
    .description('print the graph of one workflow')
    .argument('<workflow>', 'the workflow class name, or <file>:<name> when the name is not unique, e.g. `ArticleWorkflow`')
    .addOption(new Option('-f, --format <format>', 'output format, e.g. `--format mermaid`').choices(['dot', 'mermaid', 'svg']).default('dot'))
    .option('-p, --project <tsconfig>', 'the tsconfig.json to load, or its folder (default: the nearest tsconfig.json from the current folder up, as tsc finds it), e.g. `--project app`')
    .action(async (name: string, flags: { format: 'dot' | 'mermaid' | 'svg'; project?: string }) => {
      const { graphOf } = await import('../../compiler/graph.js');
      const result = await graphOf({ workflow: name, format: flags.format, project: flags.project, cwd: io.cwd, color: io.color });
      if (result.stdout) io.stdout.write(result.stdout);
      if (result.stderr) io.stderr.write(result.stderr);
      io.exitCode = result.exitCode;
    });

export default graphCommand;

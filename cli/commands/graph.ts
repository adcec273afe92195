/** `floxide graph <Workflow>`: print one workflow's graph as DOT, Mermaid or SVG. */
import { Command, Option } from 'commander';
import type { CliIo, CommandFactory } from './types.js';

const EXAMPLES = `
Examples:
  $ floxide graph ArticleWorkflow                          DOT on stdout
  $ floxide graph ArticleWorkflow --format mermaid         Mermaid flowchart
  $ floxide graph ArticleWorkflow --format svg > a.svg     SVG, rendered offline
  $ floxide graph examples/article.ts:ArticleWorkflow      disambiguate two workflows with the same name
  $ floxide graph Router --project app/tsconfig.json       another project

Exit codes: 0 ok, 1 errors in the workflows or no such workflow, 2 bad usage or internal error.
`;

const graphCommand: CommandFactory = (io: CliIo) =>
  new Command('graph')
    .description('print the graph of one workflow')
    .argument('<workflow>', 'the workflow class name, or <file>:<name> when the name is not unique, e.g. `ArticleWorkflow`')
    .addOption(new Option('-f, --format <format>', 'output format, e.g. `--format mermaid`').choices(['dot', 'mermaid', 'svg']).default('dot'))
    .option('-p, --project <tsconfig>', 'the tsconfig.json to load, or its folder (default: the nearest tsconfig.json from the current folder up, as tsc finds it), e.g. `--project app`')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, flags: { format: 'dot' | 'mermaid' | 'svg'; project?: string }) => {
      const { graphOf } = await import('../../compiler/graph.js');
      const result = await graphOf({ workflow: name, format: flags.format, project: flags.project, cwd: io.cwd, color: io.color });
      if (result.stdout) io.stdout.write(result.stdout);
      if (result.stderr) io.stderr.write(result.stderr);
      io.exitCode = result.exitCode;
    });

export default graphCommand;

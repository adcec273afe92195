/** `floxide init [dir]`: scaffold a floxide project, or add floxide to an existing package. */
import { Command } from 'commander';
import type { CliIo, CommandFactory } from './types.js';
import { withHelp, type CommandHelp } from '../help.js';

const HELP: CommandHelp = {
  notes: [
    {
      heading: 'What it writes (an existing file is never overwritten silently):',
      items: [
        ['package.json', '"type": "module", the scripts (prebuild: floxide build, build, start, dev, test), the dependencies, and allowScripts for esbuild\'s and better-sqlite3\'s install scripts (npm 11); an existing one only gets what it lacks, and its own values win (npm init\'s placeholders, "type": "commonjs" and the failing test script, are replaced); before a script of yours it adds the floxide build hooks (listed as such) but no prestart (it would make your start compile first); one that is not a JSON object is left alone'],
        ['tsconfig.json', 'legacy decorators, NodeNext, and the floxide/ts-plugin for editors'],
        ['vitest.config.ts', 'the floxide/vite plugin (builds stale generated modules before tests import them)'],
        ['src/hello.ts', 'an example workflow, with src/hello.test.ts and src/main.ts'],
        ['README.md', 'the two commands: npm install && npm start, npm test'],
        ['.gitignore', 'node_modules/ and dist/ (generated *.floxide.ts modules are committed); lines are only added'],
      ],
    },
  ],
  examples: [
    { run: 'floxide init', note: 'in the current folder' },
    { run: 'floxide init my-flows --name @acme/flows', note: 'in ./my-flows (created when missing), with this package name' },
    { run: 'floxide init --force', note: 'also replace existing files that differ (package.json and .gitignore are still merged)' },
  ],
  exitCodes: {
    0: 'done',
    1: 'some existing files differ and were left as they were, or package.json keeps a "type" other than "module" (listed)',
    2: 'bad usage: dir is a file, --name is not a valid npm package name',
  },
};

const initCommand: CommandFactory = (io: CliIo) =>
  withHelp(new Command('init'), HELP)
    .description('scaffold a floxide project (or add floxide to an existing package.json)')
    .argument('[dir]', 'the project folder, created when missing (default: the current folder), e.g. `my-flows`', '.')
    .option('--name <name>', 'the package name of a new package.json, a valid npm name (default: the folder name), e.g. `--name @acme/flows`')
    .option('--force', 'replace existing files that differ instead of leaving them (package.json and .gitignore are merged either way)')
    .action(async (dir: string, flags: { name?: string; force?: boolean }) => {
      const path = await import('node:path');
      const { initProject, formatInitResult } = await import('../init/scaffold.js');
      const { InvalidArgumentError } = await import('../../runtime/core/errors.js');
      let result;
      try {
        result = initProject({ dir: path.resolve(io.cwd, dir), name: flags.name, force: flags.force });
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err;
        io.stderr.write(`floxide init: ${err.message}\n`);
        io.exitCode = 2;
        return;
      }
      io.stdout.write(formatInitResult(result, io.cwd));
      io.exitCode = result.skipped > 0 || result.blockers.length > 0 ? 1 : 0;
    });

export default initCommand;

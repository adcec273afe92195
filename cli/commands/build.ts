/** `floxide build [paths..]`: generate (or check) the workflow modules, docs graphs and the JSON model. */
import { Command } from 'commander';
import { progressOn } from '../progress.js';
import type { CliIo, CommandFactory } from './types.js';
import { withHelp, type CommandHelp } from '../help.js';

/** From this many files on, a build shows its progress on stderr. */
const MANY_FILES = 50;

interface BuildFlags {
  project?: string;
  outDir?: string;
  check?: boolean;
  watch?: boolean;
  docs?: string;
  json?: boolean;
  strictVersions?: boolean;
}

const HELP: CommandHelp = {
  notes: [
    'Each build records every workflow\'s graph version in <file>.floxide.versions.json (commit it) and warns about changes that break runs still in flight on a recorded version (docs/deploying.md).',
  ],
  examples: [
    { run: 'floxide build', note: 'every workflow of the nearest tsconfig.json (here or above)' },
    { run: 'floxide build src/flows --docs docs', note: 'only the workflows under src/flows, and their graphs as docs/<Workflow>.dot, .svg and .mmd' },
    { run: 'floxide build --check --strict-versions', note: 'CI: write nothing; fail on a stale generated file or a change that breaks runs in flight' },
    { run: 'floxide build --project app --out-dir app/src/generated', note: 'the project of app/tsconfig.json, its modules under app/src/generated' },
  ],
  exitCodes: {
    0: 'built, or up to date with --check (warnings such as FLX030 do not change it)',
    1: 'the workflows have errors (`path:line:col - error FLX0NN: message`, nothing written), or --check found stale, missing or orphaned generated files',
    2: 'bad usage (unknown option, tsconfig or path not found, an --out-dir or --docs that is a file, --watch with --check) or an internal error',
  },
};

const buildCommand: CommandFactory = (io: CliIo) =>
  withHelp(new Command('build'), HELP)
    .description('read the decorated workflow classes and generate one typed <file>.floxide.ts module per source file')
    .argument('[paths...]', 'files or directories to build (default: every file of the tsconfig), e.g. `src/flows`')
    .option('-p, --project <tsconfig>', 'the tsconfig.json to load, or its folder (default: the nearest tsconfig.json from the current folder up, as tsc finds it), e.g. `--project app`')
    .option('-o, --out-dir <dir>', 'write generated modules under <dir> (mirroring source paths), e.g. `--out-dir src/generated`')
    .option('--check', 'write nothing; exit 1 naming each stale or missing generated file, e.g. `floxide build --check` in CI')
    .option('-w, --watch', 'rebuild when a source changes and print the rebuild time, e.g. `floxide build --watch`')
    .option('--docs <dir>', 'also write <Workflow>.dot, .svg and .mmd per workflow into <dir>, e.g. `--docs docs`')
    .option('--json', 'print the analysed FlowModel as JSON on stdout, e.g. `floxide build --json > model.json`')
    .option('--strict-versions', 'changes that break runs in flight on a recorded version (FLX050-FLX053, FLX055, FLX056) are errors, e.g. `floxide build --check --strict-versions` in CI')
    .action(async (paths: string[], flags: BuildFlags) => {
      const [{ buildProject }, { formatBuildResult }, { watchProject }] = await Promise.all([import('../../compiler/build.js'), import('../../compiler/report.js'), import('../../compiler/watch.js')]);
      const options = { project: flags.project, paths, outDir: flags.outDir, check: flags.check, docs: flags.docs, json: flags.json, strictVersions: flags.strictVersions, cwd: io.cwd };
      const report = (result: Awaited<ReturnType<typeof buildProject>>) => {
        const { stdout, stderr } = formatBuildResult(result, { cwd: io.cwd, color: io.color, check: flags.check, json: flags.json });
        if (stdout) io.stdout.write(stdout);
        if (stderr) io.stderr.write(stderr);
        io.exitCode = result.exitCode;
      };
      if (!flags.watch) {
        const progress = await progressOn(io, 'analysed', 'files');
        const onProgress = (done: number, total: number) => total >= MANY_FILES && progress.update(done, total);
        const result = await buildProject({ ...options, onProgress });
        progress.stop();
        return report(result);
      }
      if (flags.check) {
        io.stderr.write('floxide: --watch and --check cannot be combined\n');
        io.exitCode = 2;
        return;
      }
      const handle = watchProject(options, (result, changed) => {
        if (changed.length > 0) io.stdout.write(`floxide: ${changed.length} file(s) changed, rebuilt in ${Math.round(result.durationMs)} ms\n`);
        report(result);
        io.stdout.write('floxide: watching for changes (Ctrl-C to stop)\n');
      });
      const first = await handle.ready;
      if (first.exitCode === 2 && first.rootDir === '') return handle.close();
      io.onStop(() => handle.close());
      await new Promise<void>((resolve) => io.onStop(resolve));
    });

export default buildCommand;

#!/usr/bin/env node
/**
 * The `floxide` command line: a thin commander shell over exported functions. Each subcommand is a module whose
 * default export is a {@link CommandFactory}; add one with a single line in {@link COMMANDS}.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Help, type Option } from 'commander';
import type { CliIo, CommandFactory } from './commands/types.js';
import { withHelp } from './help.js';

export type { CliIo, CommandFactory } from './commands/types.js';

/** The subcommands, loaded lazily (heavy dependencies are imported by each command's action). One line each. */
export const COMMANDS: ReadonlyArray<() => Promise<{ default: CommandFactory }>> = [
  () => import('./commands/build.js'),
  () => import('./commands/graph.js'),
  () => import('./commands/worker.js'),
  () => import('./commands/runs.js'),
  () => import('./commands/schedule.js'),
  () => import('./commands/versions.js'),
  () => import('./commands/ui.js'),
  () => import('./commands/init.js'),
];

const VERSION = '0.1.0';

/** Builds the program with every registered command. */
export async function createProgram(io: CliIo): Promise<Command> {
  const program = new Command('floxide')
    .description('Floxide: typed, build-time-checked workflows. `floxide <command> --help` explains each command.')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride()
    .helpCommand(false);
  for (const cmd of [...(await Promise.all(COMMANDS.map(async (load) => (await load()).default(io)))), helpCommand(program)]) {
    cmd.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) }).exitOverride().showHelpAfterError('(run with --help for usage)');
    program.addCommand(cmd);
  }
  markRequiredOptions(program);
  return program;
}

/**
 * Commander refuses a command without its mandatory options but its help does not say which they are: each says
 * `(required)` after its description, in every command of the tree.
 */
function markRequiredOptions(cmd: Command): void {
  cmd.configureHelp({
    optionDescription(this: Help, option: Option) {
      const text = Help.prototype.optionDescription.call(this, option);
      return option.mandatory ? `${text} (required)` : text;
    },
  });
  for (const sub of cmd.commands) markRequiredOptions(sub);
}

/**
 * `floxide help [command..]`: the help of a command at any depth (`floxide help runs list`); a name that is no command
 * is an unknown command (exit 2). (Commander's own help command reads one name, and answers an unknown one with the
 * main help and exit 0.)
 */
function helpCommand(program: Command): Command {
  return withHelp(new Command('help'), {
    examples: [{ run: 'floxide help runs list', note: 'the same as `floxide runs list --help`' }, { run: 'floxide help schedule' }],
    exitCodes: { 0: 'the help is printed', 2: 'no command has that name (`error: unknown command`)' },
  })
    .description('display help for a command, e.g. `floxide help runs list`')
    .argument('[command...]', 'the command, e.g. `runs list`')
    .action((names: string[]) => {
      let cmd = program;
      for (const name of names) {
        const sub = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (!sub) return cmd.error(`error: unknown command '${name}'`, { code: 'commander.unknownCommand', exitCode: 2 });
        cmd = sub;
      }
      cmd.outputHelp();
    });
}

/** How {@link runCli} ends. */
export interface RunCliOptions {
  /**
   * After a command stopped on SIGINT or SIGTERM (`worker`, `ui`, `build --watch`), end the process once its output
   * is flushed, instead of waiting for whatever it still runs: node code a worker gave back after its grace period,
   * a user's timer. The binary sets it; an in-process caller (a test) does not.
   */
  readonly exitAfterStop?: boolean;
}

/**
 * Runs the CLI on `argv` (without the `node script` prefix) and resolves with the exit code: 0 ok, 1 diagnostics
 * or stale files, 2 usage or internal error.
 */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}, options: RunCliOptions = {}): Promise<number> {
  const stops: Array<() => void | Promise<void>> = [];
  const cli: CliIo = {
    cwd: io.cwd ?? process.cwd(),
    color: io.color ?? (process.stderr.isTTY === true && !process.env.NO_COLOR),
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stderrIsTTY: io.stderrIsTTY ?? (io.stderr === undefined && process.stderr.isTTY === true),
    exitCode: 0,
    onStop: io.onStop ?? ((stop) => void stops.push(stop)),
    ...(io.connect ? { connect: io.connect } : {}),
  };
  let stopped = false;
  const onSignal = () => {
    // Nothing long-running to stop gracefully: behave like an unhandled Ctrl-C.
    if (stops.length === 0) process.exit(130);
    stopped = true;
    for (const stop of stops.splice(0)) void stop();
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const program = await createProgram(cli);
    await program.parseAsync([...argv], { from: 'user' });
    return cli.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // `commander.help` with exit code 0 comes from `floxide <group> help [cmd]`; otherwise the help went to stderr for a
      // missing or unknown command (`floxide`, `floxide runs`): a usage error.
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    cli.stderr.write(`floxide: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 2;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (stopped && options.exitAfterStop) exitOnceFlushed(cli.exitCode);
  }
}

/** How long a stopped command waits for its output to reach a reader before it exits anyway (ms). */
const FLUSH_WAIT_MS = 2_000;

/**
 * Ends the process with `code` once what it wrote to stdout and stderr is out (a pipe may still hold some), or after
 * {@link FLUSH_WAIT_MS} when a reader that stopped reading holds it (`floxide runs watch | <stalled>` stopped by
 * SIGTERM would otherwise wait for that reader for ever).
 */
function exitOnceFlushed(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), FLUSH_WAIT_MS).unref();
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

function isMain(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // A reader that stops early (`floxide runs watch | head`) closes the pipe: stop quietly, as `cat` does, instead of
  // dying on an unhandled EPIPE with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(0);
    });
  }
  runCli(process.argv.slice(2), {}, { exitAfterStop: true }).then((code) => {
    process.exitCode = code;
  });
}

/**
 * Every command's `--help` explains itself: a command that does the work ends with `Examples:` and `Exit codes:`, its
 * examples parse as written (through the real command tree, with the actions replaced so nothing runs) and name a
 * store its `--store` accepts, and its exit codes are the ones docs/cli.md lists for it; a command group's help says
 * how to get its commands' help.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram, type CliIo } from '../../cli/cli.js';
import { helpOf, shellWords, type ExitCodes } from '../../cli/help.js';
import { sqliteFileOf } from '../../cli/store/open.js';
import { DISTRIBUTED_SCHEMES } from '../../runtime/distributed/connect.js';
import { cliCaptured, floxideInTerminal, hasScript, screenOf } from './run-cli.js';

const io = (): CliIo => ({ cwd: '.', color: false, stdout: { write: () => true }, stderr: { write: () => true }, exitCode: 0, onStop: () => {} });

/** Every command with the path of names that reaches it (`['runs', 'wait']`). */
function commands(cmd: Command, path: string[] = []): Array<{ path: string[]; cmd: Command }> {
  return cmd.commands.flatMap((c) => [{ path: [...path, c.name()], cmd: c }, ...commands(c, [...path, c.name()])]);
}

const all = commands(await createProgram(io()));
const leaves = all.filter((c) => c.cmd.commands.length === 0);
const groups = all.filter((c) => c.cmd.commands.length > 0);
const name = (path: readonly string[]) => path.join(' ');

/** The arguments `floxide` gets from an example: the words after `floxide` (or the bin's path), up to a redirection or pipe. */
function argvOf(run: string): string[] {
  const words = shellWords(run).map((w) => w.value);
  const bin = words.findIndex((w) => w === 'floxide' || w.endsWith('cli/cli.js'));
  if (bin < 0) throw new Error(`no floxide command in ${run}`);
  const rest = words.slice(bin + 1);
  const end = rest.findIndex((w) => ['>', '|', '&&', ';'].includes(w));
  return end < 0 ? rest : rest.slice(0, end);
}

/** Parses `argv` through a fresh command tree whose actions only record which command ran; that command's path. */
async function parsedCommand(argv: readonly string[]): Promise<string> {
  const program = await createProgram(io());
  let ran: string | undefined;
  for (const c of commands(program)) c.cmd.action(() => void (ran = name(c.path)));
  await program.parseAsync([...argv], { from: 'user' });
  if (ran === undefined) throw new Error(`no command ran for ${argv.join(' ')}`);
  return ran;
}

/** The exit codes docs/cli.md gives a command: its line `- \`floxide <command>\`: \`0\` ...; \`1\` ...; \`2\` ...`. */
const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
const docLines = [...doc.matchAll(/^- `floxide ([a-z ]+)`: (`0` .*)$/gm)].map(([, command, codes]) => ({ command: command!, codes: codes! }));
function parseCodes(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/`([0-9])` (.+?)(?=; `[0-9]` |$)/g)].map(([, code, meaning]) => [code!, meaning!.replace(/\.$/, '')]));
}
/** The line docs/cli.md should have for `path`, as the help gives it. */
const docLineOf = (path: readonly string[], codes: ExitCodes) =>
  `- \`floxide ${name(path)}\`: ${([0, 1, 2] as const).flatMap((c) => (codes[c] === undefined ? [] : [`\`${c}\` ${codes[c]}`])).join('; ')}.`;

describe('the help of every command', () => {
  it('finds the commands of the real CLI', () => {
    expect(leaves.map((c) => name(c.path))).toEqual(expect.arrayContaining(['build', 'worker', 'runs list', 'runs migrate', 'schedule add', 'versions prune', 'help']));
    expect(groups.map((c) => name(c.path))).toEqual(['runs', 'schedule', 'versions']);
  });

  it.each(leaves.map((c) => [name(c.path), c] as const))('`floxide %s --help` ends with its examples and exit codes, within 80 columns', async (_name, { path, cmd }) => {
    const help = helpOf(cmd);
    expect(help, 'given with withHelp').toBeDefined();
    expect(help!.examples.length).toBeGreaterThanOrEqual(2);
    expect(help!.examples.length).toBeLessThanOrEqual(4);
    const r = await cliCaptured([...path, '--help']);
    expect([r.code, r.err]).toEqual([0, '']);
    const examples = r.out.indexOf('\nExamples:\n');
    const exits = r.out.indexOf('\nExit codes:\n');
    expect(examples).toBeGreaterThan(0);
    expect(exits).toBeGreaterThan(examples);
    // each example as a command line (`$ ...`, continued with ` \`), then the exit codes, last
    expect(r.out.slice(examples, exits).match(/^ {2}\$ /gm)).toHaveLength(help!.examples.length);
    const section = r.out.slice(exits + '\nExit codes:\n'.length);
    const shown = Object.fromEntries([...section.matchAll(/^ {2}([0-9]) {2}(.+(?:\n {5}.+)*)/gm)].map(([, code, text]) => [code!, text!.replace(/\s+/g, ' ')]));
    expect(shown).toEqual(help!.exitCodes);
    expect(section.replace(/^ {2}[0-9] {2}.+(?:\n {5}.+)*\n?/gm, '')).toBe('');
    // (commander wraps its help to 80 columns when stdout is no terminal)
    expect(r.out.split('\n').filter((line) => line.length > 80)).toEqual([]);
  });

  it.each(leaves.flatMap((c) => (helpOf(c.cmd)?.examples ?? []).map((e) => [name(c.path), e.run, c] as const)))('`floxide %s`: its example `%s` parses, and names a store it accepts', async (command, run, { cmd }) => {
    const argv = argvOf(run);
    expect(await parsedCommand(argv)).toBe(command);
    const store = cmd.options.find((o) => o.long === '--store');
    const stores = argv.flatMap((w, i) => (argv[i - 1] === '--store' || argv[i - 1] === '-s' ? [w] : []));
    for (const url of stores) {
      if (url.startsWith('sqlite:')) {
        expect(store?.description, `${command} takes a sqlite: store`).toContain('sqlite:');
        expect(sqliteFileOf(url, '/project')).toBeDefined();
      } else {
        expect(DISTRIBUTED_SCHEMES).toContain(new URL(url).protocol.replace(/:$/, ''));
      }
    }
  });

  it('an example that does not parse fails the check', async () => {
    await expect(parsedCommand(argvOf('floxide runs list --store redis://127.0.0.1:6379 --status bogus'))).rejects.toThrow(/Allowed choices/);
    await expect(parsedCommand(argvOf('floxide runs wait --store redis://127.0.0.1:6379'))).rejects.toThrow(/missing required argument/);
    await expect(parsedCommand(argvOf('floxide schedule add x --store redis://127.0.0.1:6379 --cron "* * * * *"'))).rejects.toThrow(/--workflow/);
  });

  it.each(leaves.map((c) => [name(c.path), c] as const))('docs/cli.md gives `floxide %s` the exit codes of its help', (_name, { path, cmd }) => {
    const codes = helpOf(cmd)!.exitCodes;
    const lines = docLines.filter((l) => l.command === name(path));
    expect(lines.map((l) => `- \`floxide ${l.command}\`: ${l.codes}`), 'one line in docs/cli.md, as the help gives them').toEqual([docLineOf(path, codes)]);
    expect(parseCodes(lines[0]!.codes)).toEqual(codes);
  });

  it('docs/cli.md lists exit codes only for commands that exist', () => {
    expect(docLines.map((l) => l.command).filter((c) => !leaves.some((leaf) => name(leaf.path) === c))).toEqual([]);
  });

  it.skipIf(!hasScript)('the built bin wraps the sections to the terminal\'s width, as commander wraps the rest', async () => {
    const repo = fileURLToPath(new URL('../..', import.meta.url));
    // (narrower than the 80 columns of a help written to no terminal)
    for (const argv of [['runs', 'signal'], ['init'], ['schedule', 'add'], ['runs']]) {
      const r = await floxideInTerminal([...argv, '--help'], repo, 72);
      expect(r.code, argv.join(' ')).toBe(0);
      const screen = screenOf(r.raw).join('\n');
      // what withHelp and withGroupHint add: a leaf's sections, a group's last paragraph
      const added = argv.length === 1 && argv[0] === 'runs' ? screen.slice(screen.lastIndexOf('\n\n')) : screen.slice(screen.indexOf('\nExamples:\n'));
      if (argv.length === 1 && argv[0] === 'runs') expect(added.replace(/\s+/g, ' ')).toContain('`floxide runs <command> --help`');
      else expect(added, argv.join(' ')).toMatch(/^\nExamples:\n {2}(?:\$|#) [^]*\nExit codes:\n {2}0 {2}\S/);
      expect(added.split('\n').filter((line) => line.length > 72), argv.join(' ')).toEqual([]);
    }
  });

  it.each(groups.map((c) => [name(c.path), c] as const))('`floxide %s --help` lists its commands and how to get their help', async (_name, { path, cmd }) => {
    const r = await cliCaptured([...path, '--help']);
    expect([r.code, r.err]).toEqual([0, '']);
    for (const sub of cmd.commands) expect(r.out).toMatch(new RegExp(`^ {2}${sub.name()}\\b`, 'm'));
    expect(r.out.replace(/\s+/g, ' ')).toContain(`Each command's options, examples and exit codes: \`floxide ${name(path)} <command> --help\` (or \`floxide help ${name(path)} <command>\`).`);
  });
});

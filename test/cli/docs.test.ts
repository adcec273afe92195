/**
 * docs/cli.md documents the real CLI: every command and subcommand of the commander tree `floxide` builds, each of
 * their arguments and options, and the exit codes of each command. A command or option added without its docs fails
 * here. The other way round, every option a `floxide ...` command of the README, docs/ or the README `floxide init`
 * writes gives is one the CLI has: a renamed option leaves no command behind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram, type CliIo } from '../../cli/cli.js';

const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');

/** The text of the `## \`floxide <name>...` section (up to the next `## `). */
function sectionOf(name: string): string {
  const start = doc.search(new RegExp(`^## \`floxide ${name}[ \`|]`, 'm'));
  if (start < 0) return '';
  const next = doc.slice(start + 3).search(/^## /m);
  return next < 0 ? doc.slice(start) : doc.slice(start, start + 3 + next);
}

const io: CliIo = { cwd: '.', color: false, stdout: { write: () => true }, stderr: { write: () => true }, exitCode: 0, onStop: () => {} };
const program = await createProgram(io);

/** Every command with the path of names that reaches it (`['runs', 'wait']`). */
function commands(cmd: Command, path: string[] = []): Array<{ path: string[]; cmd: Command }> {
  return cmd.commands.flatMap((c) => [{ path: [...path, c.name()], cmd: c }, ...commands(c, [...path, c.name()])]);
}

describe('docs/cli.md', () => {
  const all = commands(program);

  it('finds the commands of the real CLI', () => {
    expect(all.map((c) => c.path.join(' '))).toEqual(expect.arrayContaining(['build', 'graph', 'worker', 'runs', 'runs list', 'runs wait', 'init']));
  });

  it.each(all.map((c) => [c.path.join(' '), c] as const))('documents `floxide %s`, its arguments and options', (_name, { path, cmd }) => {
    const section = sectionOf(path[0]!);
    expect(section, `no "## \`floxide ${path[0]}" section`).not.toBe('');
    if (path.length > 1) expect(section).toContain(`${path.slice(1).join(' ')}`);
    for (const arg of cmd.registeredArguments) {
      const shown = arg.required ? `<${arg.name()}${arg.variadic ? '..' : ''}>` : `[${arg.name()}${arg.variadic ? '..' : ''}]`;
      expect(section, `argument ${shown}`).toMatch(new RegExp(`${shown.replace(/[[\]().]/g, '\\$&')}|<${arg.name()}>`, 'i'));
    }
    for (const option of cmd.options) {
      expect(section, `option ${option.flags}`).toContain(option.short ? `\`${option.short}, ${option.long}` : `\`${option.long}`);
    }
    expect(section, 'its exit codes').toMatch(/Exit codes/);
  });

  it('states the token length `floxide ui` enforces, in its --help and here', async () => {
    const token = all.find((c) => c.path.join(' ') === 'ui')!.cmd.options.find((o) => o.long === '--token')!;
    const { startUiServer } = await import('../../cli/ui/server.js');
    // (the token is checked before the store is used)
    const refused = await startUiServer({ backend: undefined as never, token: 'short' }).catch((err: Error) => err.message);
    const range = /\d+-\d+ characters/.exec(String(refused))![0];
    expect(token.description).toContain(range);
    expect(sectionOf('ui')).toContain(range);
  });

  it('has every option the floxide commands of the README, docs/ and the init template give', () => {
    const options = new Set(['--help', '--version', ...all.flatMap(({ cmd }) => cmd.options.map((o) => o.long!))]);
    const root = new URL('../../', import.meta.url);
    const files = ['README.md', 'templates/init/README.md.txt', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const unknown: string[] = [];
    for (const file of files) {
      const text = readFileSync(new URL(file, root), 'utf8');
      // inline `floxide ...` spans, and the lines of code blocks that run floxide (`floxide`, `npx floxide`, the bin's path)
      const commands = [...text.matchAll(/`(floxide [^`\n]*)`/g), ...text.matchAll(/^(?:npx |node_modules\/\.bin\/)?(floxide [^\n]*)$|\bcli\/cli\.js( [^\n]*)$/gm)].map(([, a, b]) => (a ?? b)!);
      for (const command of commands) for (const [option] of command.replace(/#.*/, '').matchAll(/(?<![\w-])--[a-z][a-z-]*/g)) if (!options.has(option)) unknown.push(`${file}: ${option} in \`${command}\``);
    }
    expect(unknown).toEqual([]);
  });

  it('documents the global options and the exit code table', () => {
    for (const option of program.options) expect(doc).toContain(option.long!);
    expect(doc).toMatch(/^## Exit codes/m);
    for (const code of ['`0`', '`1`', '`2`']) expect(doc).toContain(`| ${code} |`);
  });
});

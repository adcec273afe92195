/**
 * What `floxide <command> --help` ends with: for a command that does the work, its notes, an `Examples:` section and
 * an `Exit codes:` section, rendered from one {@link CommandHelp} per command (docs/cli.md lists the same exit codes:
 * test/cli/help-sections.test.ts compares them); for a command group, a line saying how to get a subcommand's help.
 * The text is wrapped to the width commander wraps the rest of the help to.
 */
import type { Command, Help } from 'commander';

/** What each exit code means for one command: `0` and `2` always (bad usage is commander's too), `1` when it can fail. */
export interface ExitCodes {
  readonly 0: string;
  readonly 1?: string;
  readonly 2: string;
}

/** What a command that opens a store (`runs`, `ui`) answers with exit code 1 when it cannot open it. */
export const STORE_UNREACHABLE = 'the store cannot be reached, or its Postgres schema or SQLite file does not exist';

/** An invocation that works as written: the whole command line, as typed (quoted for a POSIX shell), and what it does. */
export interface Example {
  readonly run: string;
  readonly note?: string;
}

/** A paragraph, or a list of terms with their descriptions (what `init` writes). */
export type HelpBlock = string | { readonly heading: string; readonly items: ReadonlyArray<readonly [string, string]> };

/** The end of a command's help. */
export interface CommandHelp {
  /** What to know before the examples, printed first. */
  readonly notes?: readonly HelpBlock[];
  /** 2-4 invocations, with the store URL forms the command accepts. */
  readonly examples: readonly Example[];
  readonly exitCodes: ExitCodes;
}

const helps = new WeakMap<Command, CommandHelp>();

/** Ends `cmd`'s help with `help` (notes, examples, exit codes) and returns `cmd`. */
export function withHelp<C extends Command>(cmd: C, help: CommandHelp): C {
  helps.set(cmd, help);
  cmd.addHelpText('after', (context) => `\n${renderHelp(help, helperOf(context.command, context.error))}`);
  return cmd;
}

/** The {@link CommandHelp} `cmd` was given with {@link withHelp}, if any. */
export function helpOf(cmd: Command): CommandHelp | undefined {
  return helps.get(cmd);
}

/** Ends a command group's help with how to get a subcommand's (`floxide runs <command> --help`). */
export function withGroupHint<C extends Command>(cmd: C): C {
  cmd.addHelpText('after', (context) => {
    const path = commandPath(context.command);
    const helper = helperOf(context.command, context.error);
    return `\n${helper.boxWrap(`Each command's options, examples and exit codes: \`${path} <command> --help\` (or \`floxide help ${path.replace(/^floxide /, '')} <command>\`).`, helper.helpWidth ?? 80)}`;
  });
  return cmd;
}

/** `floxide runs` for the `runs` command. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The width commander wraps this help to: the terminal's columns, else 80. */
function widthOf(cmd: Command, error: boolean): number {
  const output = cmd.configureOutput();
  return (error ? output.getErrHelpWidth?.() : output.getOutHelpWidth?.()) ?? 80;
}

function helperOf(cmd: Command, error: boolean): Help {
  const helper = cmd.createHelp();
  helper.prepareContext({ error, helpWidth: widthOf(cmd, error) });
  return helper;
}

/**
 * The sections, wrapped as commander wraps its own (items: the term, then the description wrapped beside it); no final
 * newline (commander adds it).
 */
function renderHelp(help: CommandHelp, helper: Help): string {
  const width = helper.helpWidth ?? 80;
  const out: string[] = [];
  for (const block of help.notes ?? []) {
    if (typeof block === 'string') out.push(helper.boxWrap(block, width), '');
    else {
      const termWidth = Math.max(...block.items.map(([term]) => term.length));
      out.push(block.heading, ...block.items.map(([term, text]) => helper.formatItem(term, termWidth, text, helper)), '');
    }
  }
  out.push('Examples:');
  for (const { run, note } of help.examples) {
    if (note) out.push(indent(helper.boxWrap(note, width - 4), '  # '));
    out.push(commandLines(run, width));
  }
  out.push('', 'Exit codes:');
  for (const code of [0, 1, 2] as const) {
    const text = help.exitCodes[code];
    if (text !== undefined) out.push(helper.formatItem(String(code), 1, text, helper));
  }
  return out.join('\n');
}

function indent(text: string, first: string): string {
  return text
    .split('\n')
    .map((line) => first + line)
    .join('\n');
}

/**
 * `  $ <run>`, broken between words with a trailing ` \` when longer than `width` (the shell joins the lines, so the
 * example still works when copied); an option stays on the line of its value, and a word longer than a line stays whole.
 */
function commandLines(run: string, width: number): string {
  const units: string[] = [];
  const words = shellWords(run).map((w) => w.text);
  for (let i = 0; i < words.length; i++) {
    const pair = words[i]!.startsWith('-') && i + 1 < words.length && !words[i + 1]!.startsWith('-');
    units.push(pair ? `${words[i]} ${words[++i]}` : words[i]!);
  }
  const lines: string[] = [];
  let line = '  $';
  let onLine = 0;
  for (const word of units) {
    if (onLine > 0 && line.length + 1 + word.length + 2 > width) {
      lines.push(`${line} \\`);
      line = '     ';
      onLine = 0;
    }
    line += ` ${word}`;
    onLine++;
  }
  lines.push(line);
  return lines.join('\n');
}

/** One word of a POSIX shell command line: as written (`text`, quotes kept) and as the program gets it (`value`). */
export interface ShellWord {
  readonly text: string;
  readonly value: string;
}

/**
 * The words of a command line as a POSIX shell splits them: single and double quotes (a backslash escapes `"`, `\`,
 * `$` and a backquote inside double quotes), a backslash outside quotes. Expansions are not performed: `"$TOKEN"` is the word
 * `$TOKEN`. An unterminated quote throws.
 */
export function shellWords(line: string): ShellWord[] {
  const words: ShellWord[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    const start = i;
    let value = '';
    while (i < line.length && line[i] !== ' ') {
      const c = line[i]!;
      if (c === "'") {
        const end = line.indexOf("'", i + 1);
        if (end < 0) throw new Error(`unterminated ' in ${line}`);
        value += line.slice(i + 1, end);
        i = end + 1;
      } else if (c === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) i++;
          value += line[i++];
        }
        if (i >= line.length) throw new Error(`unterminated " in ${line}`);
        i++;
      } else if (c === '\\') {
        value += line[i + 1] ?? '';
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    words.push({ text: line.slice(start, i), value });
  }
  return words;
}

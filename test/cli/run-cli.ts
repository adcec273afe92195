/**
 * Runs the `floxide` CLI for tests: in process with its output captured ({@link cliCaptured}: the code path of the
 * binary, without a process start per call), or in a real pseudo-terminal (util-linux `script`), so stdout and stderr
 * are TTYs as in a user's shell, reading back what the terminal shows: the raw bytes, and the screen lines once the
 * control sequences (carriage returns, cursor moves, line clears) are applied ({@link floxideInTerminal},
 * {@link screenOf}).
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../cli/cli.js';
import type { CliIo } from '../../cli/commands/types.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
/** The built bin (`npm test` builds dist/ first): a terminal run is a process as users start it. */
const bin = path.join(repo, 'dist/cli/cli.js');

/** What an in-process run wrote, and its exit code. */
export interface CapturedRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `floxide <argv>` in process (colours off), capturing stdout and stderr; `io` adds to or overrides the rest. */
export async function cliCaptured(argv: readonly string[], io: Partial<CliIo> = {}): Promise<CapturedRun> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { color: false, ...io, stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
  return { code, out, err };
}

/** util-linux `script` is installed (the tests that need a terminal skip without it). */
export const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** What the CLI wrote to its terminal (stdout and stderr share it), and its exit code. */
export interface TerminalRun {
  code: number | null;
  raw: string;
}

/** Runs `floxide <args>` in `cwd` on a pseudo-terminal of `columns` columns (colours off: NO_COLOR). */
export function floxideInTerminal(args: readonly string[], cwd: string, columns = 120): Promise<TerminalRun> {
  const command = `stty cols ${columns} rows 40; exec ${[process.execPath, bin, ...args].map(quote).join(' ')}`;
  // -q: no "Script started" lines; -e: the command's exit code; -c: the command; /dev/null: no typescript file.
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd, env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let raw = '';
  child.stdout.on('data', (d: Buffer) => (raw += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (raw += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, raw }));
  });
}

/**
 * The lines a terminal shows after `raw` (trailing spaces trimmed, trailing empty lines dropped). Applies `\r`, `\n`,
 * backspace, CSI `G` (cursor to column), `C`/`D` (cursor right/left) and `K` (erase in line); other sequences (cursor
 * visibility, line wrapping modes) change nothing on screen and are skipped.
 */
export function screenOf(raw: string): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '\x1b') {
      const csi = /^\x1b\[([?0-9;]*)([A-Za-z])/.exec(raw.slice(i, i + 16));
      if (!csi) continue;
      i += csi[0].length - 1;
      const n = Number(csi[1] || '0');
      const line = lines[row];
      if (csi[2] === 'G') col = Math.max(0, (n || 1) - 1);
      else if (csi[2] === 'C') col += n || 1;
      else if (csi[2] === 'D') col = Math.max(0, col - (n || 1));
      else if (csi[2] === 'K') {
        if (n === 0) line.length = Math.min(line.length, col);
        else if (n === 1) for (let j = 0; j <= col && j < line.length; j++) line[j] = ' ';
        else if (n === 2) line.length = 0;
      }
      continue;
    }
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row++;
      col = 0;
      lines[row] ??= [];
    } else if (ch === '\b') col = Math.max(0, col - 1);
    else {
      const line = lines[row];
      while (line.length < col) line.push(' ');
      line[col++] = ch;
    }
  }
  const text = lines.map((l) => l.join('').trimEnd());
  while (text.length > 0 && text[text.length - 1] === '') text.pop();
  return text;
}

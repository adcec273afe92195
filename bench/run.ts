/**
 * `npm run bench`: runs every bench script that exists (bench/local.ts, bench/compiler.ts, bench/distributed.ts, bench/signals.ts, bench/ui.ts),
 * each in its own child process with `--json`, and prints ONE table: figure, value (median) with its spread,
 * the bare ceiling, the ratio, the target and pass/fail. A script that fails, or prints no `{"rows": [...]}`
 * line, gets a row saying so (run it alone to see its output).
 *
 * Usage: npx tsx bench/run.ts [--only local,compiler,distributed,signals,ui] [--markdown]
 *   --markdown prints the table as Markdown (what docs/benchmarks.md holds).
 *
 * The engine under test is the built package, as users run it: when `dist/` exists (`npm run bench` builds it),
 * the scripts and their worker processes resolve `floxide` to `dist/` (bench/tsconfig.dist.json, via tsx's
 * TSX_TSCONFIG_PATH) instead of compiling the TypeScript sources on the fly. Set TSX_TSCONFIG_PATH yourself to
 * choose otherwise (e.g. `TSX_TSCONFIG_PATH=tsconfig.json` for the sources).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRows, type BenchRow } from './rows.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The tsconfig the bench scripts run under: `floxide` from dist/ when it is built (see the header). */
const TSCONFIG = process.env.TSX_TSCONFIG_PATH ?? (existsSync(join(ROOT, 'dist', 'runtime', 'index.js')) ? 'bench/tsconfig.dist.json' : 'tsconfig.json');
const SCRIPTS = ['local', 'compiler', 'distributed', 'signals', 'ui'] as const;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Section {
  name: string;
  rows: BenchRow[];
  error?: string;
  seconds: number;
}

function runScript(name: string): Promise<Section> {
  const file = join(ROOT, 'bench', `${name}.ts`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, '--json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => resolve({ name, rows: [], error: e.message, seconds: 0 }));
    child.on('close', (code, signal) => {
      const seconds = (Date.now() - started) / 1000;
      const rows = parseRows(out);
      if (code === 0 && rows) return resolve({ name, rows, seconds });
      const why =
        code !== 0
          ? `exited with ${signal ?? code}: ${lastLine(err) || lastLine(out)}`
          : 'printed no {"rows": [...]} line for --json';
      resolve({ name, rows: rows ?? [], error: why, seconds });
    });
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop()?.slice(0, 160) ?? '';
}

function num(v: number | undefined, unit = ''): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 }) + (unit ? ` ${unit}` : '');
}

function cells(r: BenchRow): string[] {
  const range = r.min !== undefined && r.max !== undefined && r.min !== r.max ? `${num(r.min)}-${num(r.max)}` : '-';
  const ratio = r.ratio === undefined ? '-' : r.unit.startsWith('B/') ? `${r.ratio.toFixed(2)}x` : `${(r.ratio * 100).toFixed(1)}%`;
  return [r.figure, num(r.value, r.unit), range, num(r.bare), ratio, r.target, r.pass === undefined ? '-' : r.pass ? 'pass' : 'FAIL'];
}

const HEADER = ['figure', 'value (median)', 'spread (min-max)', 'bare', 'ratio', 'target', 'result'];

function table(lines: string[][], markdown: boolean): string {
  if (markdown) {
    const row = (c: string[]) => `| ${c.join(' | ')} |`;
    return [row(HEADER), row(HEADER.map(() => '---')), ...lines.map(row)].join('\n');
  }
  const all = [HEADER, ...lines];
  const widths = HEADER.map((_, i) => Math.max(...all.map((l) => (l[i] ?? '').length)));
  const fmt = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const only = option('only')?.split(',');
  const markdown = process.argv.includes('--markdown');
  const present = SCRIPTS.filter((s) => (!only || only.includes(s)) && existsSync(join(ROOT, 'bench', `${s}.ts`)));
  const sections: Section[] = [];
  // One script at a time: they measure speed, and would skew each other.
  for (const name of present) {
    process.stderr.write(`bench: running bench/${name}.ts ...\n`);
    sections.push(await runScript(name));
  }
  const lines: string[][] = [];
  for (const s of sections) {
    for (const r of s.rows) lines.push(cells({ ...r, figure: `${s.name}: ${r.figure}` }));
    if (s.error) lines.push([`${s.name}: (no figures)`, '-', '-', '-', '-', s.error, 'FAIL']);
  }
  const [l1, l5] = loadavg();
  console.log(
    `floxide bench, node ${process.version}, ${cpus().length} CPUs, load average ${l1.toFixed(1)} (1 min) ${l5.toFixed(1)} (5 min), ` +
      `engine from ${TSCONFIG === 'bench/tsconfig.dist.json' ? 'dist/ (built)' : `TSX_TSCONFIG_PATH=${TSCONFIG}`}; ` +
      `ratio = value / bare (bare / value for times and sizes; value / bare-figure for bytes)`,
  );
  console.log(table(lines, markdown));
  const failed = lines.filter((l) => l[6] === 'FAIL').length;
  console.log(`${lines.length} figure(s), ${failed} below target; took ${sections.map((s) => `${s.name} ${s.seconds.toFixed(0)} s`).join(', ')}`);
}

await main();

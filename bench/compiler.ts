/**
 * Compiler speed bench (not a test): a generated project of 200 workflow files x 5 nodes under bench/.generated/.
 * Measures `tsc --noEmit` on it, a cold `floxide build` (fresh process, no generated files yet), the
 * `floxide build --watch` rebuild after editing one file, and the editor loop: a real tsserver with the
 * `floxide/ts-plugin`, answering `semanticDiagnosticsSync` after a keystroke in one workflow file (beside the same
 * tsserver without the plugin). Targets: cold build <= 3x tsc, watch rebuild < 0.5 s, diagnostics <= 50 ms.
 *
 * Run: `npm run build:dist && npx tsx bench/compiler.ts [--files 200] [--runs 3]`
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsServer } from '../test/tooling/tsserver-client.js';
import { median, printRows, spread } from './rows.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dir = path.join(repo, 'bench/.generated');
const cli = path.join(repo, 'dist/cli/cli.js');
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg('files', 200);
const RUNS = arg('runs', 3);

function workflowFile(i: number): string {
  return `import { edge, node, timeout, Transition, workflow, type Node, type WorkflowCtx } from 'floxide';
void timeout;

@node()
export class Parse${i} implements Node<string, number> {
  process(_ctx: WorkflowCtx, s: string): Transition<number> {
    return Transition.next(Number(s) + ${i});
  }
}

@node()
export class Double${i} implements Node<number, number> {
  process(_ctx: WorkflowCtx, n: number): Transition<number> {
    return Transition.next(n * 2);
  }
}

@node()
export class Check${i} implements Node<number, { kind: 'ok'; value: number } | { kind: 'bad'; reason: string }> {
  process(_ctx: WorkflowCtx, n: number): Transition<{ kind: 'ok'; value: number } | { kind: 'bad'; reason: string }> {
    return Transition.next(n >= 0 ? { kind: 'ok', value: n } : { kind: 'bad', reason: 'negative' });
  }
}

@node()
export class Format${i} implements Node<{ kind: 'ok'; value: number }, string> {
  async process(_ctx: WorkflowCtx, v: { kind: 'ok'; value: number }): Promise<Transition<string>> {
    return Transition.next(\`value \${v.value}\`);
  }
}

@node()
export class Reject${i} implements Node<{ kind: 'bad'; reason: string }, string> {
  process(_ctx: WorkflowCtx, v: { kind: 'bad'; reason: string }): Transition<string> {
    return Transition.next(\`rejected: \${v.reason}\`);
  }
}

@workflow({ start: 'parse' })
export class Flow${i} {
  @edge('double') parse = new Parse${i}();
  @edge('check') double = new Double${i}();
  @edge.when('ok', 'format')
  @edge.when('bad', 'reject')
  check = new Check${i}();
  format = new Format${i}();
  reject = new Reject${i}();
}
`;
}

function writeTsconfig(plugin: boolean): void {
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          experimentalDecorators: true,
          useDefineForClassFields: false,
          skipLibCheck: true,
          noEmit: true,
          paths: { floxide: ['../../runtime/index.ts'] },
          ...(plugin ? { plugins: [{ name: 'floxide/ts-plugin' }] } : {}),
        },
        include: ['*.ts'],
      },
      null,
      2,
    ) + '\n',
  );
}

function generate(): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeTsconfig(false);
  for (let i = 0; i < FILES; i++) writeFileSync(path.join(dir, `flow${String(i).padStart(3, '0')}.ts`), workflowFile(i));
}

function removeGenerated(): void {
  for (const f of readdirSync(dir)) if (f.endsWith('.floxide.ts')) rmSync(path.join(dir, f));
}

function timed(cmd: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cmd, ...args], { cwd: dir, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return ms;
}


async function watchRebuild(): Promise<{ wallMs: number; reportedMs: number }[]> {
  const child = spawn(process.execPath, [cli, 'build', '--watch'], { cwd: dir });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const waitFor = (re: RegExp, from: number) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => {
        const m = re.exec(out.slice(from));
        if (m) resolve(m);
        else if (Date.now() - t0 > 60_000) reject(new Error(`timeout waiting for ${re}:\n${out}`));
        else setTimeout(tick, 2);
      };
      tick();
    });
  const results: { wallMs: number; reportedMs: number }[] = [];
  try {
    await waitFor(/watching for changes/, 0);
    const file = path.join(dir, 'flow000.ts');
    const original = readFileSync(file, 'utf8');
    for (let run = 0; run < RUNS; run++) {
      const from = out.length;
      // A real graph change: toggle a @timeout on the start node, so the generated module changes too.
      const edited = run % 2 === 0 ? original.replace("@edge('double') parse", "@timeout(1000) @edge('double') parse") : original;
      const t0 = performance.now();
      writeFileSync(file, edited);
      const m = await waitFor(/rebuilt in (\d+) ms/, from);
      await waitFor(/watching for changes/, from);
      results.push({ wallMs: performance.now() - t0, reportedMs: Number(m[1]) });
    }
    writeFileSync(file, original);
  } finally {
    child.kill('SIGINT');
  }
  return results;
}

const KEYSTROKES = arg('keystrokes', 15);

/**
 * The editor loop through a real tsserver: open flow000.ts, then per keystroke (a character typed into, or deleted
 * from, a string in a node's body) the time `semanticDiagnosticsSync` takes to answer. With the plugin, tsserver
 * finds `floxide/ts-plugin` in bench/.generated/node_modules (a link to this repository, dist/ built).
 */
async function editorLoop(plugin: boolean): Promise<{ times: number[]; pluginMs: number[] }> {
  writeTsconfig(plugin);
  const modules = path.join(dir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  rmSync(path.join(modules, 'floxide'), { force: true, recursive: true });
  symlinkSync(repo, path.join(modules, 'floxide'), 'dir');
  const logFile = path.join(dir, 'tsserver.log');
  rmSync(logFile, { force: true });
  // Verbose logging: the plugin then logs the time its own part of each answer took.
  const server = new TsServer({ probeLocations: [dir], logFile: plugin ? logFile : undefined });
  const file = path.join(dir, 'flow000.ts');
  const lines = readFileSync(file, 'utf8').split('\n');
  const line = lines.findIndex((l) => l.includes("reason: 'negative'")) + 1;
  const offset = lines[line - 1].indexOf("'negative'") + 2;
  const times: number[] = [];
  try {
    await server.open(file);
    const first = await server.semanticDiagnostics(file);
    if (first.length > 0) throw new Error(`flow000.ts has diagnostics: ${JSON.stringify(first)}`);
    for (let k = 0; k < KEYSTROKES; k++) {
      const at = { line, offset };
      await (k % 2 === 0 ? server.edit(file, at, at, 'x') : server.edit(file, at, { line, offset: offset + 1 }, ''));
      const t0 = performance.now();
      const diags = await server.semanticDiagnostics(file);
      times.push(performance.now() - t0);
      if (diags.length > 0) throw new Error(`unexpected diagnostics after a keystroke: ${JSON.stringify(diags)}`);
    }
  } finally {
    await server.close();
    writeTsconfig(false);
    rmSync(modules, { recursive: true, force: true });
  }
  const logged = plugin ? [...readFileSync(logFile, 'utf8').matchAll(/floxide\/ts-plugin: diagnostics of \S+: \d+ added in ([\d.]+) ms/g)].map((m) => Number(m[1])) : [];
  rmSync(logFile, { force: true });
  if (plugin && logged.length !== KEYSTROKES + 1) throw new Error(`expected ${KEYSTROKES + 1} plugin timings in the tsserver log, found ${logged.length}`);
  return { times, pluginMs: logged.slice(1) };
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error('dist/cli/cli.js is missing: run `npm run build:dist` first');
  generate();
  const tscMs: number[] = [];
  const buildMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    removeGenerated();
    tscMs.push(timed(tsc, ['--noEmit', '-p', 'tsconfig.json']));
    buildMs.push(timed(cli, ['build']));
  }
  const modules = readdirSync(dir).filter((f) => f.endsWith('.floxide.ts')).length;
  if (modules !== FILES) throw new Error(`expected ${FILES} generated modules, found ${modules}`);
  const watch = await watchRebuild();
  timed(cli, ['build']); // the watch run's last edit (restoring flow000.ts) may not have been rebuilt before it stopped
  const bareKeys = (await editorLoop(false)).times;
  const { times: pluginKeys, pluginMs } = await editorLoop(true);
  const kb = median(bareKeys);
  const kp = median(pluginKeys);
  const share = median(pluginMs);
  const t = median(tscMs);
  const b = median(buildMs);
  const w = median(watch.map((x) => x.wallMs));
  const wr = median(watch.map((x) => x.reportedMs));
  const rows: Array<[string, string, string]> = [
    ['tsc --noEmit', `${t.toFixed(0)} ms`, ''],
    ['floxide build (cold)', `${b.toFixed(0)} ms`, `${(b / t).toFixed(2)}x tsc (target <= 3x) ${b / t <= 3 ? 'OK' : 'OVER'}`],
    ['watch rebuild, 1 file (reported)', `${wr.toFixed(0)} ms`, `target < 500 ms ${wr < 500 ? 'OK' : 'OVER'}`],
    ['watch rebuild, 1 file (edit to message)', `${w.toFixed(0)} ms`, ''],
    ['tsserver diagnostics after a keystroke', `${kb.toFixed(0)} ms`, 'without the plugin'],
    ['... with floxide/ts-plugin', `${kp.toFixed(0)} ms`, `target <= 50 ms ${kp <= 50 ? 'OK' : 'OVER'}`],
    ["... of which the plugin's own part", `${share.toFixed(1)} ms`, ''],
  ];
  console.log(`compiler bench: ${FILES} workflow files x 5 nodes, median of ${RUNS} runs (node ${process.version})`);
  for (const [name, value, note] of rows) console.log(`${name.padEnd(42)} ${value.padStart(9)}  ${note}`);
  if (process.argv.includes('--json')) {
    const figure = `${FILES} workflow files x 5 nodes`;
    printRows([
      { figure: `cold floxide build, ${figure}`, ...spread(buildMs), unit: 'ms', bare: t, ratio: t / b, target: '<= 3x tsc --noEmit', pass: b <= 3 * t },
      { figure: '--watch rebuild after a one-file edit (reported)', ...spread(watch.map((x) => x.reportedMs)), unit: 'ms', target: '< 500 ms', pass: wr < 500 },
      { figure: '--watch rebuild, edit to message', ...spread(watch.map((x) => x.wallMs)), unit: 'ms', target: '-' },
      { figure: `tsserver diagnostics after a keystroke, floxide/ts-plugin (bare: without it), median of ${KEYSTROKES}`, ...spread(pluginKeys), unit: 'ms', bare: kb, ratio: kb / kp, target: '<= 50 ms', pass: kp <= 50 },
      { figure: "... of which the plugin's own part (its log)", ...spread(pluginMs), unit: 'ms', target: '-' },
    ]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * `floxide versions prune <file|folder>... (--store <url>... | --no-store)`: drops from versions files the graph
 * versions that no run needs any more (`planPrune`, compiler/versions/prune.ts): per workflow the newest version on
 * record stays, and every version a store given with `--store` still has open runs of or live workers serving;
 * `--no-store` says no store holds runs of these workflows (development) and keeps the newest only. The generated
 * modules list the versions on record (`accepts`, `supersedes`): `floxide build` regenerates them afterwards.
 */
import { writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { commandGroup } from './runs.js';
import type { CliIo, CommandFactory } from './types.js';
import { withHelp } from '../help.js';

interface PruneFlags {
  /** `--store` URLs, false for `--no-store`, undefined for neither. */
  store?: string[] | false;
  dryRun?: boolean;
  json?: boolean;
}

/** Collects repeated `--store` URLs (a `--no-store` before them leaves `false`: that pair is refused in the action). */
const collect = (v: string, all: string[] | false | undefined) => [...(Array.isArray(all) ? all : []), v];


const versionsCommand: CommandFactory = (io: CliIo) => {
  const cmd = commandGroup(io, 'versions', 'manage the graph versions on record (`<file>.floxide.versions.json`, written by `floxide build`)');

  // `--store` and `--no-store` share one value (the last given wins): which of them were given is seen as they parse
  const given = new Set<'--store' | '--no-store'>();
  withHelp(cmd.command('prune'), {
    notes: ['Then run `floxide build`: the generated modules list the versions on record (the versions they accept and supersede). Nothing is written unless it exits 0.'],
    examples: [
      { run: 'floxide versions prune src --store redis://127.0.0.1:6379 --dry-run', note: 'what would be dropped; nothing written' },
      { run: 'floxide versions prune src/flows/orders.floxide.versions.json --store postgres://app@db:5432/prod --store sqlite:runs.db' },
      { run: 'floxide versions prune src --no-store', note: 'development: no store holds runs of these workflows' },
    ],
    exitCodes: {
      0: 'done (also when nothing was dropped)',
      1: 'a store could not be reached or read (nothing written)',
      2: 'bad usage (nothing written): neither --store nor --no-store, or both; a path that does not exist or holds no versions file; a file that is not a versions file; a store URL it cannot use',
    },
  })
    .description(
      'drop the versions that no run needs any more: per workflow the newest on record stays, and every version that a store given with --store has open runs of (running or paused; in a SQLite checkpoint file, failed ones too: they can be resumed) or live workers serving, and the versions those nest. Then run `floxide build`',
    )
    .argument('<paths...>', 'versions files, or folders searched for *.floxide.versions.json (not node_modules, not dot folders)')
    .option('-s, --store <url>', 'a store whose runs count (repeatable): `redis://...`, `postgres://...` or `sqlite:<file>`; this or --no-store is required, not both', collect)
    .option('--no-store', 'no store holds runs of these workflows (development): keep the newest version of each only (instead of --store)')
    .option('--dry-run', 'say what would be dropped; write nothing')
    .option('--json', 'print one JSON object per version: { file, workflow, version, kept, reasons }')
    .on('option:store', () => given.add('--store'))
    .on('option:no-store', () => given.add('--no-store'))
    .action(async (paths: string[], flags: PruneFlags) => {
      const usage = (msg: string) => {
        io.stderr.write(`floxide versions prune: ${msg}\n`);
        io.exitCode = 2;
      };
      if (given.size === 2) {
        return usage('give either --store <url> (the stores whose runs may need these versions) or --no-store (none holds any), not both');
      }
      if (flags.store === undefined) {
        return usage('give the stores whose runs may need these versions (--store <url>, repeatable), or --no-store when none holds any');
      }
      const { findVersionsFiles, readRecord, renderRecord, VersionsFileError } = await import('../../compiler/versions/record.js');
      const { planPrune } = await import('../../compiler/versions/prune.js');
      const files: string[] = [];
      for (const p of paths) {
        const abs = path.resolve(io.cwd, p);
        const st = await stat(abs).catch(() => undefined);
        if (!st) return usage(`${p}: no such file or folder`);
        const found = st.isDirectory() ? await findVersionsFiles(abs, Infinity) : [abs];
        if (found.length === 0) return usage(`${p}: no *.floxide.versions.json in it (floxide build writes them next to the generated modules)`);
        for (const f of found) if (!files.includes(f)) files.push(f);
      }
      const records = new Map<string, import('../../compiler/versions/record.js').VersionsRecord>();
      for (const f of files) {
        try {
          records.set(f, readRecord(f));
        } catch (err) {
          if (!(err instanceof VersionsFileError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
          return usage((err as Error).message);
        }
      }
      const uses = flags.store === false ? new Map<string, string[]>() : await usesIn(io, flags.store);
      if (!uses) return;
      const plan = planPrune(records, (workflow, version) => uses.get(`${workflow}\n${version}`) ?? []);
      const rel = (f: string) => path.relative(io.cwd, f).split(path.sep).join('/') || f;
      const dropped = plan.versions.filter((v) => !v.kept);
      if (flags.json) {
        for (const v of plan.versions) io.stdout.write(`${JSON.stringify({ ...v, file: rel(v.file) })}\n`);
      } else {
        for (const v of plan.versions) {
          io.stdout.write(`${rel(v.file)}: ${v.workflow} ${v.version}: ${v.kept ? `kept (${v.reasons.join('; ')})` : flags.dryRun ? 'would be dropped' : 'dropped'}\n`);
        }
      }
      const changed = [...plan.records].filter(([f, r]) => renderRecord(r) !== renderRecord(records.get(f)!));
      if (!flags.dryRun) for (const [f, r] of changed) writeFileSync(f, renderRecord(r));
      if (!flags.json) {
        io.stdout.write(
          dropped.length === 0
            ? 'no version to drop\n'
            : `${dropped.length} version(s) ${flags.dryRun ? 'would be dropped' : 'dropped'} from ${changed.length} file(s)${flags.dryRun ? '' : ': run `floxide build` to regenerate their modules (the versions they accept and supersede changed)'}\n`,
        );
      }
    });

  return cmd;
};

/**
 * Why each version (`workflow\nversion`) is in use in the stores at `urls`: open runs (a checkpoint file's failed
 * runs count, they can be resumed) and live workers serving it. Undefined, with the error reported, when a store
 * cannot be opened or read.
 */
async function usesIn(io: CliIo, urls: readonly string[]): Promise<Map<string, string[]> | undefined> {
  const { openRunsStore } = await import('../store/open.js');
  const { isDistributed } = await import('../store/runs-store.js');
  const { openRunsByVersion } = await import('./runs.js');
  const { redactUrl } = await import('../../runtime/distributed/connect.js');
  const { FloxideError, InvalidArgumentError } = await import('../../runtime/core/errors.js');
  const uses = new Map<string, string[]>();
  const add = (workflow: string, version: string, why: string) => {
    const k = `${workflow}\n${version}`;
    uses.set(k, [...(uses.get(k) ?? []), why]);
  };
  for (const url of urls) {
    const where = redactUrl(url);
    let store;
    try {
      store = await (io.connect ?? ((u: string) => openRunsStore(u, io.cwd)))(url);
    } catch (err) {
      io.stderr.write(`floxide versions prune: ${(err as Error).message}\n`);
      io.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
      return undefined;
    }
    try {
      for (const row of await openRunsByVersion(store)) {
        const runs = [row.running > 0 ? `${row.running} running` : '', row.paused > 0 ? `${row.paused} paused` : ''].filter(Boolean).join(', ');
        if (runs) add(row.workflow, row.version, `${runs} run(s) in ${where}`);
        if (row.workers.length > 0) add(row.workflow, row.version, `served by live worker(s) ${row.workers.join(', ')} of ${where}`);
      }
      if (!isDistributed(store)) {
        const failed = new Map<string, { workflow: string; version: string; n: number }>();
        for (const r of await store.listRuns({ status: 'failed' })) {
          const f = failed.get(`${r.workflow}\n${r.fingerprint}`) ?? { workflow: r.workflow, version: r.fingerprint, n: 0 };
          failed.set(`${r.workflow}\n${r.fingerprint}`, { ...f, n: f.n + 1 });
        }
        for (const f of failed.values()) add(f.workflow, f.version, `${f.n} failed run(s) in ${where}, which can be resumed`);
      }
    } catch (err) {
      if (!(err instanceof FloxideError)) throw err;
      io.stderr.write(`floxide versions prune: ${where}: ${err.message}\n`);
      io.exitCode = 1;
      return undefined;
    } finally {
      if (!io.connect) await store.close();
    }
  }
  return uses;
}

export default versionsCommand;

/**
 * `floxide runs migrate <runId|--all> --store sqlite:<file> --versions <file> [--to <v>] [--rename old=new]...`:
 * moves checkpointed runs to another graph version on record when that is type-safe (`migrateRun`,
 * compiler/versions/migrate.ts), else lists what blocks them. The input types are compared by the project's type
 * checker (`--project`, loaded only when a node's input type text changed).
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { CliIo } from './types.js';

interface MigrateFlags {
  store: string;
  versions: string;
  to?: string;
  rename: string[];
  all?: boolean;
  dryRun?: boolean;
  project: string;
  json?: boolean;
}

const collect = (v: string, all: string[]) => [...all, v];

/** `old=new` pairs to a rename map, or an error message. */
function parseRenames(pairs: readonly string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(p);
    if (!m) return `--rename ${p}: expected old=new, e.g. --rename draft=compose`;
    out[m[1]!] = m[2]!;
  }
  return out;
}

export function addMigrateCommand(cmd: Command, io: CliIo): void {
  cmd
    .command('migrate')
    .description('move checkpointed runs (sqlite:<file>) to another graph version on record when the compiler says it is type-safe; otherwise list the items that block them')
    .argument('[runId]', 'the run to move (or --all)')
    .requiredOption('-s, --store <url>', 'the checkpoint store, `sqlite:<file>` (distributed stores: not yet)')
    .requiredOption('--versions <file>', "the workflow's versions file, e.g. `src/flows/orders.floxide.versions.json`")
    .option('--to <version>', 'the target version id (default: the newest on record)')
    .option('--rename <old=new>', 'a node renamed between the versions (repeatable), e.g. `--rename draft=compose`', collect, [])
    .option('--all', 'every open (running or failed) run of the store')
    .option('--dry-run', 'judge only; change nothing')
    .option('--project <tsconfig>', 'the project whose type checker compares changed input types', 'tsconfig.json')
    .option('--json', 'print one JSON object per run: { runId, from, to, moved, blocking }')
    .action(async (runId: string | undefined, flags: MigrateFlags) => {
      const usage = (msg: string) => {
        io.stderr.write(`floxide runs migrate: ${msg}\n`);
        io.exitCode = 2;
      };
      if ((runId === undefined) === !flags.all) return usage('give one run id or --all');
      if (!flags.store.startsWith('sqlite:')) return usage(`${flags.store}: only sqlite:<file> stores can be migrated yet (distributed runs drain instead: docs/deploying.md)`);
      const rename = parseRenames(flags.rename);
      if (typeof rename === 'string') return usage(rename);
      const { FloxideError, InvalidArgumentError, MigrationBlockedError } = await import('../../runtime/core/errors.js');
      const { SqliteCheckpointStore } = await import('../../runtime/stores/sqlite.js');
      const { readRecord, VersionsFileError } = await import('../../compiler/versions/record.js');
      const { migrateRun } = await import('../../compiler/versions/migrate.js');
      let record;
      try {
        record = readRecord(path.resolve(io.cwd, flags.versions));
      } catch (err) {
        if (!(err instanceof VersionsFileError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
        return usage(`--versions ${flags.versions}: ${(err as Error).message}`);
      }
      let analyzer: import('../../compiler/analyze/index.js').Analyzer | undefined;
      const { Analyzer } = await import('../../compiler/analyze/index.js');
      const probe = (file: string, pairs: ReadonlyArray<readonly [string, string]>) => {
        if (!analyzer) {
          analyzer = new Analyzer({ cwd: io.cwd, project: flags.project });
          analyzer.analyze();
        }
        return analyzer.probeAssignable(file, pairs);
      };
      const store = new SqliteCheckpointStore(path.resolve(io.cwd, flags.store.slice('sqlite:'.length)), { checkpoints: 'inline' });
      try {
        const ids = runId !== undefined ? [runId] : await store.openRunIds();
        let blocked = 0;
        for (const id of ids) {
          try {
            const plan = await migrateRun(store, id, { record, rename, probe, dryRun: flags.dryRun, ...(flags.to ? { to: flags.to } : {}) });
            const moved = !flags.dryRun && plan.from !== plan.to;
            io.stdout.write(
              flags.json
                ? `${JSON.stringify({ runId: id, from: plan.from, to: plan.to, moved, blocking: [] })}\n`
                : `run ${id}: ${plan.from === plan.to ? `already on ${plan.to}` : `${flags.dryRun ? 'can move' : 'moved'} from ${plan.from} to ${plan.to}`}\n`,
            );
          } catch (err) {
            if (!(err instanceof FloxideError) || err instanceof InvalidArgumentError) throw err;
            blocked++;
            io.stdout.write(flags.json ? `${JSON.stringify({ runId: id, moved: false, error: err.message, blocked: err instanceof MigrationBlockedError })}\n` : `${err.message}\n`);
          }
        }
        if (ids.length === 0) io.stdout.write(flags.json ? '' : 'no open runs\n');
        io.exitCode = blocked > 0 ? 1 : 0;
      } catch (err) {
        if (!(err instanceof FloxideError)) throw err;
        io.stderr.write(`floxide runs migrate: ${err.message}\n`);
        io.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
      } finally {
        await store.close();
      }
    });
}

/**
 * `floxide runs migrate <runId|--all> --store <url> --versions <file> [--to <v>] [--rename old=new]...`: moves open
 * runs to another graph version on record when that is type-safe (`migrateRun`, compiler/versions/migrate.ts), else
 * lists what blocks them. The store is a SQLite checkpoint file (`sqlite:<file>`) or a distributed one (`redis://`,
 * `postgres://`: through `migratableBackend`, where an item leased to an old worker blocks a move that renames).
 * The input types are compared by the project's type checker (`--project`, loaded only when a node's input type text
 * changed).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliIo } from './types.js';
import { eachRun } from '../store/runs-store.js';
import { withHelp } from '../help.js';
import { assertRunId } from '../../runtime/core/ids.js';

interface MigrateFlags {
  store: string;
  versions: string;
  to?: string;
  rename: string[];
  all?: boolean;
  dryRun?: boolean;
  project?: string;
  json?: boolean;
}

const collect = (v: string, all: string[]) => [...all, v];

/** `old=new` pairs to a rename map, or an error message. */
function parseRenames(pairs: readonly string[]): Record<string, string> | string {
  // (no prototype: `out['__proto__'] = 'x'` on a plain object sets no key, and `--rename __proto__=x` was dropped unchecked)
  const out = Object.create(null) as Record<string, string>;
  for (const p of pairs) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(p);
    if (!m) return `--rename ${p}: expected old=new, e.g. --rename draft=compose`;
    const was = Object.hasOwn(out, m[1]!) ? out[m[1]!] : undefined;
    if (was !== undefined && was !== m[2]) return `--rename ${p}: node ${m[1]} is already renamed to ${was} (--rename ${m[1]}=${was})`;
    out[m[1]!] = m[2]!;
  }
  return out;
}

export function addMigrateCommand(cmd: Command, io: CliIo): void {
  withHelp(cmd.command('migrate'), {
    examples: [
      { run: 'floxide runs migrate order-42 --store sqlite:runs.db --versions src/flows/orders.floxide.versions.json' },
      { run: 'floxide runs migrate --all --store redis://127.0.0.1:6379 --versions src/flows/orders.floxide.versions.json --rename draft=compose --dry-run', note: 'judge every open run, move none' },
      { run: 'floxide runs migrate --all --store postgres://app@db:5432/prod --versions src/flows/orders.floxide.versions.json --to 9bc1e0f4d2a83317' },
    ],
    exitCodes: {
      0: 'every run moved, or already was on the target version (--dry-run: every run could move)',
      1: 'a run was blocked (its blocking items are listed), unknown, finished, on a version the file does not record, or not fitting a rename (the others are still judged and moved), or the store cannot be reached',
      2: 'bad usage, refused before any run is judged: no run id and no --all, a malformed run id or --rename, one node renamed to two, a --to version or a --rename node that no version on record has, an unreadable --versions file, a malformed store URL',
    },
  })
    .description('move open runs (sqlite:<file>, redis://, postgres://) to another graph version on record when the compiler says it is type-safe; otherwise list the items that block them')
    .argument('[runId]', 'the run to move (or --all)')
    .requiredOption('-s, --store <url>', 'the store: `sqlite:<file>` (checkpoints), `redis://...` or `postgres://...` (distributed runs)')
    .requiredOption('--versions <file>', "the workflow's versions file, e.g. `src/flows/orders.floxide.versions.json`")
    .option('--to <version>', 'the target version id (default: the newest on record)')
    .option('--rename <old=new>', 'a node renamed between the versions (repeatable), e.g. `--rename draft=compose`', collect, [])
    .option('--all', "every open run of the store (sqlite: running or failed; distributed: running or paused, of the versions file's workflows)")
    .option('--dry-run', 'judge only; change nothing')
    .option('--project <tsconfig>', 'the project whose type checker compares changed input types: its tsconfig.json or that folder (default: the nearest tsconfig.json from the current folder up)')
    .option('--json', 'print one JSON object per run: { runId, from, to, moved, blocking }')
    .action(async (runId: string | undefined, flags: MigrateFlags) => {
      const usage = (msg: string) => {
        io.stderr.write(`floxide runs migrate: ${msg}\n`);
        io.exitCode = 2;
      };
      if ((runId === undefined) === !flags.all) return usage('give one run id or --all');
      const rename = parseRenames(flags.rename);
      if (typeof rename === 'string') return usage(rename);
      const { FloxideError, InvalidArgumentError, MigrationBlockedError } = await import('../../runtime/core/errors.js');
      // (a run id no store can hold is what the command was given, not one run's answer)
      try {
        if (runId !== undefined) assertRunId(runId);
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err;
        return usage(err.message);
      }
      const { readRecord, VersionsFileError } = await import('../../compiler/versions/record.js');
      const { checkRenamesOnRecord, migrateRun } = await import('../../compiler/versions/migrate.js');
      let record;
      // (a missing file is no empty record here: a misspelt path must not answer "no runs to move")
      if (!existsSync(path.resolve(io.cwd, flags.versions))) return usage(`--versions ${flags.versions}: no such file (floxide build writes <file>.floxide.versions.json next to the generated module)`);
      try {
        record = readRecord(path.resolve(io.cwd, flags.versions));
      } catch (err) {
        if (!(err instanceof VersionsFileError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
        return usage(`--versions ${flags.versions}: ${(err as Error).message}`);
      }
      // bad usage is refused before any run is moved; what is wrong for one run only is that run's answer
      try {
        checkRenamesOnRecord(record, rename, flags.to);
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err;
        return usage(err.message);
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
      let target: MigrationTarget;
      try {
        target = await openTarget(io.cwd, flags.store, Object.keys(record.workflows));
      } catch (err) {
        if (!(err instanceof FloxideError)) throw err;
        if (err instanceof InvalidArgumentError) return usage(err.message);
        io.stderr.write(`floxide runs migrate: ${err.message}\n`);
        io.exitCode = 1;
        return;
      }
      const store = target.store;
      try {
        const ids = runId !== undefined ? [runId] : await target.openRunIds();
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
            // (a run on a version the file does not record, a rename its version does not have: that run's answer)
            if (!(err instanceof FloxideError)) throw err;
            blocked++;
            const blocking = err instanceof MigrationBlockedError ? err.blocking : [];
            // (the store's errors name the run; the record's do not)
            const message = err instanceof InvalidArgumentError ? `run ${id}: ${err.message}` : err.message;
            // (an answer in JSON is data, on stdout; as text it is an error, on stderr like every other)
            if (flags.json) io.stdout.write(`${JSON.stringify({ runId: id, moved: false, error: message, blocked: err instanceof MigrationBlockedError, blocking })}\n`);
            else io.stderr.write(`floxide runs migrate: ${message}\n`);
          }
        }
        if (ids.length === 0) io.stdout.write(flags.json ? '' : 'no open runs\n');
        io.exitCode = blocked > 0 ? 1 : 0;
      } catch (err) {
        if (!(err instanceof FloxideError)) throw err;
        io.stderr.write(`floxide runs migrate: ${err.message}\n`);
        io.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
      } finally {
        await target.close();
      }
    });
}

/** The store a migration works on: what `migrateRun` reads and moves, the open runs, and how to close it. */
interface MigrationTarget {
  readonly store: import('../../compiler/versions/migrate.js').MigratableStore;
  openRunIds(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Opens `--store`: a SQLite checkpoint file, or a distributed backend that can move runs (`supportsMigration`).
 * Throws a `FloxideError` (usage) for a URL it cannot open that way.
 */
async function openTarget(cwd: string, url: string, workflows: readonly string[]): Promise<MigrationTarget> {
  const { sqliteFileOf } = await import('../store/open.js');
  const file = sqliteFileOf(url, cwd);
  if (file !== undefined) {
    const { openCheckpointFile } = await import('../store/sqlite-runs.js');
    const store = openCheckpointFile(file);
    return { store, openRunIds: () => store.openRunIds(), close: () => store.close() };
  }
  const { connectBackend } = await import('../../runtime/distributed/connect.js');
  const { supportsMigration } = await import('../../runtime/distributed/contracts.js');
  const { migratableBackend } = await import('../../runtime/distributed/migratable.js');
  const { InvalidArgumentError } = await import('../../runtime/core/errors.js');
  const backend = await connectBackend(url);
  if (!supportsMigration(backend)) {
    await backend.close();
    throw new InvalidArgumentError(`${url}: the ${backend.kind} backend cannot move runs between versions`);
  }
  return {
    store: migratableBackend(backend),
    // oldest first, as the SQLite file lists them
    openRunIds: async () => {
      // ids and creation times only, read a page at a time (a store may hold 100,000 open runs)
      const runs: Array<{ createdAt: number; runId: string }> = [];
      for (const workflow of workflows) {
        for (const status of ['running', 'paused'] as const) for await (const { createdAt, runId } of eachRun(backend, { workflow, status })) runs.push({ createdAt, runId });
      }
      return runs.sort((a, b) => a.createdAt - b.createdAt || (a.runId < b.runId ? -1 : 1)).map((r) => r.runId);
    },
    close: () => backend.close(),
  };
}

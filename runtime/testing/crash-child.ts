/**
 * A crash-test child process (runtime/testing/crash-process.ts): imports the test's module, runs one run of a
 * scenario on the SQLite file in the scenario's folder, and writes what became of it there. At its crash point it
 * writes the commits it passed and kills itself with SIGKILL: nothing after that point runs, as in a real crash.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contextCodecOf } from '../context/codec.js';
import { SqliteCheckpointStore } from '../stores/sqlite.js';
import { toJson } from '../core/json.js';
import { FloxideError, serializeError } from '../core/errors.js';
import { LocalScenario } from './crash.js';
import type { CrashTest } from './crash-test.js';
import { CHILD_FILES, type CrashChildArgs, type CrashChildResult } from './crash-process.js';

const args = JSON.parse(process.argv[2] ?? '{}') as CrashChildArgs;
// the engine's tagged JSON: an output holding a bigint, a Date, a Map or NaN reaches the parent as what it was
const write = (file: string, value: unknown) => writeFileSync(join(args.dir, file), toJson(value, `the crash test's ${file}`));

try {
  // (a module that does not load is the test's mistake, said as such: no run was started)
  const mod = (await import(args.module).catch((err: unknown) => {
    throw new FloxideError('FLOXIDE_CRASH_TEST', `crashAtEveryStep: cannot import the crash test's module ${args.module}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  })) as Record<string, unknown>;
  const test = mod[args.export] as CrashTest<unknown, unknown, unknown, unknown, Record<string, unknown>> | undefined;
  if (typeof test !== 'object' || test === null || typeof test.workflow !== 'function') {
    throw new FloxideError('FLOXIDE_CRASH_TEST', `crashAtEveryStep: ${args.module} has no export "${args.export}" that is a crash test (an object with a workflow function)`);
  }
  const world = (test.world ?? (() => undefined))({ dir: args.dir });
  const codec = contextCodecOf(test.workflow(world).def);
  const die = (seen: readonly { itemId: string }[]) => {
    write(CHILD_FILES.crash, seen);
    process.kill(process.pid, 'SIGKILL');
  };
  const runs = new LocalScenario(test, world, new SqliteCheckpointStore(join(args.dir, CHILD_FILES.store)), args.runId, die);
  try {
    let result: CrashChildResult;
    if (args.mode === 'complete') {
      const r = await runs.complete();
      result = { completed: true, output: r.output, context: codec.serialize(r.context), lateSignals: r.lateSignals, commits: r.commits, nodes: r.nodes, signalErrors: runs.signalErrors() };
    } else if (args.mode === 'resume') {
      const r = await runs.resume(true);
      result = { completed: true, output: r.output, context: codec.serialize(r.context), lateSignals: r.lateSignals, signalErrors: runs.signalErrors() };
    } else {
      const outcome = await runs.crash(args.at!);
      if (outcome.type === 'failed') throw new Error(outcome.message);
      result = { completed: true, signalErrors: runs.signalErrors() };
    }
    write(CHILD_FILES.result, result);
  } finally {
    await runs.close();
  }
} catch (err) {
  // (the error as data, its name and code with it: the parent reports the kit's findings as they are, not as a failure
  // of the run, and revives any other error as the class it was, as a run in its own process would report it)
  write(CHILD_FILES.error, serializeError(err));
  process.exitCode = 1;
}

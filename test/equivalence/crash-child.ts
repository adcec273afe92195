// The crash child of the equivalence suite (test/equivalence/crash.ts): runs every case of the plan (argv[2], a
// JSON file) with `runWithCheckpoint` on one SQLite file, each until its own kill point (before or after its n-th
// commit), where the run stops for good. It prints one JSON line per committed step, one when a run reaches its
// kill point (`frozen`) or ends anyway (`finished`), and `stopped` once every run did; the parent then SIGKILLs it.
import { readFileSync } from 'node:fs';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { caseNamed } from './cases.js';
import { runUntilFrozen } from './modes.js';
import type { CrashPlan } from './crash.js';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8')) as CrashPlan;
const store = new SqliteCheckpointStore(plan.db);
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

let open = plan.kills.length;
const stopped = () => {
  if (--open === 0) say({ kind: 'stopped' });
};
for (const k of plan.kills) {
  let frozen = false;
  const freeze = {
    commit: k.commit,
    phase: k.phase,
    onFreeze: () => {
      frozen = true;
      say({ kind: 'frozen', case: k.case });
      stopped();
    },
  };
  runUntilFrozen(caseNamed(k.case), store, freeze, (record) => say({ kind: 'record', case: k.case, record })).then(
    () => undefined,
    (err: unknown) => err,
  ).then((err) => {
    if (frozen) return;
    say({ kind: 'finished', case: k.case, error: err === undefined ? undefined : String(err) });
    stopped();
  });
}
if (open === 0) say({ kind: 'stopped' });
// Keep the process alive until the parent kills it (frozen runs wait on promises that never settle).
setInterval(() => undefined, 60_000);

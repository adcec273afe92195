/**
 * Postgres server cost per operation of the distributed hot path, measured in isolation (one connection, no
 * concurrency): createRun (concurrent calls, so coalesced like the distributed bench's), claim (64 per call),
 * readContext and the batched commit (64 per call) of each step of N runs of the 5-step chain. Each phase runs on a
 * fresh connection, so on a fresh server process. Per phase: that process's CPU (user + system from
 * `/proc/<pid>/stat`, so the server must run on this machine; 10 ms resolution) and WAL bytes (`pg_current_wal_lsn()`
 * deltas: exact on a private server, other sessions' WAL included on a shared one).
 *
 * With `--callgrind <prefix>`, for a private server started under
 * `valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=<prefix>.%p`, each phase also reports the
 * instructions its server process executed (read from the profile written when the process exits; the connection's
 * start and end and the first call's plpgsql compilation included): a figure the machine's load does not move.
 *
 *   tsx bench/distributed-postgres-micro.ts [--runs 2000] [--postgres postgres://postgres@127.0.0.1:5432/test]
 *     [--callgrind /tmp/pgvg/cg] [--events off] [--handoff]
 *
 * `--events off`: the backend's `events: false` (step history kept, no event rows), to see what the event stream costs.
 * `--handoff`: each commit of steps 1-4 asks for its successor's hand-off (as workers do): steps 2-5 are then leased
 * by the commits before them, with no claim and no readContext, the distributed bench's path.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { PostgresBackend } from '../runtime/distributed/postgres/backend.js';
import type { LeasedItem, StepCommit } from '../runtime/distributed/contracts.js';
import { ChainWorkflowDef } from '../test/fixtures/distributed/flows.floxide.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '2000'));
const URL = arg('postgres', 'postgres://postgres@127.0.0.1:5432/test');
const CALLGRIND = arg('callgrind', '');
const EVENTS = arg('events', 'on') !== 'off';
const HANDOFF = process.argv.includes('--handoff');
const BATCH = 64;
const STEPS = 5;
const schema = `flxmicro_${Date.now().toString(36)}`;
const admin = new pg.Client({ connectionString: URL });
await admin.connect();
await (await PostgresBackend.connect({ connectionString: URL, schema })).close();

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
async function walBytes(): Promise<number> {
  const { rows } = await admin.query<{ b: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS b");
  return Number(rows[0]!.b);
}
/** Instructions of a server process that exited under callgrind (its profile's total), or NaN. */
async function instructions(pid: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(`${CALLGRIND}.${pid}`, 'utf8'))?.[1];
      if (total !== undefined) return Number(total);
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return NaN;
}

const sums = { cpu: 0, wal: 0, ir: 0 };
async function phase(name: string, n: number, fn: (b: PostgresBackend) => Promise<void>) {
  const backend = await PostgresBackend.connect({ connectionString: URL, schema, migrate: false, events: EVENTS, pool: { max: 1, application_name: schema } });
  await backend.getRun('warm-up');
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [schema]);
  const pid = rows[0]!.pid;
  const c0 = cpuSeconds(pid);
  const w0 = await walBytes();
  const t = process.hrtime.bigint();
  await fn(backend);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const wal = (await walBytes()) - w0;
  const cpu = cpuSeconds(pid) - c0;
  await backend.close();
  const ir = CALLGRIND ? await instructions(pid) : NaN;
  if (!name.startsWith('createRun')) {
    sums.cpu += cpu;
    sums.wal += wal;
    sums.ir += ir;
  }
  const per = (x: number) => (x / n).toFixed(0).padStart(6);
  console.log(
    `${name.padEnd(36)} n=${String(n).padStart(6)}  server CPU ${per(cpu * 1e6)} us/op  WAL ${per(wal)} B/op  wall ${ms.toFixed(0).padStart(6)} ms` +
      (CALLGRIND ? `  ${(ir / n / 1000).toFixed(1).padStart(7)}k instr/op` : ''),
  );
}

await phase('createRun (coalesced)', RUNS, async (b) => {
  await Promise.all(
    Array.from({ length: RUNS }, (_, i) =>
      b.createRun({ runId: `r${i}`, workflow: ChainWorkflowDef.name, fingerprint: ChainWorkflowDef.fingerprint, input: 0, context: { count: 0 }, firstItem: { node: 's1', id: '0', input: 0 } }),
    ),
  );
});
let handedOff: LeasedItem[] = [];
for (let s = 1; s <= STEPS; s++) {
  let leases: LeasedItem[] = [];
  if (HANDOFF && s > 1) {
    if (handedOff.length !== RUNS) throw new Error(`step ${s}: ${handedOff.length} hand-offs for ${RUNS} runs`);
    leases = handedOff;
    handedOff = [];
  } else {
    await phase(`claim step ${s} (${BATCH}/claim)`, RUNS, async (b) => {
      for (;;) {
        const got = await b.claim('w1', BATCH, 30_000, { workflow: ChainWorkflowDef.name });
        if (got.length === 0) break;
        leases.push(...got);
      }
    });
  }
  if (s >= 3 && !HANDOFF) await phase(`readContext step ${s}`, RUNS, async (b) => void (await Promise.all(leases.map((l) => b.readContext(l.runId, s - 2)))));
  await phase(`commit step ${s} (${BATCH}/batch${HANDOFF && s < STEPS ? ', hand-off' : ''})`, RUNS, async (b) => {
    for (let i = 0; i < leases.length; i += BATCH) {
      const batch: StepCommit[] = leases.slice(i, i + BATCH).map((l) => ({
        runId: l.runId,
        itemId: l.item.id,
        leaseToken: l.leaseToken,
        outcome:
          s < STEPS
            ? { type: 'continue', items: [{ node: `s${s + 1}`, id: `${s}`, input: s }], arrivals: [], delta: { count: 1 } }
            : { type: 'terminal', output: STEPS, items: [], arrivals: [], delta: { count: 1 } },
        ...(HANDOFF && s < STEPS ? { handoff: { workerId: 'w1', leaseMs: 30_000 } } : {}),
      }));
      const res = await b.commitSteps(batch);
      const bad = res.find((r) => !r.ok || r.result.status !== 'applied');
      if (bad) throw new Error(`commit step ${s}: ${JSON.stringify(bad)}`);
      for (const r of res) if (r.ok && r.result.status === 'applied' && r.result.next) handedOff.push(r.result.next);
    }
  });
}
const steps = RUNS * STEPS;
console.log(
  `claims, readContexts and commits: server CPU ${((sums.cpu * 1e6) / steps).toFixed(0)} us/step, WAL ${(sums.wal / steps).toFixed(0)} B/step` +
    (CALLGRIND ? `, ${(sums.ir / steps / 1000).toFixed(1)}k instructions/step` : ''),
);
await admin.query(`DROP SCHEMA ${schema} CASCADE`);
await admin.end();

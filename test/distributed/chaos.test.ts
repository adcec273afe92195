/**
 * Chaos test: a mixed production load (test/fixtures/distributed/mixed.ts: fan-out and join, durable retries with
 * backoff, a signal wait that times out into a fallback, a durable sleep, a nested workflow) on the real Redis and
 * Postgres servers, with signals sent before, during and after the waits (some twice under one idempotency key),
 * cancels, pauses and resumes issued while the runs are in flight and a schedule ticking every 2 s, served by
 * `floxide worker` child processes and one in-process worker, while a child is SIGKILLed and restarted and the
 * store kills the connections. Then, from the store and from the nodes' side effects: every run reached the state
 * it should with the output it should, each committed attempt's side effect happened (and the context counter
 * counts each committed step once), every signal was applied once, every tick started one run, the step history and
 * the event stream (read from a cursor across the killed connections) agree, and no item is left held.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindWorkflow, Orchestrator, scheduledRunOf, supportsObservation, Worker, type EventEnvelope, type StepRecord } from 'floxide';
import { MixCtx, MixedWorkflow, type Effect } from '../fixtures/distributed/mixed.js';
import { MixedWorkflowDef } from '../fixtures/distributed/mixed.floxide.js';
import { PG_URL, REAL_BACKENDS, REDIS_URL, openTestBackend, sleep, spawnWorker, until, type BackendName, type ChildWorker, type TestBackend } from './helpers.js';

const WIDTH = 3;
const LEASE_MS = 1_000;
const KINDS = ['before', 'during', 'twice', 'timeout', 'cancel', 'pause', 'after', 'rekey', 'pausedTimeout', 'cancelPaused', 'cancelParked', 'deadline', 'pausedDeadline'] as const;
/** Runs driven (default: one of each kind) and fault rounds; a longer soak by hand: FLOXIDE_CHAOS_RUNS=44 FLOXIDE_CHAOS_FAULTS=12. */
const RUNS = Number(process.env.FLOXIDE_CHAOS_RUNS ?? KINDS.length);
const FAULT_ROUNDS = Number(process.env.FLOXIDE_CHAOS_FAULTS ?? 4);
type Kind = (typeof KINDS)[number];
/** The nodes whose step writes a side effect and adds 1 to the counter (the nested `inner` step adds 2). */
const EFFECT_NODES = new Set(['intake', 'work', 'gather', 'approve', 'escalate', 'finish']);
/** A signal's answer that may have delivered it (see `send`). */
const sent = (answer: string) => answer === 'delivered' || answer === 'ambiguous';
const SUM = Array.from({ length: WIDTH }, (_, i) => 2 * i).reduce((a, b) => a + b, 0);

/** The local ports of the TCP connections processes `pids` hold to `port` (from `ss`). */
function portsOf(pids: readonly number[], port: number): number[] {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `dport = :${port}`], { encoding: 'utf8' });
  const ports: number[] = [];
  for (const line of out.split('\n')) {
    const pid = /pid=(\d+)/.exec(line)?.[1];
    const local = /\s(?:127\.0\.0\.1|\[::1\]|\[::ffff:127\.0\.0\.1\]):(\d+)\s/.exec(line)?.[1];
    if (pid && local && pids.includes(Number(pid))) ports.push(Number(local));
  }
  return ports;
}

/**
 * Server-side kill (Redis CLIENT KILL, pg_terminate_backend) of the store connections of the child worker processes
 * `pids` and of the event subscriptions on the store at `storeUrl` (named `floxide-events:<key prefix or schema>...`).
 */
async function killConnectionsOf(name: BackendName, storeUrl: string, pids: readonly number[]): Promise<number> {
  const scope = new URL(storeUrl).searchParams.get(name === 'redis' ? 'prefix' : 'schema')!;
  if (name === 'redis') {
    const ports = portsOf(pids, Number(new URL(REDIS_URL).port || 6379));
    const { createClient } = await import('@redis/client');
    const admin = createClient({ url: REDIS_URL });
    await admin.connect();
    try {
      let n = 0;
      for (const p of ports) n += Number(await admin.sendCommand(['CLIENT', 'KILL', 'ADDR', `127.0.0.1:${p}`, 'SKIPME', 'yes']).catch(() => 0));
      const list = String(await admin.sendCommand(['CLIENT', 'LIST']));
      for (const line of list.split('\n').filter((l) => l.includes(` name=floxide-events:${scope}`))) {
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        if (id) n += Number(await admin.sendCommand(['CLIENT', 'KILL', 'ID', id]).then(() => 1, () => 0));
      }
      return n;
    } finally {
      await admin.close();
    }
  }
  const ports = portsOf(pids, Number(new URL(PG_URL).port || 5432));
  const pg = (await import('pg')).default;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    const r = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where (client_port = any($1::int[]) or application_name = $2) and pid <> pg_backend_pid()', [ports, `floxide-events:${scope}`]);
    return r.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

/** Retries `op` while the store's connections come back (the orchestrator shares the killed connections). */
async function retrying<T>(op: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await op();
    } catch (err) {
      if ((err as Error).name !== 'StoreError' || i > 200) throw err;
      await sleep(25);
    }
  }
}

describe.each(REAL_BACKENDS)('a mixed load under faults (%s)', (name) => {
  let tb: TestBackend;
  let dir: string;
  beforeAll(async () => {
    tb = await openTestBackend(name, 'chaos');
    dir = mkdtempSync(join(tmpdir(), 'floxide-chaos-'));
  });
  afterAll(async () => {
    await tb?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`every run ends as it should, every effect and signal once (${RUNS} runs)`, { timeout: Math.max(150_000, RUNS * 8_000) }, async () => {
    const backend = tb.backend;
    if (!supportsObservation(backend)) throw new Error('the backend keeps no history');
    const localEffects: Effect[] = [];
    const wf = bindWorkflow(MixedWorkflowDef, new MixedWorkflow((e) => localEffects.push(e), { failRate: 0.2, maxDelayMs: 30 }));
    const orch = new Orchestrator(backend, wf);

    // The event stream, read from a cursor: a subscription the killed connections end is taken up after its last one.
    const events: EventEnvelope[] = [];
    const stopEvents = new AbortController();
    let resubscribed = 0;
    const reading = (async () => {
      let after: string | undefined;
      while (!stopEvents.signal.aborted) {
        try {
          for await (const env of backend.subscribe({ after, signal: stopEvents.signal })) {
            events.push(env);
            after = env.cursor;
          }
        } catch (err) {
          if (stopEvents.signal.aborted) break;
          if ((err as Error).name !== 'StoreError') throw err;
          resubscribed++;
          await sleep(50);
        }
      }
    })();

    const childArgs = ['--concurrency', '4', '--lease-ms', String(LEASE_MS)];
    const childEnv = { FLOXIDE_TEST_EFFECTS_DIR: dir, FLOXIDE_TEST_FAIL_RATE: '0.2', FLOXIDE_TEST_MAX_DELAY_MS: '30' };
    const spawnChild = () => spawnWorker(tb.storeUrl, childArgs, childEnv, 'test/fixtures/distributed/mixed-worker.ts');
    const children: ChildWorker[] = [spawnChild(), spawnChild()];
    const killedPids = new Set<number>();
    await Promise.all(children.map((c) => c.ready));
    const local = new Worker(backend, wf.def, wf.instance, { concurrency: 4, leaseMs: LEASE_MS, heartbeatMs: 150, idleMinMs: 5, idleMaxMs: 50 });
    await local.start();

    const scheduleId = `chaos-${name}`;
    await orch.schedule({ id: scheduleId, cron: '*/2 * * * * *', input: { width: WIDTH }, catchUp: 'all' });

    const plans: Array<{ runId: string; kind: Kind; deliveries: string[]; confirms: string[]; lateSignal?: string }> = [];
    const parkedOn = async (runId: string) => (await backend.itemStates(runId)).some((s) => s.node === 'approval' && s.status === 'parked');
    const drive = async (i: number) => {
      const kind = KINDS[i % KINDS.length]!;
      // 'deadline': the run's deadline comes before its wait's timeout; 'pausedDeadline': while it is paused
      const deadline = kind === 'deadline' || kind === 'pausedDeadline' ? { timeoutMs: 1_500 } : {};
      const runId = await retrying(() => orch.startRun(new MixCtx(), { width: WIDTH }, { runId: `chaos-${i}`, ...deadline }));
      const plan = { runId, kind, deliveries: [] as string[], confirms: [] as string[], lateSignal: undefined as string | undefined };
      plans.push(plan);
      // Every signal has a key, so a send retried after a lost reply answers `duplicate` for the one it sent: the
      // store's own count (its signal.received events) says whether it was; a run that finished first (a wait timed
      // out on a slow machine) answers `finished`.
      const send = async (key: string, name: 'approval' | 'inner.confirm' = 'approval') => {
        for (let n = 0, retried = false; ; n++) {
          try {
            const r = await orch.signal(runId, name, { by: `${name === 'approval' ? 'b' : 'c'}${i}` }, { key });
            // a retried send that answers `duplicate` may have delivered it before its reply was lost
            return void (name === 'approval' ? plan.deliveries : plan.confirms).push(retried && r === 'duplicate' ? 'ambiguous' : r);
          } catch (err) {
            if ((err as Error).name === 'RunStateError') return void (name === 'approval' ? plan.deliveries : plan.confirms).push('finished');
            if ((err as Error).name !== 'StoreError' || n > 200) throw err;
            retried = true;
            await sleep(25);
          }
        }
      };
      switch (kind) {
        case 'before':
          // both before their waits: the nested run's signal waits in the mailbox until the nested wait parks
          await send(`c${i}`, 'inner.confirm');
          await send(`k${i}`);
          break;
        case 'during':
          await until(() => retrying(() => parkedOn(runId)), 60_000, `run ${runId} to wait`);
          await send(`k${i}`);
          // the nested run's wait parks its outer item (a parked `inner` item waiting for `inner.confirm`)
          await until(async () => (await retrying(() => backend.itemStates(runId))).some((s) => s.node === 'inner' && s.status === 'parked'), 60_000, `run ${runId}'s nested wait`);
          await send(`c${i}`, 'inner.confirm');
          break;
        case 'twice':
          await sleep(Math.random() * 400);
          await Promise.all([send(`k${i}`), send(`k${i}`)]);
          break;
        case 'cancel':
          await sleep(Math.random() * 1_500);
          await retrying(() => orch.cancel(runId, 'chaos'));
          break;
        case 'pause':
          await sleep(Math.random() * 500);
          await retrying(() => orch.pause(runId));
          await send(`k${i}`);
          await sleep(400);
          await retrying(() => orch.resume(runId));
          break;
        case 'rekey':
          // the same key again once the wait took the first: still a duplicate
          await send(`k${i}`);
          await until(async () => (await retrying(() => backend.itemStates(runId))).some((s) => s.node === 'approve'), 60_000, `run ${runId} to take its signal`);
          await send(`k${i}`);
          break;
        case 'pausedTimeout':
          await until(() => retrying(() => parkedOn(runId)), 60_000, `run ${runId} to wait`);
          await retrying(() => orch.pause(runId));
          await sleep(3_000);
          await retrying(() => orch.resume(runId));
          break;
        case 'cancelPaused':
          await sleep(Math.random() * 500);
          await retrying(() => orch.pause(runId));
          await sleep(200);
          await retrying(() => orch.cancel(runId, 'chaos'));
          break;
        case 'pausedDeadline':
          await sleep(Math.random() * 500);
          // (a machine slow enough to reach the deadline first finds the run failed already: the same end)
          await retrying(() => orch.pause(runId)).catch((err: Error) => {
            if (err.name !== 'RunStateError') throw err;
          });
          break;
        case 'cancelParked':
          await until(() => retrying(() => parkedOn(runId)), 60_000, `run ${runId} to wait`);
          await retrying(() => orch.cancel(runId, 'chaos'));
          break;
        case 'after': {
          await retrying(() => orch.waitForCompletion(runId, { timeoutMs: 90_000, pollMs: 50 }));
          try {
            await retrying(() => orch.signal(runId, 'approval', { by: `late${i}` }));
            plan.lateSignal = 'accepted';
          } catch (err) {
            plan.lateSignal = (err as Error).name;
          }
          break;
        }
        default:
          break;
      }
    };

    // Faults while the runs are driven: SIGKILL of a child (restarted), killed store connections.
    let killedConns = 0;
    const faults = (async () => {
      for (let round = 0; round < FAULT_ROUNDS; round++) {
        await sleep(300 + Math.random() * 700);
        killedConns += await tb.killConnections();
        killedConns += await killConnectionsOf(name, tb.storeUrl, children.map((c) => c.proc.pid!));
        if (round % 2 === 0) {
          const victim = children.shift()!;
          killedPids.add(victim.proc.pid!);
          victim.proc.kill('SIGKILL');
          await victim.exit;
          const next = spawnChild();
          children.push(next);
          await next.ready;
        }
      }
    })();

    try {
      await Promise.all([...Array.from({ length: RUNS }, (_, i) => sleep(i * 100).then(() => drive(i))), faults]);
      for (const plan of plans) await retrying(() => orch.waitForCompletion(plan.runId, { timeoutMs: 90_000, pollMs: 50 }));
      await retrying(() => orch.pauseSchedule(scheduleId));
      const scheduled = (await retrying(() => orch.listRuns())).filter((r) => scheduledRunOf(r.runId)?.schedule === scheduleId);
      for (const r of scheduled) await retrying(() => orch.waitForCompletion(r.runId, { timeoutMs: 90_000, pollMs: 50 }));

      // ---- every run's end
      for (const plan of plans) {
        const run = (await backend.getRun(plan.runId))!;
        const why = `${plan.runId} (${plan.kind}): ${JSON.stringify(run.error)}`;
        if (plan.kind.startsWith('cancel')) {
          expect(run.status, why).toBe('cancelled');
          continue;
        }
        if (plan.kind === 'deadline' || plan.kind === 'pausedDeadline') {
          expect(run.status, why).toBe('failed');
          expect(run.error?.name, why).toBe('DeadlineExceededError');
          continue;
        }
        expect(run.status, why).toBe('completed');
        // 'during' sends once the wait parked: only a machine too slow to send within the wait's 2.5 s misses it
        const approved = !['timeout', 'after', 'pausedTimeout'].includes(plan.kind) && !(plan.kind === 'during' && plan.deliveries[0] === 'finished');
        // the nested wait: confirmed when its signal came, else its fallback adds a second '!' to the first step's
        const confirmed = plan.confirms.some(sent);
        expect(run.output, why).toBe(confirmed ? `confirmed by c${plan.runId.slice(6)}` : approved ? `approved by b${plan.runId.slice(6)}!!` : `escalated ${SUM}!!`);
        if (plan.kind === 'twice' || plan.kind === 'rekey') {
          // one key sent twice: one delivery at most, the other a duplicate
          expect(plan.deliveries.filter((d) => d === 'delivered').length, why).toBeLessThanOrEqual(1);
          expect(plan.deliveries.filter(sent).length, why).toBeGreaterThanOrEqual(1);
          expect(plan.deliveries.every((d) => d !== 'finished'), why).toBe(true);
        } else if (approved) expect(plan.deliveries.map((d) => (sent(d) ? 'sent' : d)), why).toEqual(['sent']);
        else if (plan.kind === 'during') expect(plan.deliveries, why).toEqual(['finished']);
        if (plan.kind === 'after') expect(plan.lateSignal, why).toBe('RunStateError');
        if (approved) expect(await orch.pendingSignals(plan.runId), why).toEqual([]);
      }

      // ---- one run per tick
      const ticks = scheduled.map((r) => scheduledRunOf(r.runId)!.tick);
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(ticks.length).toBeGreaterThan(0);
      // catch-up 'all': no tick (every 2 s) between the first and the last went without its run
      const times = [...ticks].sort((a, b) => a - b);
      expect(times.length, `ticks ${times.map((t) => new Date(t).toISOString()).join(' ')}`).toBe((times.at(-1)! - times[0]!) / 2_000 + 1);
      for (const r of scheduled) {
        const run = (await backend.getRun(r.runId))!;
        expect(run.status, `${r.runId}: ${JSON.stringify(run.error)}`).toBe('completed');
        expect(run.output).toBe(`escalated ${SUM}!!`);
      }

      // ---- effects, counter, history, events, items
      await sleep(500); // the subscription catches up with the last commits
      stopEvents.abort();
      await reading;
      const effects = [...localEffects];
      for (const f of readdirSync(dir)) for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line) effects.push(JSON.parse(line) as Effect);
      const all = [...plans.map((p) => p.runId), ...scheduled.map((r) => r.runId)];
      // Effects beyond one per committed attempt: at-least-once execution of attempts whose worker died or lost its lease.
      const seenKeys = new Map<string, Array<number | undefined>>();
      for (const e of effects) {
        const k = `${e.run} ${e.node} ${e.item}#${e.attempt}`;
        seenKeys.set(k, [...(seenKeys.get(k) ?? []), (e as Effect & { pid?: number }).pid]);
      }
      const repeated = [...seenKeys].filter(([, pids]) => pids.length > 1);
      const byLiving = repeated.filter(([, pids]) => pids.some((pid) => pid === undefined || !killedPids.has(pid)) && pids.filter((pid) => pid === undefined || !killedPids.has(pid)).length > 1);
      if (process.env.FLOXIDE_CHAOS_VERBOSE) console.log(`${name}: repeated effects ${repeated.length}, twice by living workers ${byLiving.length}`, byLiving.slice(0, 5));
      for (const runId of all) {
        const history: StepRecord[] = await backend.stepHistory(runId);
        const committed = history.filter((h) => h.outcome === 'continue' || h.outcome === 'terminal');
        const mine = effects.filter((e) => e.run === runId);
        for (const h of committed.filter((c) => EFFECT_NODES.has(c.node))) {
          const seen = mine.filter((e) => e.item === h.itemId && e.attempt === h.attempt && e.node === h.node);
          expect(seen.length, `${runId}: effects of committed ${h.node} ${h.itemId}#${h.attempt}`).toBeGreaterThanOrEqual(1);
        }
        // the nested run's two steps: the first with the step that parks the outer item, the other with the one that
        // continues it (its signal or timeout)
        const inner = committed.filter((c) => c.node === 'inner').length;
        const expected = committed.filter((c) => EFFECT_NODES.has(c.node)).length + inner;
        const ctx = await backend.readContext(runId);
        let count = (ctx.initial as { count?: number } | undefined)?.count ?? 0;
        for (const d of ctx.deltas) count += (d.delta as { count?: number }).count ?? 0;
        expect(count, `${runId}: the counter counts each committed step once`).toBe(expected);
        const ids = ctx.deltas.map((d) => d.itemId);
        expect(new Set(ids).size, `${runId}: one delta per item`).toBe(ids.length);

        const states = await backend.itemStates(runId);
        const run = (await backend.getRun(runId))!;
        const metrics = await backend.metrics(runId);
        expect(metrics.completed, `${runId}: metrics.completed`).toBe(committed.length);
        expect(metrics.retries, `${runId}: metrics.retries`).toBe(history.filter((h) => h.outcome === 'retry').length);
        expect(metrics.deadLettered, `${runId}: dead letters`).toBe(0);
        expect(states.filter((s) => s.status === 'completed').length, `${runId}: completed items`).toBe(committed.length);
        const open = states.filter((s) => s.status === 'in_progress' || s.status === 'pending');
        if (run.status === 'completed') expect(open, `${runId}: items left open`).toEqual([]);
        expect(states.filter((s) => s.status === 'in_progress'), `${runId}: items held`).toEqual([]);

        const mineEvents = events.filter((e) => e.event.runId === runId).map((e) => e.event);
        const finals = mineEvents.filter((e) => e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled');
        expect(finals.map((e) => e.type), `${runId}: one final event`).toEqual([`run.${run.status}`]);
        expect(mineEvents.filter((e) => e.type === 'run.created').length, `${runId}: one run.created`).toBe(1);
        const fromEvents = mineEvents
          .filter((e) => e.type === 'step.finished' || e.type === 'step.retry')
          .map((e) => `${e.node} ${e.itemId}#${e.attempt} ${e.type === 'step.retry' ? 'retry' : (e as { outcome: string }).outcome}`)
          .sort();
        const fromHistory = history.map((h) => `${h.node} ${h.itemId}#${h.attempt} ${h.outcome}`).sort();
        expect(fromEvents, `${runId}: the event stream and the history agree`).toEqual(fromHistory);
        // the stream's order: run.created first, each attempt started before it ended, nothing after the final event
        expect(mineEvents[0]?.type, `${runId}: run.created first`).toBe('run.created');
        const finalAt = mineEvents.findIndex((e) => e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled');
        expect(mineEvents.slice(finalAt + 1).map((e) => e.type), `${runId}: events after the final one`).toEqual([]);
        const started = new Set<string>();
        for (const e of mineEvents) {
          if (e.type === 'step.started') started.add(`${e.itemId}#${e.attempt}`);
          if (e.type === 'step.finished' || e.type === 'step.retry') expect(started.has(`${e.itemId}#${e.attempt}`), `${runId}: ${e.type} of ${e.node} ${e.itemId}#${e.attempt} without its step.started`).toBe(true);
        }
        const signalsReceived = mineEvents.filter((e) => e.type === 'signal.received').length;
        const plan = plans.find((p) => p.runId === runId);
        if (plan && !plan.kind.startsWith('cancel') && !plan.kind.endsWith('eadline')) expect(signalsReceived, `${runId}: signals received`).toBe(Number(plan.deliveries.some(sent)) + Number(plan.confirms.some(sent)));
      }
      // A subscription from any cursor (inside a store entry too), of all runs or of one, continues the stream exactly.
      const readFrom = async (after: string, runId: string | undefined, expected: EventEnvelope[]): Promise<string[]> => {
        const got: string[] = [];
        if (expected.length === 0) return got;
        const stop = new AbortController();
        const timer = setTimeout(() => stop.abort(), 30_000);
        try {
          for await (const env of backend.subscribe({ after, signal: stop.signal, ...(runId ? { runId } : {}) })) {
            got.push(env.cursor);
            if (env.cursor === expected.at(-1)!.cursor || got.length >= expected.length) break;
          }
        } finally {
          clearTimeout(timer);
        }
        return got;
      };
      for (let k = 1; k < events.length; k += Math.max(1, Math.floor(events.length / 7))) {
        const tail = events.slice(k + 1);
        expect(await readFrom(events[k]!.cursor, undefined, tail), `the stream after ${events[k]!.cursor}`).toEqual(tail.map((e) => e.cursor));
        const runId = events[k]!.event.runId;
        const runTail = tail.filter((e) => e.event.runId === runId);
        expect(await readFrom(events[k]!.cursor, runId, runTail), `run ${runId}'s stream after ${events[k]!.cursor}`).toEqual(runTail.map((e) => e.cursor));
      }
      const cursors = events.map((e) => e.cursor);
      expect(new Set(cursors).size, 'no event delivered twice').toBe(cursors.length);
      // No worker is left holding an item, and every live one stops when asked.
      await until(async () => (await retrying(() => orch.liveness())).filter((w) => w.liveness === 'alive').every((w) => w.health.current.length === 0), 30_000, 'the live workers to hold nothing');
      for (const c of children) c.proc.kill('SIGTERM');
      expect(await Promise.all(children.map((c) => c.exit))).toEqual(children.map(() => 0));
      console.log(`${name}: ${plans.length} runs, ${scheduled.length} scheduled, ${events.length} events, ${effects.length} effects, ${killedConns} connections killed, ${killedPids.size} workers killed, ${resubscribed} resubscriptions`);
    } finally {
      stopEvents.abort();
      await local.stop(0);
      for (const c of children) c.proc.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exit));
      await orch.removeSchedule(scheduleId).catch(() => undefined);
    }
  });
});

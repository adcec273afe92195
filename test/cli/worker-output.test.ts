/**
 * `floxide worker`'s output: JSON lines (one per step, with start and stop) when stdout is not a terminal, and the
 * live status line on a terminal, driven through the pool's step callbacks with a hand-moved clock.
 */
import { describe, expect, it } from 'vitest';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { MAX_BUFFERED_BYTES, workerOutput } from '../../cli/worker/output.js';
import type { CommitResult, LeasedItem } from '../../runtime/distributed/contracts.js';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { Orchestrator } from '../../runtime/distributed/orchestrator.js';
import { CountCtx, chain } from '../distributed/helpers.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { DeployFlow as DeployFlowV1, type DeployLog } from '../fixtures/distributed/deploy-v1.js';
import { DeployFlowDef as V1Def } from '../fixtures/distributed/deploy-v1.floxide.js';
import { DeployFlow as DeployFlowV3 } from '../fixtures/distributed/deploy-v3.js';
import { DeployFlowDef as V3Def } from '../fixtures/distributed/deploy-v3.floxide.js';

const lease = (itemId: string): LeasedItem => ({ runId: 'r', workflow: 'W', fingerprint: 'f', deadline: undefined, item: { node: 'n', id: itemId, input: 1 }, attempt: 1, leaseToken: 't', leaseExpiresAt: 0, deliveries: 1 });
const applied: CommitResult = { status: 'applied', runStatus: 'running', enqueued: [], joined: [], dropped: [], contextVersion: 1 };

describe('floxide worker output', () => {
  it('prints one JSON line per committed step of a real pool, plus start and stop', async () => {
    let text = '';
    const out = workerOutput({ write: (t: string) => (text += t) }, 'json');
    const b = new MemoryBackend();
    const wf = chain();
    const pool = new WorkerPool(b, wf.def, wf.instance, { size: 1, concurrency: 2, idleMinMs: 1, idleMaxMs: 5, callbacks: out.callbacks });
    out.log('started', { workflow: wf.name });
    await pool.start();
    await wf.startDistributed(new CountCtx(), 1, b, 'r1');
    await new Orchestrator(b).waitForCompletion('r1', { timeoutMs: 20_000, pollMs: 5 });
    await pool.stop();
    out.log('stopped', { processed: pool.stats().processed });
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ event: 'started', workflow: 'ChainWorkflow' });
    const steps = lines.filter((l) => l.event === 'step');
    expect(steps.map((s) => s.node)).toEqual(['s1', 's2', 's3', 's4', 's5']);
    expect(steps.every((s) => s.runId === 'r1' && s.commit === 'applied' && typeof s.ms === 'number' && typeof s.at === 'string')).toBe(true);
    expect(steps.at(-1)).toMatchObject({ outcome: 'terminal' });
    expect(lines.at(-1)).toMatchObject({ event: 'stopped', processed: 5 });
  });

  it.each([['untraced', false], ['traced', true]] as const)('says when it moves a run of a version it accepts to its own (a safe deploy), once per run (%s)', async (_name, traced) => {
    expect(V3Def.accepts).toEqual([V1Def.fingerprint]);
    let text = '';
    const out = workerOutput({ write: (t: string) => (text += t) }, 'json');
    const b = new MemoryBackend();
    const log: DeployLog = [];
    await bindWorkflow(V1Def, new DeployFlowV1(log)).startDistributed(undefined, '2', b, 'old-1');
    const v3 = bindWorkflow(V3Def, new DeployFlowV3(log));
    // (a traced worker wraps the callbacks: the move must reach the log through the wrapper too)
    const tracing = traced ? { tracing: { tracerProvider: new BasicTracerProvider() } } : {};
    const pool = new WorkerPool(b, v3.def, v3.instance, { size: 1, concurrency: 2, idleMinMs: 1, idleMaxMs: 5, callbacks: out.callbacks, ...tracing });
    await pool.start();
    await new Orchestrator(b).waitForCompletion('old-1', { timeoutMs: 20_000, pollMs: 5 });
    await pool.stop();
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === 'migrated')).toEqual([{ event: 'migrated', at: expect.any(String), runId: 'old-1', workflow: 'DeployFlow', from: V1Def.fingerprint, to: V3Def.fingerprint }]);
    expect(lines.findIndex((l) => l.event === 'migrated')).toBeLessThan(lines.findIndex((l) => l.event === 'step'));
  });

  it('on a terminal rewrites one live line with steps/s, in flight, done and failures, and keeps log lines above it', () => {
    let text = '';
    let now = 0;
    const out = workerOutput({ write: (t: string) => (text += t) }, 'live', () => now);
    for (const id of ['a', 'b', 'c']) out.callbacks.onStarted!(lease(id));
    out.callbacks.onCommitted!(lease('a'), { type: 'continue', items: [], arrivals: [], delta: undefined }, applied);
    out.callbacks.onCommitted!(lease('b'), { type: 'failed', attempts: 1, error: { name: 'Error', message: 'x' } }, applied);
    now = 1000;
    out.start();
    expect(text).toBe('\r\x1b[2Kfloxide worker: 2.0 steps/s  in flight 1  done 2  failures 1');
    text = '';
    out.log('stopping', { workers: 1 });
    expect(text).toBe('\r\x1b[2Kfloxide worker: stopping workers=1\nfloxide worker: 2.0 steps/s  in flight 1  done 2  failures 1');
    text = '';
    out.stop();
    expect(text).toBe('\r\x1b[2K');
  });

  it('prints an error of the loop once a minute while it repeats (a store that is down), saying how many it left out', () => {
    let text = '';
    let errText = '';
    let now = 0;
    const json = workerOutput({ write: (t: string) => (text += t) }, 'json', () => now);
    // what a pool reports while its store is down: every claim (~1/s), heartbeat and scheduler pass fails
    for (; now < 120_000; now += 400) {
      json.error('Postgres claim failed: connect ECONNREFUSED 127.0.0.1:5432');
      if (now % 2000 === 0) json.error('Postgres heartbeat failed: connect ECONNREFUSED 127.0.0.1:5432');
    }
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { event: string; message: string; repeated?: number });
    expect(lines.map((l) => [l.message.split(':')[0], l.repeated])).toEqual([
      ['Postgres claim failed', undefined],
      ['Postgres heartbeat failed', undefined],
      ['Postgres claim failed', 149],
      ['Postgres heartbeat failed', 29],
    ]);
    expect(lines.every((l) => l.event === 'error')).toBe(true);
    const live = workerOutput({ write: () => undefined }, 'live', () => now, { write: (t: string) => (errText += t) });
    live.error('Redis call failed: The client is offline');
    live.error('Redis call failed: The client is offline');
    now += 60_000;
    live.error('Redis call failed: The client is offline');
    expect(errText).toBe('floxide worker: Redis call failed: The client is offline\nfloxide worker: Redis call failed: The client is offline (1 more time(s) since it was last printed)\n');
  });

  it('leaves step lines out while stdout holds more than 1 MB its reader has not taken, and says how many', () => {
    const lines: string[] = [];
    const out = { writableLength: 0, write: (t: string) => void lines.push(t) };
    const json = workerOutput(out, 'json', () => 0);
    const commit = (id: string) => json.callbacks.onCommitted!(lease(id), { type: 'continue', items: [], arrivals: [], delta: undefined }, applied);
    commit('a');
    out.writableLength = MAX_BUFFERED_BYTES + 1; // the log collector stopped reading
    for (let i = 0; i < 1000; i++) commit(`b${i}`);
    expect(lines).toHaveLength(1);
    out.writableLength = 0;
    commit('c');
    json.log('stopped', { processed: 1002 });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).map((l) => [l.event, l.itemId ?? l.lines ?? l.processed])).toEqual([
      ['step', 'a'],
      ['dropped', 1000],
      ['step', 'c'],
      ['stopped', 1002],
    ]);
  });
});

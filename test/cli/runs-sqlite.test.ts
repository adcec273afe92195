/**
 * Every `floxide runs` command on `--store sqlite:<file>`: a real SQLite checkpoint file written by real
 * checkpointed runs (a retried run that completed, a run that failed and left a dead letter, a run waiting for
 * signals), read and driven in-process through runCli (the same code path as the binary).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindWorkflow, CancelledError } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { runCli } from '../../cli/cli.js';
import { RetryWorkflow } from '../../examples/retry.js';
import { RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { LoopCtx, LoopWorkflow } from '../runtime/flows/loop.js';
import { LoopWorkflowDef } from '../runtime/flows/loop.floxide.js';
import { VoteFlow } from '../fixtures/signals/flows.js';
import { VoteFlowDef } from '../fixtures/signals/flows.floxide.js';
import { cliCaptured } from './run-cli.js';
import { plantCorruptSqliteRuns } from '../distributed/tamper.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-cli-sqlite-'));
const file = join(dir, 'runs.db');
const store = `sqlite:${file}`;
let writer: SqliteCheckpointStore;
let voting: Promise<string>;

const cli = (...argv: string[]) => cliCaptured(argv);

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

beforeAll(async () => {
  writer = new SqliteCheckpointStore(file);
  expect(await bindWorkflow(RetryWorkflowDef, new RetryWorkflow(1)).runWithCheckpoint(undefined, undefined, writer, 'flaky-1')).toBe('success');
  const loop = new LoopWorkflow();
  loop.step.hook = (_ctx, i) => {
    if (i === 2) throw new Error('step 2 broke');
  };
  await expect(bindWorkflow(LoopWorkflowDef, loop).runWithCheckpoint(new LoopCtx(), { i: 0, limit: 4 }, writer, 'loop-1')).rejects.toThrow(/step 2 broke/);
  voting = bindWorkflow(VoteFlowDef, new VoteFlow()).runWithCheckpoint(undefined, 7, writer, 'vote-1', { signalPollMs: 20 });
  // fan, then each branch's wait committed its parked item: both now wait for a "vote"
  await until(async () => (await writer.getRun('vote-1')) !== undefined && (await writer.stepHistory('vote-1')).length === 3);
});

afterAll(async () => {
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('floxide runs --store sqlite:<file>', () => {
  it('lists the runs newest first, with filters and as JSON', async () => {
    const json = await cli('runs', 'list', '--store', store, '--json');
    expect(json.err).toBe('');
    expect(json.code).toBe(0);
    const runs = JSON.parse(json.out) as Array<{ runId: string; status: string; workflow: string; finishedAt?: number }>;
    expect(runs.map((r) => [r.runId, r.workflow, r.status])).toEqual([
      ['vote-1', 'VoteFlow', 'running'],
      ['loop-1', 'LoopWorkflow', 'failed'],
      ['flaky-1', 'RetryWorkflow', 'completed'],
    ]);
    const failed = await cli('runs', 'list', '--store', store, '--status', 'failed', '--json');
    expect((JSON.parse(failed.out) as Array<{ runId: string }>).map((r) => r.runId)).toEqual(['loop-1']);
    const one = await cli('runs', 'list', '--store', store, '--workflow', 'RetryWorkflow');
    expect(one.out).toMatch(/^RUN\s+WORKFLOW/);
    expect(one.out).toMatch(/flaky-1\s+RetryWorkflow\s+\S+\s+completed/);
    expect(one.out).not.toMatch(/loop-1/);
  });

  it('shows a run with its step history (the retried attempt and the process), and its context with --context', async () => {
    const show = await cli('runs', 'show', 'flaky-1', '--store', store);
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/status\s+completed/);
    expect(show.out).toMatch(/output\s+success/);
    expect(show.out).toMatch(/step history \(2\)/);
    expect(show.out).toMatch(new RegExp(`flaky\\s+0\\s+1\\s+\\S+:${process.pid}\\s+retry: Error: flaky failure on attempt 1`));
    expect(show.out).toMatch(/flaky\s+0\s+2\s+\S+\s+terminal/);
    expect(show.out).toMatch(/errors \(1\)/);
    expect(show.out).not.toMatch(/workers holding/);

    const json = JSON.parse((await cli('runs', 'show', 'loop-1', '--store', store, '--context', '--json')).out) as {
      run: { status: string; error: { message: string } };
      history: Array<{ node: string; itemId: string; outcome: string; workerId: string }>;
      deadLetters: Array<{ item: { id: string; node: string; input: unknown }; error: { message: string } }>;
      pending: Array<{ item: { id: string }; state: { status: string } }>;
      metrics: { completed: number; failed: number; deadLettered: number; enqueued: number };
      context: { initial: { count: number }; deltas: Array<{ version: number; itemId: string; delta: Record<string, unknown> }> };
      workers: unknown[];
    };
    expect(json.run).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/step 2 broke/) } });
    expect(json.history.map((h) => [h.node, h.itemId, h.outcome])).toEqual([
      ['step', '0', 'continue'],
      ['step', '1', 'continue'],
      ['step', '2', 'failed'],
    ]);
    expect(json.history[0]!.workerId).toMatch(new RegExp(`:${process.pid}$`));
    expect(json.deadLetters).toEqual([expect.objectContaining({ item: { node: 'step', id: '2', input: { kind: 'more', i: 2, limit: 4 } }, error: expect.objectContaining({ message: 'step 2 broke' }) })]);
    // the failed item is its dead letter (resume would run it again), not outstanding work
    expect(json.pending).toEqual([]);
    expect(json.metrics).toMatchObject({ enqueued: 3, completed: 2, failed: 1, deadLettered: 1 });
    expect(json.context.initial).toMatchObject({ count: 0 });
    expect(json.context.deltas.map((d) => [d.version, d.itemId, d.delta.count])).toEqual([
      [1, '0', 1],
      [2, '1', 1],
    ]);
    expect(json.workers).toEqual([]);

    const text = await cli('runs', 'show', 'loop-1', '--store', store, '--context');
    expect(text.out).toMatch(/dead letters \(1\)/);
    expect(text.out).toMatch(/v2 \(item 1\)/);
  });

  it('shows the waits of a waiting run, signals it, and watches it complete; wait exits 0', async () => {
    const show = JSON.parse((await cli('runs', 'show', 'vote-1', '--store', store, '--json')).out) as { pending: Array<{ item: { node: string }; state: { status: string } }> };
    expect(show.pending.map((p) => [p.item.node, p.state.status])).toEqual([
      ['vote', 'parked'],
      ['vote', 'parked'],
    ]);
    const watching = cli('runs', 'watch', 'vote-1', '--store', store);
    expect((await cli('runs', 'signal', 'vote-1', 'vote', '--data', '{"vote":"b"}', '--key', 'k1', '--store', store)).out).toBe('run vote-1: signal vote delivered to the wait for it\n');
    expect((await cli('runs', 'signal', 'vote-1', 'vote', '--data', '{"vote":"b"}', '--key', 'k1', '--store', store)).out).toMatch(/already delivered/);
    // the key again with another payload: refused (exit 2), nothing kept for a wait
    const reused = await cli('runs', 'signal', 'vote-1', 'vote', '--data', '{"vote":"c"}', '--key', 'k1', '--store', store);
    expect([reused.code, reused.out]).toEqual([2, '']);
    expect(reused.err).toMatch(/^floxide runs: run vote-1 already received a signal with key "k1" and another payload: a key names one signal, so this one was refused/);
    await cli('runs', 'signal', 'vote-1', 'vote', '--data', '{"vote":"a"}', '--store', store);
    expect(await voting).toBe('a,b');
    const watched = await watching;
    expect(watched.code).toBe(0);
    const lines = watched.out.trim().split('\n');
    expect(lines[0]).toMatch(/vote-1\s+step\.started\s+fan item 0 attempt 1/);
    // fan, each wait parking, each wait taking its signal, the join
    expect(lines.filter((l) => /step\.finished/.test(l)).map((l) => /finished\s+(\w+)/.exec(l)![1])).toEqual(['fan', 'vote', 'vote', 'vote', 'vote', 'tally']);
    expect(lines[lines.length - 1]).toMatch(/run\.completed\s+output a,b$/);

    const wait = await cli('runs', 'wait', 'vote-1', '--store', store, '--json');
    expect(wait.code).toBe(0);
    expect(JSON.parse(wait.out)).toMatchObject({ runId: 'vote-1', status: 'completed', output: 'a,b' });
  });

  it('watches every run from the start as JSON lines', async () => {
    const ac = new AbortController();
    let out = '';
    const watching = runCli(['runs', 'watch', '--store', store, '--from-start', '--json'], {
      stdout: { write: (t: string) => ((out += t), out.includes('"run.failed"') && out.includes('"vote-1"') && out.split('run.completed').length === 3 && ac.abort()) },
      stderr: { write: () => undefined },
      onStop: (stop) => ac.signal.addEventListener('abort', () => void stop()),
    });
    expect(await watching).toBe(0);
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as { cursor: string; event: { type: string; runId: string } });
    expect(events.filter((e) => e.event.type === 'run.created').map((e) => e.event.runId)).toEqual(['flaky-1', 'loop-1', 'vote-1']);
    expect(events.filter((e) => e.event.runId === 'loop-1').map((e) => e.event.type)).toEqual([
      'run.created',
      'step.started', 'step.finished',
      'step.started', 'step.finished',
      'step.started', 'step.finished',
      'run.failed',
    ]);
  });

  it('cancels a failed run (final); pause and resume are refused with a typed error; versions lists open runs', async () => {
    const pause = await cli('runs', 'pause', 'loop-1', '--store', store);
    expect(pause.code).toBe(1);
    expect(pause.err).toMatch(/checkpointed in a SQLite file.*resume\(store, runId\)/);
    expect((await cli('runs', 'resume', 'loop-1', '--store', store)).code).toBe(1);
    const cancel = await cli('runs', 'cancel', 'loop-1', '--store', store, '--reason', 'not needed');
    expect(cancel.code).toBe(0);
    expect(cancel.out).toMatch(/run loop-1: cancelled \(1 outstanding item\(s\) dropped\)/);
    expect((await writer.getRun('loop-1'))?.status).toBe('cancelled');
    expect((await cli('runs', 'cancel', 'loop-1', '--store', store)).out).toMatch(/already cancelled/);
    const finished = await cli('runs', 'cancel', 'flaky-1', '--store', store);
    expect(finished.code).toBe(1);
    expect(finished.err).toMatch(/completed/);
    const versions = await cli('runs', 'versions', '--store', store);
    expect(versions.out).toMatch(/no open runs/);
  });

  it('cancel of a run a process is executing (another connection): its call ends with CancelledError and the reason, the run stays cancelled', async () => {
    const own = join(dir, 'executing.db');
    const running = new SqliteCheckpointStore(own);
    try {
      const events: string[] = [];
      const loop = new LoopWorkflow();
      loop.step.hook = async (_ctx, i) => {
        if (i === 3) expect((await cli('runs', 'cancel', 'busy-1', '--store', `sqlite:${own}`, '--reason', 'operator stop')).code).toBe(0);
      };
      const call = bindWorkflow(LoopWorkflowDef, loop).runWithCheckpoint(new LoopCtx(), { i: 0, limit: 10 }, running, 'busy-1', { onEvent: (e) => void events.push(e.type) });
      await expect(call).rejects.toThrow(new CancelledError('run busy-1 was cancelled: operator stop'));
      expect(events.at(-1)).toBe('run.cancelled');
      expect(await running.getRun('busy-1')).toMatchObject({ status: 'cancelled', steps: 3, error: { name: 'CancelledError', message: 'operator stop' } });
    } finally {
      await running.close();
    }
  });

  it('says clearly when the run is unknown or the file is missing, and creates no file', async () => {
    // (what to do: the ids are in the list)
    for (const argv of [['show', 'no-such-run'], ['signal', 'no-such-run', 'approval', '--data', 'null'], ['cancel', 'no-such-run']]) {
      const unknown = await cli('runs', ...argv, '--store', store);
      expect([unknown.code, unknown.err], argv.join(' ')).toEqual([1, `floxide runs: no run with id "no-such-run": \`floxide runs list --store ${store}\` lists the runs\n`]);
    }
    const missing = await cli('runs', 'list', '--store', `sqlite:${join(dir, 'missing.db')}`);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no SQLite checkpoint file/);
    // another application's database: refused, and nothing written to it
    const foreign = join(dir, 'app.db');
    const app = new Database(foreign);
    app.exec('CREATE TABLE users (id INTEGER)');
    app.close();
    for (const argv of [['runs', 'list'], ['runs', 'show', 'x'], ['runs', 'cancel', 'x']]) {
      const r = await cli(...argv, '--store', `sqlite:${foreign}`);
      expect([r.code, r.err], argv.join(' ')).toEqual([1, expect.stringContaining(`${foreign} is not a floxide checkpoint file: it holds other tables (users) and no floxide_runs; nothing was written to it`)]);
    }
    const after = new Database(foreign, { readonly: true });
    expect([after.pragma('user_version', { simple: true }), after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()]).toEqual([0, ['users']]);
    after.close();
    const schedules = await cli('schedule', 'list', '--store', store);
    expect(schedules.code).toBe(2);
    expect(schedules.err).toMatch(/sqlite.*keeps no schedules/);
  });

  it('stops quietly, exit 0, when its reader has closed the pipe (`floxide runs list | head`)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/cli.ts', 'runs', 'list', '--store', store], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
  });

  it('a store that is not one of its URLs is bad usage naming sqlite:<file> among the forms; a worker says a file has no workers', async () => {
    const bare = await cli('runs', 'list', '--store', 'runs.db');
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('invalid store URL "runs.db": expected sqlite:<file> (a checkpoint file, e.g. sqlite:runs.db), redis://host:port or postgres://user@host:port/db');
    // A mistyped URL is not offered as a file name: its password stays redacted.
    const typo = await cli('runs', 'list', '--store', 'redis//app:secret@db:6379');
    expect([typo.code, typo.err]).toEqual([2, 'floxide runs: invalid store URL "redis//app:***@db:6379": expected sqlite:<file> (a checkpoint file, e.g. sqlite:runs.db), redis://host:port or postgres://user@host:port/db\n']);
    const none = await cli('runs', 'list', '--store', '');
    expect([none.code, none.err]).toEqual([2, 'floxide runs: invalid store URL "": expected sqlite:<file> (a checkpoint file, e.g. sqlite:runs.db), redis://host:port or postgres://user@host:port/db\n']);
    const empty = await cli('runs', 'list', '--store', 'sqlite:');
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('the store "sqlite:" names no file: use sqlite:<file>, e.g. sqlite:runs.db');
    const other = await cli('ui', '--store', 'ftp://nowhere', '--port', '0');
    expect(other.code).toBe(2);
    expect(other.err).toContain('unsupported store URL scheme "ftp:" in ftp://nowhere/: use sqlite:<file> (a checkpoint file), redis://, rediss://, postgres:// or postgresql://');
    const worker = await cli('worker', 'test/fixtures/distributed/fan-worker.ts', '--store', store);
    expect(worker.code).toBe(2);
    expect(worker.err).toContain(`${store} is a SQLite checkpoint file, of local runs (runWithCheckpoint / resume): it has no workers and keeps no schedules; use a redis:// or postgres:// store`);
    // schedule says the same, whether the file exists or not (a missing one is no reason: no file keeps schedules)
    for (const url of [store, `sqlite:${join(dir, 'no-such-file.db')}`]) {
      for (const argv of [['list'], ['add', 'nightly', '--workflow', 'RetryWorkflow', '--cron', '0 3 * * *'], ['remove', 'nightly']]) {
        const schedule = await cli('schedule', ...argv, '--store', url);
        expect([schedule.code, schedule.out, schedule.err], `${url} ${argv[0]}`).toEqual([2, '', `floxide schedule: ${url} is a SQLite checkpoint file, of local runs (runWithCheckpoint / resume): it has no workers and keeps no schedules; use a redis:// or postgres:// store\n`]);
      }
    }
  });
});

describe('floxide runs --store sqlite:<file>: runs with corrupt stored data', () => {
  const badFile = join(dir, 'corrupt.db');
  const bad = `sqlite:${badFile}`;

  beforeAll(() => plantCorruptSqliteRuns(badFile));

  it('list lists every run, each marked with what of it cannot be read: fields of its row, an outstanding item, an open run\'s context', async () => {
    const json = await cli('runs', 'list', '--store', bad, '--json');
    expect(json.err).toBe('');
    expect(json.code).toBe(0);
    const runs = JSON.parse(json.out) as Array<{ runId: string; status: string; input?: unknown; createdAt: number | null; corrupt?: { name: string; message: string } }>;
    expect(runs.map((r) => r.runId).sort()).toEqual(['bad-context', 'bad-delta', 'bad-error', 'bad-items', 'bad-record', 'bad-start', 'bad-status']);
    const marks = Object.fromEntries(runs.filter((r) => r.corrupt).map((r) => [r.runId, r.corrupt!.message]));
    expect(marks).toEqual({
      // items that cannot be read at all (a step's enqueued items), a corrupt start item
      'bad-items': 'run bad-items step 1 items: malformed JSON (Unexpected end of JSON input)',
      'bad-start': 'run bad-start: a stored work item: malformed JSON (Unexpected end of JSON input): "{\\"node\\":"',
      // an open run's context (bad-delta, failed, is final: nothing will read its context again)
      'bad-context': 'run bad-context context: malformed JSON (Unexpected end of JSON input)',
      // fields of the run row: each named, the rest of the row read
      'bad-record': 'run bad-record input: malformed JSON (Unexpected end of JSON input); run bad-record creation time is not a time: "yesterday"',
      'bad-status': 'run bad-status has an unknown status "zombie"',
      'bad-error': 'run bad-error error: malformed JSON (Unexpected end of JSON input)',
    });
    expect(runs.find((r) => r.runId === 'bad-record')).toMatchObject({ status: 'running', createdAt: null });
    expect(runs.find((r) => r.runId === 'bad-record')!.input).toBeUndefined();
    expect(runs.find((r) => r.runId === 'bad-status')!.status).toBe('zombie');
    expect(runs.find((r) => r.runId === 'bad-error')!.status).toBe('failed');
    const table = await cli('runs', 'list', '--store', bad);
    expect(table.code, table.err).toBe(0);
    // (no process holds these running runs: written into the file, never run)
    expect(table.out).toMatch(/bad-delta\s+LoopWorkflow\s+\S+\s+failed\s+\S+ \S+\s+\S+ \S+\s+Error: step 2 broke/);
    expect(table.out).toMatch(/bad-start\s+LoopWorkflow\s+\S+\s+running \(orphaned\)\s+\S+ \S+\s+-\s+corrupt: run bad-start: a stored work item/);
    expect(table.out).toMatch(/bad-context\s+LoopWorkflow\s+\S+\s+running \(orphaned\)\s+\S+ \S+\s+-\s+corrupt: run bad-context context: malformed JSON/);
    expect(table.out).toMatch(/bad-items\s+LoopWorkflow\s+\S+\s+running \(orphaned\)\s+\S+ \S+\s+-\s+corrupt: run bad-items step 1 items: malformed JSON/);
    expect(table.out).toMatch(/bad-record\s+LoopWorkflow\s+\S+\s+running \(orphaned\)\s+\?\s+-\s+corrupt: run bad-record input: malformed JSON/);
    expect(table.out).toMatch(/bad-status\s+LoopWorkflow\s+\S+\s+zombie\s+.*corrupt: run bad-status has an unknown status "zombie"/);
  });

  it('show of a run whose row has corrupt fields shows the run with those fields marked, its items and context, exit 0', async () => {
    for (const [runId, reason] of [
      ['bad-record', 'run bad-record input: malformed JSON (Unexpected end of JSON input); run bad-record creation time is not a time: "yesterday"'],
      ['bad-status', 'run bad-status has an unknown status "zombie"'],
      ['bad-error', 'run bad-error error: malformed JSON (Unexpected end of JSON input)'],
    ] as const) {
      const json = await cli('runs', 'show', runId, '--store', bad, '--json');
      expect(json.code, json.err).toBe(0);
      const shown = JSON.parse(json.out) as { run: { runId: string; corrupt: { name: string; message: string } }; pending: unknown[]; contextVersion: number };
      expect(shown.run.runId).toBe(runId);
      expect(shown.run.corrupt).toMatchObject({ name: 'CorruptStateError', message: reason });
      expect(shown.pending).toHaveLength(1);
      expect(shown.contextVersion).toBe(0);
      const text = await cli('runs', 'show', runId, '--store', bad);
      expect(text.code, text.err).toBe(0);
      expect(text.out).toContain(`\ncorrupt   CorruptStateError: ${reason}\n`);
      expect(text.out).toMatch(/context\s+version 0/);
    }
    const record = await cli('runs', 'show', 'bad-record', '--store', bad);
    expect(record.out).toMatch(/\ncreated\s+\?\n/);
    expect(record.out).toMatch(/\ninput\s+-\n/);
  });

  it('show of a run whose step items are corrupt shows the run with a stand-in for the unreadable items, marked corrupt, exit 0', async () => {
    const reason = 'run bad-items step 1 items: malformed JSON (Unexpected end of JSON input)';
    const json = await cli('runs', 'show', 'bad-items', '--store', bad, '--json');
    expect(json.code, json.err).toBe(0);
    const shown = JSON.parse(json.out) as { run: { status: string }; history: unknown[]; pending: Array<{ item: unknown; state: { status: string }; corrupt?: { name: string; message: string } }>; contextVersion: number };
    expect(shown.run.status).toBe('running');
    expect(shown.contextVersion).toBe(1);
    expect(shown.pending).toEqual([expect.objectContaining({ item: { node: '?', id: '(step 1 items)', input: null }, state: expect.objectContaining({ status: 'pending' }) })]);
    expect(shown.pending[0]!.corrupt).toMatchObject({ name: 'CorruptStateError', message: reason });
    const text = await cli('runs', 'show', 'bad-items', '--store', bad);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/\n\(step 1 items\)\s+\?\s+pending \(corrupt\)/);
    expect(text.out).toContain(`CorruptStateError: ${reason}`);
    expect(text.out).toMatch(/metrics\s+enqueued=2 completed=1/);
  });

  it('show marks a corrupt start item pending (corrupt) with its reason, exit 0', async () => {
    const reason = 'run bad-start: a stored work item: malformed JSON (Unexpected end of JSON input): "{\\"node\\":"';
    const json = await cli('runs', 'show', 'bad-start', '--store', bad, '--json');
    expect(json.code, json.err).toBe(0);
    const shown = JSON.parse(json.out) as { run: { status: string }; pending: Array<{ item: unknown; state: { status: string }; corrupt?: { name: string; message: string } }>; contextVersion: number };
    expect(shown.run.status).toBe('running');
    expect(shown.pending).toEqual([expect.objectContaining({ item: { node: '?', id: '0', input: null }, state: expect.objectContaining({ status: 'pending' }) })]);
    expect(shown.pending[0]!.corrupt).toMatchObject({ name: 'CorruptStateError', message: reason });
    expect(shown.contextVersion).toBe(0);
    const text = await cli('runs', 'show', 'bad-start', '--store', bad);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/\n0\s+\?\s+pending \(corrupt\)/);
    expect(text.out).toContain(`CorruptStateError: ${reason}`);
  });

  it('show of a run whose context or a delta is corrupt shows the run, its history and items with the context error, exit 0', async () => {
    for (const [runId, reason] of [
      ['bad-context', 'run bad-context context: malformed JSON (Unexpected end of JSON input)'],
      ['bad-delta', /^run bad-delta step \d+: the delta is not an object$/],
    ] as const) {
      for (const context of [[], ['--context']]) {
        const json = await cli('runs', 'show', runId, '--store', bad, '--json', ...context);
        expect(json.code, json.err).toBe(0);
        const shown = JSON.parse(json.out) as { run: { runId: string }; history: unknown[]; contextError: { name: string; message: string }; context?: unknown; contextVersion?: number };
        expect(shown.run.runId).toBe(runId);
        expect(shown.contextError.name).toBe('CorruptStateError');
        expect(shown.contextError.message).toMatch(reason);
        expect(shown.context).toBeUndefined();
        expect(shown.contextVersion).toBeUndefined();
        const text = await cli('runs', 'show', runId, '--store', bad, ...context);
        expect(text.code, text.err).toBe(0);
        expect(text.out).toMatch(new RegExp(`run\\s+${runId}\\n`));
        expect(text.out).toMatch(/context\s+unreadable: CorruptStateError: run bad-/);
      }
    }
    const delta = await cli('runs', 'show', 'bad-delta', '--store', bad);
    expect(delta.out).toMatch(/step history \(3\)/);
    expect(delta.out).toMatch(/dead letters \(1\)/);
    const pending = await cli('runs', 'show', 'bad-context', '--store', bad);
    expect(pending.out).toMatch(/outstanding items \(1\)/);
  });
});

/**
 * `floxide runs list|show|cancel|pause|resume|wait` against a real Redis, in-process through runCli (the same code
 * path as the binary), on a key prefix of its own; `runs show` and `runs watch` on a real Postgres too (a schema of
 * its own).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';
import { chain, CountCtx, REDIS_URL, uniquePrefix, until } from '../distributed/helpers.js';
import { runCli } from '../../cli/cli.js';
import { openHolder, usePgSchemas } from '../distributed/pg-schemas.js';
import { postgresRecordTamper, postgresTamper, redisRecordTamper, redisTamper, type RecordTamper } from '../distributed/tamper.js';
import type { StoreTamper } from '../distributed/conformance.js';
import { cliCaptured, floxideInTerminal, hasScript, screenOf } from './run-cli.js';
import { fileURLToPath } from 'node:url';

const prefix = uniquePrefix('cli-runs');
const store = `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`;
let backend: RedisBackend;

const cli = (...argv: string[]) => cliCaptured(argv);
const repo = fileURLToPath(new URL('../..', import.meta.url));

beforeAll(async () => {
  backend = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: prefix });
  const wf = chain();
  await wf.startDistributed(new CountCtx(), 1, backend, 'cli-a');
  await wf.startDistributed(new CountCtx(), 2, backend, 'cli-b');
});

/** Deletes the keys under `keyPrefix` through `b`'s connection, then closes it. */
async function dropAndClose(b: RedisBackend, keyPrefix: string): Promise<void> {
  const client = (b as unknown as { client?: { keys(p: string): Promise<string[]>; del(k: string[]): Promise<number> } }).client;
  if (client) {
    const keys = await client.keys(`${keyPrefix}*`);
    if (keys.length > 0) await client.del(keys);
  }
  await b.close();
}

afterAll(() => dropAndClose(backend, prefix));

describe('floxide runs', () => {
  it('lists runs as JSON and as a table', async () => {
    const json = await cli('runs', 'list', '--store', store, '--json');
    expect(json.code).toBe(0);
    const runs = JSON.parse(json.out) as Array<{ runId: string; status: string; workflow: string }>;
    expect(runs.map((r) => r.runId).sort()).toEqual(['cli-a', 'cli-b']);
    expect(new Set(runs.map((r) => r.status))).toEqual(new Set(['running']));
    const table = await cli('runs', 'list', '--store', store);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/cli-a/);
    expect(table.out).toMatch(/ChainWorkflow/);
  });

  it('prints stored text with its control characters escaped: an error message cannot retitle the terminal, clear it or forge a row', async () => {
    await chain().startDistributed(new CountCtx(), 1, backend, 'cli-hostile');
    await backend.failRun('cli-hostile', { name: 'Error', message: 'boom \u001b]0;PWNED\u0007\u001b[2J\u001b[31mFAKE\ncli-forged  ChainWorkflow  completed \u202edetaerc\u2066 -1\u061c-2' });
    for (const argv of [['list'], ['show', 'cli-hostile']]) {
      const r = await cli('runs', ...argv, '--store', store);
      expect(r.code, r.err).toBe(0);
      expect(r.out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
      expect(r.out).toContain('boom \\u001b]0;PWNED\\u0007\\u001b[2J');
      // (bidirectional formatting characters too: the text around them keeps its order, as on the dashboard's page;
      // the list cuts the message before them)
      if (argv[0] === 'show') expect(r.out).toContain('completed \\u202edetaerc\\u2066 -1\\u061c-2');
      expect(r.out.split('\n').some((line) => line.startsWith('cli-forged'))).toBe(false);
    }
    await backend.cancelRun('cli-hostile').catch(() => undefined);
  });

  it('shows a run, pauses, resumes and cancels it; wait reports the cancellation with exit 1', async () => {
    const show = await cli('runs', 'show', 'cli-a', '--store', store, '--json');
    expect(show.code).toBe(0);
    expect(JSON.parse(show.out)).toMatchObject({ run: { runId: 'cli-a', status: 'running' } });

    expect((await cli('runs', 'pause', 'cli-a', '--store', store)).code).toBe(0);
    expect((await backend.getRun('cli-a'))?.status).toBe('paused');
    expect((await cli('runs', 'resume', 'cli-a', '--store', store)).code).toBe(0);
    expect((await backend.getRun('cli-a'))?.status).toBe('running');
    expect((await cli('runs', 'cancel', 'cli-a', '--store', store)).code).toBe(0);
    expect((await backend.getRun('cli-a'))?.status).toBe('cancelled');

    const wait = await cli('runs', 'wait', 'cli-a', '--store', store, '--timeout-ms', '2000');
    expect(wait.code).toBe(1);
    expect(wait.out + wait.err).toMatch(/cancelled/);
    const filtered = await cli('runs', 'list', '--store', store, '--status', 'cancelled', '--json');
    expect((JSON.parse(filtered.out) as Array<{ runId: string }>).map((r) => r.runId)).toEqual(['cli-a']);
  });

  it('shows values JSON cannot carry as their stored tags (a bigint does not crash it, a Map does not print as {})', async () => {
    const input = { n: 2n ** 64n, index: new Map([['a', new Date(Date.UTC(2024, 1, 29))]]) };
    await chain().startDistributed(new CountCtx(), input as unknown as number, backend, 'cli-tags');
    const show = await cli('runs', 'show', 'cli-tags', '--store', store, '--json');
    expect(show.code, show.err).toBe(0);
    expect((JSON.parse(show.out) as { run: { input: unknown } }).run.input).toEqual({ index: { $map: [['a', { $date: '2024-02-29T00:00:00.000Z' }]] }, n: { $bigint: '18446744073709551616' } });
    const text = await cli('runs', 'show', 'cli-tags', '--store', store);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain('{"$bigint":"18446744073709551616"}');
    expect((await cli('runs', 'cancel', 'cli-tags', '--store', store)).code).toBe(0);
  });

  it('wait says a run that ended without completing ended so, never "n/n items done" as if it completed', async () => {
    const wf = chain();
    await wf.startDistributed(new CountCtx(), 1, backend, 'cli-cancelled');
    await wf.startDistributed(new CountCtx(), 1, backend, 'cli-failed');
    await wf.startDistributed(new CountCtx(), 1, backend, 'cli-cancelled-later');
    await backend.cancelRun('cli-cancelled');
    await backend.failRun('cli-failed', { name: 'Error', message: 'boom' });
    for (const [runId, status] of [['cli-cancelled', 'cancelled'], ['cli-failed', 'failed']] as const) {
      const wait = await cli('runs', 'wait', runId, '--store', store, '--timeout-ms', '2000');
      expect(wait.code, wait.err).toBe(1);
      expect(wait.err).not.toMatch(/1\/1 items done/);
      expect(wait.err.trimEnd().split('\n').at(-1)).toBe(`floxide: run ${runId}: ${status}, not completed (0 of 1 items completed, 0 failed, 1 dropped)`);
    }
    // cancelled while the wait polls: the lines it printed before say nothing of a completion either
    const waiting = cli('runs', 'wait', 'cli-cancelled-later', '--store', store, '--timeout-ms', '5000', '--poll-ms', '50');
    await until(async () => (await backend.metrics('cli-cancelled-later')).enqueued === 1);
    await new Promise((r) => setTimeout(r, 150));
    await backend.cancelRun('cli-cancelled-later');
    const later = await waiting;
    expect(later.code, later.err).toBe(1);
    expect(later.err).not.toMatch(/1\/1 items done/);
    expect(later.err.trimEnd().split('\n').at(-1)).toMatch(/^floxide: run cli-cancelled-later: cancelled, not completed/);
  });

  it('waits with a timeout on a run nobody processes', async () => {
    const wait = await cli('runs', 'wait', 'cli-b', '--store', store, '--timeout-ms', '300');
    expect(wait.code).toBe(1);
    expect(wait.err).toMatch(/cli-b is still running after 300 ms/);
    // Not a terminal: progress as plain lines on stderr, no control sequences.
    expect(wait.err).toContain('floxide: run cli-b: 0/1 items done\n');
    expect(wait.err).not.toMatch(/\x1b|\r/);
  });

  it('a poll period past the largest timer (2^31 - 1 ms) polls no faster than asked', async () => {
    // (node:timers/promises fired such a timer after 1 ms: the progress read the store's metrics a thousand times a second)
    let reads = 0;
    const counted = new Proxy(backend, {
      get: (target, key, receiver) => {
        if (key === 'metrics') reads += 1;
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const wait = await cliCaptured(['runs', 'wait', 'cli-b', '--store', store, '--timeout-ms', '500', '--poll-ms', '3000000000'], { connect: async () => counted });
    expect(wait.code).toBe(1);
    expect(wait.err).toMatch(/cli-b is still running after 500 ms/);
    expect(reads).toBeLessThanOrEqual(2); // the first progress line, and the last once the wait ended
  });

  it('the last progress line of a wait shows the run as it ended (every item done), not the last poll before', async () => {
    // a store of its own: the steps below take any item of the workflow
    const own = uniquePrefix('cli-ends');
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: own });
    try {
      const wf = chain();
      await wf.startDistributed(new CountCtx(), 1, b, 'cli-ends');
      // a long poll period: the run ends between two polls
      const waiting = cli('runs', 'wait', 'cli-ends', '--store', `${REDIS_URL}?prefix=${encodeURIComponent(own)}`, '--poll-ms', '400');
      await new Promise((r) => setTimeout(r, 100));
      while ((await b.getRun('cli-ends'))?.status === 'running') await wf.stepDistributed(b, 'w-ends');
      const wait = await waiting;
      expect(wait.code, wait.err).toBe(0);
      const m = await b.metrics('cli-ends');
      expect(wait.err.trimEnd().split('\n').at(-1)).toBe(`floxide: run cli-ends: ${m.enqueued}/${m.enqueued} items done`);
    } finally {
      await dropAndClose(b, own);
    }
  });

  it.skipIf(!hasScript)('on a terminal, waits with a bar that it clears when the wait ends', async () => {
    const tty = await floxideInTerminal(['runs', 'wait', 'cli-b', '--store', store, '--timeout-ms', '1500'], process.cwd());
    expect(tty.code, tty.raw).toBe(1);
    expect(tty.raw).toMatch(/floxide: run cli-b: \[\u2591{40}\] 0\/1 items done/);
    expect(tty.raw).not.toContain('floxide: run cli-b: 0/1 items done');
    // Cleared: only the outcome stays on the screen; the cursor is shown again.
    expect(screenOf(tty.raw)).toEqual(['floxide runs: run cli-b is still running after 1500 ms']);
    expect(tty.raw.lastIndexOf('\x1b[?25h')).toBeGreaterThan(tty.raw.lastIndexOf('items done'));
  });

  it('says clearly when the run id is unknown, the URL is bad or the store unreachable', async () => {
    const unknown = await cli('runs', 'show', 'no-such-run', '--store', store);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no-such-run/);
    const bad = await cli('runs', 'list', '--store', 'mysql://127.0.0.1');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/redis:\/\/|postgres:\/\//);
    const down = await cli('runs', 'list', '--store', 'redis://127.0.0.1:1');
    expect(down.code).toBe(1);
    expect(down.err.length).toBeGreaterThan(0);
    // a malformed path or a parameter nothing reads is bad usage (exit 2), never a default namespace used instead
    for (const [url, said] of [
      [`${REDIS_URL.replace(/\/\d*$/, '')}/abc`, /path of a redis store URL is a database number/],
      [`${REDIS_URL.replace(/\/\d*$/, '')}/7/8`, /path of a redis store URL is a database number/],
      [`${REDIS_URL}?prefx=mine:`, /unknown parameter "prefx" in the store URL .*: it reads prefix and events$/m],
      ['postgres://postgres@127.0.0.1:5432/test?schem=other', /unknown parameter "schem" .*: it reads schema and events, and the driver's connection parameters/],
      ['postgres://postgres@127.0.0.1:5432/test?prefix=mine', /unknown parameter "prefix"/],
    ] as const) {
      const r = await cli('runs', 'list', '--store', url);
      expect([r.code, r.out], url).toEqual([2, '']);
      expect(r.err, url).toMatch(said);
    }
    // the driver's own parameters still pass (on a schema that exists: the default one may not, and the CLI creates none)
    const { schema } = await pgs.open();
    const pg = await cli('runs', 'list', '--store', `${pgs.url}?schema=${schema}&application_name=floxide-test&sslmode=disable`);
    expect(pg.code, pg.err).toBe(0);
  });
});

describe('floxide runs signal', () => {
  it('refuses a --data that is not JSON (exit 2) and a name the run\'s recorded graph has no wait for (exit 1); delivers a signal on Redis once per key, and show lists it in the mailbox', async () => {
    const bad = await cli('runs', 'signal', 'cli-b', 'approval', '--data', '{nope', '--store', store);
    expect([bad.code, bad.out]).toEqual([2, '']);
    expect(bad.err).toMatch(/^floxide runs: --data: malformed JSON \(.+\): give --data JSON, in single quotes for the shell, with its keys and strings in double quotes, e\.g\. --data '\{"approved":true,"by":"ana"\}'\n$/);
    // the chain workflow has no wait, and its versions file is under the current folder (the repository): refused
    const refused = await cli('runs', 'signal', 'cli-b', 'approval', '--data', '{"approved":true}', '--key', 'mail-1', '--store', store);
    expect([refused.code, refused.out]).toEqual([1, '']);
    expect(refused.err).toMatch(/^floxide runs: run cli-b \(ChainWorkflow, version [0-9a-f]{16}\) has no WaitFor on signal "approval": it waits for no signal \(\S+\.floxide\.versions\.json\); nothing was sent: check the name\n$/);
    // from a folder without the versions files, the name cannot be checked: the signal is kept in the mailbox
    const elsewhere = mkdtempSync(join(tmpdir(), 'floxide-signal-cwd-'));
    const away = (...argv: string[]) => cliCaptured(argv, { cwd: elsewhere });
    const r = await away('runs', 'signal', 'cli-b', 'approval', '--data', '{"approved":true}', '--key', 'mail-1', '--store', store);
    expect(r.code).toBe(0);
    // no wait took it (the chain workflow has none): it says so
    expect(r.out).toMatch(/^run cli-b: signal approval kept in the run's mailbox: no item of the run waits for approval now; the next WaitFor on approval in it takes it; the name was not checked: no \*\.floxide\.versions\.json under \S+ records version [0-9a-f]{16} of ChainWorkflow \(run this from the project's folder to have it checked\)\n$/);
    const again = await away('runs', 'signal', 'cli-b', 'approval', '--data', '{"approved":true}', '--key', 'mail-1', '--store', store);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/was already delivered, nothing changed/);
    // the key again with another payload: refused (exit 2), nothing kept
    const reused = await away('runs', 'signal', 'cli-b', 'approval', '--data', '{"approved":false}', '--key', 'mail-1', '--store', store);
    expect([reused.code, reused.out, reused.err]).toEqual([
      2,
      '',
      'floxide runs: run cli-b already received a signal with key "mail-1" and another payload: a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own\n',
    ]);
    // without --data nothing is sent (exit 2): a null payload the wait's check refuses would fail the wait later
    const bare = await away('runs', 'signal', 'cli-b', 'approval', '--key', 'mail-2', '--store', store, '--json');
    expect([bare.code, bare.out]).toEqual([2, '']);
    expect(bare.err).toBe(`floxide runs: --data is needed: the payload of signal "approval" as JSON, e.g. --data '{"approved":true,"by":"ana"}' (floxide cannot check it against the wait's type here; a signal that carries nothing: --data null); nothing was sent\n`);
    // --json: every answer has the same fields
    const fresh = await away('runs', 'signal', 'cli-b', 'approval', '--data', 'null', '--key', 'mail-2', '--store', store, '--json');
    expect([fresh.code, JSON.parse(fresh.out)]).toEqual([0, { runId: 'cli-b', name: 'approval', delivery: 'delivered', kept: true }]);
    const duplicate = await away('runs', 'signal', 'cli-b', 'approval', '--data', 'null', '--key', 'mail-2', '--store', store, '--json');
    expect([duplicate.code, JSON.parse(duplicate.out)]).toEqual([0, { runId: 'cli-b', name: 'approval', delivery: 'duplicate', kept: false }]);
    rmSync(elsewhere, { recursive: true, force: true });
    // no wait took it (the chain workflow has none): it waits in the run's mailbox
    const show = await cli('runs', 'show', 'cli-b', '--store', store, '--json');
    expect(JSON.parse(show.out).signals).toMatchObject([{ name: 'approval', payload: { approved: true }, key: 'mail-1' }, { name: 'approval', payload: null, key: 'mail-2' }]);
    const help = await cli('runs', 'signal', '--help');
    expect(help.out).toMatch(/--key <key>/);
  });
});

describe('floxide runs show: the workers holding a run\'s items', () => {
  it('are the workers the store says hold them, not the last heartbeat of a killed worker naming items others finished', async () => {
    const own = uniquePrefix('cli-holders');
    const url = `${REDIS_URL}?prefix=${encodeURIComponent(own)}`;
    const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: own });
    try {
      const wf = chain();
      await wf.startDistributed(new CountCtx(), 1, b, 'held');
      // w-killed leased s1 and died; its heartbeat stays, naming s1, which w-done ran once the lease expired
      const [first] = await b.claim('w-killed', 1, 1, { workflow: 'ChainWorkflow' });
      await b.heartbeat('w-killed', { status: 'busy', current: [{ runId: 'held', itemId: first!.item.id }], processed: 0, errors: 0 });
      await new Promise((r) => setTimeout(r, 5));
      await wf.stepDistributed(b, 'w-done');
      expect((await b.itemState('held', first!.item.id))?.status).toBe('completed');
      // w-live holds s2 now
      const [second] = await b.claim('w-live', 1, 60_000, { workflow: 'ChainWorkflow' });
      await b.heartbeat('w-live', { status: 'busy', current: [{ runId: 'held', itemId: second!.item.id }], processed: 0, errors: 0 });
      const json = JSON.parse((await cli('runs', 'show', 'held', '--store', url, '--json')).out) as { workers: Array<{ workerId: string; items: string[] }> };
      expect(json.workers.map((w) => [w.workerId, w.items])).toEqual([['w-live', [second!.item.id]]]);
      const text = (await cli('runs', 'show', 'held', '--store', url)).out;
      expect(text).toMatch(/w-live/);
      expect(text).not.toMatch(/w-killed/);
    } finally {
      const client = (b as unknown as { client: { keys(p: string): Promise<string[]>; del(k: string[]): Promise<number> } }).client;
      const keys = await client.keys(`${own}*`);
      if (keys.length > 0) await client.del(keys);
      await b.close();
    }
  });
});

/** `runs watch <run>` while the run goes on, then `runs show` of it, on `backend` at `store`. */
async function watchAndShow(backend: DistributedBackend, store: string): Promise<void> {
    const wf = chain();
    await wf.startDistributed(new CountCtx(), 5, backend, 'cli-w');
    const watching = cli('runs', 'watch', 'cli-w', '--store', store);
    // a stale heartbeat still naming an item of the run: once the run is finished nobody holds it
    await backend.heartbeat('ghost-worker', { status: 'busy', current: [{ runId: 'cli-w', itemId: '0' }], processed: 0, errors: 0 });
    // (other runs of the workflow share the queue: step until this one finished)
    for (let i = 0; i < 50 && (await backend.getRun('cli-w'))?.status === 'running'; i++) await wf.stepDistributed(backend, 'w-cli');
    const watch = await watching;
    expect(watch.code).toBe(0);
    const lines = watch.out.trim().split('\n');
    expect(lines[0]).toMatch(/cli-w  run\.created +ChainWorkflow$/);
    expect(lines.filter((l) => / step\.finished /.test(l))).toHaveLength(5);
    expect(lines.at(-1)).toMatch(/run\.completed +output /);

    const show = await cli('runs', 'show', 'cli-w', '--store', store, '--context');
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/step history \(5\)/);
    expect(show.out).toMatch(/s1 +0 +1 +w-cli +continue/);
    expect(show.out).toMatch(/s5 .* terminal/);
    expect(show.out).toMatch(/initial {2}\{/);
    expect(show.out).not.toMatch(/ghost-worker/);
    const json = JSON.parse((await cli('runs', 'show', 'cli-w', '--store', store, '--json', '--context')).out) as { history: unknown[]; workers: unknown[]; context: { deltas: unknown[] } };
    expect(json.history).toHaveLength(5);
    expect(json.workers).toEqual([]);
    expect(json.context.deltas.length).toBeGreaterThan(0);
}

const pgs = usePgSchemas('clirun');

describe('floxide runs show and watch: history, context, events', () => {
  it('watch <run> prints its events live and exits 0 when it completes; show prints the history and the context', async () => {
    await watchAndShow(backend, store);
  });

  it('the same on Postgres', async () => {
    const pgBackend = await pgs.open();
    await watchAndShow(pgBackend, `${pgs.url}?schema=${pgBackend.schema}`);
  });

  it('watch on Postgres says when events are held back by an open transaction, by which, and when they flow again; a bad --held-after-ms is refused', async () => {
    const bad = await cli('runs', 'watch', '--store', store, '--held-after-ms', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('floxide runs: --held-after-ms must be a number of ms >= 0, got "soon"\n');
    const pgBackend = await pgs.open();
    const other = await openHolder();
    try {
      await other.begin(); // later events wait for its end
      const wf = chain();
      await wf.startDistributed(new CountCtx(), 5, pgBackend, 'cli-held');
      // (run in this process with its own streams, so that the test sees the report as it is written)
      const watch = { code: -1, out: '', err: '' };
      // (a short --held-after-ms: the open transaction holds back the events of every test running beside this one)
      const watching = runCli(['runs', 'watch', 'cli-held', '--store', `${pgs.url}?schema=${pgBackend.schema}`, '--held-after-ms', '300'], {
        color: false,
        stdout: { write: (t: string) => (watch.out += t) },
        stderr: { write: (t: string) => (watch.err += t) },
      }).then((code) => (watch.code = code));
      await until(() => watch.err.includes('they come when it ends'), 20_000, 'the report of held events');
      expect(watch.out).toBe('');
      await other.commit();
      for (let i = 0; i < 50 && (await pgBackend.getRun('cli-held'))?.status === 'running'; i++) await wf.stepDistributed(pgBackend, 'w-held');
      await watching;
      expect(watch.code, watch.err).toBe(0);
      const database = new URL(pgs.url).pathname.slice(1);
      const [held, flowing, ...rest] = watch.err.split('\n');
      expect(held).toMatch(/^floxide runs watch: events held back since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ by a transaction open on the server since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ /);
      expect(held).toContain(` (pid ${other.pid}, database ${database}); they come when it ends`);
      expect(flowing).toBe('floxide runs watch: events flow again');
      expect(rest).toEqual(['']);
      const lines = watch.out.trim().split('\n');
      expect(lines[0]).toMatch(/cli-held  run\.created +ChainWorkflow$/);
      expect(lines.at(-1)).toMatch(/run\.completed +output /);
    } finally {
      await other.end();
    }
  });

  it('watch <run> stopped (SIGTERM, Ctrl-C) before the run ends exits 1 and says so: exit 0 says the run completed', async () => {
    await chain().startDistributed(new CountCtx(), 1, backend, 'cli-stopped');
    const stop = new AbortController();
    const watch = { out: '', err: '' };
    const watching = runCli(['runs', 'watch', 'cli-stopped', '--store', store], {
      color: false,
      stdout: { write: (t: string) => (watch.out += t) },
      stderr: { write: (t: string) => (watch.err += t) },
      onStop: (fn) => stop.signal.addEventListener('abort', () => void fn()),
    });
    await until(() => watch.out.includes('run.created'), 10_000, 'the run\'s first event');
    stop.abort();
    expect(await watching).toBe(1);
    expect(watch.err).toBe('floxide runs watch: stopped before run cli-stopped ended (it is running)\n');
    // without a run id, a stop is how a watch ends
    const all = new AbortController();
    let out = '';
    const every = runCli(['runs', 'watch', '--store', store, '--from-start'], { color: false, stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, onStop: (fn) => all.signal.addEventListener('abort', () => void fn()) });
    await until(() => out.includes('cli-stopped'), 10_000, 'the retained events');
    all.abort();
    expect(await every).toBe(0);
  });

  it('wait stopped by SIGTERM exits 130 at once, as docs/cli.md says of a command with nothing to stop gracefully', async () => {
    await chain().startDistributed(new CountCtx(), 1, backend, 'cli-wait-stopped');
    const child = spawn(process.execPath, [join(repo, 'dist/cli/cli.js'), 'runs', 'wait', 'cli-wait-stopped', '--store', store, '--timeout-ms', '60000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // (its progress line: it is waiting)
    await new Promise((r) => child.stderr.once('data', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    expect((await backend.getRun('cli-wait-stopped'))?.status).toBe('running');
  });

  it('watch of an unknown run exits 1 and says so', async () => {
    const r = await cli('runs', 'watch', 'no-such-run', '--store', store);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no-such-run/);
  });
});

describe('floxide runs purge on Postgres', () => {
  it('deletes the finished runs past --older-than-ms, keeps the open ones, and refuses a bad age', async () => {
    const pgBackend = await pgs.open();
    const url = `${pgs.url}?schema=${pgBackend.schema}`;
    const wf = chain();
    await wf.startDistributed(new CountCtx(), 1, pgBackend, 'purge-done');
    await wf.startDistributed(new CountCtx(), 2, pgBackend, 'purge-open');
    await pgBackend.cancelRun('purge-done');
    const young = await cli('runs', 'purge', '--store', url);
    expect([young.code, young.out]).toEqual([0, '0 finished run(s) deleted\n']);
    const all = await cli('runs', 'purge', '--store', url, '--older-than-ms', '0', '--json');
    expect([all.code, all.out, all.err]).toEqual([0, '{"purged":1}\n', '']);
    expect(await pgBackend.getRun('purge-done')).toBeUndefined();
    expect((await pgBackend.getRun('purge-open'))?.status).toBe('running');
    const bad = await cli('runs', 'purge', '--store', url, '--older-than-ms', '-5');
    expect([bad.code, bad.err]).toEqual([2, 'floxide runs: --older-than-ms must be an integer >= 0, got "-5"\n']);
  });
});

describe('floxide runs show and list: a run whose unclaimed item is corrupt', () => {
  /** Starts a run, corrupts its start item's stored JSON, and reads it through the CLI: nothing fails. */
  async function showCorrupt(b: DistributedBackend, url: string, tamper: StoreTamper): Promise<void> {
    const runId = `cli-corrupt-${b.kind}`;
    await chain().startDistributed(new CountCtx(), 1, b, runId);
    const [first] = await b.pendingWork(runId);
    await tamper.itemJson(b, runId, first!.item.id, '{"node":');
    const reason = `run ${runId} item ${JSON.stringify(first!.item.id)}: the stored work item: malformed JSON (Unexpected end of JSON input): "{\\"node\\":"`;
    const json = await cli('runs', 'show', runId, '--store', url, '--json');
    expect(json.code, json.err).toBe(0);
    const shown = JSON.parse(json.out) as { run: { status: string }; pending: Array<{ item: unknown; state: { status: string }; corrupt?: { name: string; message: string; code: string } }> };
    expect(shown.run.status).toBe('running');
    expect(shown.pending).toHaveLength(1);
    expect(shown.pending[0]!.item).toEqual({ node: first!.item.node, id: first!.item.id, input: null });
    expect(shown.pending[0]!.state.status).toBe('pending');
    expect(shown.pending[0]!.corrupt).toMatchObject({ name: 'CorruptStateError', code: 'FLOXIDE_CORRUPT_STATE' });
    expect(shown.pending[0]!.corrupt!.message).toContain(reason);
    const text = await cli('runs', 'show', runId, '--store', url);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(new RegExp(`${first!.item.id}\\s+${first!.item.node}\\s+pending \\(corrupt\\)`));
    expect(text.out).toContain('corrupt items (1): their stored JSON cannot be read; the worker that claims one fails it (a dead letter) and the run');
    expect(text.out).toContain(`CorruptStateError: ${reason}`);
    const list = await cli('runs', 'list', '--store', url, '--json');
    expect(list.code, list.err).toBe(0);
    // the list marks the run with its corrupt item's error
    const row = (JSON.parse(list.out) as Array<{ runId: string; corrupt?: { name: string; message: string } }>).find((r) => r.runId === runId);
    expect(row!.corrupt).toMatchObject({ name: 'CorruptStateError', message: expect.stringContaining(reason) });
  }

  it('on Redis', async () => {
    await showCorrupt(backend, store, redisTamper);
  });

  it('on Postgres', async () => {
    const pgBackend = await pgs.open();
    await showCorrupt(pgBackend, `${pgs.url}?schema=${pgBackend.schema}`, postgresTamper);
  });
});

describe('floxide runs list and show: runs whose stored record has corrupt fields', () => {
  /**
   * Three runs; one's input and creation time corrupted, another (failed) with an error that is not `{ name, message
   * }`: list lists all three, marking only those two rows; show shows each with the fields marked, exit 0.
   */
  async function listCorruptRecords(b: DistributedBackend, url: string, tamper: StoreTamper): Promise<void> {
    const [good, badInput, badError] = ['rec-good', 'rec-input', 'rec-error'].map((id) => `${id}-${b.kind}`) as [string, string, string];
    for (const id of [good, badInput, badError]) await chain().startDistributed(new CountCtx(), 1, b, id);
    await tamper.runField(b, badInput, 'input', '{"n":');
    await tamper.runField(b, badInput, 'createdAt', '9000000000000000000');
    await b.failRun(badError, { name: 'Boom', message: 'boom' });
    await tamper.runField(b, badError, 'error', '[1]');
    const inputReason = new RegExp(`^run ${badInput} input: malformed JSON \\(Unexpected end of JSON input\\); run ${badInput} creation time is not a time: "?9000000000000000000"?$`);
    const errorReason = `run ${badError} error is not { name, message }: [1]`;
    const json = await cli('runs', 'list', '--store', url, '--json');
    expect(json.code, json.err).toBe(0);
    const rows = (JSON.parse(json.out) as Array<{ runId: string; status: string; createdAt: number | null; corrupt?: { message: string } }>).filter((r) => [good, badInput, badError].includes(r.runId));
    expect(rows.map((r) => r.runId).sort()).toEqual([good, badInput, badError].sort());
    const byId = Object.fromEntries(rows.map((r) => [r.runId, r]));
    expect(byId[good]!.corrupt).toBeUndefined();
    expect(byId[badInput]).toMatchObject({ status: 'running', createdAt: null });
    expect(byId[badInput]!.corrupt!.message).toMatch(inputReason);
    expect(byId[badError]).toMatchObject({ status: 'failed', corrupt: { message: errorReason } });
    const table = await cli('runs', 'list', '--store', url);
    expect(table.code, table.err).toBe(0);
    expect(table.out).toMatch(new RegExp(`${badInput}\\s+ChainWorkflow\\s+\\S+\\s+running\\s+\\?\\s+-\\s+corrupt: run ${badInput} input: malformed JSON`));
    expect(table.out).toMatch(new RegExp(`${badError}\\s+ChainWorkflow\\s+\\S+\\s+failed\\s+.*corrupt: run ${badError} error is not`));
    for (const [runId, reason] of [
      [badInput, inputReason],
      [badError, errorReason],
    ] as const) {
      const shown = await cli('runs', 'show', runId, '--store', url, '--json');
      expect(shown.code, shown.err).toBe(0);
      const view = JSON.parse(shown.out) as { run: { runId: string; corrupt: { name: string; message: string } }; contextVersion: number };
      expect(view.run.runId).toBe(runId);
      expect(view.run.corrupt.name).toBe('CorruptStateError');
      expect(view.run.corrupt.message).toMatch(reason);
      expect(view.contextVersion).toBe(0);
      const text = await cli('runs', 'show', runId, '--store', url);
      expect(text.code, text.err).toBe(0);
      expect(text.out).toMatch(/\ncorrupt\s+CorruptStateError: run /);
    }
    // wait acts on the record: it reports the corrupt one, exit 1
    const wait = await cli('runs', 'wait', badInput, '--store', url, '--json', '--timeout-ms', '1000');
    expect(wait.code).toBe(1);
    expect(wait.err).toContain(`run ${badInput} input: malformed JSON`);
  }

  it('on Redis', async () => {
    await listCorruptRecords(backend, store, redisTamper);
  });

  it('on Postgres', async () => {
    const pgBackend = await pgs.open();
    await listCorruptRecords(pgBackend, `${pgs.url}?schema=${pgBackend.schema}`, postgresTamper);
  });
});

/** Runs `fn` on a Redis backend with a key prefix of its own (and its store URL), deleting its keys after. */
async function withOwnRedis(name: string, fn: (b: RedisBackend, url: string) => Promise<void>): Promise<void> {
  const own = uniquePrefix(name);
  const b = await RedisBackend.connect({ url: REDIS_URL, keyPrefix: own });
  try {
    await fn(b, `${REDIS_URL}?prefix=${encodeURIComponent(own)}`);
  } finally {
    const client = (b as unknown as { client: { keys(p: string): Promise<string[]>; del(k: string[]): Promise<number> } }).client;
    const keys = await client.keys(`${own}*`);
    if (keys.length > 0) await client.del(keys);
    await b.close();
  }
}

describe('floxide runs show: a run whose error records or step history are corrupt', () => {
  /** A run with one committed step and one error record, both corrupted: show shows the run with those parts empty and marked, exit 0. */
  async function showCorruptRecords(b: DistributedBackend, url: string, tamper: RecordTamper): Promise<void> {
    const runId = `cli-records-${b.kind}`;
    const wf = chain();
    await wf.startDistributed(new CountCtx(), 1, b, runId);
    await wf.stepDistributed(b, 'w-records');
    await b.recordError(runId, { itemId: '0', node: 'a', attempt: 1, error: { name: 'Boom', message: 'boom' } });
    await tamper(b, runId, 'errors', '{"name":');
    await tamper(b, runId, 'steps', '{"node":');
    const json = await cli('runs', 'show', runId, '--store', url, '--json');
    expect(json.code, json.err).toBe(0);
    const shown = JSON.parse(json.out) as { run: { runId: string }; errors: unknown[]; history: unknown[]; pending: unknown[]; unreadable: Array<{ part: string; error: { name: string; message: string } }> };
    expect(shown.run.runId).toBe(runId);
    expect(shown.errors).toEqual([]);
    expect(shown.history).toEqual([]);
    expect(shown.pending).toHaveLength(1);
    expect(shown.unreadable.map((u) => [u.part, u.error.name])).toEqual([
      ['errors', 'CorruptStateError'],
      ['step history', 'CorruptStateError'],
    ]);
    for (const u of shown.unreadable) expect(u.error.message).toContain('malformed JSON');
    const text = await cli('runs', 'show', runId, '--store', url);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/\nerrors unreadable: CorruptStateError: .*malformed JSON/);
    expect(text.out).toMatch(/\nstep history unreadable: CorruptStateError: .*malformed JSON/);
    expect(text.out).toMatch(/outstanding items \(1\)/);
  }

  it('on Redis', async () => {
    // a key prefix of its own: the step taken here serves only this run
    await withOwnRedis('cli-records', (b, url) => showCorruptRecords(b, url, redisRecordTamper));
  });

  it('on Postgres', async () => {
    const pgBackend = await pgs.open();
    await showCorruptRecords(pgBackend, `${pgs.url}?schema=${pgBackend.schema}`, postgresRecordTamper);
  });
});

describe('floxide runs show: a run whose stored context or a delta is corrupt', () => {
  /**
   * Two runs of three committed steps each; one's initial context, the other's delta 2 corrupted: show reads each
   * run, its history and items, with the context error in place of the context, exit 0.
   */
  async function showCorruptContext(b: DistributedBackend, url: string, tamper: StoreTamper): Promise<void> {
    const wf = chain();
    const [ctxRun, deltaRun] = [`cli-ctx-${b.kind}`, `cli-delta-${b.kind}`];
    for (const id of [ctxRun, deltaRun]) await wf.startDistributed(new CountCtx(), 1, b, id);
    for (let i = 0; i < 6; i++) await wf.stepDistributed(b, 'w-ctx');
    const committer = (await b.readContext(deltaRun)).deltas[1]!.itemId;
    await tamper.contextJson(b, ctxRun, '{"count":');
    await tamper.deltaJson(b, deltaRun, 2, '{"count":');
    for (const [runId, reason] of [
      [ctxRun, 'malformed JSON (Unexpected end of JSON input)'],
      [deltaRun, `context delta 2 (item ${JSON.stringify(committer)}): malformed JSON (Unexpected end of JSON input)`],
    ] as const) {
      for (const context of [[], ['--context']]) {
        const json = await cli('runs', 'show', runId, '--store', url, '--json', ...context);
        expect(json.code, json.err).toBe(0);
        const shown = JSON.parse(json.out) as { run: { runId: string; status: string }; history: unknown[]; pending: unknown[]; contextError: { name: string; message: string; code: string }; context?: unknown; contextVersion?: number };
        expect(shown.run).toMatchObject({ runId, status: 'running' });
        expect(shown.history).toHaveLength(3);
        expect(shown.pending).toHaveLength(1);
        expect(shown.contextError).toMatchObject({ name: 'CorruptStateError', code: 'FLOXIDE_CORRUPT_STATE' });
        expect(shown.contextError.message).toContain(reason);
        expect(shown.context).toBeUndefined();
        expect(shown.contextVersion).toBeUndefined();
        const text = await cli('runs', 'show', runId, '--store', url, ...context);
        expect(text.code, text.err).toBe(0);
        expect(text.out).toMatch(new RegExp(`run\\s+${runId}\\n`));
        expect(text.out).toContain(`context   unreadable: CorruptStateError: `);
        expect(text.out).toContain(reason);
        expect(text.out).toMatch(/step history \(3\)/);
        expect(text.out).toMatch(/outstanding items \(1\)/);
      }
    }
    // the list marks both open runs with their context's error
    const list = await cli('runs', 'list', '--store', url, '--json');
    expect(list.code, list.err).toBe(0);
    const marks = Object.fromEntries((JSON.parse(list.out) as Array<{ runId: string; corrupt?: { message: string } }>).map((r) => [r.runId, r.corrupt?.message]));
    expect(marks[ctxRun]).toContain('malformed JSON (Unexpected end of JSON input)');
    expect(marks[deltaRun]).toContain(`context delta 2 (item ${JSON.stringify(committer)}): malformed JSON`);
  }

  it('on Redis', async () => {
    // a key prefix of its own: the steps taken here serve only these two runs
    await withOwnRedis('cli-ctx', (b, url) => showCorruptContext(b, url, redisTamper));
  });

  it('on Postgres', async () => {
    const pgBackend = await pgs.open();
    await showCorruptContext(pgBackend, `${pgs.url}?schema=${pgBackend.schema}`, postgresTamper);
  });
});

describe('floxide runs versions', () => {
  it('counts the open runs per workflow version, with the live workers serving each; list shows each run\'s version', async () => {
    const { ChainWorkflowDef } = await import('../distributed/helpers.js');
    await chain().startDistributed(new CountCtx(), 3, backend, 'cli-v');
    await backend.heartbeat('v-worker', { status: 'idle', current: [], processed: 0, errors: 0, info: { workflow: 'ChainWorkflow', versions: `${ChainWorkflowDef.fingerprint},0123456789abcdef` } });
    const json = await cli('runs', 'versions', '--store', store, '--workflow', 'ChainWorkflow', '--json');
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.out) as Array<{ workflow: string; version: string; running: number; paused: number; workers: string[] }>;
    const mine = rows.find((r) => r.version === ChainWorkflowDef.fingerprint)!;
    expect(mine.running).toBeGreaterThanOrEqual(1);
    expect(mine.workers).toContain('v-worker');
    expect(rows.find((r) => r.version === '0123456789abcdef')).toEqual({ workflow: 'ChainWorkflow', version: '0123456789abcdef', running: 0, paused: 0, workers: ['v-worker'], accepting: [] });
    const table = await cli('runs', 'versions', '--store', store);
    expect(table.out).toMatch(/^WORKFLOW +VERSION +RUNNING +PAUSED +WORKERS\n/);
    expect(table.out).toContain(ChainWorkflowDef.fingerprint);
    expect((await cli('runs', 'list', '--store', store)).out).toMatch(new RegExp(`cli-v +ChainWorkflow +${ChainWorkflowDef.fingerprint} +running `));
    await backend.removeWorker('v-worker');
  });
});

describe('floxide worker', () => {
  it('refuses bad numeric flags with exit 2 and says which flag', async () => {
    for (const [flag, value] of [
      ['--handoff-limit', '-1'],
      ['--concurrency', '0'],
      ['--max-redeliveries', 'x'],
    ] as const) {
      const r = await cli('worker', 'test/fixtures/distributed/fan-worker.ts', '--store', store, flag, value);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${flag} must be an integer`);
    }
  });

  it('explains a module it cannot use in one line (exit 1): missing, throwing at import, exporting no workflow, a factory that throws, importing a generated module never built, or a stale one compiled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floxide-worker-modules-'));
    try {
      const files = {
        'throws.mjs': "throw new Error('boom at import');\n",
        'none.mjs': 'export const x = 1;\n',
        'factory.mjs': "export async function createWorkflow() { throw new Error('factory failed: DB_URL missing'); }\n",
        // its generated module was never built (or not compiled)
        'unbuilt.mjs': "import { FlowDef } from './flow.floxide.js';\nexport default FlowDef;\n",
        // compiled by tsc after a graph change without floxide build: bindWorkflow finds its generated module stale
        'stale.mjs': `import { StaleGeneratedModuleError } from ${JSON.stringify(join(repo, 'runtime/core/errors.ts'))};\nthrow new StaleGeneratedModuleError('the generated module of Flow (generated from src/flow.ts) is stale: node extra is not in the generated module; run floxide build');\n`,
        'stale-factory.mjs': `import { StaleGeneratedModuleError } from ${JSON.stringify(join(repo, 'runtime/core/errors.ts'))};\nexport function createWorkflow() { throw new StaleGeneratedModuleError('Flow is stale; run floxide build'); }\n`,
      };
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      const run = (m: string) => cli('worker', join(dir, m), '--store', store);
      const answers = await Promise.all(['missing.mjs', ...Object.keys(files)].map(run));
      expect(answers.map((a) => a.code)).toEqual([1, 1, 1, 1, 1, 1, 1]);
      const [missing, throws, none, factory, unbuilt, stale, staleFactory] = answers.map((a) => a.err);
      expect(staleFactory).toBe(`floxide worker: export "createWorkflow" of ${join(dir, 'stale-factory.mjs')} failed to create the workflow: Flow is stale; run floxide build, then compile again (\`floxide build && tsc\`): this worker runs compiled JavaScript, which floxide build does not change\n`);
      expect(stale).toBe(`floxide worker: cannot import ${join(dir, 'stale.mjs')}: the generated module of Flow (generated from src/flow.ts) is stale: node extra is not in the generated module; run floxide build, then compile again (\`floxide build && tsc\`): this worker runs compiled JavaScript, which floxide build does not change\n`);
      expect(unbuilt).toMatch(/^floxide worker: cannot import .*unbuilt\.mjs: .*flow\.floxide\.js.*: flow\.floxide\.js is generated by floxide build: run `floxide build` \(and `tsc` after it when the worker runs compiled \.js: `floxide build && tsc`\)\n$/);
      expect(missing).toMatch(/^floxide worker: cannot find module .*missing\.mjs/);
      expect(throws).toMatch(/^floxide worker: cannot import .*throws\.mjs: boom at import\n$/);
      expect(none).toMatch(/^floxide worker: .*none\.mjs exports no bound workflow/);
      expect(factory).toBe(`floxide worker: export "createWorkflow" of ${join(dir, 'factory.mjs')} failed to create the workflow: factory failed: DB_URL missing\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

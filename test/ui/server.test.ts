/**
 * The `floxide ui` server over HTTP (no browser): paging the runs list, the run page's data, the graph lookup, and
 * access rules (loopback host names only, the token beyond loopback, the action header); live updates on Postgres.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { startUiServer, type UiServer } from '../../cli/ui/server.js';
import { LIST_CAP, type RunView } from '../../cli/ui/views.js';
import { Gates, ReviewCtx, ReviewWorkflow } from '../fixtures/ui/flows.js';
import { ReviewWorkflowDef } from '../fixtures/ui/flows.floxide.js';
import { ApprovalFlowDef, ApprovalFlowDot } from '../fixtures/signals/flows.floxide.js';
import { ApprovalFlow } from '../fixtures/signals/flows.js';
import { renderSvg } from '../../compiler/docs.js';
import { chain, ChainWorkflowDef, CountCtx, openTestBackend, PG_URL, REAL_BACKENDS, REDIS_URL, until } from '../distributed/helpers.js';
import { openRunsStore } from '../../cli/store/open.js';
import { createClient } from '@redis/client';
import type { RedisBackend } from '../../runtime/distributed/redis/backend.js';
import type { DistributedBackend } from '../../runtime/distributed/contracts.js';
import { SqliteRunsStore } from '../../cli/store/sqlite-runs.js';
import { plantCorruptSqliteRuns, redisRecordTamper, redisTamper } from '../distributed/tamper.js';
import { usePgSchemas } from '../distributed/pg-schemas.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { RetryWorkflow } from '../../examples/retry.js';
import { RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { serializeError, StoreError } from '../../runtime/core/errors.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with full control of the headers (fetch forbids setting Host). */
function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Opens a server-sent events stream and resolves with the events read until `until` says stop. */
function readEvents(url: string, until: (events: Array<{ event: string; data: string }>) => boolean, onOpen?: () => void): Promise<Array<{ event: string; data: string }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ event: string; data: string }> = [];
    const req = request(url, (res) => {
      let buf = '';
      onOpen?.();
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data });
        }
        if (until(events)) {
          req.destroy();
          resolve(events);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A `readEvents` stream's first event: `saw(events)` in its `until` (always true), `seen` once one came. */
function firstEvent(): { saw: (events: readonly unknown[]) => true; seen: Promise<void> } {
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  return { saw: (events) => (events.length > 0 && resolve(), true), seen };
}

/** Runs `fn` with a Redis backend under a key prefix of its own and a UI server on it; closes both and deletes the keys. */
async function withRedisUi(tag: string, fn: (backend: DistributedBackend, server: UiServer) => Promise<void>): Promise<void> {
  const store = await openTestBackend('redis', tag);
  const server = await startUiServer({ backend: store.backend });
  try {
    await fn(store.backend, server);
  } finally {
    await server.close();
    await store.dispose();
  }
}

const wf = bindWorkflow(ReviewWorkflowDef, new ReviewWorkflow(new Gates()));

describe('floxide ui server', () => {
  let clock = 1_000_000;
  const backend = new MemoryBackend({ clock: () => clock });
  let server: UiServer;
  let base: string;

  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      clock += 1000;
      await wf.startDistributed(new ReviewCtx(), `topic ${i}`, backend, `run-${i}`);
    }
    await backend.cancelRun('run-3', 'not needed');
    server = await startUiServer({ backend, graphs: ['test/fixtures/ui/graphs'] });
    base = server.url;
  });
  afterAll(() => server.close());

  it('listens on loopback without a token and prints its URL', () => {
    expect(server.token).toBeUndefined();
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('pages the runs newest first with filters, by cursor', async () => {
    const first = JSON.parse((await call(`${base}api/runs?limit=3`)).body);
    expect(first.runs.map((r: { runId: string }) => r.runId)).toEqual(['run-6', 'run-5', 'run-4']);
    const second = JSON.parse((await call(`${base}api/runs?limit=3&after=${encodeURIComponent(first.next)}`)).body);
    expect(second.runs.map((r: { runId: string }) => r.runId)).toEqual(['run-3', 'run-2', 'run-1']);
    const last = JSON.parse((await call(`${base}api/runs?limit=3&after=${encodeURIComponent(second.next)}`)).body);
    expect(last).toEqual({ runs: [expect.objectContaining({ runId: 'run-0', workflow: 'ReviewWorkflow', status: 'running' })], next: null });
    const cancelled = JSON.parse((await call(`${base}api/runs?status=cancelled`)).body);
    expect(cancelled.runs).toEqual([expect.objectContaining({ runId: 'run-3', error: 'CancelledError: not needed' })]);
    expect(JSON.parse((await call(`${base}api/runs?workflow=Other`)).body)).toEqual({ runs: [], next: null });
    expect((await call(`${base}api/runs?status=sleeping`)).status).toBe(400);
    expect((await call(`${base}api/runs?after=nonsense`)).status).toBe(400);
    expect((await call(`${base}api/runs?limit=0`)).status).toBe(400);
  });

  it('refuses a cursor whose run id is no run id, and a limit that is not a plain integer', async () => {
    // (a time of 16 digits past the largest integer a number holds exactly was refused as no cursor object at all)
    for (const query of [`after=${encodeURIComponent('1~<script>')}`, `after=${encodeURIComponent('1~a b')}`, 'after=9999999999999999~run-1', 'limit=1e2', 'limit=0x10', 'limit=%2010', 'limit=2.0']) {
      const res = await call(`${base}api/runs?${query}`);
      expect([res.status, JSON.parse(res.body).error], query).toEqual([400, expect.stringMatching(/^(invalid page cursor|limit must be)/)]);
    }
    expect((await call(`${base}api/runs?limit=2&after=${encodeURIComponent('1~run-1')}`)).status).toBe(200);
  });

  it('lists a run failed with a megabyte message by its first 500 characters (the run page has it whole)', async () => {
    const store = await openTestBackend('redis', 'uibig');
    const big = await startUiServer({ backend: store.backend });
    try {
      const message = `${'\u{1F600}'.repeat(300)}${'m'.repeat(1024 * 1024)}`;
      await store.backend.createRun({ runId: 'big-error', workflow: 'ReviewWorkflow', fingerprint: 'f'.repeat(16), input: 1, context: {}, firstItem: { node: 'prepare', id: '0', input: 1 } });
      await store.backend.failRun('big-error', serializeError(new Error(message)));
      const [row] = JSON.parse((await call(`${big.url}api/runs`)).body).runs;
      // 500 characters, a pair of surrogates not cut in half (the 500th would be the first half of an emoji)
      const shown = `Error: ${message}`.slice(0, 499);
      expect(row.error.length).toBeLessThan(600);
      expect(row.error).toBe(`${shown}… (${7 + message.length - 499} more characters)`);
      expect(JSON.parse((await call(`${big.url}api/runs/big-error`)).body).run.error.message === message).toBe(true);
    } finally {
      await big.close();
      await store.dispose();
    }
  });

  it('answers a run page with node counts, and the graph floxide build drew', async () => {
    const view = JSON.parse((await call(`${base}api/runs/run-6`)).body);
    expect(view.run).toMatchObject({ runId: 'run-6', input: 'topic 6', status: 'running' });
    expect(view.nodes).toEqual({ prepare: { queued: 1, running: 0, done: 0, failed: 0, dropped: 0 } });
    expect(view.outstanding).toEqual([expect.objectContaining({ itemId: '0', node: 'prepare', status: 'pending' })]);
    expect(view.context).toEqual({ initial: { log: [] }, version: 0, deltas: [] });
    // what the store would apply to it now (the page enables these)
    expect(view.actions).toEqual({ cancel: true, pause: true, resume: false });
    const graph = await call(`${base}api/runs/run-6/graph`);
    expect(graph.status).toBe(200);
    expect(graph.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(graph.body).toContain('<title>review</title>');
    expect((await call(`${base}api/runs/nope`)).status).toBe(404);
    expect((await call(`${base}api/runs/bad..id`)).status).toBe(400);
  });

  it('streams a run page live from the store\'s events, and tells the list when runs come and go', async () => {
    const opened = firstEvent();
    const seen = readEvents(`${base}api/runs/run-2/live`, (evs) => opened.saw(evs) && evs.some((e) => JSON.parse(e.data).run?.status === 'paused'));
    await opened.seen; // (its page as it is, before the pause below)
    const first = await readEvents(`${base}api/runs/run-2/live`, (evs) => evs.length > 0);
    expect(JSON.parse(first[0]!.data)).toMatchObject({ run: { runId: 'run-2', status: 'running' }, history: [] });
    await backend.pauseRun('run-2');
    const events = await seen;
    expect(events.map((e) => [e.event, JSON.parse(e.data).run.status])).toEqual([['run', 'running'], ['run', 'paused']]);
    await backend.resumeRun('run-2');

    const list = await readEvents(`${base}api/runs/live`, (evs) => evs.length > 0, () => {
      // A run created while the list is open: the page is told to reload.
      setTimeout(() => void wf.startDistributed(new ReviewCtx(), 'late', backend, 'run-late'), 50);
    });
    expect(list[0]!.event).toBe('runs');
  });

  it('tells the runs list at most once per 150 ms however many runs change (it was told once per run event)', async () => {
    const busy = new MemoryBackend();
    const server = await startUiServer({ backend: busy });
    const spec = (runId: string) => ({ runId, workflow: 'wf', fingerprint: 'fp', input: null, context: {}, firstItem: { node: 'a', id: '0', input: null } });
    let last = false;
    try {
      const started = Date.now();
      const events = await readEvents(`${server.url}api/runs/live`, () => last, () => {
        void (async () => {
          for (let i = 0; i < 200; i++) await busy.createRun(spec(`busy-${i}`));
          await new Promise((r) => setTimeout(r, 300));
          last = true;
          await busy.createRun(spec('busy-last'));
        })();
      });
      expect(events.every((e) => e.event === 'runs')).toBe(true);
      // 201 runs created in about 0.3 s: a handful of reloads, the last one after the last run
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events.length).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - started) / 150));
    } finally {
      await server.close();
    }
  });

  it('draws a run of an older version from the versions file that records it, never on the current graph', async () => {
    // the fixture's versions file records an older version of ReviewWorkflow, as a deploy leaves runs of it
    const older = '3e7e57bf3e119c90';
    expect(ReviewWorkflowDef.fingerprint).not.toBe(older);
    const oldRun = { workflow: 'ReviewWorkflow', fingerprint: older, input: 'old', context: { log: [] }, firstItem: { node: 'prepare', id: '0', input: 'old' } };
    await backend.createRun({ runId: 'run-old', ...oldRun });
    const current = await call(`${base}api/runs/run-6/graph`);
    expect(current.body).toContain(`<!-- floxide graph version ${ReviewWorkflowDef.fingerprint} -->`);
    expect(current.headers['x-floxide-graph-note']).toBeUndefined();

    // only the build's SVG folder: the older version is nowhere, so no graph (not the current one)
    const missing = await call(`${base}api/runs/run-old/graph`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error).toBe(
      `test/fixtures/ui/graphs/ReviewWorkflow.svg draws version ${ReviewWorkflowDef.fingerprint} of ReviewWorkflow, and this run is of version ${older}, which no *.floxide.versions.json in test/fixtures/ui/graphs records: add the folder of ReviewWorkflow's source to --graphs`,
    );

    // with the source folder too: drawn from its versions file, and said so
    const both = await startUiServer({ backend, graphs: ['test/fixtures/ui/graphs', 'test/fixtures'] });
    try {
      // a stored workflow name that is a property of every object names no recorded versions: no graph, not a 500
      await backend.createRun({ runId: 'run-constructor', ...oldRun, workflow: 'constructor' });
      const odd = await call(`${both.url}api/runs/run-constructor/graph`);
      expect([odd.status, typeof JSON.parse(odd.body).error]).toEqual([404, 'string']);
      const drawn = await call(`${both.url}api/runs/run-old/graph`);
      expect(drawn.status).toBe(200);
      expect(drawn.headers['content-type']).toMatch(/^image\/svg\+xml/);
      expect(drawn.body).toContain(`<!-- floxide graph version ${older} -->`);
      expect(drawn.body).toContain('<title>review</title>');
      expect(decodeURIComponent(String(drawn.headers['x-floxide-graph-note']))).toBe(
        `The graph of this run's version ${older}, not the current ${ReviewWorkflowDef.fingerprint} of test/fixtures/ui/graphs/ReviewWorkflow.svg, drawn from test/fixtures/ui/flows.floxide.versions.json.`,
      );
      // a run of the current version still gets the build's SVG
      expect((await call(`${both.url}api/runs/run-6/graph`)).body).toBe(current.body);
    } finally {
      await both.close();
    }
  });

  it('a version the source folder\'s versions file no longer records (pruned) is said as such, not as a folder missing from --graphs', async () => {
    const pruned = 'ffffffffffffffff';
    await backend.createRun({ runId: 'run-pruned', workflow: 'ReviewWorkflow', fingerprint: pruned, input: 'old', context: { log: [] }, firstItem: { node: 'prepare', id: '0', input: 'old' } });
    const withSource = await startUiServer({ backend, graphs: ['test/fixtures/ui/graphs', 'test/fixtures/ui'] });
    try {
      const missing = await call(`${withSource.url}api/runs/run-pruned/graph`);
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body).error).toBe(
        `test/fixtures/ui/graphs/ReviewWorkflow.svg draws version ${ReviewWorkflowDef.fingerprint} of ReviewWorkflow, and this run is of version ${pruned}, which test/fixtures/ui/flows.floxide.versions.json does not record (\`floxide versions prune\` dropped it, or another build made it): add to --graphs a folder whose versions file records it (the release that built it)`,
      );
    } finally {
      await withSource.close();
    }
  });

  it('draws a recorded version\'s waits (with their signal) and timeout routes as the build does', async () => {
    // no SVG in the signals fixture's folder: the graph comes from its versions file
    await backend.createRun({ runId: 'run-wait', workflow: 'ApprovalFlow', fingerprint: ApprovalFlowDef.fingerprint, input: 'x', context: {}, firstItem: { node: 'ask', id: '0', input: 'x' } });
    const fromRecord = await startUiServer({ backend, graphs: ['test/fixtures/signals'] });
    try {
      const drawn = await call(`${fromRecord.url}api/runs/run-wait/graph`);
      expect(drawn.status).toBe(200);
      expect(decodeURIComponent(String(drawn.headers['x-floxide-graph-note']))).toBe(
        `The graph of this run's version ${ApprovalFlowDef.fingerprint}, drawn from test/fixtures/signals/flows.floxide.versions.json.`,
      );
      // the same node and edge labels as the SVG the build draws of this version (Graphviz splits a label by line)
      const built = await renderSvg(ApprovalFlowDot);
      for (const label of ['waits for signal approval', 'timeout']) {
        expect(built).toContain(`>${label}</text>`);
        expect(drawn.body).toContain(`>${label}</text>`);
      }
    } finally {
      await fromRecord.close();
    }
  });

  it('shows an SVG that does not say its version (an older floxide build), with that doubt said', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floxide-ui-graphs-'));
    try {
      const marked = readFileSync('test/fixtures/ui/graphs/ReviewWorkflow.svg', 'utf8');
      writeFileSync(join(dir, 'ReviewWorkflow.svg'), marked.replace(/<!-- floxide graph version \w+ -->\n/, ''));
      const unmarked = await startUiServer({ backend, graphs: [dir] });
      try {
        const res = await call(`${unmarked.url}api/runs/run-6/graph`);
        expect(res.status).toBe(200);
        expect(res.body).toContain('<title>review</title>');
        expect(decodeURIComponent(String(res.headers['x-floxide-graph-note']))).toBe(
          `${join(dir, 'ReviewWorkflow.svg')} does not say which graph version it draws (rebuild it with \`floxide build --docs\`): it may not be this run's version ${ReviewWorkflowDef.fingerprint}.`,
        );
      } finally {
        await unmarked.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says how to get a graph when there is none', async () => {
    const bare = await startUiServer({ backend });
    try {
      const res = await call(`${bare.url}api/runs/run-6/graph`);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body).error).toContain('floxide build --docs <dir>');
    } finally {
      await bare.close();
    }
  });

  it('serves the page with a strict content security policy', async () => {
    const page = await call(`${base}runs/run-6`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('/static/app.js');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect((await call(`${base}static/app.js`)).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await call(`${base}static/../server.ts`)).status).toBe(404);
    // the page's icon (no 404 in the browser's console)
    expect(page.body).toContain('/static/icon.svg');
    const icon = await call(`${base}static/icon.svg`);
    expect([icon.status, icon.headers['content-type']]).toEqual([200, 'image/svg+xml']);
  });

  it('lists a parked wait among the outstanding items, as the graph counts it queued', async () => {
    const wf = bindWorkflow(ApprovalFlowDef, new ApprovalFlow());
    await wf.startDistributed(undefined, 'o', backend, 'run-parked');
    // steps of this workflow until its wait parks (another test's run of it may be served first)
    const parked = async () => (await backend.itemStates('run-parked')).some((st) => st.status === 'parked');
    for (let i = 0; i < 10 && !(await parked()); i++) await wf.stepDistributed(backend, 'w-parked');
    const view = JSON.parse((await call(`${base}api/runs/run-parked`)).body) as { outstanding: unknown[]; nodes: Record<string, { queued: number }> };
    expect(view.outstanding).toEqual([expect.objectContaining({ node: 'approval', status: 'parked' })]);
    expect(view.nodes.approval!.queued).toBe(1);
    await backend.cancelRun('run-parked');
  });

  it('a run page says the version a moved run started on and when it moved', async () => {
    await wf.startDistributed(new ReviewCtx(), 'moved', backend, 'run-moved');
    const before = JSON.parse((await call(`${base}api/runs/run-moved`)).body) as RunView;
    expect(before.run).not.toHaveProperty('startedOn');
    clock += 1000;
    await backend.migrate('run-moved', { from: ReviewWorkflowDef.fingerprint, to: 'f2', renames: {} });
    const view = JSON.parse((await call(`${base}api/runs/run-moved`)).body) as RunView;
    expect(view.run).toMatchObject({ fingerprint: 'f2', startedOn: ReviewWorkflowDef.fingerprint, migratedAt: clock, updatedAt: clock });
    await backend.cancelRun('run-moved');
  });

  it('answers a malformed run id (bad percent-encoding, or not a run id) with 400, and an unknown one with 404', async () => {
    for (const bad of ['%E0', 'a%2Fb', '%']) {
      const res = await call(`${base}api/runs/${bad}`);
      expect([res.status, JSON.parse(res.body).error], bad).toEqual([400, expect.stringMatching(/invalid run id/)]);
    }
    expect((await call(`${base}api/runs/no-such-run`)).status).toBe(404);
    // a cookie that is not percent-encoded right is no token, not a failure
    expect((await call(`${base}api/runs`, { headers: { cookie: `floxide_ui_${server.port}=%E0` } })).status).toBe(200);
  });

  it('re-reads a busy run no sooner after a read than four times as long as that read took (a run whose read takes long, and holds the store meanwhile, is read at most a fifth of the time)', async () => {
    const busy = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'busy', busy, 'run-slow');
    // a read of this run takes 300 ms more, as one of 20,000 steps did on Redis before its page read counts (itemStates alone: 450 ms)
    const reads: Array<{ start: number; end: number }> = [];
    const slow = new Proxy(busy, {
      get: (t, k, r) =>
        k === 'getRun'
          ? (id: string) => (reads.push({ start: Date.now(), end: NaN }), t.getRun(id))
          : k === 'itemCounts'
            ? async (id: string) => {
                const states = await t.itemCounts(id);
                await new Promise((res) => setTimeout(res, 300));
                reads.at(-1)!.end = Date.now();
                return states;
              }
            : Reflect.get(t, k, r),
    });
    const server = await startUiServer({ backend: slow, livePollMs: 60_000 });
    let moving = true;
    try {
      // the run changes all the time (an event every 20 ms) while its page is open
      const changes = (async () => {
        for (let i = 0; moving; i++) {
          await (i % 2 === 0 ? busy.pauseRun('run-slow') : busy.resumeRun('run-slow'));
          await new Promise((res) => setTimeout(res, 20));
        }
      })();
      await readEvents(`${server.url}api/runs/run-slow/live`, () => reads.filter((x) => !Number.isNaN(x.end)).length >= 4);
      moving = false;
      await changes;
      const done = reads.filter((x) => !Number.isNaN(x.end));
      // each read starts at least four times as long after the previous one ended as that one took (a timer fires no sooner)
      for (let i = 1; i < done.length; i++) expect(done[i]!.start - done[i - 1]!.end, `read ${i}`).toBeGreaterThanOrEqual(4 * (done[i - 1]!.end - done[i - 1]!.start) - 5);
    } finally {
      moving = false;
      await server.close();
    }
  });

  it('caps the live streams open at once (503 with Retry-After beyond it) and frees the place of a client that went away', async () => {
    const capped = await startUiServer({ backend, maxLiveStreams: 3 });
    const held: ClientRequest[] = [];
    /** Opens a live stream over a real connection; resolves once its status came, the connection left open. */
    const open = (path: string) =>
      new Promise<{ status: number; req: ClientRequest }>((resolve, reject) => {
        const req = request(`${capped.url}${path}`, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, req });
        });
        req.on('error', reject);
        req.end();
        held.push(req);
      });
    try {
      const first = await open('api/runs/run-1/live');
      expect([first.status, (await open('api/runs/run-2/live')).status, (await open('api/runs/live')).status]).toEqual([200, 200, 200]);
      // beyond the cap, a run page's stream and the list's are refused, and say when to come back
      for (const path of ['api/runs/run-3/live', 'api/runs/live']) {
        const refused = await call(`${capped.url}${path}`);
        expect([refused.status, refused.headers['retry-after']], path).toEqual([503, '10']);
        expect(JSON.parse(refused.body).error).toBe('too many live streams open (3, the most this dashboard serves: floxide ui --max-live-streams): try again later');
      }
      // other requests are served as ever
      expect((await call(`${capped.url}api/runs/run-3`)).status).toBe(200);
      // a client that went away frees its place
      first.req.destroy();
      await until(async () => (await open('api/runs/run-3/live')).status === 200, 5_000, 'the place of the closed stream');
      expect((await call(`${capped.url}api/runs/run-4/live`)).status).toBe(503);
    } finally {
      for (const req of held) req.destroy();
      await capped.close();
    }
    for (const maxLiveStreams of [0, -1, 1.5, Number.NaN]) await expect(startUiServer({ backend, maxLiveStreams }), String(maxLiveStreams)).rejects.toThrow(/^maxLiveStreams must be an integer from 1 to 100000, got/);
  });

  it("a run page's live stream of an unknown run says so once and then waits for an event of it, without re-reading the store", async () => {
    let reads = 0;
    const counting = new Proxy(backend, { get: (t, k, r) => (k === 'getRun' ? (id: string) => (reads++, t.getRun(id)) : Reflect.get(t, k, r)) });
    const quick = await startUiServer({ backend: counting, livePollMs: 10 });
    try {
      // the stream stays open (as a browser keeps it) while the store's reads are counted
      let body = '';
      const req = request(`${quick.url}api/runs/nope/live`, (res) => res.setEncoding('utf8').on('data', (d: string) => (body += d)));
      req.end();
      await until(async () => body.includes('event: failure'), 5_000, 'the failure event');
      const after = reads;
      await new Promise((r) => setTimeout(r, 300));
      req.destroy();
      expect(body).toContain(`event: failure\ndata: ${JSON.stringify({ error: 'no run with id "nope"' })}\n\n`);
      expect(reads).toBe(after);
    } finally {
      await quick.close();
    }
  });

  it("sends no stack trace (they name the server's files) at any depth: run errors, error records, dead letters, history", async () => {
    const failing = new MemoryBackend();
    const retry = bindWorkflow(RetryWorkflowDef, new RetryWorkflow(10));
    const worker = new Worker(failing, RetryWorkflowDef, retry.instance, { idleMinMs: 1, idleMaxMs: 10, schedules: false });
    const ui = await startUiServer({ backend: failing });
    try {
      await retry.startDistributed(undefined, undefined, failing, 'run-failing');
      await worker.start();
      await until(async () => (await failing.getRun('run-failing'))?.status === 'failed', 10_000, 'the run to fail');
      const inner = new Error('inner', { cause: new Error('innermost') });
      await failing.recordError('run-failing', { itemId: '0', node: 'flaky', attempt: 3, error: serializeError(new StoreError('outer', { cause: inner })) });
      const stored = JSON.stringify(await failing.errors('run-failing'));
      expect(stored).toContain('"stack"'); // (what the store keeps: the stacks are there to strip)
      const view = JSON.parse((await call(`${ui.url}api/runs/run-failing`)).body);
      expect(view.run.error).toEqual({ name: 'Error', message: 'flaky failure on attempt 3' });
      expect(view.deadLetters).toEqual([expect.objectContaining({ error: { name: 'Error', message: 'flaky failure on attempt 3' } })]);
      expect(view.history.map((h: { error?: unknown }) => h.error)).toEqual([1, 2, 3].map((n) => ({ name: 'Error', message: `flaky failure on attempt ${n}` })));
      expect(view.errors.at(-1).error).toEqual({ name: 'StoreError', message: 'outer', code: 'FLOXIDE_STORE', cause: { name: 'Error', message: 'inner', cause: { name: 'Error', message: 'innermost' } } });
      const [event] = await readEvents(`${ui.url}api/runs/run-failing/live`, (evs) => evs.length > 0);
      for (const body of [JSON.stringify(view), event!.data]) {
        expect(body).not.toContain('"stack"');
        expect(body).not.toContain(process.cwd());
      }
    } finally {
      await worker.stop(0);
      await ui.close();
    }
  });

  it('keeps the live stream of a client that reads slowly or not at all, sending it the newest state and no backlog', async () => {
    const quiet = new MemoryBackend();
    // each event carries the run's input: about 2 MB
    const MB = 1024 * 1024;
    await wf.startDistributed(new ReviewCtx(), 'x'.repeat(2 * MB), quiet, 'run-big');
    const ui = await startUiServer({ backend: quiet, livePollMs: 60_000 });
    try {
      // a reader that takes a sip every 100 ms (a browser busy laying out megabytes), and one that does not read until
      // the run stops changing (paused: the kernel's buffers fill, then the server's)
      for (const sips of [true, false]) {
        let received = 0;
        let closed = false;
        let text = '';
        const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => request(`${ui.url}api/runs/run-big/live`, resolve).on('error', reject).end());
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          received += d.length;
          text = (text + d).slice(-4 * MB);
        });
        res.on('close', () => (closed = true));
        res.pause();
        let sipping = sips;
        const sip = setInterval(() => sipping && (res.resume(), setTimeout(() => sipping && res.pause(), 5)), 100);
        // 31 changes of the run (paused, running, ..., paused), 2 MB each to send: 62 MB, far beyond what the kernel holds
        for (let i = 0; i < 31; i++) {
          await (i % 2 === 0 ? quiet.pauseRun('run-big') : quiet.resumeRun('run-big'));
          await new Promise((r) => setTimeout(r, 60));
        }
        sipping = false;
        clearInterval(sip);
        // the client reads at last: the stream is still open, and what it receives ends with the run as it is now
        res.resume();
        const endsWith = (status: string) => new RegExp(`"status":"${status}"[^\\n]*\\n\\n(: keepalive\\n\\n)*$`).test(text);
        const said = (e: Error) => new Error(`${e.message} (closed: ${closed}, ${received} characters, ending ${text.slice(-200).replace(/x{20,}/g, 'x...')})`);
        await until(() => endsWith('paused'), 20_000, 'the current state').catch((e: Error) => Promise.reject(said(e)));
        await quiet.resumeRun('run-big');
        await until(() => endsWith('running'), 20_000, 'the next state').catch((e: Error) => Promise.reject(said(e)));
        expect(closed, sips ? 'a slow reader' : 'a reader that stalled').toBe(false);
        // what the kernel's buffers took, and at most two events from the server: not one per change
        if (!sips) expect(received).toBeLessThan(12 * 2.1 * MB);
        res.destroy();
      }
    } finally {
      await ui.close();
    }
  }, 120_000);

  it('refuses host names other than loopback ones (DNS rebinding)', async () => {
    const port = new URL(base).port;
    const foreign = await call(`${base}api/runs`, { headers: { host: `evil.example:${port}` } });
    expect([foreign.status, foreign.headers['content-type'], JSON.parse(foreign.body)]).toEqual([403, 'application/json; charset=utf-8', { error: 'forbidden host' }]);
    expect((await call(`${base}api/runs`, { headers: { host: `localhost:${port}` } })).status).toBe(200);
  });

  it('runs actions only with the action header', async () => {
    expect((await call(`${base}api/runs/run-5/pause`, { method: 'POST' })).status).toBe(403);
    expect((await backend.getRun('run-5'))?.status).toBe('running');
    const res = await call(`${base}api/runs/run-5/pause`, { method: 'POST', headers: { 'x-floxide-action': '1' } });
    expect(JSON.parse(res.body)).toEqual({ applied: true, status: 'paused', dropped: [] });
    expect((await backend.getRun('run-5'))?.status).toBe('paused');
    const again = await call(`${base}api/runs/run-3/resume`, { method: 'POST', headers: { 'x-floxide-action': '1' } });
    expect(again.status).toBe(409);
    expect((await call(`${base}api/runs/run-5/pause`)).status).toBe(405);
  });

  it('sends a signal as `floxide runs signal` does: with the action header, a JSON { name, payload, key? }', async () => {
    const post = (runId: string, body: string, headers: Record<string, string> = { 'x-floxide-action': '1' }) =>
      call(`${base}api/runs/${runId}/signal`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post('run-6', '{"name":"go","payload":1}', {})).status).toBe(403);
    const notJson = await post('run-6', '{name: go}');
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body).error).toMatch(/signal request/);
    expect((await post('run-6', '{"payload":1}')).status).toBe(400);
    expect((await post('run-6', '[1]')).status).toBe(400);
    // no payload: refused, as `floxide runs signal` without --data (a null the wait's check refuses would fail it)
    const bare = await post('run-6', '{"name":"go"}');
    expect([bare.status, JSON.parse(bare.body).error]).toEqual([400, 'a signal request needs its payload: null for a signal that carries nothing']);
    expect((await post('no-such-run', '{"name":"go","payload":null}')).status).toBe(404);
    expect((await post('run-3', '{"name":"go","payload":null}')).status).toBe(409);
    expect(await backend.pendingSignals('run-6')).toEqual([]);
    const sent = await post('run-6', '{"name":"go","payload":{"n":1},"key":"k1"}');
    // no wait of run-6 is parked: the store kept it in the mailbox, and says so
    expect(JSON.parse(sent.body)).toEqual({ delivery: 'delivered', kept: true });
    expect(JSON.parse((await post('run-6', '{"name":"go","payload":{"n":1},"key":"k1"}')).body)).toEqual({ delivery: 'duplicate', kept: false });
    // the key again with another payload: refused (409), nothing kept
    const reused = await post('run-6', '{"name":"go","payload":{"n":2},"key":"k1"}');
    expect([reused.status, JSON.parse(reused.body)]).toEqual([
      409,
      { error: 'run run-6 already received a signal with key "k1" and another payload: a key names one signal, so this one was refused (nothing delivered or kept); send it with a key of its own' },
    ]);
    expect((await backend.pendingSignals('run-6')).map((x) => [x.name, x.payload, x.key])).toEqual([['go', { n: 1 }, 'k1']]);
  });

  it('beyond loopback, needs the token: from the printed URL (then a cookie) or a bearer header', async () => {
    const open = await startUiServer({ backend, host: '0.0.0.0' });
    try {
      expect(open.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      // (the wildcard address is no address a browser opens: the URL names this machine's external one)
      const printed = new URL(open.url);
      expect([printed.pathname, printed.search, printed.port, printed.hostname]).toEqual(['/', `?token=${open.token}`, String(open.port), expect.not.stringMatching(/^(0\.0\.0\.0|\[::\])$/)]);
      const local = `http://127.0.0.1:${open.port}/`;
      expect((await call(`${local}api/runs`)).status).toBe(401);
      expect((await call(`${local}api/runs`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
      expect((await call(`${local}?token=wrong`)).status).toBe(403);
      const login = await call(`${local}?token=${open.token}`);
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/');
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      expect(String(login.headers['set-cookie'])).toContain('HttpOnly; SameSite=Strict');
      // named for the port: a dashboard on another port of this host keeps its own cookie (cookies ignore ports)
      expect(cookie).toBe(`floxide_ui_${open.port}=${open.token}`);
      expect((await call(`${local}api/runs`, { headers: { cookie } })).status).toBe(200);
      // the cookie of another port's dashboard (same name but its port) is not this one's token
      const other = await startUiServer({ backend, host: '0.0.0.0' });
      try {
        const otherCookie = String((await call(`http://127.0.0.1:${other.port}/?token=${other.token}`)).headers['set-cookie']).split(';')[0]!;
        expect(otherCookie).toBe(`floxide_ui_${other.port}=${other.token}`);
        // a browser sends both cookies of the host to each port: each dashboard reads its own
        expect((await call(`${local}api/runs`, { headers: { cookie: `${otherCookie}; ${cookie}` } })).status).toBe(200);
        expect((await call(`http://127.0.0.1:${other.port}/api/runs`, { headers: { cookie: `${otherCookie}; ${cookie}` } })).status).toBe(200);
        expect((await call(`${local}api/runs`, { headers: { cookie: otherCookie } })).status).toBe(401);
      } finally {
        await other.close();
      }
      expect((await call(`${local}api/runs`, { headers: { authorization: `Bearer ${open.token}` } })).status).toBe(200);
      // the scheme's name in any case (RFC 9110)
      expect((await call(`${local}api/runs`, { headers: { authorization: `bearer ${open.token}` } })).status).toBe(200);
      expect((await call(`${local}api/runs`, { headers: { authorization: `BEARER  ${open.token}` } })).status).toBe(200);
      expect((await call(`${local}api/runs`, { headers: { authorization: `Basic ${open.token}` } })).status).toBe(401);
      const action = await call(`${local}api/runs/run-4/cancel`, { method: 'POST', headers: { cookie } });
      expect(action.status).toBe(403);
      const signal = { method: 'POST', body: '{"name":"go","payload":null}' };
      expect((await call(`${local}api/runs/run-4/signal`, { ...signal, headers: { 'x-floxide-action': '1' } })).status).toBe(401);
      expect((await call(`${local}api/runs/run-4/signal`, { ...signal, headers: { cookie, 'x-floxide-action': '1' } })).status).toBe(200);
    } finally {
      await open.close();
    }
    await expect(startUiServer({ backend, token: 'short' })).rejects.toThrow('16-256 characters');
    // periods no timer keeps (0, negative, NaN, past 2^31 - 1 ms: the live streams re-read the store non-stop)
    for (const livePollMs of [0, -1, Number.NaN, 3e8]) await expect(startUiServer({ backend, livePollMs }), String(livePollMs)).rejects.toThrow(/^livePollMs must be a number of ms from 1 to 214748364, got/);
    for (const storeTimeoutMs of [0, 3e9]) await expect(startUiServer({ backend, storeTimeoutMs }), String(storeTimeoutMs)).rejects.toThrow(/^storeTimeoutMs must be a number of ms from 1 to 2147483647, got/);
  });
});

describe('floxide ui server: a run longer than a page', () => {
  it('shows the newest LIST_CAP attempts, errors and deltas and exact node counts, reading only those from the store (Redis)', async () => {
    const store = (await openTestBackend('redis', 'uilong')) as unknown as { backend: RedisBackend; dispose(): Promise<void> };
    // every read the page makes, with its arguments
    const reads: Array<[string, unknown[]]> = [];
    const spied = new Proxy(store.backend, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          reads.push([String(key), args]);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const server = await startUiServer({ backend: spied });
    try {
      const b = store.backend;
      const steps = LIST_CAP + 50;
      await b.createRun({ runId: 'long', workflow: 'wf', fingerprint: 'fp', input: 0, context: { n: 0 }, firstItem: { node: 'a', id: '0', input: 0 } });
      for (let i = 0; i < steps; i++) {
        const [first] = await b.claim('w1', 1, 30_000);
        await b.commitStep({ runId: 'long', itemId: first!.item.id, leaseToken: first!.leaseToken, outcome: { type: 'retry', attempt: 2, delayMs: 0, error: { name: 'Error', message: `flaky ${i}` } } });
        const [again] = await b.claim('w1', 1, 30_000);
        const next = { node: i % 2 === 0 ? 'b' : 'a', id: `i${i + 1}`, input: i + 1 };
        await b.commitStep({ runId: 'long', itemId: again!.item.id, leaseToken: again!.leaseToken, outcome: { type: 'continue', items: [next], arrivals: [], delta: { n: 1 } } });
      }
      reads.length = 0;
      const view = JSON.parse((await call(`${server.url}api/runs/long`)).body) as RunView;
      const history = await store.backend.stepHistory('long');
      expect(view.history!.map(({ label: _, ...h }) => h)).toEqual(history.slice(-LIST_CAP));
      expect(view.errors.map((e) => e.error.message)).toEqual((await b.errors('long')).slice(-LIST_CAP).map((e) => e.error.message));
      const ctx = await b.readContext('long');
      expect(view.context).toEqual({ initial: { n: 0 }, version: steps, deltas: ctx.deltas.slice(-LIST_CAP) });
      expect(view.nodes).toEqual({
        a: { queued: 1, running: 0, done: steps / 2, failed: 0, dropped: 0 },
        b: { queued: 0, running: 0, done: steps / 2, failed: 0, dropped: 0 },
      });
      expect(view.outstanding).toEqual([expect.objectContaining({ itemId: `i${steps}`, node: 'a', status: 'pending' })]);
      // the lists are read as their newest LIST_CAP, and no read lists every item of the run
      const limited = { limit: LIST_CAP };
      expect(reads).toEqual(expect.arrayContaining([
        ['stepHistory', ['long', limited]],
        ['errors', ['long', limited]],
        ['deadLetters', ['long', limited]],
        ['readContext', ['long', undefined, limited]],
        ['itemCounts', ['long']],
      ]));
      expect(reads.map(([name]) => name)).not.toContain('itemStates');
    } finally {
      await server.close();
      await store.dispose();
    }
  });
});

describe('floxide ui server on Postgres', () => {
  const pgs = usePgSchemas('ui');

  it("streams a run page live from the store's events: each step's history, then its completion", async () => {
    const backend = await pgs.open();
    const flow = chain();
    await flow.startDistributed(new CountCtx(), 1, backend, 'pg-live');
    // re-reads without an event would come only every 10 minutes: what arrives below was pushed by the events
    const server = await startUiServer({ backend, livePollMs: 60_000 });
    try {
      const opened = firstEvent();
      const done = readEvents(`${server.url}api/runs/pg-live/live`, (evs) => opened.saw(evs) && evs.some((e) => JSON.parse(e.data).run?.status === 'completed'));
      await opened.seen; // (the page as it is before any step: the steps below come as events)
      // the server's one subscription (from 'now') is listening: its connection waits idle for a notification
      await until(async () => {
        const { rows } = await pgs.admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'", [`floxide-events:${backend.schema}`]);
        return rows.length > 0;
      }, 20_000, 'the live subscription');
      for (let i = 0; i < 5; i++) await flow.stepDistributed(backend, 'w-ui');
      const events = (await done).map((e) => JSON.parse(e.data) as { run: { status: string }; history: unknown[] });
      expect(events[0]).toMatchObject({ run: { status: 'running' }, history: [] });
      expect(events.at(-1)).toMatchObject({ run: { status: 'completed' } });
      expect(events.at(-1)!.history).toHaveLength(5);
    } finally {
      await server.close();
    }
  });
});

describe('floxide ui server: runs with corrupt stored data', () => {
  it('on a SQLite file: the list lists every run, marking those whose row cannot be read; a run page marks a corrupt record, corrupt items and shows a context error in place of the context', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floxide-ui-corrupt-'));
    const file = join(dir, 'corrupt.db');
    await plantCorruptSqliteRuns(file);
    const server = await startUiServer({ backend: SqliteRunsStore.open(file) });
    try {
      const list = await call(`${server.url}api/runs`);
      expect(list.status, list.body).toBe(200);
      const rows = (JSON.parse(list.body) as { runs: Array<{ runId: string; status: string; createdAt: number | null; corrupt?: string }> }).runs;
      expect(rows.map((r) => r.runId).sort()).toEqual(['bad-context', 'bad-delta', 'bad-error', 'bad-items', 'bad-record', 'bad-start', 'bad-status']);
      expect(Object.fromEntries(rows.filter((r) => r.corrupt).map((r) => [r.runId, r.corrupt]))).toEqual({
        'bad-record': 'CorruptStateError: run bad-record input: malformed JSON (Unexpected end of JSON input); run bad-record creation time is not a time: "yesterday"',
        'bad-status': 'CorruptStateError: run bad-status has an unknown status "zombie"',
        'bad-error': 'CorruptStateError: run bad-error error: malformed JSON (Unexpected end of JSON input)',
      });
      expect(rows.find((r) => r.runId === 'bad-record')).toMatchObject({ status: 'running', createdAt: null });
      const record = await call(`${server.url}api/runs/bad-record`);
      expect(record.status, record.body).toBe(200);
      expect(JSON.parse(record.body)).toMatchObject({
        run: { runId: 'bad-record', status: 'running', createdAt: null, corrupt: { name: 'CorruptStateError', message: expect.stringContaining('run bad-record input: malformed JSON') } },
        context: { version: 0 },
        outstanding: [expect.objectContaining({ itemId: '0', status: 'pending' })],
      });
      const items = await call(`${server.url}api/runs/bad-items`);
      expect(items.status, items.body).toBe(200);
      expect(JSON.parse(items.body).outstanding).toEqual([
        expect.objectContaining({ itemId: '(step 1 items)', node: '?', status: 'pending', corrupt: 'CorruptStateError: run bad-items step 1 items: malformed JSON (Unexpected end of JSON input)' }),
      ]);
      const start = await call(`${server.url}api/runs/bad-start`);
      expect(start.status, start.body).toBe(200);
      expect(JSON.parse(start.body).outstanding).toEqual([
        expect.objectContaining({ itemId: '0', status: 'pending', corrupt: 'CorruptStateError: run bad-start: a stored work item: malformed JSON (Unexpected end of JSON input): "{\\"node\\":"' }),
      ]);
      for (const [runId, reason] of [
        ['bad-context', 'CorruptStateError: run bad-context context: malformed JSON (Unexpected end of JSON input)'],
        ['bad-delta', /^CorruptStateError: run bad-delta step \d+: the delta is not an object$/],
      ] as const) {
        const page = await call(`${server.url}api/runs/${runId}`);
        expect(page.status, page.body).toBe(200);
        const view = JSON.parse(page.body) as { run: { runId: string }; context?: unknown; contextError: string; history: unknown[] };
        expect(view.run.runId).toBe(runId);
        expect(view.context).toBeUndefined();
        expect(view.contextError).toMatch(reason);
      }
      expect((JSON.parse((await call(`${server.url}api/runs/bad-delta`)).body) as { history: unknown[] }).history).toHaveLength(3);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on Redis: a run page shows a corrupt context delta as the context error; the list marks a run whose record has a corrupt field', () =>
    withRedisUi('ui-corrupt', async (backend, server) => {
      const flow = chain();
      await flow.startDistributed(new CountCtx(), 1, backend, 'ui-delta');
      for (let i = 0; i < 3; i++) await flow.stepDistributed(backend, 'w-ui');
      const committer = (await backend.readContext('ui-delta')).deltas[1]!.itemId;
      await redisTamper.deltaJson(backend, 'ui-delta', 2, '{"count":');
      // another run's record with a corrupt field: the list marks its row only
      await flow.startDistributed(new CountCtx(), 2, backend, 'ui-record');
      await redisTamper.runField(backend, 'ui-record', 'input', '{"n":');
      const list = await call(`${server.url}api/runs`);
      expect(list.status, list.body).toBe(200);
      expect((JSON.parse(list.body) as { runs: Array<{ runId: string; corrupt?: string }> }).runs.map((r) => [r.runId, r.corrupt])).toEqual([
        ['ui-record', 'CorruptStateError: run ui-record input: malformed JSON (Unexpected end of JSON input)'],
        ['ui-delta', undefined],
      ]);
      const record = await call(`${server.url}api/runs/ui-record`);
      expect(record.status, record.body).toBe(200);
      expect(JSON.parse(record.body).run).toMatchObject({ runId: 'ui-record', status: 'running', corrupt: { name: 'CorruptStateError', message: 'run ui-record input: malformed JSON (Unexpected end of JSON input)' } });
      expect(JSON.parse(record.body).run.corrupt.stack).toBeUndefined();
      const page = await call(`${server.url}api/runs/ui-delta`);
      expect(page.status, page.body).toBe(200);
      const view = JSON.parse(page.body) as { run: { status: string }; context?: unknown; contextError: string; history: unknown[]; outstanding: unknown[] };
      expect(view.run.status).toBe('running');
      expect(view.context).toBeUndefined();
      expect(view.contextError).toBe(`CorruptStateError: context delta 2 (item ${JSON.stringify(committer)}): malformed JSON (Unexpected end of JSON input)`);
      expect(view.history).toHaveLength(3);
      expect(view.outstanding).toHaveLength(1);
      // a step history entry that cannot be read: the history is shown empty, with why
      await redisRecordTamper(backend, 'ui-delta', 'steps', '{"node":');
      const unreadable = JSON.parse((await call(`${server.url}api/runs/ui-delta`)).body) as { history: unknown[]; unreadable: string[]; outstanding: unknown[] };
      expect(unreadable.history).toEqual([]);
      expect(unreadable.unreadable).toEqual([expect.stringMatching(/^step history: CorruptStateError: .*malformed JSON/)]);
      expect(unreadable.outstanding).toHaveLength(1);
    }));

  it('on Redis: a run record missing its fingerprint or workflow field is listed and marked corrupt, and its page shows it', () =>
    withRedisUi('ui-corrupt-missing', async (backend, server) => {
      const flow = chain();
      for (const id of ['m-ok', 'm-fingerprint', 'm-workflow']) await flow.startDistributed(new CountCtx(), 1, backend, id);
      // a record rewritten by hand without the field (HSET <prefix>run:{id} workflow X status completed ... with no fingerprint)
      const key = (id: string) => `${(backend as RedisBackend).keyPrefix}run:{${id}}`;
      const client = createClient({ url: REDIS_URL });
      await client.connect();
      try {
        await client.hDel(key('m-fingerprint'), 'fingerprint');
        await client.hDel(key('m-workflow'), 'workflow');
      } finally {
        await client.close();
      }
      const list = await call(`${server.url}api/runs`);
      expect(list.status, list.body).toBe(200);
      const rows = (JSON.parse(list.body) as { runs: Array<{ runId: string; workflow: string; fingerprint: string; corrupt?: string }> }).runs;
      // (sorted: runs created in the same millisecond are listed by id)
      expect(rows.map((r) => [r.runId, r.workflow, r.fingerprint === ChainWorkflowDef.fingerprint ? 'fp' : r.fingerprint, r.corrupt]).sort()).toEqual([
        ['m-fingerprint', 'ChainWorkflow', '', 'CorruptStateError: run m-fingerprint graph fingerprint is missing: null'],
        ['m-ok', 'ChainWorkflow', 'fp', undefined],
        ['m-workflow', '', 'fp', 'CorruptStateError: run m-workflow workflow name is missing: null'],
      ]);
      const page = await call(`${server.url}api/runs/m-fingerprint`);
      expect(page.status, page.body).toBe(200);
      expect(JSON.parse(page.body).run).toMatchObject({ runId: 'm-fingerprint', fingerprint: '', status: 'running', corrupt: { name: 'CorruptStateError', message: 'run m-fingerprint graph fingerprint is missing: null' } });
      // no graph for a version the record does not name (a 404 that says why, not a failure)
      expect((await call(`${server.url}api/runs/m-fingerprint/graph`)).status).toBe(404);
    }));

  it('on Redis: runs whose creation time cannot be read page like the others (no cursor of NaN, every run reached once)', () =>
    withRedisUi('ui-corrupt-page', async (backend, server) => {
      const flow = chain();
      for (const id of ['p1', 'p2', 'p3', 'p4']) {
        await flow.startDistributed(new CountCtx(), 1, backend, id);
        await new Promise((r) => setTimeout(r, 3));
      }
      // newest first: p4, p3, p2, p1; p3 and p2 keep their place in the store's index, their records an unreadable time
      for (const id of ['p3', 'p2']) await redisTamper.runField(backend, id, 'createdAt', '9000000000000000000');
      const pages: string[][] = [];
      let after: string | null = '';
      while (after !== null && pages.length < 10) {
        const answer = await call(`${server.url}api/runs?limit=2${after ? `&after=${encodeURIComponent(after)}` : ''}`);
        expect(answer.status, answer.body).toBe(200);
        const page = JSON.parse(answer.body) as { runs: Array<{ runId: string; corrupt?: string }>; next: string | null };
        pages.push(page.runs.map((r) => `${r.runId}${r.corrupt ? '!' : ''}`));
        after = page.next;
      }
      // the page that would end on p3 ends on p4; the next starts at p3 and, p3 and p2 being no cursor, reads on to p1
      expect(pages).toEqual([['p4'], ['p3!', 'p2!', 'p1']]);
    }));
});

/**
 * A TCP relay to `port` on 127.0.0.1 that can hold every byte both ways (`hold()`) and pass them on later
 * (`release()`): a store that stops answering without closing its connections (a paused server, a network dropping
 * packets), which a restart or a killed connection is not.
 */
async function holdingRelay(port: number): Promise<{ port: number; hold(): void; release(): void; close(): void }> {
  let holding = false;
  const flushes = new Set<() => void>();
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const server = connect(port, '127.0.0.1');
    const toServer: Buffer[] = [];
    const toClient: Buffer[] = [];
    const flush = () => {
      for (const d of toServer.splice(0)) server.write(d);
      for (const d of toClient.splice(0)) client.write(d);
    };
    flushes.add(flush);
    for (const s of [client, server]) sockets.add(s);
    client.on('data', (d: Buffer) => (holding ? toServer.push(d) : server.write(d)));
    server.on('data', (d: Buffer) => (holding ? toClient.push(d) : client.write(d)));
    const end = () => {
      flushes.delete(flush);
      client.destroy();
      server.destroy();
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    hold: () => void (holding = true),
    release() {
      holding = false;
      for (const flush of flushes) flush();
    },
    close() {
      relay.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe('floxide ui server: a store that stops answering', () => {
  for (const kind of REAL_BACKENDS) {
    it(`answers 503 within its store time (pages, actions, live updates) and serves again once the store answers (${kind})`, async () => {
      const seed = await openTestBackend(kind, 'uihold');
      const storePort = kind === 'redis' ? new URL(REDIS_URL).port || '6379' : new URL(PG_URL).port || '5432';
      const relay = await holdingRelay(Number(storePort));
      // the store as `floxide ui --store <url>` opens it, through the relay
      const store = await openRunsStore(seed.storeUrl.replace(`:${storePort}/`, `:${relay.port}/`).replace(`:${storePort}?`, `:${relay.port}?`));
      await chain().startDistributed(new CountCtx(), 1, seed.backend, 'held');
      const server = await startUiServer({ backend: store, storeTimeoutMs: 400, livePollMs: 100 });
      try {
        expect((await call(`${server.url}api/runs/held`)).status).toBe(200);
        let failure: string | undefined;
        const stream = readEvents(`${server.url}api/runs/held/live`, (evs) => {
          failure = evs.find((e) => e.event === 'failure')?.data;
          return failure !== undefined;
        });
        await new Promise((r) => setTimeout(r, 300)); // (its first read answered)
        relay.hold();
        const action = { method: 'POST', headers: { 'x-floxide-action': '1' } };
        const started = Date.now();
        const answers = await Promise.all([
          call(`${server.url}api/runs`),
          call(`${server.url}api/runs/held`),
          call(`${server.url}api/runs/held/graph`),
          call(`${server.url}api/runs/held/pause`, action),
          call(`${server.url}api/runs/held/signal`, { ...action, body: JSON.stringify({ name: 'approval', payload: 1 }) }),
        ]);
        // (each waited for the store without end: until the store answered, or TCP gave up minutes later)
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(answers.map((a) => a.status)).toEqual([503, 503, 503, 503, 503]);
        expect(JSON.parse(answers[0]!.body)).toEqual({ error: 'the store did not answer the runs list within 400 ms' });
        expect(JSON.parse(answers[3]!.body)).toEqual({ error: 'the store did not answer the pause of run held (it may still apply when the store answers) within 400 ms' });
        // the run page's live stream says so too
        await stream;
        expect(JSON.parse(failure!)).toEqual({ error: 'the store did not answer run held within 400 ms' });
        relay.release();
        await until(async () => (await call(`${server.url}api/runs`)).status === 200, 10_000, 'the store answering again');
        expect(JSON.parse((await call(`${server.url}api/runs/held`)).body).run.runId).toBe('held');
      } finally {
        relay.release();
        await server.close();
        await store.close();
        relay.close();
        await seed.dispose();
      }
    });
  }
});

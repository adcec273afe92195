/**
 * `floxide ui` in a real headless Chromium (Debian's chromium driven by playwright-core) over a real Redis store,
 * with a worker processing the run in this process: open the list, open a running run, watch its nodes change state
 * as the run moves on, cancel it from the page and check the store agrees. Also: values from the store are shown as
 * text, never as markup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { WorkerPool } from '../../runtime/distributed/pool.js';
import { startUiServer } from '../../cli/ui/server.js';
import { openTestBackend, until, type TestBackend } from '../distributed/helpers.js';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import type { RunRecord } from '../../runtime/distributed/contracts.js';
import { serializeError, StoreError } from '../../runtime/core/errors.js';
import { Worker } from '../../runtime/distributed/worker.js';
import { ApprovalWorkflow } from '../../examples/approval.js';
import { ApprovalWorkflowDef } from '../../examples/approval.floxide.js';
import { FallbackWorkflow } from '../../examples/fallback.js';
import { FallbackWorkflowDef } from '../../examples/fallback.floxide.js';
import { Gates, ReviewCtx, ReviewWorkflow } from '../fixtures/ui/flows.js';
import { ReviewWorkflowDef } from '../fixtures/ui/flows.floxide.js';
import { cancelFromPage, hasChromium, openReviewAndFollow, openRunFromList, openUiInChromium, type UiInChromium } from './chromium.js';

/** `backend` with the run records it reads (getRun, listRuns) passed through `alter`: a record as a corrupt store or an older server holds it. */
function withRunsAltered(backend: MemoryBackend, alter: (r: RunRecord) => object): MemoryBackend {
  const each = <T extends RunRecord | undefined>(r: T): T => (r === undefined ? r : (alter(r) as T));
  return new Proxy(backend, {
    get: (t, k, r) =>
      k === 'getRun' ? async (id: string) => each(await t.getRun(id)) : k === 'listRuns' ? async (f: object) => (await t.listRuns(f)).map(each) : Reflect.get(t, k, r),
  });
}

describe.skipIf(!hasChromium)('floxide ui in Chromium', () => {
  let store: TestBackend;
  let ui: UiInChromium;
  let page: Page;
  let pool: WorkerPool;
  const gates = new Gates();
  const wf = bindWorkflow(ReviewWorkflowDef, new ReviewWorkflow(gates));

  beforeAll(async () => {
    store = await openTestBackend('redis', 'ui');
    pool = new WorkerPool(store.backend, ReviewWorkflowDef, wf.instance, { size: 1, concurrency: 4, leaseMs: 5_000 });
    await pool.start();
    ui = await openUiInChromium(store.backend);
    page = ui.page;
  });

  afterAll(async () => {
    gates.open('review');
    gates.open('publish');
    await ui?.close();
    await pool?.stop();
    await store?.dispose();
  });

  it('lists runs, follows a running run node by node, and cancels it from the page', async () => {
    await wf.startDistributed(new ReviewCtx(), 'cats', store.backend, 'ui-run-1');
    await page.goto(ui.url('/'));
    const row = page.locator('tr[data-run="ui-run-1"]');
    await row.waitFor();
    expect(await row.locator('[data-status]').textContent()).toBe('running');
    expect(await row.locator('td').nth(1).textContent()).toBe('ReviewWorkflow');

    // A run created while the list is open appears without a reload (the store's events reach the page).
    await wf.startDistributed(new ReviewCtx(), 'mice', store.backend, 'ui-run-0');
    await page.locator('tr[data-run="ui-run-0"]').waitFor();

    await openRunFromList(page, 'ui-run-1');
    // The worker holds `review` at its gate: prepare is done, review is running.
    await page.locator('g.node[data-node="review"][data-state="running"]').waitFor();
    expect(await page.locator('g.node[data-node="prepare"]').getAttribute('data-state')).toBe('done');
    expect(await page.locator('g.node[data-node="publish"]').getAttribute('data-state')).toBe('idle');

    // The run moves on: the page follows without a reload.
    await openReviewAndFollow(page, gates, 'running', 0);

    await cancelFromPage(page, () => store.backend.getRun('ui-run-1'));
  });

  it('pauses and resumes a run from the page', async () => {
    await wf.startDistributed(new ReviewCtx(), 'dogs', store.backend, 'ui-run-2');
    await page.goto(ui.url('/runs/ui-run-2'));
    await page.locator('button[data-action="pause"]:not([disabled])').click();
    await page.locator('[data-fact="status"] [data-status="paused"]').waitFor();
    expect((await store.backend.getRun('ui-run-2'))?.status).toBe('paused');
    await page.locator('button[data-action="resume"]:not([disabled])').click();
    await page.locator('[data-fact="status"] [data-status="running"]').waitFor();
    expect((await store.backend.getRun('ui-run-2'))?.status).toBe('running');
  });

  it('sends a signal to a waiting run from its page (name and JSON payload) and sees the run continue', async () => {
    // The approval example on the in-process memory backend: its wait parks until the signal comes.
    const backend = new MemoryBackend();
    const approval = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());
    const worker = new Worker(backend, approval.def, approval.instance, { idleMinMs: 1, idleMaxMs: 20 });
    void worker.start();
    const docsUi = await startUiServer({ backend, graphs: ['docs'], livePollMs: 60_000 });
    try {
      await approval.startDistributed(undefined, { id: 'exp-7', amount: 420 }, backend, 'ui-wait-1');
      await page.goto(new URL('/runs/ui-wait-1', docsUi.url).toString());
      await page.locator('[data-wait="approval"]').waitFor();
      expect(await page.locator('[data-wait="approval"]').textContent()).toMatch(/^waiting for approval \(times out \d{4}-/);
      await page.locator('g.node[data-node="approval"][data-state="queued"]').waitFor();
      const form = page.locator('[data-signal-form]');
      // The name of the signal the run waits for is offered; a payload that is not JSON is refused on the page.
      expect(await form.locator('input[name="name"]').inputValue()).toBe('approval');
      await form.locator('textarea[name="payload"]').fill('{approved: true}');
      await form.locator('button[type="submit"]').click();
      await page.locator('.message', { hasText: 'the payload is not JSON' }).waitFor();
      // an empty payload is not sent as null: the page asks for one
      await form.locator('textarea[name="payload"]').fill('');
      await form.locator('button[type="submit"]').click();
      await page.locator('.message', { hasText: 'signal not sent: write its payload as JSON (null for a signal that carries nothing)' }).waitFor();
      expect((await backend.getRun('ui-wait-1'))?.status).toBe('running');
      expect(await backend.pendingSignals('ui-wait-1')).toEqual([]);
      await form.locator('textarea[name="payload"]').fill('{"approved": true, "by": "ana"}');
      await form.locator('input[name="key"]').fill('page-1');
      await form.locator('button[type="submit"]').click();
      await page.locator('[data-fact="status"] [data-status="completed"]').waitFor();
      expect(await page.locator('[data-fact="output"]').textContent()).toBe('"approved by ana"');
      expect(await page.locator('.message').textContent()).toBe('signal approval delivered');
      expect((await backend.getRun('ui-wait-1'))?.output).toBe('approved by ana');
      expect(await form.locator('button[type="submit"]').isDisabled()).toBe(true);
    } finally {
      await worker.stop(0);
      await docsUi.close();
    }
  });

  it('shows the refusal of a signal key reused with another payload, and keeps nothing of it', async () => {
    // no worker: the run stays running, and the signal waits in its mailbox
    const backend = new MemoryBackend();
    const approval = bindWorkflow(ApprovalWorkflowDef, new ApprovalWorkflow());
    const docsUi = await startUiServer({ backend, graphs: ['docs'], livePollMs: 60_000 });
    try {
      await approval.startDistributed(undefined, { id: 'exp-8', amount: 420 }, backend, 'ui-key-1');
      await page.goto(new URL('/runs/ui-key-1', docsUi.url).toString());
      const form = page.locator('[data-signal-form]');
      await form.locator('button[type="submit"]:not([disabled])').waitFor();
      await form.locator('input[name="name"]').fill('approval');
      await form.locator('input[name="key"]').fill('page-2');
      await form.locator('textarea[name="payload"]').fill('{"approved": true, "by": "ana"}');
      await form.locator('button[type="submit"]').click();
      await page.locator('.message', { hasText: "signal approval kept in the run's mailbox" }).waitFor();
      await form.locator('textarea[name="payload"]').fill('{"approved": false, "by": "ana"}');
      await form.locator('button[type="submit"]').click();
      await page.locator('.message', { hasText: 'signal failed: run ui-key-1 already received a signal with key "page-2" and another payload' }).waitFor();
      expect((await backend.pendingSignals('ui-key-1')).map((x) => x.payload)).toEqual([{ approved: true, by: 'ana' }]);
    } finally {
      await docsUi.close();
    }
  });

  it('labels a step whose failure its fallback took as fallback, in the history table and on the timeline', async () => {
    const fallback = bindWorkflow(FallbackWorkflowDef, new FallbackWorkflow());
    await fallback.startDistributed(undefined, 'job', store.backend, 'ui-fallback');
    const worker = new Worker(store.backend, FallbackWorkflowDef, fallback.instance, { idleMinMs: 5, idleMaxMs: 20, schedules: false });
    await worker.start();
    try {
      await page.goto(ui.url('/runs/ui-fallback'));
      await page.locator('[data-status="completed"]').first().waitFor();
      // (the history is read with the page: open it again once the run is over)
      await page.goto(ui.url('/runs/ui-fallback'));
      const row = (node: string) => page.locator('tbody tr', { has: page.locator('td', { hasText: new RegExp(`^${node}$`) }) }).first().locator('td');
      await row('fail').first().waitFor();
      expect(await row('fail').allTextContents()).toEqual([expect.any(String), 'fail', '0', '1', expect.any(String), expect.stringMatching(/ ms$/), 'fallback', 'Error: cannot handle job']);
      expect((await row('recovery').allTextContents())[6]).toBe('terminal');
      expect(await page.locator('rect.tl-bar[data-item="0"] title').textContent()).toMatch(/^fail #0 attempt 1: fallback, \d+ ms/);
    } finally {
      await worker.stop();
    }
  });

  it('draws a run of an older graph version from the versions file, says so, and colours its nodes on it', async () => {
    // a run left by a deploy (on a store of its own, where no worker of the current version moves it on): the
    // fixture's versions file records this older version of ReviewWorkflow
    const older = '3e7e57bf3e119c90';
    const backend = new MemoryBackend();
    await backend.createRun({ runId: 'ui-old', workflow: 'ReviewWorkflow', fingerprint: older, input: 'old', context: { log: [] }, firstItem: { node: 'prepare', id: '0', input: 'old' } });
    const both = await startUiServer({ backend, graphs: ['test/fixtures/ui/graphs', 'test/fixtures/ui'], livePollMs: 60_000 });
    try {
      await page.goto(new URL('/runs/ui-old', both.url).toString());
      await page.locator('[data-graph-note]').waitFor();
      expect(await page.locator('[data-graph-note]').textContent()).toBe(
        `The graph of this run's version ${older}, not the current ${ReviewWorkflowDef.fingerprint} of test/fixtures/ui/graphs/ReviewWorkflow.svg, drawn from test/fixtures/ui/flows.floxide.versions.json.`,
      );
      await page.locator('g.node[data-node="prepare"][data-state="queued"]').waitFor();
      expect(await page.locator('#graph g.node').count()).toBe(3);
    } finally {
      await both.close();
    }
  });

  /** `fn` on the page, on a `floxide ui` of its own over `backend` (`at(path)`: an address of it); no page error may be raised. */
  async function onUiOf(backend: MemoryBackend, fn: (at: (path: string) => string) => Promise<void>): Promise<void> {
    const own = await startUiServer({ backend, livePollMs: 60_000 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await fn((path) => new URL(path, own.url).toString());
      expect(errors).toEqual([]);
    } finally {
      page.removeAllListeners('pageerror');
      await own.close();
    }
  }

  it('shows the rows and the page of a run whose record lacks a field the page shows (null in the data)', async () => {
    // (a store or server older than the corrupt mark: the record's fingerprint comes as null)
    const backend = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'x', backend, 'ui-null-a');
    await wf.startDistributed(new ReviewCtx(), 'y', backend, 'ui-null-b');
    const lacking = withRunsAltered(backend, (r) => (r.runId === 'ui-null-b' ? { ...r, fingerprint: null } : r));
    await onUiOf(lacking, async (at) => {
      await page.goto(at('/'));
      await page.locator('tr[data-run="ui-null-b"]').waitFor();
      expect(await page.locator('tr[data-run]').count()).toBe(2);
      expect(await page.locator('tr[data-run="ui-null-b"] td').nth(2).textContent()).toBe('');
      await page.goto(at('/runs/ui-null-b'));
      await page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      expect(await page.locator('[data-fact="version"]').textContent()).toBe('');
    });
  });

  it('shows ? for a time that cannot be read (no date, or beyond a Date), as the CLI does, and the rest of the page', async () => {
    // (a corrupt record: a creation time beyond what a Date holds, a deadline that is no date)
    const backend = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'x', backend, 'ui-badtime');
    const unreadable = withRunsAltered(backend, (r) => ({ ...r, createdAt: 1e17, deadline: 'no date' }));
    await onUiOf(unreadable, async (at) => {
      await page.goto(at('/'));
      const row = page.locator('tr[data-run="ui-badtime"]');
      await row.waitFor();
      expect(await row.locator('td').nth(4).textContent()).toBe('?');
      expect(await row.locator('td').nth(4).getAttribute('title')).toBe('?');
      await page.goto(at('/runs/ui-badtime'));
      await page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      expect(await page.locator('[data-fact="created"]').textContent()).toBe('?');
      expect(await page.locator('[data-fact="deadline"]').textContent()).toBe('?');
    });
  });

  it('draws the readable steps on the timeline and ? for the time a step took when its stored times cannot be read', async () => {
    // (a corrupt store: one step record whose times are no numbers, and a creation time before what a Date holds)
    const backend = new MemoryBackend();
    const fallback = bindWorkflow(FallbackWorkflowDef, new FallbackWorkflow());
    await fallback.startDistributed(undefined, 'job', backend, 'ui-badsteps');
    const worker = new Worker(backend, FallbackWorkflowDef, fallback.instance, { idleMinMs: 5, idleMaxMs: 20, schedules: false });
    await worker.start();
    await until(async () => (await backend.getRun('ui-badsteps'))?.status === 'completed', 10_000, 'the run to complete');
    await worker.stop();
    const altered = withRunsAltered(backend, (r) => ({ ...r, createdAt: -1e17 }));
    const corrupt = new Proxy(altered, {
      get: (t, k, r) =>
        k === 'stepHistory'
          ? async (id: string, o?: object) => (await backend.stepHistory(id, o)).map((s) => (s.node === 'fail' ? { ...s, startedAt: 'x', finishedAt: 1e17 } : s))
          : Reflect.get(t, k, r),
    });
    await onUiOf(corrupt, async (at) => {
      await page.goto(at('/runs/ui-badsteps'));
      await page.locator('[data-fact="status"] [data-status="completed"]').waitFor();
      const row = (node: string) => page.locator('tbody tr', { has: page.locator('td', { hasText: new RegExp(`^${node}$`) }) }).first().locator('td');
      expect((await row('fail').allTextContents()).slice(0, 6)).toEqual(['?', 'fail', '0', '1', expect.any(String), '?']);
      expect((await row('recovery').allTextContents())[5]).toMatch(/^\d+ ms$/);
      // the timeline: the readable step alone, on a scale its own times set
      expect(await page.locator('rect.tl-bar').count()).toBe(1);
      expect(await page.locator('rect.tl-bar title').textContent()).toMatch(/^recovery #\S+ attempt 1: terminal, \d+ ms/);
      for (const a of ['x', 'width']) expect(Number(await page.locator('rect.tl-bar').getAttribute(a))).not.toBeNaN();
      expect(await page.locator('svg.timeline .tl-axis').first().textContent()).toMatch(/^\d{4}-\d\d-\d\d /);
    });
  });

  it("clears a store failure's message from the run page once a live update succeeds again", async () => {
    const backend = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'x', backend, 'ui-outage');
    let offline = false;
    const flaky = new Proxy(backend, {
      get: (t, k, r) =>
        k === 'getRun' ? (id: string) => (offline ? Promise.reject(new StoreError('Redis call failed: The client is offline')) : t.getRun(id)) : Reflect.get(t, k, r),
    });
    const outageUi = await startUiServer({ backend: flaky, livePollMs: 60_000 });
    try {
      await page.goto(new URL('/runs/ui-outage', outageUi.url).toString());
      await page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      // the store goes away: the next re-read (on the store's event of this pause) fails, and the page says so
      offline = true;
      await backend.pauseRun('ui-outage');
      await page.locator('.message', { hasText: 'Redis call failed: The client is offline' }).waitFor();
      // it comes back: the next update shows the run, and the failure is gone
      offline = false;
      await backend.resumeRun('ui-outage');
      await page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      await page.locator('.message', { hasText: 'Redis call failed' }).waitFor({ state: 'detached' });
      expect(await page.locator('.message').textContent()).toBe('');
    } finally {
      await outageUi.close();
    }
  });

  it('follows a run across a restart of floxide ui, and says why when the restarted one refuses the page (another token)', async () => {
    await wf.startDistributed(new ReviewCtx(), 'restart', store.backend, 'ui-restart');
    const token = 'first-token-0123456789';
    let restarted = await startUiServer({ backend: store.backend, token, livePollMs: 60_000 });
    const port = restarted.port;
    try {
      await page.goto(restarted.url);
      await page.goto(new URL('/runs/ui-restart', restarted.url).toString().replace(/\?.*$/, ''));
      await page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      // the server stops and starts again on its port: the page reconnects by itself and shows what changed meanwhile
      await restarted.close();
      await page.locator('#conn', { hasText: 'reconnecting...' }).waitFor();
      await store.backend.pauseRun('ui-restart');
      restarted = await startUiServer({ backend: store.backend, token, port, livePollMs: 60_000 });
      await page.locator('[data-fact="status"] [data-status="paused"]').waitFor();
      // started again with another token (the default beyond loopback is a new one each start): the browser gives up
      // on the stream (a 401 is never retried), and the page says why instead of reconnecting for ever
      await restarted.close();
      await page.locator('#conn', { hasText: 'reconnecting...' }).waitFor();
      restarted = await startUiServer({ backend: store.backend, token: 'second-token-0123456789', port, livePollMs: 60_000 });
      await page.locator('#conn', { hasText: 'disconnected: this dashboard needs its token' }).waitFor();
      expect(await page.locator('#conn').textContent()).toBe('disconnected: this dashboard needs its token: open the URL floxide ui printed (it ends with ?token=...). Reload the page to try again.');
    } finally {
      await restarted.close();
      await store.backend.cancelRun('ui-restart').catch(() => undefined);
    }
  });

  /** `floxide ui` on `backend` serving one live stream, held by a page of its own (`first`) open on the run `runId`. */
  async function holdTheOneStream(backend: MemoryBackend, runId: string) {
    const cappedUi = await startUiServer({ backend, livePollMs: 60_000, maxLiveStreams: 1 });
    const first = await ui.browser.newPage();
    await first.goto(new URL(`/runs/${runId}`, cappedUi.url).toString());
    await first.locator('[data-fact="status"] [data-status="running"]').waitFor();
    return { cappedUi, first };
  }

  it('retries a live stream the server refused (too many open) after its Retry-After, and follows the run once it gets one', async () => {
    const backend = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'x', backend, 'ui-capped');
    // the first page holds the one stream; the second is refused, and says it retries instead of asking for a reload
    const { cappedUi, first } = await holdTheOneStream(backend, 'ui-capped');
    try {
      await page.goto(new URL('/runs/ui-capped', cappedUi.url).toString());
      await page.locator('#conn', { hasText: 'disconnected: too many live streams open (1' }).waitFor();
      expect(await page.locator('#conn').textContent()).toMatch(/\. Retrying in \d+ s\.\.\.$/);
      // the first page closes: the second gets the stream by itself, and follows the run
      await first.close();
      await page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      await backend.pauseRun('ui-capped');
      await page.locator('[data-fact="status"] [data-status="paused"]').waitFor();
      expect(await page.locator('#conn').textContent()).toMatch(/^live, updated /);
    } finally {
      await first.close();
      await cappedUi.close();
    }
  });

  it('a runs list whose live stream was refused keeps saying so through its reloads, and follows the runs once it gets one', async () => {
    const backend = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'x', backend, 'ui-capped-a');
    // the list's rows are held back until the stream was refused (its reload ends after the refusal is shown)
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = new Proxy(backend, { get: (t, k, r) => (k === 'listRuns' ? async (f: object) => (await held, t.listRuns(f)) : Reflect.get(t, k, r)) });
    const { cappedUi, first } = await holdTheOneStream(slow, 'ui-capped-a');
    try {
      await page.goto(new URL('/', cappedUi.url).toString());
      await page.locator('#conn', { hasText: 'disconnected: too many live streams open (1' }).waitFor();
      release();
      await page.locator('tr[data-run="ui-capped-a"]').waitFor();
      expect(await page.locator('#conn').textContent()).toMatch(/^disconnected: too many live streams open .*\. Retrying in \d+ s\.\.\.$/);
      // the stream is free: the list gets it by itself, and a run created then appears without a reload
      await first.close();
      await page.locator('#conn', { hasText: /^updated / }).waitFor();
      await wf.startDistributed(new ReviewCtx(), 'y', backend, 'ui-capped-b');
      await page.locator('tr[data-run="ui-capped-b"]').waitFor();
    } finally {
      release();
      await first.close();
      await cappedUi.close();
    }
  });

  it('keeps the rows of the runs list while it reloads on a busy store, so that a click on a run is not lost', async () => {
    const busy = new MemoryBackend();
    const spec = (runId: string) => ({ runId, workflow: 'wf', fingerprint: 'fp', input: null, context: {}, firstItem: { node: 'a', id: '0', input: null } });
    for (let i = 0; i < 60; i++) await busy.createRun(spec(`busy-${String(i).padStart(2, '0')}`));
    const busyUi = await startUiServer({ backend: busy, livePollMs: 60_000 });
    // hundreds of status changes a second: the list reloads its rows every 150 ms
    let moving = true;
    const changes = (async () => {
      for (let n = 0; moving; n++) {
        const id = `busy-${String(n % 60).padStart(2, '0')}`;
        await (Math.floor(n / 60) % 2 === 0 ? busy.pauseRun(id) : busy.resumeRun(id));
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    let reloads = 0;
    const counted = (res: { url(): string }) => void (new URL(res.url()).pathname === '/api/runs' && reloads++);
    page.on('response', counted);
    try {
      await page.goto(new URL('/', busyUi.url).toString());
      const link = page.locator('tr[data-run="busy-55"] a');
      await link.waitFor();
      await link.evaluate((a) => ((a as unknown as { mark: number }).mark = 1));
      const from = reloads;
      await until(() => reloads >= from + 3, 20_000, 'three reloads');
      // the same link element through the reloads (its row's other cells change)
      expect(await link.evaluate((a) => (a as unknown as { mark?: number }).mark)).toBe(1);
      // a click at a person's pace: 150 ms from press to release
      const box = (await link.boundingBox())!;
      await page.mouse.move(box.x + 4, box.y + box.height / 2);
      await page.mouse.down();
      await new Promise((r) => setTimeout(r, 150));
      await page.mouse.up();
      await page.waitForURL(/\/runs\/busy-55$/);
    } finally {
      page.off('response', counted);
      moving = false;
      await changes;
      await busyUi.close();
    }
  });

  it('keeps what did not change on a run page through its updates: text selected in an error stays selected', async () => {
    const backend = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'select', backend, 'ui-select');
    await backend.recordError('ui-select', { itemId: '0', node: 'prepare', attempt: 1, error: serializeError(new Error('copy this message')) });
    const selectUi = await startUiServer({ backend, livePollMs: 60_000 });
    try {
      await page.goto(new URL('/runs/ui-select', selectUi.url).toString());
      const cell = page.locator('td', { hasText: 'Error: copy this message' });
      await cell.waitFor();
      // the operator selects the message to copy it, while the run changes (its status, its facts and actions)
      // (the page's own `getSelection`: this file is type-checked without the DOM's types)
      type Selecting = { getSelection(): { selectAllChildren(node: unknown): void; toString(): string } };
      await cell.evaluate((td) => (globalThis as unknown as Selecting).getSelection().selectAllChildren(td));
      for (const [change, status] of [[() => backend.pauseRun('ui-select'), 'paused'], [() => backend.resumeRun('ui-select'), 'running'], [() => backend.pauseRun('ui-select'), 'paused']] as const) {
        await change();
        await page.locator(`[data-fact="status"] [data-status="${status}"]`).waitFor();
      }
      expect(await page.evaluate(() => (globalThis as unknown as Selecting).getSelection().toString())).toBe('Error: copy this message');
    } finally {
      await selectUi.close();
    }
  });

  it('shows the not-found state for a page address whose percent-encoding is malformed', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(ui.url('/runs/%E0%A4%A'));
      const state = page.locator('[data-not-found]');
      await state.waitFor();
      expect(await state.textContent()).toContain('/runs/%E0%A4%A');
      expect(await page.title()).toBe('not found - floxide ui');
      expect(errors).toEqual([]);
      // and back to the list from there
      await page.locator('main a', { hasText: 'all runs' }).click();
      await page.locator('#runs').waitFor();
    } finally {
      page.removeAllListeners('pageerror');
    }
  });

  it('writes bidirectional and control characters of data as escapes (\\u202e), so a value cannot reorder the text around it', async () => {
    const backend = new MemoryBackend();
    await wf.startDistributed(new ReviewCtx(), 'abc\u202edef\u2066x\u200f-1\u061c-2', backend, 'ui-bidi');
    await backend.cancelRun('ui-bidi', 'stop\u202bhere\u0007');
    const bidiUi = await startUiServer({ backend, livePollMs: 60_000 });
    // what a page must not show raw: C0 and C1 controls but tab and newline, and the bidirectional formatting characters
    // (the arabic letter mark U+061C too: shown raw, `-1\u061c-2` reads `-12-`)
    const hidden = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
    try {
      await page.goto(new URL('/', bidiUi.url).toString());
      const row = page.locator('tr[data-run="ui-bidi"]');
      await row.waitFor();
      expect(await row.locator('td').nth(6).textContent()).toBe('CancelledError: stop\\u202bhere\\u0007');
      expect(await page.locator('main').textContent()).not.toMatch(hidden);
      await page.goto(new URL('/runs/ui-bidi', bidiUi.url).toString());
      await page.locator('[data-fact="error"]').waitFor();
      expect(await page.locator('[data-fact="input"]').textContent()).toBe('"abc\\u202edef\\u2066x\\u200f-1\\u061c-2"');
      expect(await page.locator('[data-fact="error"]').textContent()).toBe('CancelledError: stop\\u202bhere\\u0007');
      expect(await page.locator('main').textContent()).not.toMatch(hidden);
    } finally {
      await bidiUi.close();
    }
  });

  it('shows megabyte values (input, error, context) by their first 10,000 characters, saying how many more there are', async () => {
    const MB = 1024 * 1024;
    const b = store.backend;
    await b.createRun({ runId: 'ui-huge', workflow: 'ReviewWorkflow', fingerprint: 'f'.repeat(16), input: 'i'.repeat(MB), context: { log: ['c'.repeat(3 * MB)] }, firstItem: { node: 'prepare', id: '0', input: 'x' } });
    await b.failRun('ui-huge', serializeError(new Error('e'.repeat(MB))));
    await page.goto(ui.url('/runs/ui-huge'));
    await page.locator('[data-fact="status"] [data-status="failed"]').waitFor();
    // each shown as its first 10,000 characters and how many of the rest there are
    const rest = (n: number) => `… (${n - 10_000} more characters: the API has the whole value)`;
    const shown = async (selector: string, suffix: string) => {
      const text = (await page.locator(selector).textContent())!;
      return { length: text.length, head: text.slice(0, 3), end: text.slice(-suffix.length) };
    };
    // the input's JSON has its two quotes; the error is `Error: <message>`
    expect(await shown('[data-fact="input"]', rest(MB + 2))).toEqual({ length: 10_000 + rest(MB + 2).length, head: '"ii', end: rest(MB + 2) });
    expect(await shown('[data-fact="error"]', rest(MB + 7))).toEqual({ length: 10_000 + rest(MB + 7).length, head: 'Err', end: rest(MB + 7) });
    const context = JSON.stringify({ log: ['c'.repeat(3 * MB)] }, null, 2).length;
    expect(await shown('#context-initial', rest(context))).toEqual({ length: 10_000 + rest(context).length, head: '{\n ', end: rest(context) });
  });

  it('shows values from the store as text, never as markup', async () => {
    const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    await wf.startDistributed(new ReviewCtx(), evil, store.backend, 'ui-run-3');
    await page.goto(ui.url('/runs/ui-run-3'));
    const input = page.locator('[data-fact="input"]');
    await input.waitFor();
    expect(await input.textContent()).toBe(JSON.stringify(evil));
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("shows the errors an AggregateError gathers and each error's cause", async () => {
    await wf.startDistributed(new ReviewCtx(), 'aggregate', store.backend, 'ui-run-aggregate');
    const error = serializeError(new AggregateError([new TypeError('card declined'), new Error('stock <b>too</b> low', { cause: new RangeError('-1') })], 'both checks failed'));
    await store.backend.recordError('ui-run-aggregate', { itemId: 'i1', node: 'review', attempt: 1, error });
    await page.goto(ui.url('/runs/ui-run-aggregate'));
    await page.locator('td', { hasText: 'AggregateError' }).waitFor();
    expect(await page.locator('td', { hasText: 'AggregateError' }).textContent()).toBe('AggregateError: both checks failed [TypeError: card declined; Error: stock <b>too</b> low, caused by RangeError: -1]');
  });
});

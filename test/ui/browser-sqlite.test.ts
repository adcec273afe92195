/**
 * `floxide ui` on a SQLite checkpoint file (`--store sqlite:<file>`) in a real headless Chromium: runs written by
 * real checkpointed runs of this process, the runs list paged by keyset, a run page with its graph following the run
 * as it commits (the file's feed: `data_version` checks), its step history and context, pause and resume hidden
 * (local runs do not pause), and a cancel from the page that the file records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { SqliteCheckpointStore } from '../../runtime/stores/sqlite.js';
import { CancelledError } from '../../runtime/core/errors.js';
import { openRunsStore } from '../../cli/store/open.js';
import type { RunsStore } from '../../cli/store/runs-store.js';
import { Gates, ReviewCtx, ReviewWorkflow } from '../fixtures/ui/flows.js';
import { ReviewWorkflowDef } from '../fixtures/ui/flows.floxide.js';
import { RetryWorkflow } from '../../examples/retry.js';
import { RetryWorkflowDef } from '../../examples/retry.floxide.js';
import { plantCorruptSqliteRuns } from '../distributed/tamper.js';
import { cancelFromPage, hasChromium, openReviewAndFollow, openRunFromList, openUiInChromium, type UiInChromium } from './chromium.js';

describe.skipIf(!hasChromium)('floxide ui on sqlite:<file> in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floxide-ui-sqlite-'));
  const file = join(dir, 'runs.db');
  let writer: SqliteCheckpointStore;
  let runs: RunsStore;
  let ui: UiInChromium;
  let page: Page;
  const gates = new Gates();
  const wf = bindWorkflow(ReviewWorkflowDef, new ReviewWorkflow(gates));

  beforeAll(async () => {
    writer = new SqliteCheckpointStore(file);
    for (const id of ['done-a', 'done-b', 'done-c']) await bindWorkflow(RetryWorkflowDef, new RetryWorkflow(0)).runWithCheckpoint(undefined, undefined, writer, id);
    runs = await openRunsStore(`sqlite:${file}`);
    ui = await openUiInChromium(runs);
    page = ui.page;
  });

  afterAll(async () => {
    gates.open('review');
    gates.open('publish');
    await ui?.close();
    await runs?.close();
    await writer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pages the runs list newest first', async () => {
    await page.goto(ui.url('/?limit=2'));
    await page.locator('tr[data-run="done-c"]').waitFor();
    expect(await page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')))).toEqual(['done-c', 'done-b']);
    await page.locator('.pager button:has-text("Older"):not([disabled])').click();
    await page.locator('tr[data-run="done-a"]').waitFor();
    expect(await page.locator('tr[data-run]').count()).toBe(1);
  });

  it('keeps the page size and the filters of the address across pages', async () => {
    const rows = () => page.locator('tr[data-run]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-run')));
    const query = () => Object.fromEntries(new URL(page.url()).searchParams);
    await page.goto(ui.url('/?limit=1&workflow=RetryWorkflow&status=completed'));
    await page.locator('tr[data-run="done-c"]').waitFor();
    expect(await rows()).toEqual(['done-c']);
    // what is typed but not applied does not change the pages of the query shown
    await page.locator('input[name="workflow"]').fill('Other');
    await page.locator('.pager button:has-text("Older"):not([disabled])').click();
    await page.locator('tr[data-run="done-b"]').waitFor();
    expect(await rows()).toEqual(['done-b']);
    expect(query()).toMatchObject({ limit: '1', workflow: 'RetryWorkflow', status: 'completed' });
    await page.locator('.pager button:has-text("Older"):not([disabled])').click();
    await page.locator('tr[data-run="done-a"]').waitFor();
    expect(await rows()).toEqual(['done-a']);
    await page.locator('.pager button:has-text("Newest"):not([disabled])').click();
    await page.locator('tr[data-run="done-c"]').waitFor();
    expect(await rows()).toEqual(['done-c']);
    expect(query()).toEqual({ limit: '1', workflow: 'RetryWorkflow', status: 'completed' });
    // a new filter starts at its first page, same page size
    await page.locator('input[name="workflow"]').fill('NoSuchWorkflow');
    await page.locator('input[name="workflow"]').press('Enter');
    await page.locator('td.empty').waitFor();
    expect(query()).toEqual({ limit: '1', workflow: 'NoSuchWorkflow', status: 'completed' });
  });

  it('follows a checkpointed run node by node, with its history and context, and cancels it from the page', async () => {
    await page.goto(ui.url('/'));
    await page.locator('tr[data-run="done-a"]').waitFor();
    // A run created while the list is open appears without a reload.
    const running = wf.runWithCheckpoint(new ReviewCtx(), 'cats', writer, 'sq-review').catch((err: unknown) => err);
    const row = page.locator('tr[data-run="sq-review"]');
    await row.waitFor();
    expect(await row.locator('[data-status]').textContent()).toBe('running');
    await openRunFromList(page, 'sq-review');
    // prepare committed; review's item waits (a checkpoint file does not know which item its process is running)
    await page.locator('g.node[data-node="prepare"][data-state="done"]').waitFor();
    expect(await page.locator('g.node[data-node="review"]').getAttribute('data-state')).toBe('queued');
    expect(await page.locator('g.node[data-node="publish"]').getAttribute('data-state')).toBe('idle');
    expect(await page.locator('button[data-action="pause"]').isHidden()).toBe(true);
    expect(await page.locator('button[data-action="resume"]').isHidden()).toBe(true);

    await openReviewAndFollow(page, gates, 'queued', 1);

    await cancelFromPage(page, () => writer.getRun('sq-review'));
    // The process running it stops at its next commit, as cancelled.
    gates.open('publish');
    expect(await running).toBeInstanceOf(CancelledError);
  });

  it('cancels a failed run from the page, as the file allows (a failed checkpointed run could still be resumed)', async () => {
    const failure = await bindWorkflow(RetryWorkflowDef, new RetryWorkflow(10)).runWithCheckpoint(undefined, undefined, writer, 'sq-failed').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Error);
    await page.goto(ui.url('/runs/sq-failed'));
    await page.locator('[data-fact="status"] [data-status="failed"]').waitFor();
    expect(await page.locator('button[data-action="cancel"]').isDisabled()).toBe(false);
    await cancelFromPage(page, () => writer.getRun('sq-failed'));
  });
});

describe.skipIf(!hasChromium)('floxide ui on sqlite:<file> in Chromium: runs with corrupt stored data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floxide-ui-sqlite-corrupt-'));
  const file = join(dir, 'corrupt.db');
  let runs: RunsStore;
  let ui: UiInChromium;

  beforeAll(async () => {
    await plantCorruptSqliteRuns(file);
    runs = await openRunsStore(`sqlite:${file}`);
    ui = await openUiInChromium(runs);
  });

  afterAll(async () => {
    await ui?.close();
    await runs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the list marks only the rows whose record cannot be read; the run page shows the record with the mark', async () => {
    const { page } = ui;
    await page.goto(ui.url('/'));
    const row = page.locator('tr[data-run="bad-record"]');
    await row.waitFor();
    expect(await page.locator('tr[data-run]').count()).toBe(7);
    expect(await page.locator('tr[data-run] .corrupt').evaluateAll((marks) => marks.map((m) => m.closest('tr')!.getAttribute('data-run')).sort())).toEqual(['bad-error', 'bad-record', 'bad-status']);
    const cells = await row.locator('td').allTextContents();
    // status (orphaned: written into the file, no process holds it), the age of a creation time that cannot be read, the mark
    expect(cells[3]).toBe('running orphaned');
    expect(await row.locator('[data-orphaned]').getAttribute('title')).toMatch(/^orphaned: no process holds it since .*; resume\(store, runId\) continues it$/);
    expect(cells[4]).toBe('?');
    expect(cells[6]).toBe('unreadable: CorruptStateError: run bad-record input: malformed JSON (Unexpected end of JSON input); run bad-record creation time is not a time: "yesterday"');
    expect(await page.locator('tr[data-run="bad-delta"] td').nth(6).textContent()).toBe('Error: step 2 broke');
    await page.goto(ui.url('/runs/bad-record'));
    const mark = page.locator('dd[data-fact="unreadable"]');
    await mark.waitFor();
    expect(await mark.textContent()).toContain('CorruptStateError: run bad-record input: malformed JSON');
    expect(await page.locator('dd[data-fact="input"]').textContent()).toBe('-');
    expect(await page.locator('dd[data-fact="created"]').textContent()).toBe('?');
    expect(await page.locator('dd[data-fact="status"]').textContent()).toMatch(/^running orphaned: no process holds it since .*; resume\(store, runId\) continues it$/);
    expect(await page.locator('dd[data-fact="owner"]').textContent()).toBe('none');
  });
});

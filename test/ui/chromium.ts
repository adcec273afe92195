/**
 * The browser tests' shared setup: `floxide ui` on a store, a real headless Chromium (Debian's chromium, driven by
 * playwright-core) with one page, and the steps both suites take on a run page.
 */
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startUiServer, type UiServer, type UiServerOptions } from '../../cli/ui/server.js';
import type { Gates } from '../fixtures/ui/flows.js';

/** The Chromium the tests drive (`FLOXIDE_CHROMIUM` overrides); the suites skip when it is not installed. */
export const CHROMIUM = process.env.FLOXIDE_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** A `floxide ui` server and a Chromium page to open it in. */
export interface UiInChromium {
  server: UiServer;
  browser: Browser;
  page: Page;
  /** The server's URL for `path` (the runs list for `/`). */
  url(path: string): string;
  /** Closes the browser and the server (not the store: the caller owns it). */
  close(): Promise<void>;
}

/**
 * Starts `floxide ui` on `backend` with the test graphs and a long poll period (what the page shows live must come
 * from the store's events), and launches Chromium with one page.
 */
export async function openUiInChromium(backend: UiServerOptions['backend']): Promise<UiInChromium> {
  const server = await startUiServer({ backend, graphs: ['test/fixtures/ui/graphs'], livePollMs: 60_000 });
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  } catch (err) {
    await server.close();
    throw err;
  }
  const page = await browser.newPage();
  return {
    server,
    browser,
    page,
    url: (path) => new URL(path, server.url).toString(),
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the run `runId` from its row in the runs list (the list is open on `page`). */
export async function openRunFromList(page: Page, runId: string): Promise<void> {
  await page.locator(`tr[data-run="${runId}"] a`).click();
  await page.waitForURL(new RegExp(`/runs/${runId}$`));
}

/**
 * On the open page of a review run held at its `review` gate: opens the gate and checks that the same page (no reload)
 * follows the run on: review done, publish in `publishState`, the context shown, and prepare's and review's steps
 * (review's item is `reviewItem`) on the timeline.
 */
export async function openReviewAndFollow(page: Page, gates: Gates, publishState: 'running' | 'queued', reviewItem: number): Promise<void> {
  const marker = await page.evaluate(() => ((globalThis as unknown as { __same: number }).__same = Math.random()));
  gates.open('review');
  await page.locator(`g.node[data-node="publish"][data-state="${publishState}"]`).waitFor();
  expect(await page.locator('g.node[data-node="review"]').getAttribute('data-state')).toBe('done');
  expect(await page.evaluate(() => (globalThis as unknown as { __same: number }).__same)).toBe(marker);
  expect(await page.locator('#context-initial').textContent()).toContain('"log"');
  await page.locator(`rect.tl-bar[data-item="${reviewItem}"][data-outcome="continue"]`).waitFor();
  expect(await page.locator('rect.tl-bar').count()).toBe(2);
}

/**
 * Cancels the open run from its page (accepting the confirmation), waits for the page to show it cancelled, and
 * checks the store recorded it (`readRun` reads the run from the store).
 */
export async function cancelFromPage(page: Page, readRun: () => Promise<{ status: string; error?: { message: string } } | undefined>): Promise<void> {
  page.once('dialog', (d) => void d.accept());
  await page.locator('button[data-action="cancel"]').click();
  await page.locator('[data-fact="status"] [data-status="cancelled"]').waitFor();
  const run = await readRun();
  expect(run?.status).toBe('cancelled');
  expect(run?.error?.message).toBe('cancelled from floxide ui');
  expect(await page.locator('button[data-action="cancel"]').isDisabled()).toBe(true);
}

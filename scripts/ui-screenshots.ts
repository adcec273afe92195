/**
 * Takes the dashboard screenshots the README shows (docs/ui-runs.png, docs/ui-run.png): a memory store with runs of
 * every status, processed by real workers in this process, a fan-out run caught in the middle, served by
 * `startUiServer` and photographed in headless Chromium.
 *
 * Usage: npx tsx scripts/ui-screenshots.ts [--out docs]   (needs /usr/bin/chromium, or FLOXIDE_CHROMIUM)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { renderSvg } from '../compiler/docs.js';
import { startUiServer } from '../cli/ui/server.js';
import { MemoryBackend } from '../runtime/distributed/memory.js';
import { WorkerPool } from '../runtime/distributed/pool.js';
import { bindWorkflow } from '../runtime/workflow/bind.js';
import { CountCtx, FanWorkflow, type Behaviour } from '../test/fixtures/distributed/flows.js';
import { FanWorkflowDef } from '../test/fixtures/distributed/flows.floxide.js';
import { Gates, ReviewCtx, ReviewWorkflow } from '../test/fixtures/ui/flows.js';
import { ReviewWorkflowDef } from '../test/fixtures/ui/flows.floxide.js';

const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : 'docs';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const backend = new MemoryBackend();
const graphs = mkdtempSync(join(tmpdir(), 'floxide-ui-graphs-'));
writeFileSync(join(graphs, 'FanWorkflow.svg'), await renderSvg(FanWorkflowDef.dot, FanWorkflowDef.fingerprint));
writeFileSync(join(graphs, 'ReviewWorkflow.svg'), await renderSvg(ReviewWorkflowDef.dot, ReviewWorkflowDef.fingerprint));

/** Serves FanWorkflow runs with `behaviour` until `done` holds, then stops. */
async function serveFan(behaviour: Behaviour, concurrency: number, done: () => Promise<boolean>, what: string): Promise<WorkerPool> {
  const pool = new WorkerPool(backend, FanWorkflowDef, bindWorkflow(FanWorkflowDef, new FanWorkflow(behaviour)).instance, { size: 1, concurrency, leaseMs: 10_000 });
  await pool.start();
  await until(done, what);
  return pool;
}

const fan = bindWorkflow(FanWorkflowDef, new FanWorkflow());
const status = async (runId: string) => (await backend.getRun(runId))?.status;

// A run whose work fails on every attempt: retried, then dead-lettered, and the run fails.
await fan.startDistributed(new CountCtx(), 2, backend, 'import-2041');
await (await serveFan({ failRate: 1 }, 4, async () => (await status('import-2041')) === 'failed', 'the failing run')).stop();

// Runs that complete, one cancelled, one paused, and reviews waiting at their gate.
for (const [i, n] of [3, 5, 4, 6].entries()) await fan.startDistributed(new CountCtx(), n, backend, `import-20${42 + i}`);
await (await serveFan({ maxDelayMs: 30 }, 8, async () => (await backend.listRuns({ status: 'running' })).length === 0, 'the completing runs')).stop();
const gates = new Gates();
const review = bindWorkflow(ReviewWorkflowDef, new ReviewWorkflow(gates));
const reviews = new WorkerPool(backend, ReviewWorkflowDef, review.instance, { size: 1, concurrency: 4, leaseMs: 10_000 });
await reviews.start();
for (const id of ['article-cats', 'article-dogs', 'article-owls']) await review.startDistributed(new ReviewCtx(), id.slice(8), backend, id);
await backend.cancelRun('article-dogs', 'duplicate of article-cats');
await until(async () => (await backend.itemStates('article-owls')).some((s) => s.node === 'review' && s.status === 'in_progress'), 'a review in progress');
await backend.pauseRun('article-owls');

// The run in the picture: twelve work items, three at a time, each taking a few seconds.
await fan.startDistributed(new CountCtx(), 12, backend, 'import-2046');
const live = await serveFan({ maxDelayMs: 20_000 }, 3, async () => {
  const states = (await backend.itemStates('import-2046')).filter((s) => s.node === 'work');
  return states.some((s) => s.status === 'completed') && states.some((s) => s.status === 'in_progress') && states.some((s) => s.status === 'pending');
}, 'a fan-out in the middle');

const server = await startUiServer({ backend, graphs: [graphs], livePollMs: 200 });
const browser = await chromium.launch({ executablePath: process.env.FLOXIDE_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 640 }, deviceScaleFactor: 1 });
  await page.goto(server.url);
  await page.locator('tr[data-run="import-2046"]').waitFor();
  await page.screenshot({ path: join(out, 'ui-runs.png') });
  await page.goto(new URL('/runs/import-2046', server.url).toString());
  await page.locator('g.node[data-node="work"][data-state]').waitFor({ timeout: 60_000 });
  await page.locator('rect.tl-bar').first().waitFor();
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.screenshot({ path: join(out, 'ui-run.png') });
  console.log(`wrote ${join(out, 'ui-runs.png')} and ${join(out, 'ui-run.png')}`);
} finally {
  await browser.close();
  await server.close();
  gates.open('review');
  gates.open('publish');
  await Promise.all([live.stop(), reviews.stop()]);
  await backend.close();
  rmSync(graphs, { recursive: true, force: true });
}

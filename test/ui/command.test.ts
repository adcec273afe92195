/**
 * `floxide ui` through runCli (the binary's code path) against a real Redis: the URL on the first line, a graceful
 * stop, and the exit codes of bad usage and an unreachable store.
 */
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/cli.js';
import { openTestBackend, REDIS_URL, uniquePrefix } from '../distributed/helpers.js';
import { bindWorkflow } from '../../runtime/workflow/bind.js';
import { Gates, ReviewCtx, ReviewWorkflow } from '../fixtures/ui/flows.js';
import { ReviewWorkflowDef } from '../fixtures/ui/flows.floxide.js';

function io() {
  const o = { out: '', err: '', stop: undefined as undefined | (() => void | Promise<void>) };
  return {
    o,
    io: { stdout: { write: (t: string) => (o.out += t) }, stderr: { write: (t: string) => (o.err += t) }, color: false, onStop: (s: () => void | Promise<void>) => void (o.stop = s) },
  };
}

describe('floxide ui', () => {
  it('prints the URL on its first line, serves the store, and stops on a signal with exit 0', async () => {
    const { o, io: cliIo } = io();
    const store = `${REDIS_URL}?prefix=${encodeURIComponent(uniquePrefix('cli-ui'))}`;
    const done = runCli(['ui', '--store', store, '--port', '0', '--graphs', 'test/fixtures/ui/graphs'], cliIo);
    for (let i = 0; i < 500 && !o.out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 20));
    const url = o.out.split('\n')[0]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(`${url}api/runs`);
    expect(await res.json()).toEqual({ runs: [], next: null });
    await o.stop!();
    expect(await done).toBe(0);
  });

  it('without --graphs, draws a run from the versions files under the current folder (and docs/), saying so', async () => {
    const { o, io: cliIo } = io();
    const { backend, storeUrl: store, dispose } = await openTestBackend('redis', 'cli-ui-graphs');
    try {
      // the ui test fixture's workflow: no docs/ReviewWorkflow.svg in this project, its versions file under test/
      await bindWorkflow(ReviewWorkflowDef, new ReviewWorkflow(new Gates())).startDistributed(new ReviewCtx(), 'topic', backend, 'graph-default');
      const done = runCli(['ui', '--store', store, '--port', '0'], cliIo);
      for (let i = 0; i < 500 && !o.out.includes('Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 20));
      const [url, served] = o.out.split('\n');
      expect(served).toBe(`floxide ui: serving ${store}, graphs from docs, . (the default of --graphs); Ctrl-C stops`);
      const res = await fetch(`${url}api/runs/graph-default/graph`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(`<!-- floxide graph version ${ReviewWorkflowDef.fingerprint} -->`);
      expect(decodeURIComponent(res.headers.get('x-floxide-graph-note')!)).toBe(
        `The graph of this run's version ${ReviewWorkflowDef.fingerprint}, drawn from test/fixtures/ui/flows.floxide.versions.json.`,
      );
      await o.stop!();
      expect(await done).toBe(0);
    } finally {
      await dispose();
    }
  });

  it('exits 2 on bad usage and 1 when the store cannot be reached', async () => {
    let t = io();
    expect(await runCli(['ui', '--store', 'redis://127.0.0.1:6379', '--port', 'x'], t.io)).toBe(2);
    expect(t.o.err).toContain('--port must be an integer');
    for (const n of ['0', 'x', '1.5', '100001']) {
      t = io();
      expect(await runCli(['ui', '--store', 'redis://127.0.0.1:6379', '--max-live-streams', n], t.io), n).toBe(2);
      expect(t.o.err).toBe(`floxide ui: --max-live-streams must be an integer from 1 to 100000, got "${n}"\n`);
    }
    t = io();
    expect(await runCli(['ui', '--store', 'ftp://nowhere'], t.io)).toBe(2);
    expect(t.o.err).toContain('unsupported store URL scheme');
    t = io();
    expect(await runCli(['ui'], t.io)).toBe(2);
    t = io();
    expect(await runCli(['ui', '--store', 'redis://127.0.0.1:1', '--port', '0'], t.io)).toBe(1);
    expect(t.o.err).toContain('cannot reach the store');
  });

  it('says which port is taken and how to choose another (exit 1)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const t = io();
      expect(await runCli(['ui', '--store', `${REDIS_URL}?prefix=${encodeURIComponent(uniquePrefix('cli-ui'))}`, '--port', String(port)], t.io)).toBe(1);
      expect(t.o.err).toBe(`floxide ui: cannot listen on 127.0.0.1:${port}: the port is in use (by another floxide ui?): choose another with --port, or --port 0 for a free one\n`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

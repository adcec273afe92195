/**
 * `floxide runs watch` runs for days: when its reader stalls (a paused pager, a log shipper that stops reading), it
 * reads no further event from the store until stdout drains, instead of buffering every event in memory.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bindWorkflow, MemoryBackend } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { runCli } from '../../cli/cli.js';
import { until } from '../distributed/helpers.js';
import { ChainWorkflow, CountCtx } from '../fixtures/distributed/flows.js';
import { ChainWorkflowDef } from '../fixtures/distributed/flows.floxide.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stdout whose buffer is full until `full` is false: `write` answers false, as a stream past its highWaterMark does. */
class StalledOut extends EventEmitter {
  readonly lines: string[] = [];
  full = true;
  write(text: string): boolean {
    this.lines.push(text);
    return !this.full;
  }
}

describe('runs watch: a reader that stalls', () => {
  it('waits for stdout to drain before it takes the next event, then goes on', async () => {
    const backend = new MemoryBackend();
    for (let i = 0; i < 100; i++) {
      await backend.createRun({ runId: `r${i}`, workflow: 'wf', fingerprint: 'fp', input: i, context: {}, firstItem: { node: 'start', id: '0', input: i } });
    }
    const out = new StalledOut();
    const ac = new AbortController();
    const watching = runCli(['runs', 'watch', '--store', 'memory:', '--from-start', '--json'], {
      stdout: out,
      stderr: { write: () => undefined },
      connect: async () => backend,
      onStop: (stop) => ac.signal.addEventListener('abort', () => void stop()),
    });
    await until(() => out.lines.length > 0, 5_000, 'the first event');
    await new Promise((r) => setTimeout(r, 200));
    expect(out.lines).toHaveLength(1);
    out.emit('drain');
    await until(() => out.lines.length === 2, 5_000, 'the second event');
    await new Promise((r) => setTimeout(r, 100));
    expect(out.lines).toHaveLength(2);
    out.full = false;
    out.emit('drain');
    await until(() => out.lines.length === 100, 5_000, 'every event');
    expect(out.lines.map((l) => (JSON.parse(l) as { event: { runId: string } }).event.runId)).toEqual(Array.from({ length: 100 }, (_, i) => `r${i}`));
    ac.abort();
    expect(await watching).toBe(0);
    expect(out.listenerCount('drain')).toBe(0);
  });

  it('exits soon after SIGTERM even while its reader holds stdout full', async () => {
    const file = join(dir, 'runs.db');
    const writer = new SqliteCheckpointStore(file);
    const wf = bindWorkflow(ChainWorkflowDef, new ChainWorkflow());
    // ~12,000 event lines: far more than a pipe holds
    for (let i = 0; i < 1000; i++) await wf.runWithCheckpoint(new CountCtx(), 0, writer, `r${i}`);
    await writer.close();
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/cli.ts', 'runs', 'watch', '--store', `sqlite:${file}`, '--from-start'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // the reader reads the first bytes, then stops reading for good
    await new Promise((r) => child.stdout.once('data', r));
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1_000));
    const sent = Date.now();
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(Date.now() - sent).toBeLessThan(5_000);
  }, 60_000);
});

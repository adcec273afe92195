/**
 * `floxide runs watch` runs for days: when its reader stalls (a paused pager, a log shipper that stops reading), it
 * reads no further event from the store until stdout drains, instead of buffering every event in memory.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from 'floxide';
import { runCli } from '../../cli/cli.js';
import { until } from '../distributed/helpers.js';

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
});

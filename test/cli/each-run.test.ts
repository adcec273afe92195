/**
 * `eachRun` (cli/store/runs-store.ts): every run a filter selects, read a page at a time, each once and in the
 * listing order, however many pages; `runs versions` counts past a page with it.
 */
import { describe, expect, it } from 'vitest';
import { RUN_PAGE, eachRun } from '../../cli/store/runs-store.js';
import { openRunsByVersion } from '../../cli/commands/runs.js';
import { MemoryBackend } from '../../runtime/distributed/memory.js';
import type { ListRunsFilter } from '../../runtime/distributed/contracts.js';

describe('eachRun', () => {
  it('reads every selected run once, in the listing order, a page at a time', async () => {
    const b = new MemoryBackend();
    const n = 2 * RUN_PAGE + 1;
    for (let i = 0; i < n; i++) {
      await b.createRun({ runId: `r${i}`, workflow: i % 3 === 0 ? 'Other' : 'Flow', fingerprint: i % 2 === 0 ? 'v1' : 'v2', input: i, context: {}, firstItem: { node: 'a', id: '0', input: i } });
    }
    const asked: ListRunsFilter[] = [];
    const listRuns = b.listRuns.bind(b);
    const counted = { listRuns: (f?: ListRunsFilter) => (asked.push(f ?? {}), listRuns(f)) };
    const ids: string[] = [];
    for await (const r of eachRun(counted, { workflow: 'Flow' })) ids.push(r.runId);
    const expected = (await b.listRuns({ workflow: 'Flow' })).map((r) => r.runId);
    expect(expected.length).toBeGreaterThan(RUN_PAGE);
    expect(ids).toEqual(expected);
    expect(asked.every((f) => f.limit === RUN_PAGE && f.workflow === 'Flow')).toBe(true);
    expect(asked).toHaveLength(Math.floor(expected.length / RUN_PAGE) + 1);

    // a consumer that stops early reads no further page
    asked.length = 0;
    for await (const r of eachRun(counted)) if (r) break;
    expect(asked).toHaveLength(1);

    const rows = await openRunsByVersion(b, 'Flow');
    expect(rows.map((r) => [r.version, r.running])).toEqual([
      ['v1', expected.filter((id) => Number(id.slice(1)) % 2 === 0).length],
      ['v2', expected.filter((id) => Number(id.slice(1)) % 2 === 1).length],
    ]);
  });
});

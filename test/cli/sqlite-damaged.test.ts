// A checkpoint file whose pages are damaged: the runs commands say so as a store failure (exit 1), not as an
// internal error with a stack trace (exit 2).
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { cliCaptured } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-damaged-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('runs list and runs show on a file with damaged pages: a StoreError saying the file is malformed, exit 1', async () => {
  const file = join(dir, 'runs.db');
  const store = new SqliteCheckpointStore(file, { checkpoints: 'inline' });
  for (let i = 0; i < 400; i++) {
    await store.createRun({ runId: `r${i}`, workflow: 'W', fingerprint: 'fp', input: { padding: 'x'.repeat(200), i }, context: {}, deadline: undefined, start: { node: 'a', id: '0', input: i } });
  }
  // the root pages of the runs table's indexes overwritten (what listing and finding a run read; the schema on page 1
  // and what opening the file reads still read)
  const roots = store.db.prepare("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'floxide_runs'").pluck().all() as number[];
  await store.close();
  expect(roots.length).toBeGreaterThan(1);
  const pageSize = 1024;
  const fd = openSync(file, 'r+');
  for (const page of roots) writeSync(fd, Buffer.alloc(pageSize, 0xab), 0, pageSize, (page - 1) * pageSize);
  closeSync(fd);
  for (const args of [['runs', 'list'], ['runs', 'show', 'r7']]) {
    const r = await cliCaptured([...args, '--store', `sqlite:${file}`]);
    expect([r.code, r.out], args.join(' ')).toEqual([1, '']);
    expect(r.err).toMatch(/^floxide runs: .*(malformed|not a database)/);
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
  }
});

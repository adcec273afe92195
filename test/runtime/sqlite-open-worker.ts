// A child process of sqlite-journal.test.ts: waits until the wall-clock time given (so that every child opens at the
// same moment), opens the new checkpoint file every child opens, and creates one run in it; prints 'ok' or the
// error's message.
import { SqliteCheckpointStore } from 'floxide/sqlite';

const [file, index, at] = process.argv.slice(2) as [string, string, string];
while (Date.now() < Number(at)) await new Promise((res) => setTimeout(res, 1));
try {
  const store = new SqliteCheckpointStore(file, { checkpoints: 'inline' });
  await store.createRun({ runId: `r${index}`, workflow: 'W', fingerprint: '0123456789abcdef', input: Number(index), context: null, deadline: undefined, start: { node: 'a', id: '0', input: Number(index) } });
  await store.close();
  process.stdout.write('ok');
} catch (err) {
  process.stdout.write((err as Error).message);
}

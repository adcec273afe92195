// A child process of sqlite-open.test.ts, run as another user when the test runs as root (root may write any file):
// opens each SQLite checkpoint file given and creates a run in it; prints a JSON array with, for each file, `{ ok: true }`
// or the error's name and message.
import { SqliteCheckpointStore } from 'floxide/sqlite';

const answers: unknown[] = [];
for (const file of process.argv.slice(2)) {
  try {
    const store = new SqliteCheckpointStore(file);
    try {
      await store.createRun({ runId: 'r2', workflow: 'W', fingerprint: '0123456789abcdef', input: 2, context: null, deadline: undefined, start: { node: 'a', id: '0', input: 2 } });
    } finally {
      await store.close();
    }
    answers.push({ ok: true });
  } catch (err) {
    answers.push({ error: (err as Error).name, message: (err as Error).message });
  }
}
process.stdout.write(JSON.stringify(answers));

/**
 * The README's main command (`npm start`, after `floxide build`): runs the article workflow with a SQLite
 * checkpoint per step, printing each step and then the result. Run it twice with the same run id and the second
 * run returns the stored article without calling the model again.
 *
 *   npx tsx examples/main.ts [topic] [run id]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bindWorkflow, type WorkflowEvent } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { ArticleCtx, ArticleWorkflow, StubLlm } from './article.js';
import { ArticleWorkflowDef } from './article.floxide.js';

const short = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  const line = s.replace(/\s+/g, ' ');
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
};

function print(e: WorkflowEvent): void {
  if (e.type === 'step.finished' && e.local) {
    console.log(`step  ${e.node.padEnd(8)} item ${e.itemId.padEnd(3)} in: ${short(e.local.input)}`);
    console.log(`      ${''.padEnd(8)} ${e.local.transition.padEnd(8)} out: ${short(e.local.output)}`);
  } else if (e.type === 'step.retry') console.log(`retry ${e.node} attempt ${e.attempt} failed (${e.error.message}); next in ${e.delayMs} ms`);
  else if (e.type === 'run.completed' && e.dropped.length > 0) console.log(`dropped ${e.dropped.length} queued item(s)`);
}

const topic = process.argv[2] ?? 'TypeScript workflows';
const runId = process.argv[3] ?? `article-${Date.now()}`;
const dir = join(process.cwd(), '.floxide');
mkdirSync(dir, { recursive: true });
const store = new SqliteCheckpointStore(join(dir, 'checkpoints.db'));
const llm = new StubLlm();
const workflow = bindWorkflow(ArticleWorkflowDef, new ArticleWorkflow(llm));

try {
  console.log(`run ${runId} (checkpoints in ${join('.floxide', 'checkpoints.db')})`);
  const article = await workflow.runWithCheckpoint(new ArticleCtx(), topic, store, runId, { onEvent: print });
  console.log(`\nresult (${llm.calls} model call(s)):\n${article}`);
} finally {
  await store.close();
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { MemoryCheckpointStore } from 'floxide';
import { SqliteCheckpointStore } from 'floxide/sqlite';
import { checkpointStoreContract } from './checkpoint-store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'floxide-stores-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

checkpointStoreContract('memory', () => new MemoryCheckpointStore());
checkpointStoreContract('sqlite file', () => new SqliteCheckpointStore(join(dir, `c${n++}.db`)));
checkpointStoreContract('sqlite :memory:', () => new SqliteCheckpointStore(':memory:'));
checkpointStoreContract('sqlite file, exclusive', () => new SqliteCheckpointStore(join(dir, `c${n++}.db`), { exclusive: true }));
